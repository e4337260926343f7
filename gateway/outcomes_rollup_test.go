package gateway

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"valuerx/internal/traffic"
	"valuerx/store"
	"valuerx/store/pgtest"
	"valuerx/tracking"
)

// The outcomes report from the rollup (store.Rollups: FamilyMonths' outcome figures and
// DivergencePairs, tracking.OutcomesFromAggregates) equals BuildOutcomes over the orders
// themselves on generated traffic (a year of orders, signatures, administrations and the
// divergence of every decision), for whole and partial months, one day, each kind of filter,
// and stays equal as it is refreshed incrementally:
//   - the first half's divergence is computed after its orders were folded (answers arriving
//     later: added by key to the orders already folded, rollup_divdirty);
//   - the second half's before they are folded (counted as the orders are assembled);
//   - clinicians change their minds on 60 orders (their old contribution out, the new in);
//   - a retention run deletes the oldest decisions (their answers' contribution out with them).
func TestOutcomesRollupEqualsBuild(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "outcomes.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		outcomesRollupEqualsBuild(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		c := pgtest.StartT(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dsn, err := c.CreateDatabase(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		outcomesRollupEqualsBuild(t, st)
	})
}

type rollupStore interface {
	store.Store
	store.Rollups
	DeleteBefore(ctx context.Context, cutoff, now time.Time) (store.Deleted, error)
}

func outcomesRollupEqualsBuild(t *testing.T, st rollupStore) {
	ctx := context.Background()
	sc, reg, cat, err := traffic.DemoScorer()
	if err != nil {
		t.Fatal(err)
	}
	mid := time.Date(2026, 6, 14, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return end }
	day := func(s string) time.Time {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	share, realised := 0.8, 50000.0
	targets := []tracking.Target{{Contract: "mssp-aco", AnnualRealisedPayerSavingsUSD: &realised},
		{Contract: "mssp-aco", Family: "trastuzumab", BiosimilarShareNewStarts: &share}}
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
		{From: day("2025-12-05"), To: day("2026-10-20"), Prescriber: tracking.NoPrescriber},
	}
	check := func(stage string) {
		t.Helper()
		orders, err := st.Orders(ctx, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range filters {
			want := tracking.BuildOutcomes(orders, f, targets)
			q := aggQuery(f)
			fams, err := st.FamilyMonths(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			pairs, err := st.DivergencePairs(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got := tracking.OutcomesFromAggregates(fams, pairs, f, targets)
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(tracking.OutcomeRow{})); diff != "" {
				t.Errorf("%s, filter %+v: outcomes from the rollup differ from BuildOutcomes (-orders +rollup):\n%s", stage, f, diff)
			}
			if i == 0 {
				// The whole year must exercise every part of the report, or the test checks nothing.
				diverged := 0
				for _, r := range want.Divergence {
					diverged += r.Diverged
				}
				if want.Total.RealisedOrders == 0 || want.Total.RealisedSwitched == 0 || want.Total.Signed == 0 || want.Total.Administered == 0 ||
					want.Total.NewStarts == 0 || diverged == 0 || len(want.DivergencePairs) == 0 || want.Total.RealisedPayerSavedPerYearUSD == 0 {
					t.Fatalf("%s: the generated year has too little to compare: %+v, %d diverged", stage, want.Total, diverged)
				}
			}
		}
	}

	gen := func(seed uint64, days int, to time.Time) {
		if _, err := traffic.Generate(ctx, st, sc, reg, cat, traffic.Config{Seed: seed, Days: days, PerDay: 8, End: to, ScoreRequest: EncodeScoreRequest}); err != nil {
			t.Fatal(err)
		}
	}
	divergence := func() {
		if run, err := ComputePendingDivergence(ctx, st, sc, reg, "test", now); err != nil || run.Scored == 0 {
			t.Fatalf("divergence: %d decisions, %v", run.Scored, err)
		}
	}
	gen(7, 195, mid)
	if err := st.RefreshRollups(ctx); err != nil { // the orders folded without answers
		t.Fatal(err)
	}
	divergence() // then their answers
	check("first half, answers after the fold")

	gen(8, 170, end)
	divergence() // answers before the fold
	check("second half, answers before the fold")

	recent, err := st.RecentOrders(ctx, store.AggQuery{From: day("2025-12-01"), To: end}, 100, 300)
	if err != nil {
		t.Fatal(err)
	}
	var fs []store.Feedback
	for _, o := range recent {
		if !o.Card() || len(fs) == 60 {
			continue
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
		fs = append(fs, f)
	}
	if len(fs) != 60 {
		t.Fatalf("%d changes of mind, want 60", len(fs))
	}
	if err := st.RecordFeedback(ctx, fs); err != nil {
		t.Fatal(err)
	}
	check("after changes of mind")

	if _, err := st.DeleteBefore(ctx, day("2026-01-15"), end); err != nil {
		t.Fatal(err)
	}
	check("after retention")
}
