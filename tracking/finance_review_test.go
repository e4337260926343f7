package tracking_test

import (
	"testing"
	"time"

	"valuerx/store"
	"valuerx/tracking"
)

// Cases from a finance analyst's review of 3 December 2026, each worked by hand.

var finFrom, finTo = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// Row cents add up to the total. Herceptin 45 u x 73.483 = 3306.735 vs Trazimera 42 x 8.205
// = 344.61: a per-dose payer saving of 2962.125 (a half cent, as savings() records it, unrounded).
// Booked unrounded, two such orders under two contracts showed 2962.13 in each row against a
// total of 5924.25.
func TestRowsAddUpToTheTotal(t *testing.T) {
	mk := func(c string) store.OrderRecord {
		return store.OrderRecord{ContractID: c, GroupID: "trastuzumab", OrderedProductID: "herceptin", Outcome: "accepted",
			AcceptedProductID: "trazimera", PayerSaved: 3306.735 - 344.61, FirstAt: day(2, 1)}
	}
	rep := tracking.Build([]store.OrderRecord{mk("mssp-aco"), mk("medicare-ffs")}, tracking.Filter{From: finFrom, To: finTo}, nil)
	sum := 0.0
	for _, c := range rep.Contracts {
		sum += c.PayerSavedUSD
	}
	if cents := func(v float64) int64 { return int64(v*100 + 0.5) }; cents(sum) != cents(rep.Total.PayerSavedUSD) {
		t.Errorf("contract rows sum to %.2f, total says %.2f (rows %v)", sum, rep.Total.PayerSavedUSD,
			[]float64{rep.Contracts[0].PayerSavedUSD, rep.Contracts[1].PayerSavedUSD})
	}
}

// A claim line paid 3306.74 and its reversal -3306.74 (README: a negative amount is a reversal
// that sums with the line it reverses) leave nothing paid: the order is not "paid".
func TestReversedClaimIsNotPaid(t *testing.T) {
	at := day(2, 1)
	rows := []store.DecisionRow{{Decision: store.Decision{CardUUID: "c1", Client: "ehr", OrderKey: "K", Hook: "order-sign",
		ContractID: "mssp-aco", Arrangement: "shared-savings-upside", GroupID: "trastuzumab", OrderedProductID: "herceptin",
		BestProductID: "trazimera", At: at}}}
	claims := []store.Claim{
		{Client: "ehr", OrderKey: "K", Key: "l1", ProductID: "herceptin", PaidUSD: 3306.74, ServiceDate: at},
		{Client: "ehr", OrderKey: "K", Key: "l1-rev", ProductID: "herceptin", PaidUSD: -3306.74, ServiceDate: at},
	}
	orders := store.AssembleOrders(rows, nil, claims, nil, time.Time{}, time.Time{})
	out := tracking.BuildOutcomes(orders, tracking.Filter{From: finFrom, To: finTo}, nil)
	if out.Total.Paid != 0 || out.Total.PaidUSD != 0 {
		t.Errorf("fully reversed claim: paid orders %d, paid USD %.2f; want 0 and 0.00", out.Total.Paid, out.Total.PaidUSD)
	}
}

// A target for a contract with no order in the period is shown "missed" with actual 0 (it had no
// row at all): 1,000,000 a year prorated to 90 days = 246,575.34.
func TestTargetOfAnIdleContractIsShown(t *testing.T) {
	o := trast(accepted(1), "")
	targets := []tracking.Target{{Contract: "ma-capitation", AnnualPayerSavingsUSD: ptr(1_000_000)}}
	rep := tracking.Build([]store.OrderRecord{o}, tracking.Filter{From: finFrom, To: finTo}, targets)
	for _, c := range rep.Contracts {
		if c.Contract == "ma-capitation" {
			if len(c.Targets) != 1 || c.Targets[0].Target != 246575.34 || c.Targets[0].Actual != 0 || !c.Targets[0].Measured || c.Targets[0].Met || c.Cards != 0 {
				t.Errorf("idle contract's row: %d cards, targets %+v; want 0 cards, 246575.34 against 0, missed", c.Cards, c.Targets)
			}
			return
		}
	}
	t.Errorf("target of ma-capitation (246575.34 for 90 days, actual 0, missed) is not in the report: contracts %d", len(rep.Contracts))
}

// A full calendar year is a full year of an annual target. 2028 is a leap year: days / 365
// prorated it to 366/365 of itself, 1,000,000 -> 1,002,739.73.
func TestLeapYearTargetProration(t *testing.T) {
	o := trast(accepted(1), "")
	o.FirstAt = time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC)
	targets := []tracking.Target{{Contract: "mssp-aco", AnnualPayerSavingsUSD: ptr(1_000_000)}}
	rep := tracking.Build([]store.OrderRecord{o}, tracking.Filter{From: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)}, targets)
	if got := rep.Contracts[0].Targets[0].Target; got != 1_000_000 {
		t.Errorf("calendar year 2028: annual target prorated to %.2f, want 1000000.00", got)
	}
}

// adoption must follow the product the order ended on, as realised savings do. Order a:
// accepted trazimera (recommended) but signed and given herceptin. Order b: overridden but given
// trazimera. Both ended: a on herceptin (not recommended), b on trazimera (recommended): 1 of 2.
func TestAdoptionFollowsTheProductGiven(t *testing.T) {
	a := trast(accepted(1), store.TherapyContinuing)
	a.RecommendedProductID, a.SignedProductID, a.Administrations, a.AdministeredProductID = "trazimera", "herceptin", 1, "herceptin"
	b := trast(store.OrderRecord{Outcome: "overridden", ReasonCode: "other"}, store.TherapyContinuing)
	b.RecommendedProductID, b.Administrations, b.AdministeredProductID = "trazimera", 1, "trazimera"
	f := tracking.Filter{From: finFrom, To: finTo}
	d := tracking.FromAggregates(tracking.Aggregate([]store.OrderRecord{a, b}, f), f, nil)
	if len(d.Adoption) != 1 {
		t.Fatalf("adoption rows %+v", d.Adoption)
	}
	if a.OnBest() || !b.OnBest() {
		t.Errorf("OnBest: a (accepted, given herceptin) = %v, b (overridden, given trazimera) = %v; want false, true", a.OnBest(), b.OnBest())
	}
	if got := d.Adoption[0].OnBest; got != 1 || d.Adoption[0].Share != 0.5 {
		t.Errorf("adoption: %d of %d on the recommended product (share %.2f); want 1 of 2, 0.50, but b not a", got, d.Adoption[0].Orders, d.Adoption[0].Share)
	}
}

// the claim says what the payer paid for: the card was accepted onto trazimera and the order
// signed trazimera, but the only claim line bills J9355 (herceptin). The payer paid for herceptin:
// nothing was saved (300 a year was realised). The same order billed as trazimera realises 300.
func TestClaimOnTheOrderedProductRealisesNothing(t *testing.T) {
	o := trast(accepted(1), "")
	o.SignedProductID = "trazimera"
	rows := []store.DecisionRow{{Decision: store.Decision{CardUUID: "c1", Client: "ehr", OrderKey: "K", Hook: "order-sign",
		ContractID: o.ContractID, GroupID: o.GroupID, OrderedProductID: "herceptin", BestProductID: "trazimera", Options: trastOptions,
		At: day(2, 1), Suggestions: []store.Suggestion{{UUID: "s1", ProductID: "trazimera", PerYear: store.Saving{Payer: 300}}}},
		Outcome: "accepted", SuggestionUUID: "s1", FeedbackAt: day(2, 1)}}
	claims := []store.Claim{{Client: "ehr", OrderKey: "K", Key: "l1", HCPCS: "J9355", ProductID: "herceptin", PaidUSD: 2592.49, ServiceDate: day(2, 3)}}
	orders := store.AssembleOrders(rows, nil, claims, nil, time.Time{}, time.Time{})
	out := tracking.BuildOutcomes(orders, tracking.Filter{From: finFrom, To: finTo}, nil)
	if r := out.Total.RealisedPayerSavedPerYearUSD; r != 0 {
		t.Errorf("paid claim for herceptin: realised %.2f a year at trazimera, want 0.00", r)
	}
	claims[0].HCPCS, claims[0].ProductID, claims[0].PaidUSD = "Q5116", "trazimera", 272.58
	out = tracking.BuildOutcomes(store.AssembleOrders(rows, nil, claims, nil, time.Time{}, time.Time{}), tracking.Filter{From: finFrom, To: finTo}, nil)
	if r := out.Total.RealisedPayerSavedPerYearUSD; r != 300 {
		t.Errorf("paid claim for trazimera: realised %.2f a year, want 300.00", r)
	}
}

// Two doses of one order at the same time on different products: which one the order stands on
// does not depend on the order the store returns them in.
func TestSameTimeDosesDecideAlike(t *testing.T) {
	at := day(2, 1)
	rows := []store.DecisionRow{{Decision: store.Decision{CardUUID: "c1", Client: "ehr", OrderKey: "K", Hook: "order-select",
		ContractID: "mssp-aco", GroupID: "trastuzumab", OrderedProductID: "herceptin", BestProductID: "trazimera", At: at}}}
	a := store.Administration{Client: "ehr", OrderKey: "K", Key: "a", ProductID: "herceptin", Status: "completed", At: at.Add(time.Hour), ImportedAt: at.Add(48 * time.Hour)}
	b := a
	b.Key, b.ProductID = "b", "trazimera"
	one := store.AssembleOrders(rows, []store.Administration{a, b}, nil, nil, time.Time{}, time.Time{})
	two := store.AssembleOrders(rows, []store.Administration{b, a}, nil, nil, time.Time{}, time.Time{})
	if p, q := one[0].AdministeredProductID, two[0].AdministeredProductID; p != q || p == "" {
		t.Errorf("same-time doses: %q one way, %q the other", p, q)
	}
}

// The outcomes say which client they were filtered to, as the programme report does, from the
// record and from the rollup alike.
func TestOutcomesNameTheirClient(t *testing.T) {
	f := tracking.Filter{From: finFrom, To: finTo, Client: "https://ehr.example/a"}
	if got := tracking.BuildOutcomes(nil, f, nil).Client; got != f.Client {
		t.Errorf("outcomes client %q, want %q", got, f.Client)
	}
	if got := tracking.OutcomesFromAggregates(nil, nil, f, nil).Client; got != f.Client {
		t.Errorf("outcomes from the rollup: client %q, want %q", got, f.Client)
	}
	if got := tracking.Build(nil, f, nil).Client; got != f.Client {
		t.Errorf("report client %q, want %q", got, f.Client)
	}
}
