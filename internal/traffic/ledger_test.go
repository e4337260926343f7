package traffic_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"valuerx/internal/traffic"
	"valuerx/store"
	"valuerx/tracking"
)

// The record the generator writes reads back as the orders it decided: per contract, the
// report's orders, no-card orders, accepted, overridden and projected payer savings equal the
// generator's own ledger, summed here by hand (to the cent).
func TestLedgerEqualsReport(t *testing.T) {
	ctx := context.Background()
	sc, reg, cat, err := traffic.DemoScorer()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	type sums struct {
		orders, noCard, accepted, overridden, noFeedback int
		payer                                            float64
	}
	want := map[string]*sums{}
	end := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ledger := func(o traffic.Truth) {
		s := want[o.Contract]
		if s == nil {
			s = &sums{}
			want[o.Contract] = s
		}
		s.orders++
		switch {
		case !o.Card:
			s.noCard++
		case o.Outcome == "accepted":
			s.accepted++
			s.payer += toCent(o.PayerSaved) // each order booked to the cent, as the report books it
		case o.Outcome == "overridden":
			s.overridden++
		default:
			s.noFeedback++
		}
	}
	if _, err := traffic.Generate(ctx, st, sc, reg, cat, traffic.Config{Seed: 3, Days: 60, PerDay: 12, End: end, Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	orders, err := st.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rep := tracking.Build(orders, tracking.Filter{}, nil)
	if len(rep.Contracts) != len(want) || len(want) < 3 {
		t.Fatalf("%d contracts in the report, %d in the ledger", len(rep.Contracts), len(want))
	}
	for _, c := range rep.Contracts {
		w := want[c.Contract]
		if w == nil || c.Orders != w.orders || c.NoCard != w.noCard || c.Accepted != w.accepted || c.Overridden != w.overridden ||
			c.NoFeedback != w.noFeedback || c.PayerSavedUSD != math.Round(w.payer*100)/100 {
			t.Errorf("%s: report %+v, ledger %+v", c.Contract, c, w)
		}
	}
}

// toCent is v to the cent from its micro-dollars, halves away from zero (store.CentsMicro's rule,
// written again here).
func toCent(v float64) float64 {
	m := int64(math.Round(v * 1e6))
	if m < 0 {
		return -float64((-m+5000)/10000) / 100
	}
	return float64((m+5000)/10000) / 100
}
