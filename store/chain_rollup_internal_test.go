package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// The rollups (SQLite, PostgreSQL) count chained orders as Orders does (AssembleOrders over the
// record): order k1 is the dose change of chainRows, accepted at sign (projected 750 a course,
// 7,500 a year; realised at Trazimera, signed, 7,500); k2 the price-book change, overridden at
// sign and signed as Hercessi: an accepted switch (order-select's Hercessi), worth Herceptin ->
// Hercessi on the sign card's book, 320 a course and 3,200 a year, projected and realised. Whole
// March: payer projected 1,070 a course, 10,700 a year; realised 10,700 a year over two orders.
func TestChainedOrdersRollupEqualsOrders(t *testing.T) {
	for name, open := range rollupStores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			var ds []Decision
			var fs []Feedback
			add := func(key string, rows []DecisionRow) {
				for _, r := range rows {
					d := r.Decision
					d.OrderKey, d.CardUUID, d.ServiceID = key, key+"-"+d.CardUUID, "svc"
					for i := range d.Suggestions {
						d.Suggestions[i].UUID = key + "-" + d.Suggestions[i].UUID
					}
					ds = append(ds, d)
					f := Feedback{Client: d.Client, ServiceID: "svc", CardUUID: d.CardUUID, OrderKey: key, Outcome: r.Outcome,
						ReasonCode: r.ReasonCode, OutcomeSent: r.FeedbackAt, OutcomeAt: r.FeedbackAt, ReceivedAt: r.FeedbackReceived}
					if r.SuggestionUUID != "" {
						f.SuggestionUUID = key + "-" + r.SuggestionUUID
					}
					fs = append(fs, f)
				}
			}
			add("k1", chainRows("accepted"))
			k2 := chainRows("overridden")
			sign := &k2[1].Decision
			sign.PricePeriod = "cms-asp-2026q2"
			sign.Suggestions = []Suggestion{{UUID: "sign-t", ProductID: "trazimera", PayerSaving: 310, PerYear: Saving{Payer: 3100}}}
			sign.Options = []Option{{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 310}, PerYear: Saving{Payer: 3100}},
				{ProductID: "herceptin", Relationship: "reference", PerCourse: Saving{Payer: -320}, PerYear: Saving{Payer: -3200}}}
			add("k2", k2)
			if err := s.RecordDecisions(ctx, ds); err != nil {
				t.Fatal(err)
			}
			if err := s.RecordFeedback(ctx, fs); err != nil {
				t.Fatal(err)
			}
			orders, err := s.Orders(ctx, time.Time{}, time.Time{})
			if err != nil || len(orders) != 2 {
				t.Fatalf("orders %d %v", len(orders), err)
			}
			var direct OutcomeSums
			var directPayer int64
			for _, o := range orders {
				if o.OrderedProductID != "herceptin" {
					t.Errorf("order ordered %s, want herceptin", o.OrderedProductID)
				}
				direct.Add(o.OutcomeFigures())
				if o.Outcome == "accepted" {
					directPayer += CentsMicro(o.PayerSaved)
				}
			}
			rows, err := s.FamilyMonths(ctx, AggQuery{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			var rolled OutcomeSums
			var rolledPayer int64
			for _, r := range rows {
				rolled.Add(r.Outcome)
				rolledPayer += r.PayerSaved
			}
			if directPayer != Micro(1070) || direct.ProjPayerY != Micro(10700) || direct.RealPayerY != Micro(10700) {
				t.Errorf("orders: projected %d a course, %d a year, realised %d; want 1,070, 10,700, 10,700 (micro-dollars)", directPayer, direct.ProjPayerY, direct.RealPayerY)
			}
			if rolledPayer != directPayer || rolled.ProjPayerY != direct.ProjPayerY || rolled.RealPayerY != direct.RealPayerY || rolled.RealisedSwitched != direct.RealisedSwitched {
				t.Errorf("rollup %d / %d / %d (switched %d), orders %d / %d / %d (switched %d)", rolledPayer, rolled.ProjPayerY, rolled.RealPayerY,
					rolled.RealisedSwitched, directPayer, direct.ProjPayerY, direct.RealPayerY, direct.RealisedSwitched)
			}
		})
	}
}

// rollupStore is a store that keeps rollups.
type rollupStore interface {
	Store
	Rollups
}

// rollupStores opens each store that keeps rollups, by name: SQLite in a temporary file and
// PostgreSQL (openPGInternal: skipped without its binaries unless required).
func rollupStores() map[string]func(t *testing.T) rollupStore {
	return map[string]func(t *testing.T) rollupStore{
		"sqlite": func(t *testing.T) rollupStore {
			s, err := OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) rollupStore { return openPGInternal(t) },
	}
}
