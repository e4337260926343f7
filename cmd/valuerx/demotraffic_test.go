package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valuerx/internal/traffic"
	"valuerx/store"
	"valuerx/tracking"
)

// demo-traffic writes a record the report reads back whole: every generated order is one
// record (though most have a select and a sign card), the feedback splits into accepted and
// overridden exactly, every accepted order books one of its card's own suggestions, and the same
// seed writes the same record.
func TestDemoTraffic(t *testing.T) {
	sc, reg, cat, err := traffic.DemoScorer()
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	run := func(seed uint64) (traffic.Stats, []store.OrderRecord) {
		st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "demo.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stats, err := traffic.Generate(context.Background(), st, sc, reg, cat, traffic.Config{Seed: seed, Days: 14, PerDay: 20, End: end})
		if err != nil {
			t.Fatal(err)
		}
		orders, err := st.Orders(context.Background(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return stats, orders
	}
	stats, orders := run(1)
	if stats.Orders == 0 || stats.Cards <= stats.CardOrders || len(orders) != stats.Orders {
		t.Fatalf("stats %+v, %d order records: want one record per order and more cards than orders with one", stats, len(orders))
	}
	rep := tracking.Build(orders, tracking.Filter{}, nil)
	if rep.Total.Accepted+rep.Total.Overridden != stats.Feedback || rep.Total.NoFeedback != stats.CardOrders-stats.Feedback ||
		rep.Total.Orders != stats.Orders || rep.Total.NoCard != stats.NoCard || stats.NoCard == 0 {
		t.Errorf("report %+v vs stats %+v", rep.Total, stats)
	}
	contracts := map[string]bool{}
	for _, o := range orders {
		contracts[o.ContractID] = true
		if o.FirstAt.Before(end.AddDate(0, 0, -14)) || !o.FirstAt.Before(end) {
			t.Errorf("order outside the 14 days: %v", o.FirstAt)
		}
		if o.Outcome == "accepted" && (o.AcceptedProductID == "" || o.AcceptedProductID == o.OrderedProductID) {
			t.Errorf("accepted order books no suggested product: %+v", o)
		}
		if !strings.HasPrefix(o.Prescriber, "Practitioner/dr-") {
			t.Errorf("prescriber %q", o.Prescriber)
		}
	}
	if len(contracts) < 2 {
		t.Errorf("orders under %d contracts, want several", len(contracts))
	}
	if rep.Total.PayerSavedUSD <= 0 {
		t.Errorf("a fortnight of accepted switches saved the payers %v", rep.Total.PayerSavedUSD)
	}
	again, orders2 := run(1)
	if again != stats || len(orders2) != len(orders) || tracking.Build(orders2, tracking.Filter{}, nil).Total.PayerSavedUSD != rep.Total.PayerSavedUSD {
		t.Errorf("seed 1 twice: %+v vs %+v", again, stats)
	}
}

func TestDemoTrafficFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo-traffic", "-days", "0", "-store", "x.db"}, &out, &errb); code != 2 {
		t.Errorf("-days 0: exit %d", code)
	}
	if code := run(context.Background(), []string{"demo-traffic"}, &out, &errb); code != 2 {
		t.Errorf("no -store: exit %d", code)
	}
	path := filepath.Join(t.TempDir(), "d.db")
	if code := run(context.Background(), []string{"demo-traffic", "-store", path, "-days", "3", "-end", "2026-03-04"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "from 2026-03-01 to 2026-03-03") {
		t.Errorf("exit %d: %s %s", code, out.String(), errb.String())
	}
}
