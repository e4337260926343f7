package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/store/pgtest"
)

// retainer is what both stores implement for retention.
type retainer interface {
	store.Store
	DeleteBefore(ctx context.Context, cutoff, now time.Time) (store.Deleted, error)
}

func TestRetentionSQLite(t *testing.T) {
	t.Run("hand-set times", func(t *testing.T) { s, _ := openTemp(t); retentionByHand(t, s) })
	t.Run("more rows than a chunk", func(t *testing.T) { s, _ := openTemp(t); retentionChunks(t, s) })
	t.Run("imports go with their order", func(t *testing.T) { s, _ := openTemp(t); retentionByOrder(t, s) })
}

func TestRetentionPostgres(t *testing.T) {
	t.Run("hand-set times", func(t *testing.T) { retentionByHand(t, openPG(t, pgtest.NewDatabase(t))) })
	t.Run("more rows than a chunk", func(t *testing.T) { retentionChunks(t, openPG(t, pgtest.NewDatabase(t))) })
	t.Run("imports go with their order", func(t *testing.T) { retentionByOrder(t, openPG(t, pgtest.NewDatabase(t))) })
}

// retentionByOrder (attacker review finding 7): cutoff 2026-02-15 00:00 UTC.
//
//	gone   order k-gone, one decision 02-10 by dr-gone at Location/gone   -> deleted, with its
//	       administrations dated 9999-12-31 and 02-20 and its claim of 02-20 (their own dates are after the cutoff)
//	kept   order k-kept, decision 02-15 12:00                              -> kept, with its administration
//	       and claim dated 02-14 (before the cutoff: retention goes by the order, not by their date)
//	split  order k-split, decisions 02-14 and 02-16                        -> the first deleted; the order and
//	       its administration of 02-17 kept
//	orphan an administration and a claim joined to no decision -> both go
//
// Decisions 2, administrations 3, claims 2. Rollup cells left at zero: gone's 12 (6 cubes, a day
// and a month each) less the contract/family month of February (kept and split are in it) = 11,
// and split's 6 cells of 02-14 (its first decision is now 02-16) = 17; no prescriber table
// shows dr-gone afterwards. A second run deletes nothing.
func retentionByOrder(t *testing.T, s retainer) {
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	gone := dec("gone", day(10))
	gone.UserID, gone.Location = "Practitioner/dr-gone", "Location/gone"
	splitA, splitB := dec("split-a", day(14)), dec("split-b", day(16))
	splitA.OrderKey, splitB.OrderKey = "k-split", "k-split"
	must(s.RecordDecisions(ctx, []store.Decision{gone, dec("kept", day(15, 12, 0, 0)), splitA, splitB}))
	adm := func(key, order string, at, imported time.Time) store.Administration {
		return store.Administration{Client: "a", OrderKey: order, Key: key, Status: "completed", At: at, ImportedAt: imported}
	}
	_, err := s.RecordAdministrations(ctx, []store.Administration{
		adm("g1", "k-gone", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), day(20)), adm("g2", "k-gone", day(20), day(21)),
		adm("k1", "k-kept", day(14, 10, 0, 0), day(21)), adm("s1", "k-split", day(17), day(21)), adm("o1", "k-none", day(9), day(10))})
	must(err)
	_, err = s.RecordClaims(ctx, []store.Claim{{Client: "a", OrderKey: "k-gone", Key: "gc", ServiceDate: day(20), ImportedAt: day(21)},
		{Client: "a", OrderKey: "k-kept", Key: "kc", ServiceDate: day(14), PaidUSD: 7, ImportedAt: day(21)},
		{Client: "a", OrderKey: "k-none", Key: "oc", ServiceDate: day(1), ImportedAt: day(20)}})
	must(err)
	must(s.(interface{ RefreshRollups(context.Context) error }).RefreshRollups(ctx))
	got, err := s.DeleteBefore(ctx, day(15), day(28))
	must(err)
	if want := (store.Deleted{Decisions: 2, Administrations: 3, Claims: 2, RollupRows: 17}); got != want {
		t.Fatalf("deleted %+v, want %+v", got, want)
	}
	orders, err := s.Orders(ctx, time.Time{}, time.Time{})
	must(err)
	byOrder := map[string]store.OrderRecord{}
	for _, o := range orders {
		byOrder[o.FirstAt.Format("01-02")] = o
	}
	if len(orders) != 2 || byOrder["02-15"].Administrations != 1 || byOrder["02-15"].ClaimLines != 1 || byOrder["02-15"].PaidUSD != 7 ||
		byOrder["02-16"].Administrations != 1 {
		t.Fatalf("left: %+v, want kept (1 administration, 1 claim of 7.00) and split from 02-16 (1 administration)", orders)
	}
	pr, err := s.(interface {
		Prescribers(context.Context, store.AggQuery) ([]store.Aggregate, error)
	}).Prescribers(ctx, store.AggQuery{From: day(1), To: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	must(err)
	for _, a := range pr {
		if a.Prescriber == "Practitioner/dr-gone" {
			t.Fatalf("the prescriber table still shows the deleted order's prescriber: %+v", a)
		}
	}
	again, err := s.DeleteBefore(ctx, day(15), day(28))
	must(err)
	if again != (store.Deleted{}) {
		t.Fatalf("a second run deleted %+v", again)
	}
}

func day(d int, hms ...int) time.Time {
	t := time.Date(2026, 2, d, 0, 0, 0, 0, time.UTC)
	if len(hms) == 3 {
		t = t.Add(time.Duration(hms[0])*time.Hour + time.Duration(hms[1])*time.Minute + time.Duration(hms[2])*time.Second)
	}
	return t
}

func dec(id string, at time.Time) store.Decision {
	return store.Decision{CardUUID: id, HookInstance: "h", ServiceID: "svc", Hook: "order-sign", Client: "a", OrderKey: "k-" + id,
		Fingerprint: "fp", ContractID: "x", Arrangement: "arr", GroupID: "g", OrderedProductID: "p", BestProductID: "q",
		Suggestions: []store.Suggestion{{UUID: id + "-s", ProductID: "q", PayerSaving: 10}}, PayerSaving: 10, At: at}
}

func feedback(id, outcome string, received time.Time) store.Feedback {
	return store.Feedback{Client: "a", ServiceID: "svc", CardUUID: id, OrderKey: "k-" + id, Fingerprint: "fp", Outcome: outcome,
		SuggestionUUID: map[bool]string{true: id + "-s"}[outcome == "accepted"], OutcomeSent: received, OutcomeAt: received, ReceivedAt: received}
}

// retentionByHand: cutoff 2026-02-15 00:00 UTC (a retention period ending there).
//
//	old1  created 01-10, feedback received 01-10 and 02-20  -> deleted with both feedback items
//	old2  created 02-14 23:59:59, no feedback               -> deleted
//	edge  created 02-15 00:00:00 exactly                    -> kept (older than the cutoff only)
//	new1  created 03-01, accepted 03-01                     -> kept, feedback kept
//	new2  created 02-20, feedback stamped received 02-10    -> kept; that feedback item deleted
//	jti   expired 1 s before now, expiring at now, 1 min after now -> 2 deleted, 1 kept
//
// Decisions 2, feedback 3, jti 2; a second run deletes nothing.
func retentionByHand(t *testing.T, s retainer) {
	ctx := context.Background()
	cutoff := day(15)
	now := day(28, 12, 0, 0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Scoring requests: old1 its own, old2 the same as edge, new2 its own (store.DivergenceKey).
	req := func(d store.Decision, r string) store.Decision { d.ScoreRequest = []byte(r); return d }
	old1, old2, edge, new2 := req(dec("old1", time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)), `{"r":"old1"}`),
		req(dec("old2", day(14, 23, 59, 59)), `{"r":"shared"}`), req(dec("edge", cutoff), `{"r":"shared"}`), req(dec("new2", day(20)), `{"r":"new2"}`)
	must(s.RecordDecisions(ctx, []store.Decision{old1, old2, edge, dec("new1", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)), new2}))
	must(s.RecordFeedback(ctx, []store.Feedback{
		feedback("old1", "overridden", time.Date(2026, 1, 10, 9, 1, 0, 0, time.UTC)),
		feedback("old1", "accepted", day(20)),
		feedback("new1", "accepted", time.Date(2026, 3, 1, 9, 1, 0, 0, time.UTC)),
		feedback("new2", "overridden", day(10)),
	}))
	for _, j := range []struct {
		key string
		exp time.Time
	}{{"iss\x00gone", now.Add(-time.Second)}, {"iss\x00at-now", now}, {"iss\x00live", now.Add(time.Minute)}} {
		ok, err := s.ClaimJTI(ctx, j.key, j.exp, now.Add(-time.Hour))
		must(err)
		if !ok {
			t.Fatalf("claim %q refused", j.key)
		}
	}
	// The realised side: old1's divergence answers go with it (no decision left has its request);
	// old2's stay with edge, which has the same request; an administration and a claim line of
	// 02-14 go, those of 02-20 stay.
	must(s.RecordDivergence(ctx, []store.Divergence{{Key: old1.DivergenceKey(), ComputedAt: day(1)}, {Key: old2.DivergenceKey(), ComputedAt: day(2)},
		{Key: new2.DivergenceKey(), ComputedAt: day(21)}}))
	_, err := s.RecordAdministrations(ctx, []store.Administration{{Client: "a", OrderKey: "k-old1", Key: "ad1", Status: "completed", At: day(14), ImportedAt: day(20)},
		{Client: "a", OrderKey: "k-new2", Key: "ad2", Status: "completed", At: day(20), ImportedAt: day(21)}})
	must(err)
	_, err = s.RecordClaims(ctx, []store.Claim{{Client: "a", OrderKey: "k-old1", Key: "cl1", ServiceDate: day(14), ImportedAt: day(20)},
		{Client: "a", OrderKey: "k-new2", Key: "cl2", ServiceDate: day(20), PaidUSD: 7, ImportedAt: day(21)}})
	must(err)
	got, err := s.DeleteBefore(ctx, cutoff, now)
	must(err)
	if want := (store.Deleted{Decisions: 2, Feedback: 3, Divergence: 1, Administrations: 1, Claims: 1, JTI: 2}); got != want {
		t.Fatalf("deleted %+v, want %+v", got, want)
	}
	for id, kept := range map[string]bool{"old1": false, "old2": false, "edge": true, "new1": true, "new2": true} {
		_, err := s.Decision(ctx, id)
		if kept && err != nil {
			t.Errorf("%s must be kept: %v", id, err)
		}
		if !kept && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s must be deleted: %v", id, err)
		}
	}
	// What is left: three orders, new1 accepted (10 saved), new2's only feedback gone.
	sum, err := s.Summary(ctx)
	must(err)
	if len(sum) != 1 || sum[0].Cards != 3 || sum[0].Accepted != 1 || sum[0].Overridden != 0 || sum[0].NoFeedback != 2 || sum[0].PayerSaved != 10 {
		t.Fatalf("after retention: %+v", sum)
	}
	orders, err := s.Orders(ctx, time.Time{}, time.Time{})
	must(err)
	realised := 0
	for _, o := range orders {
		if o.Administrations == 1 && o.ClaimLines == 1 && o.PaidUSD == 7 && o.OrderedProductID == "p" {
			realised++
		}
	}
	if realised != 1 {
		t.Errorf("new2's administration and claim of 02-20 must be kept (%d orders carry them): %+v", realised, orders)
	}
	// The live claim still holds; the deleted ones are gone, so a replay of them after their
	// expiry is a new claim (the verifier refuses expired tokens before asking the store).
	if ok, err := s.ClaimJTI(ctx, "iss\x00live", now.Add(time.Minute), now); err != nil || ok {
		t.Fatalf("the unexpired claim must survive retention: %v %v", ok, err)
	}
	again, err := s.DeleteBefore(ctx, cutoff, now)
	must(err)
	if again != (store.Deleted{}) {
		t.Fatalf("a second run deleted %+v", again)
	}
}

// retentionChunks: 4,500 old decisions (more than two chunks), each with a feedback item, and 10
// new ones: every old row goes, every new one stays.
func retentionChunks(t *testing.T, s retainer) {
	ctx := context.Background()
	var ds []store.Decision
	var fs []store.Feedback
	for i := range 4500 {
		id := fmt.Sprintf("old-%d", i)
		ds = append(ds, dec(id, day(1).Add(time.Duration(i)*time.Second)))
		fs = append(fs, feedback(id, "accepted", day(1).Add(time.Duration(i)*time.Second+time.Minute)))
	}
	for i := range 10 {
		ds = append(ds, dec(fmt.Sprintf("new-%d", i), day(20)))
	}
	if err := s.RecordDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFeedback(ctx, fs); err != nil {
		t.Fatal(err)
	}
	got, err := s.DeleteBefore(ctx, day(15), day(28))
	if err != nil {
		t.Fatal(err)
	}
	if got.Decisions != 4500 || got.Feedback != 4500 {
		t.Fatalf("deleted %+v, want 4500 decisions and 4500 feedback items", got)
	}
	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1 || sum[0].Cards != 10 || sum[0].Accepted != 0 {
		t.Fatalf("left: %+v, want the 10 new cards only", sum)
	}
}

// The SQLite dashboard rollup after retention: it must count what is left, not what it had
// folded. Two old orders and one new: the rollup counts 3; after retention 1. Then everything
// goes and a new card takes a freed rowid (SQLite reuses the newest deleted one): the rollup
// counts it (1), not 0 (lowerRollupMarks).
func TestRetentionSQLiteRollupCountsWhatIsLeft(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	q := store.AggQuery{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	cards := func() int {
		t.Helper()
		rows, err := s.FamilyMonths(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			n += r.Cards
		}
		return n
	}
	if err := s.RecordDecisions(ctx, []store.Decision{dec("o1", day(1)), dec("o2", day(2)), dec("n1", day(20))}); err != nil {
		t.Fatal(err)
	}
	if n := cards(); n != 3 {
		t.Fatalf("before retention the rollup counts %d cards, want 3", n)
	}
	if _, err := s.DeleteBefore(ctx, day(15), day(28)); err != nil {
		t.Fatal(err)
	}
	if n := cards(); n != 1 {
		t.Fatalf("after retention the rollup counts %d cards, want 1", n)
	}
	if _, err := s.DeleteBefore(ctx, day(25), day(28)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDecisions(ctx, []store.Decision{dec("n2", day(26))}); err != nil {
		t.Fatal(err)
	}
	if n := cards(); n != 1 {
		t.Fatalf("a card recorded after the table was emptied: the rollup counts %d, want 1", n)
	}
}
