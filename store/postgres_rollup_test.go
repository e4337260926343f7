package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/store/pgtest"
)

// rollupWorkload writes a mixed record: 120 orders over March, most seen at order-select and
// order-sign, some without an order key, some without a card (already-best), feedback accepted
// on either card or overridden with one of three codes, some changed later; administrations,
// claims and divergence for some. write is called with each batch, in order.
func rollupWorkload(seed uint64, write func(ds []store.Decision, fs []store.Feedback, as []store.Administration, cs []store.Claim, vs []store.Divergence)) {
	r := rand.New(rand.NewPCG(seed, 7))
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	contracts := []string{"mssp-aco", "medicare-ffs", "commercial"}
	reasons := []string{"patient-declines", "clinical-reason", "figures-look-wrong"}
	for o := range 120 {
		at := base.Add(time.Duration(r.IntN(30*24)) * time.Hour)
		key := fmt.Sprintf("k%d", o)
		if o%17 == 0 {
			key = ""
		}
		contract := contracts[o%3]
		mk := func(id, hook string, at time.Time) store.Decision {
			s := []store.Suggestion{{UUID: id + "-1", ProductID: "trazimera", PayerSaving: 100 + float64(o), PatientSaving: 20, OrgImpact: 5},
				{UUID: id + "-2", ProductID: "ogivri", PayerSaving: 60.005, PatientSaving: 12, OrgImpact: 3}}
			d := store.Decision{CardUUID: id, HookInstance: "h", ServiceID: "svc", Hook: hook, Client: "ehr", OrderKey: key,
				Fingerprint: "fp", UserID: fmt.Sprintf("Practitioner/%d", o%5), Location: fmt.Sprintf("Location/%d", o%3), ContractID: contract,
				Arrangement: "arr-" + contract, GroupID: "trastuzumab", OrderedProductID: "herceptin", BestProductID: "trazimera",
				Suggestions: s, PayerSaving: s[0].PayerSaving, PatientSaving: 20, OrgImpact: 5, At: at, CatalogVersion: "cat-1",
				ScoreRequest: []byte(fmt.Sprintf(`{"contract":%q,"doseMg":%d}`, contract, 400+20*(o%4)))} // requests repeat: answers are shared
			if o%11 == 0 {
				d.NoCardReason, d.Suggestions, d.BestProductID, d.OrderedProductID = "already-best", nil, "trazimera", "trazimera"
			}
			return d
		}
		sel := mk(fmt.Sprintf("o%d-sel", o), "order-select", at)
		ds := []store.Decision{sel}
		var sign store.Decision
		if key != "" && o%4 != 0 {
			sign = mk(fmt.Sprintf("o%d-sign", o), "order-sign", at.Add(20*time.Minute))
			ds = append(ds, sign)
		}
		var fs []store.Feedback
		if sel.NoCardReason == "" && o%5 != 0 {
			c := sel
			if sign.CardUUID != "" && o%2 == 0 {
				c = sign
			}
			t := c.At.Add(time.Duration(1+r.IntN(50)) * time.Minute)
			f := store.Feedback{Client: "ehr", ServiceID: "svc", CardUUID: c.CardUUID, OrderKey: key, Fingerprint: "fp", OutcomeSent: t, OutcomeAt: t, ReceivedAt: t}
			if r.IntN(3) == 0 {
				f.Outcome, f.ReasonCode = "overridden", reasons[r.IntN(3)]
			} else {
				f.Outcome, f.SuggestionUUID = "accepted", c.Suggestions[r.IntN(2)].UUID
			}
			fs = append(fs, f)
			if o%7 == 0 { // a change of mind, later
				g := f
				g.OutcomeSent, g.OutcomeAt, g.ReceivedAt = t.Add(time.Hour), t.Add(time.Hour), t.Add(time.Hour)
				g.Outcome, g.SuggestionUUID, g.ReasonCode = "overridden", "", "patient-declines"
				fs = append(fs, g)
			}
		}
		var as []store.Administration
		var cs []store.Claim
		var vs []store.Divergence
		if key != "" && o%3 == 0 {
			as = append(as, store.Administration{Client: "ehr", OrderKey: key, Key: "a" + key, ProductID: "trazimera", Status: "completed", At: at.Add(48 * time.Hour), ImportedAt: at.Add(72 * time.Hour)})
			cs = append(cs, store.Claim{Client: "ehr", OrderKey: key, Key: "c" + key, ServiceDate: at.Add(48 * time.Hour), ProductID: "trazimera", PaidUSD: 400, AllowedUSD: 500, ImportedAt: at.Add(96 * time.Hour)})
		}
		if o%6 == 0 {
			vs = append(vs, store.Divergence{Key: sel.DivergenceKey(), ComputedAt: at.Add(time.Hour), Answers: []store.Answer{{ContractID: "medicare-ffs", BestProductID: "ogivri", Card: true, Differs: true}}})
		}
		write(ds, fs, as, cs, vs)
	}
}

// rollupView is everything the rollup answers for March and for some filters, comparable.
func rollupView(t *testing.T, s store.Rollups) map[string]any {
	t.Helper()
	ctx := context.Background()
	march := store.AggQuery{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	out := map[string]any{}
	for name, q := range map[string]store.AggQuery{
		"march":      march,
		"mid-month":  {From: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 21, 0, 0, 0, 0, time.UTC)},
		"aco":        {From: march.From, To: march.To, Contract: "mssp-aco"},
		"prescriber": {From: march.From, To: march.To, Prescriber: "Practitioner/2", PrescriberFilter: true},
	} {
		for kind, f := range map[string]func(context.Context, store.AggQuery) ([]store.Aggregate, error){
			"families": s.FamilyMonths, "prescribers": s.Prescribers, "locations": s.Locations,
		} {
			rows, err := f(ctx, q)
			if err != nil {
				t.Fatalf("%s %s: %v", name, kind, err)
			}
			sort.Slice(rows, func(i, j int) bool { return fmt.Sprint(rows[i]) < fmt.Sprint(rows[j]) })
			out[name+" "+kind] = rows
		}
	}
	recent, err := s.RecentOrders(ctx, march, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recent {
		recent[i].FirstAt, recent[i].CardAt = recent[i].FirstAt.UTC(), recent[i].CardAt.UTC()
	}
	out["recent"] = fmt.Sprintf("%+v", recent)
	return out
}

// The PostgreSQL rollup answers exactly what SQLite's does over the same record: the same
// workload written to both (with refreshes in between, as page views would), then retention.
func TestPostgresRollupMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	lite, _ := openTemp(t)
	pg := openPG(t, pgtest.NewDatabase(t))
	n := 0
	rollupWorkload(1, func(ds []store.Decision, fs []store.Feedback, as []store.Administration, cs []store.Claim, vs []store.Divergence) {
		for _, s := range []rollupStore{lite, pg} {
			recordAll(t, s, ds, fs, as, cs, vs)
			if n%25 == 0 {
				if err := s.RefreshRollups(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		n++
	})
	want, got := rollupView(t, lite), rollupView(t, pg)
	cards, noCard, accepted, overridden := 0, 0, 0, 0
	for _, a := range want["march families"].([]store.Aggregate) {
		cards, noCard, accepted, overridden = cards+a.Cards, noCard+a.NoCard, accepted+a.Accepted, overridden+a.Overridden
	}
	// 120 orders: 11 of them (every eleventh) without a card.
	if cards != 109 || noCard != 11 || accepted == 0 || overridden == 0 {
		t.Fatalf("the workload: %d orders with a card, %d without, %d accepted, %d overridden; want 109, 11 and some of each", cards, noCard, accepted, overridden)
	}
	t.Logf("compared over %d orders with a card (%d accepted, %d overridden) and %d without", cards, accepted, overridden, noCard)
	for k := range want {
		if !reflect.DeepEqual(want[k], got[k]) {
			t.Errorf("%s:\n sqlite   %+v\n postgres %+v", k, want[k], got[k])
		}
	}
	// Retention takes the first ten days; both rollups follow.
	for _, s := range []retainer{lite, pg} {
		if _, err := s.DeleteBefore(ctx, time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	want, got = rollupView(t, lite), rollupView(t, pg)
	for k := range want {
		if !reflect.DeepEqual(want[k], got[k]) {
			t.Errorf("after retention, %s:\n sqlite   %+v\n postgres %+v", k, want[k], got[k])
		}
	}
}

func recordAll(t *testing.T, s store.Store, ds []store.Decision, fs []store.Feedback, as []store.Administration, cs []store.Claim, vs []store.Divergence) {
	t.Helper()
	ctx := context.Background()
	if err := s.RecordDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFeedback(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordAdministrations(ctx, as); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordClaims(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDivergence(ctx, vs); err != nil {
		t.Fatal(err)
	}
}

// Two instances write the workload at once while both refresh their view of the rollup (page
// views on either): the rollup ends where one rebuilt from the record afterwards ends. Commit
// order across the two pools is whatever it is; the trigger queue does not depend on it.
func TestPostgresRollupUnderConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	var batches [][]func(store.Store)
	rollupWorkload(2, func(ds []store.Decision, fs []store.Feedback, as []store.Administration, cs []store.Claim, vs []store.Divergence) {
		batches = append(batches, []func(store.Store){func(s store.Store) { recordAll(t, s, ds, fs, as, cs, vs) }})
	})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, s := range []*store.Postgres{a, b} {
		wg.Add(1)
		go func() { // page views
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.RefreshRollups(ctx); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	var writers sync.WaitGroup
	for i, bs := range batches {
		writers.Add(1)
		go func() {
			defer writers.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			for _, f := range bs {
				f(s)
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	live := rollupView(t, a)
	rebuilt := openPG(t, dsn)
	if err := rebuilt.ResetRollups(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := rollupView(t, rebuilt)
	for k := range fresh {
		if !reflect.DeepEqual(live[k], fresh[k]) {
			t.Errorf("%s:\n kept up  %+v\n rebuilt  %+v", k, live[k], fresh[k])
		}
	}
}
