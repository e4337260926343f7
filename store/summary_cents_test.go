package store_test

import (
	"testing"
	"time"

	"valuerx/store"
	"valuerx/tracking"
)

// /analytics/summary (SummarizeOrders) and the programme report count the same orders: each
// order's saving is booked to the cent and summed exactly (README "Savings are projected"). Two
// mssp-aco orders at 2,962.125 a course (a 20 % coinsurance landing on a half cent) book 2,962.13
// each: 5,924.26 on the report; the summary summed the unrounded figures, 5,924.25, a cent apart
// from the report of the same orders, and showed sub-cent sums (23,275.925904 + ...) besides.
func TestSummaryBooksEachOrderToTheCentAsTheReport(t *testing.T) {
	at := time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)
	o := store.OrderRecord{ContractID: "mssp-aco", Arrangement: "shared-savings-two-sided", GroupID: "trastuzumab", OrderedProductID: "herceptin",
		Outcome: "accepted", AcceptedProductID: "trazimera", PayerSaved: 2962.125, PatientSaved: 0.005, OrgImpact: 1.115, FirstAt: at}
	orders := []store.OrderRecord{o, o}
	sum := store.SummarizeOrders(orders)
	rep := tracking.Build(orders, tracking.Filter{}, nil)
	if len(sum) != 1 {
		t.Fatalf("summary %+v", sum)
	}
	c := rep.Contracts[0]
	if sum[0].PayerSaved != 5924.26 || sum[0].PayerSaved != c.PayerSavedUSD || sum[0].PatientSaved != c.PatientSavedUSD || sum[0].OrgImpact != c.OrgImpactUSD {
		t.Errorf("summary payer/patient/org %v/%v/%v, report %v/%v/%v; want 5924.26 and the report's figures",
			sum[0].PayerSaved, sum[0].PatientSaved, sum[0].OrgImpact, c.PayerSavedUSD, c.PatientSavedUSD, c.OrgImpactUSD)
	}
}
