package traffic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"valuerx/internal/traffic"
	"valuerx/store"
	"valuerx/tracking"
)

// The dashboard's rollup answers exactly what tracking.Build answers over the orders themselves,
// on generated traffic, for every kind of filter (whole months, partial months at both ends, a
// period inside one month, one day, each contract, a family, a prescriber, hooks without one), and
// stays exact as it is refreshed incrementally: a second half of the year written after a first
// refresh, then clinicians changing their minds on orders already folded (later feedback that
// turns accepted orders into overrides and the reverse, which takes their old contribution out).
func TestRollupEqualsBuild(t *testing.T) {
	ctx := context.Background()
	sc, reg, cat, err := traffic.DemoScorer()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "rollup.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mid := time.Date(2026, 6, 14, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := traffic.Generate(ctx, st, sc, reg, cat, traffic.Config{Seed: 7, Days: 195, PerDay: 8, End: mid}); err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	filters := []tracking.Filter{
		{From: day("2025-12-01"), To: end},
		{From: day("2025-12-17"), To: day("2026-11-09")},
		{From: day("2026-02-03"), To: day("2026-02-27")},
		{From: day("2026-03-10"), To: day("2026-03-11")},
		{From: day("2026-01-01"), To: day("2026-07-01"), Contract: "mssp-aco"},
		{From: day("2026-01-01"), To: day("2026-07-01"), Contract: "medicare-ffs"},
		{From: day("2025-12-05"), To: day("2026-10-20"), Family: "trastuzumab"},
		{From: day("2025-12-05"), To: day("2026-10-20"), Prescriber: "Practitioner/dr-07"},
		{From: day("2025-12-05"), To: day("2026-10-20"), Prescriber: "Practitioner/dr-07", Contract: "mssp-aco", Family: "pegfilgrastim"},
		{From: day("2025-12-05"), To: day("2026-10-20"), Contract: "eom-oncology", Family: "pegfilgrastim"},
		{From: day("2025-12-05"), To: day("2026-10-20"), Prescriber: tracking.NoPrescriber},
	}
	targets := []tracking.Target{{Contract: "mssp-aco", AcceptanceRate: ptr(0.6), AnnualPayerSavingsUSD: ptr(1e6)}}
	check := func(stage string) {
		t.Helper()
		orders, err := st.Orders(ctx, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		nonEmpty := 0
		for _, f := range filters {
			want := tracking.Build(orders, f, targets)
			got := tracking.FromAggregates(rollupAggregates(t, st, f), f, targets)
			if diff := cmp.Diff(want, got.Report, cmp.AllowUnexported(tracking.Row{})); diff != "" {
				t.Errorf("%s, filter %+v: rollup report differs from Build (-Build +rollup):\n%s", stage, f, diff)
			}
			// The in-memory path (stores without a rollup) sums the orders into the same report.
			if diff := cmp.Diff(tracking.FromAggregates(tracking.Aggregate(orders, f), f, targets), got, cmp.AllowUnexported(tracking.Row{})); diff != "" {
				t.Errorf("%s, filter %+v: rollup differs from Aggregate over the orders:\n%s", stage, f, diff)
			}
			if want.Total.Cards > 0 {
				nonEmpty++
			}
		}
		// The rollup's own record of each order is the record Orders makes (signatures,
		// administrations, no-card reasons included), options and divergence answers aside.
		held, err := st.RecentOrders(ctx, store.AggQuery{}, 0, len(orders)+10)
		if err != nil {
			t.Fatal(err)
		}
		enc := func(o store.OrderRecord) string {
			o.Options, o.Answers = nil, nil
			b, _ := json.Marshal(o)
			return string(b)
		}
		var a, b []string
		for _, o := range orders {
			a = append(a, enc(o))
		}
		for _, o := range held {
			b = append(b, enc(o.OrderRecord))
		}
		sort.Strings(a)
		sort.Strings(b)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: the rollup's order records differ from Orders' (-Orders +rollup):\n%s", stage, diff)
		}
		if nonEmpty < len(filters)-2 {
			t.Fatalf("%s: only %d of %d filters select any order: the test checks nothing", stage, nonEmpty, len(filters))
		}
	}
	check("first half")

	if _, err := traffic.Generate(ctx, st, sc, reg, cat, traffic.Config{Seed: 8, Days: 170, PerDay: 8, End: end}); err != nil {
		t.Fatal(err)
	}
	check("second half")

	// Change of mind: later feedback on 60 folded orders' deciding cards, alternately an override
	// of an accepted card and an acceptance of an overridden or unanswered one.
	recent, err := st.RecentOrders(ctx, store.AggQuery{From: day("2025-12-01"), To: end}, 100, 300)
	if err != nil {
		t.Fatal(err)
	}
	var fs []store.Feedback
	flipped := map[string]int{}
	for _, o := range recent {
		if !o.Card() || len(fs) == 60 {
			continue // a no-card decision takes no feedback
		}
		d, err := st.Decision(ctx, o.CardUUID)
		if err != nil {
			t.Fatal(err)
		}
		when := o.CardAt.Add(48 * time.Hour)
		f := store.Feedback{Client: d.Client, ServiceID: d.ServiceID, CardUUID: d.CardUUID, OrderKey: d.OrderKey, Fingerprint: d.Fingerprint,
			OutcomeSent: when, OutcomeAt: when, ReceivedAt: when}
		if o.Outcome == "accepted" {
			f.Outcome, f.ReasonCode = "overridden", "patient-declines"
		} else {
			f.Outcome, f.SuggestionUUID = "accepted", d.Suggestions[len(d.Suggestions)-1].UUID
		}
		flipped[o.Outcome]++
		fs = append(fs, f)
	}
	if len(fs) != 60 || flipped["accepted"] == 0 || flipped["accepted"] == 60 {
		t.Fatalf("the 60 orders changed are %v: want both kinds", flipped)
	}
	if err := st.RecordFeedback(ctx, fs); err != nil {
		t.Fatal(err)
	}
	check("after changes of mind")

	// An import of administrations for orders already folded (queued by the trigger on
	// administrations) and a retention run that deletes the oldest decisions.
	var as []store.Administration
	for i, o := range recent {
		if !o.Card() || len(as) == 40 {
			continue
		}
		d, err := st.Decision(ctx, o.CardUUID)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, store.Administration{Client: d.Client, OrderKey: d.OrderKey, Key: fmt.Sprintf("late-%d", i),
			ProductID: d.OrderedProductID, Status: "completed", At: o.CardAt.Add(72 * time.Hour), ImportedAt: end})
	}
	if n, err := st.RecordAdministrations(ctx, as); err != nil || n != len(as) {
		t.Fatalf("administrations: %d, %v", n, err)
	}
	check("after a late import of administrations")
	if _, err := st.DeleteBefore(ctx, day("2026-01-15"), end); err != nil {
		t.Fatal(err)
	}
	check("after retention")
}

func rollupAggregates(t *testing.T, st *store.SQLite, f tracking.Filter) tracking.Aggregates {
	t.Helper()
	q := store.AggQuery{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, PrescriberFilter: f.Prescriber != ""}
	if f.Prescriber == tracking.NoPrescriber {
		q.Prescriber = ""
	}
	var ag tracking.Aggregates
	var err error
	if ag.Families, err = st.FamilyMonths(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if ag.Prescribers, err = st.Prescribers(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if ag.Locations, err = st.Locations(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	return ag
}

func ptr(v float64) *float64 { return &v }
