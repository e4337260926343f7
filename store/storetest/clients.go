package storetest

import (
	"context"
	"testing"
	"time"

	"valuerx/store"
)

// rollupPerClient: clients a and b both send userId Practitioner/dr-k1 and Location/infusion-1
// (offered() sets both). a has orders k1 (accepted, first suggestion: 100.00 payer) and k2
// (no feedback), b has k3 (accepted, 100.00). By hand: prescriber and location rows per client,
// a 2 orders 1 accepted 100.00, b 1 order 1 accepted 100.00; a read limited to a counts 2 orders
// and 100.00, and its drill-down lists k1 and k2 only; a read limited to no client counts nothing.
func rollupPerClient(t *testing.T, s store.Store) {
	ru, ok := s.(store.Rollups)
	if !ok {
		t.Skip("no rollup")
	}
	ctx := context.Background()
	for _, x := range []struct{ id, client, order string }{{"p1", "https://a.test", "k1"}, {"p2", "https://a.test", "k2"}, {"p3", "https://b.test", "k3"}} {
		d := offered(x.id, x.order)
		d.Client, d.UserID = x.client, "Practitioner/dr-k1"
		must(t, s.RecordDecisions(ctx, []store.Decision{d}))
		if x.order != "k2" {
			must(t, s.RecordFeedback(ctx, []store.Feedback{fb(x.client, x.id, x.order, "accepted", x.id+"-s1", 5)}))
		}
	}
	q := store.AggQuery{From: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	type row struct {
		client      string
		orders, acc int
		payer       int64
	}
	want := []row{{"https://a.test", 2, 1, 100e6}, {"https://b.test", 1, 1, 100e6}}
	check := func(what string, rows []store.Aggregate, key func(store.Aggregate) string, keyWant string, want []row) {
		t.Helper()
		got := map[string]row{}
		for _, a := range rows {
			if key(a) != keyWant {
				t.Errorf("%s: row of %q, want only %q", what, key(a), keyWant)
			}
			got[a.Client] = row{a.Client, a.Cards + a.NoCard, a.Accepted, a.PayerSaved}
		}
		if len(rows) != len(want) {
			t.Errorf("%s: %d rows %+v, want %d (one per client)", what, len(rows), rows, len(want))
		}
		for _, w := range want {
			if got[w.client] != w {
				t.Errorf("%s: client %s = %+v, want %+v", what, w.client, got[w.client], w)
			}
		}
	}
	pres, err := ru.Prescribers(ctx, q)
	must(t, err)
	check("prescribers", pres, func(a store.Aggregate) string { return a.Prescriber }, "Practitioner/dr-k1", want)
	locs, err := ru.Locations(ctx, q)
	must(t, err)
	check("locations", locs, func(a store.Aggregate) string { return a.Location }, "Location/infusion-1", want)
	// With a contract filter the prescriber and location rows come from other cubes: per client too.
	qc := q
	qc.Contract = "mssp-aco"
	pres, err = ru.Prescribers(ctx, qc)
	must(t, err)
	check("prescribers of mssp-aco", pres, func(a store.Aggregate) string { return a.Prescriber }, "Practitioner/dr-k1", want)
	qp := q
	qp.Prescriber, qp.PrescriberFilter = "Practitioner/dr-k1", true
	locs, err = ru.Locations(ctx, qp)
	must(t, err)
	check("locations of the prescriber", locs, func(a store.Aggregate) string { return a.Location }, "Location/infusion-1", want)

	// Limited to client a.
	qa := q
	qa.Clients = []string{"https://a.test"}
	fams, err := ru.FamilyMonths(ctx, qa)
	must(t, err)
	var orders, acc int
	var payer int64
	for _, a := range fams {
		orders, acc, payer = orders+a.Cards+a.NoCard, acc+a.Accepted, payer+a.PayerSaved
	}
	if orders != 2 || acc != 1 || payer != 100e6 {
		t.Errorf("families of a: %d orders, %d accepted, %d µ$; want 2, 1, 100000000", orders, acc, payer)
	}
	pres, err = ru.Prescribers(ctx, qa)
	must(t, err)
	check("prescribers of a", pres, func(a store.Aggregate) string { return a.Prescriber }, "Practitioner/dr-k1", want[:1])
	rec, err := ru.RecentOrders(ctx, qa, 0, 10)
	must(t, err)
	if len(rec) != 2 || rec[0].Client != "https://a.test" || rec[1].Client != "https://a.test" {
		t.Errorf("recent orders of a: %+v, want k1 and k2", rec)
	}
	none := q
	none.Clients = []string{}
	for what, read := range map[string]func(context.Context, store.AggQuery) ([]store.Aggregate, error){
		"families": ru.FamilyMonths, "prescribers": ru.Prescribers, "locations": ru.Locations} {
		rows, err := read(ctx, none)
		must(t, err)
		if len(rows) != 0 {
			t.Errorf("%s of no client: %+v", what, rows)
		}
	}
	if rec, err := ru.RecentOrders(ctx, none, 0, 10); err != nil || len(rec) != 0 {
		t.Errorf("recent orders of no client: %+v %v", rec, err)
	}
}
