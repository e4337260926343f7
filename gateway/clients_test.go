package gateway

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/tracking"
)

// Two trusted EHRs (clients) that both call their prescriber "Practitioner/123" and their clinic
// "Location/clinic-1": two people, two places.
const (
	clientA = "https://ehr-a.test"
	clientB = "https://ehr-b.test tenant=b1"
)

// twoClientOrders records, in st:
//
//	a1 clientA mssp-aco trastuzumab Feb 03  accepted, 100.00 payer
//	a2 clientA mssp-aco trastuzumab Feb 04  overridden (clinical-reason)
//	b1 clientB mssp-aco trastuzumab Feb 05  accepted,  40.00 payer
//
// all by Practitioner/123 at Location/clinic-1. By hand, per (client, prescriber): A 2 orders,
// 2 cards, 1 accepted, 1 overridden, 100.00 payer; B 1 order, 1 accepted, 40.00; total 3 orders,
// 140.00. The same per (client, location).
func twoClientOrders(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	for i, x := range []struct {
		client, key, outcome string
		payer                float64
	}{{clientA, "a1", "accepted", 100}, {clientA, "a2", "overridden", 100}, {clientB, "b1", "accepted", 40}} {
		at := time.Date(2026, 2, 3+i, 14, 0, 0, 0, time.UTC)
		d := store.Decision{CardUUID: x.key + "-card", HookInstance: "h-" + x.key, ServiceID: "valuerx-order-sign", Hook: "order-sign",
			Client: x.client, OrderKey: x.key, Fingerprint: "fp", UserID: "Practitioner/123", Location: "Location/clinic-1",
			ContractID: "mssp-aco", Arrangement: "arr", GroupID: "trastuzumab", OrderedProductID: "ref", BestProductID: "p0",
			PayerSaving: x.payer, At: at,
			Suggestions: []store.Suggestion{{UUID: x.key + "-s0", ProductID: "p0", PayerSaving: x.payer}}}
		if err := st.RecordDecisions(ctx, []store.Decision{d}); err != nil {
			t.Fatal(err)
		}
		when := at.Add(time.Minute)
		f := store.Feedback{Client: x.client, ServiceID: d.ServiceID, CardUUID: d.CardUUID, OrderKey: x.key, Fingerprint: "fp",
			Outcome: x.outcome, OutcomeSent: when, OutcomeAt: when, ReceivedAt: when}
		if x.outcome == "accepted" {
			f.SuggestionUUID = x.key + "-s0"
		} else {
			f.ReasonCode = "clinical-reason"
		}
		if err := st.RecordFeedback(ctx, []store.Feedback{f}); err != nil {
			t.Fatal(err)
		}
	}
}

const febPeriod = "?from=2026-02-01&to=2026-02-28"

// The per-prescriber and per-location rows are per client: the same userId and Location from two
// EHRs are two rows each, with the client named in the JSON, the CSV and the page; from the
// rollup and from the orders alike. (Before: one row of 3 orders each.)
func TestDashboardRowsPerClient(t *testing.T) {
	for _, rollup := range []bool{true, false} {
		e := newEnv(t, func(c *Config) { c.Now = func() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) } })
		twoClientOrders(t, e.store)
		if !rollup {
			e.gw.cfg.Store = ordersOnly{e.store}
		}
		var rep tracking.Dashboard
		st, out, _ := e.do(http.MethodGet, "/analytics/report"+febPeriod, nil, analystHeader())
		if st != 200 || json.Unmarshal(out, &rep) != nil {
			t.Fatalf("report: %d %s", st, out)
		}
		if rep.Total.Orders != 3 || rep.Total.PayerSavedUSD != 140 {
			t.Fatalf("rollup %v: total %+v, want 3 orders, 140.00", rollup, rep.Total)
		}
		type row struct {
			name, client     string
			orders, acc, ovr int
			payer            float64
		}
		want := []row{{"Practitioner/123", clientA, 2, 1, 1, 100}, {"Practitioner/123", clientB, 1, 1, 0, 40}}
		if len(rep.Prescribers) != 2 {
			t.Fatalf("rollup %v: prescribers %+v, want one row per client", rollup, rep.Prescribers)
		}
		for i, w := range want {
			p := rep.Prescribers[i]
			if p.Prescriber != w.name || p.Client != w.client || p.Orders != w.orders || p.Accepted != w.acc || p.Overridden != w.ovr || p.PayerSavedUSD != w.payer {
				t.Errorf("rollup %v: prescriber row %d = %+v, want %+v", rollup, i, p, w)
			}
			l := rep.Locations[i]
			if l.Location != "Location/clinic-1" || l.Client != w.client || l.Orders != w.orders || l.Accepted != w.acc || l.PayerSavedUSD != w.payer {
				t.Errorf("rollup %v: location row %d = %+v, want %+v", rollup, i, l, w)
			}
		}
		for _, table := range []string{"prescribers", "locations"} {
			_, out, _ := e.do(http.MethodGet, "/analytics/report.csv"+febPeriod+"&table="+table, nil, analystHeader())
			recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
			if err != nil || len(recs) != 3 || recs[0][1] != "client" {
				t.Fatalf("rollup %v: csv %s: %v %q", rollup, table, err, recs)
			}
			for i, w := range want {
				if r := recs[1+i]; r[1] != w.client || r[2] != map[int]string{2: "2", 1: "1"}[w.orders] {
					t.Errorf("rollup %v: csv %s row %q, want client %s, %d orders", rollup, table, r, w.client, w.orders)
				}
			}
		}
		_, all, _ := e.do(http.MethodGet, "/analytics/report.csv"+febPeriod, nil, analystHeader())
		if n := strings.Count(string(all), "prescriber,,,,Practitioner/123,"); n != 2 {
			t.Errorf("rollup %v: all-tables csv has %d prescriber lines for Practitioner/123, want 2:\n%s", rollup, n, all)
		}
		_, page, _ := e.do(http.MethodGet, "/analytics/dashboard/people"+febPeriod, nil, analystHeader())
		for _, w := range want {
			re := regexp.MustCompile(`<tr data-prescriber="Practitioner/123" data-client="` + regexp.QuoteMeta(w.client) + `"><td>Practitioner/123</td><td class="client">` +
				regexp.QuoteMeta(w.client) + `</td><td class="n">` + map[int]string{2: "2", 1: "1"}[w.orders] + `</td>`)
			if !re.Match(page) {
				t.Errorf("rollup %v: people page has no prescriber row of %s with %d orders", rollup, w.client, w.orders)
			}
			if !strings.Contains(string(page), `<tr data-location="Location/clinic-1" data-client="`+w.client+`">`) {
				t.Errorf("rollup %v: people page has no location row of %s", rollup, w.client)
			}
		}
		// The client filter narrows every table to one EHR.
		var b tracking.Dashboard
		_, out, _ = e.do(http.MethodGet, "/analytics/report"+febPeriod+"&client="+strings.ReplaceAll(clientB, " ", "%20"), nil, analystHeader())
		if json.Unmarshal(out, &b) != nil || b.Total.Orders != 1 || b.Total.PayerSavedUSD != 40 || len(b.Prescribers) != 1 || b.Prescribers[0].Client != clientB {
			t.Errorf("rollup %v: client filter: %s", rollup, out)
		}
		var d decisionsJSON
		_, out, _ = e.do(http.MethodGet, "/analytics/report/decisions"+febPeriod, nil, analystHeader())
		if json.Unmarshal(out, &d) != nil || len(d.Decisions) != 3 || d.Decisions[0].Client != clientB || d.Decisions[2].Client != clientA {
			t.Errorf("rollup %v: decisions %s", rollup, out)
		}
	}
}
