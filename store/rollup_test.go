package store_test

import (
	"context"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/store/pgtest"
)

// The rollup's sums, counted by hand: one order seen at order-select and order-sign is one
// order, booked in the day and month of its first card; a later feedback on the other card
// moves it from accepted to overridden; a card without an order key is its own order; a
// prescriber filter finds orders without a userId; the period is cut at day boundaries.
func TestRollupHandCounted(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { s, _ := openTemp(t); rollupHandCounted(t, s) })
	t.Run("postgres", func(t *testing.T) { rollupHandCounted(t, openPG(t, pgtest.NewDatabase(t))) })
}

// rollupStore is a store with the dashboard's rollup (both implementations).
type rollupStore interface {
	store.Store
	store.Rollups
}

func rollupHandCounted(t *testing.T, s rollupStore) {
	ctx := context.Background()
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	sugg := func(id, product string, payer float64) store.Suggestion {
		return store.Suggestion{UUID: id, ProductID: product, PayerSaving: payer, PatientSaving: payer / 5, OrgImpact: 1}
	}
	dec := func(id, order, user string, at time.Time, s ...store.Suggestion) store.Decision {
		return store.Decision{CardUUID: id, Client: "ehr", OrderKey: order, ServiceID: "svc", ContractID: "aco", Arrangement: "shared-savings",
			GroupID: "trastuzumab", OrderedProductID: "herceptin", BestProductID: s[0].ProductID, UserID: user, Suggestions: s,
			PayerSaving: s[0].PayerSaving, PatientSaving: s[0].PatientSaving, OrgImpact: s[0].OrgImpact, At: at}
	}
	fb := func(card, order, outcome, sugg, reason string, at time.Time) store.Feedback {
		return store.Feedback{Client: "ehr", ServiceID: "svc", CardUUID: card, OrderKey: order, Outcome: outcome, SuggestionUUID: sugg,
			ReasonCode: reason, OutcomeSent: at, OutcomeAt: at, ReceivedAt: at}
	}
	// Order A: select 2 Mar 09:00, sign 3 Mar 09:00 (so its day is 2 Mar).
	// Accepted on the sign card (second suggestion, $300), then overridden on the select card later.
	// Order B: one card 3 Mar, accepted first suggestion ($1000.005: a half cent).
	// Order C: no order key, no prescriber, 20 Mar, no feedback.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.RecordDecisions(ctx, []store.Decision{
		dec("a-sel", "A", "Practitioner/1", day(2, 9), sugg("a-sel-1", "kanjinti", 500), sugg("a-sel-2", "ogivri", 300)),
		dec("a-sign", "A", "Practitioner/1", day(3, 9), sugg("a-sign-1", "kanjinti", 500), sugg("a-sign-2", "ogivri", 300)),
		dec("b", "B", "Practitioner/2", day(3, 10), sugg("b-1", "kanjinti", 1000.005)),
		dec("c", "", "", day(20, 10), sugg("c-1", "herceptin", 0)),
	}))
	must(s.RecordFeedback(ctx, []store.Feedback{fb("a-sign", "A", "accepted", "a-sign-2", "", day(3, 10)), fb("b", "B", "accepted", "b-1", "", day(3, 11))}))
	all := store.AggQuery{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	sum := func(q store.AggQuery) store.Aggregate {
		t.Helper()
		rows, err := s.FamilyMonths(ctx, q)
		must(err)
		var a store.Aggregate
		for _, r := range rows {
			a.Cards += r.Cards
			a.Accepted += r.Accepted
			a.Overridden += r.Overridden
			a.NoFeedback += r.NoFeedback
			a.OnBest += r.OnBest
			a.PayerSaved += r.PayerSaved
			for k, n := range r.Overrides {
				if a.Overrides == nil {
					a.Overrides = map[string]int{}
				}
				a.Overrides[k] += n
			}
		}
		return a
	}
	// 3 orders; A and B accepted: $300 + $1000.01 = $1300.01 (each order booked in whole cents,
	// CentsMicro: B's $1000.005 is $1000.01, so rows add up to their totals); A accepted
	// ogivri, not the recommended kanjinti; B on kanjinti (recommended); C ordered herceptin,
	// which is its own recommendation: 2 on the recommended product.
	a := sum(all)
	if a.Cards != 3 || a.Accepted != 2 || a.NoFeedback != 1 || a.OnBest != 2 || a.PayerSaved != 1300010000 {
		t.Errorf("whole March: %+v", a)
	}
	if got := store.MicroToCents(a.PayerSaved); got != 1300.01 {
		t.Errorf("$1300.01 reads %v", got)
	}
	// Order A's day is 2 March (its first card): a period from 3 March has B and C only.
	if a := sum(store.AggQuery{From: day(3, 0), To: all.To}); a.Cards != 2 || a.PayerSaved != 1000010000 {
		t.Errorf("from 3 March: %+v", a)
	}
	if a := sum(store.AggQuery{From: day(2, 0), To: day(3, 0)}); a.Cards != 1 || a.PayerSaved != 300000000 {
		t.Errorf("2 March alone: %+v", a)
	}
	// A change of mind on the select card, later: A becomes overridden, its $300 leaves the sums.
	must(s.RecordFeedback(ctx, []store.Feedback{fb("a-sel", "A", "overridden", "", "patient-declines", day(4, 9))}))
	if a := sum(all); a.Accepted != 1 || a.Overridden != 1 || a.Overrides["patient-declines"] != 1 || a.PayerSaved != 1000010000 || a.OnBest != 2 {
		t.Errorf("after the override: %+v", a)
	}
	// A feedback older than the override (on the sign card) does not win it back.
	must(s.RecordFeedback(ctx, []store.Feedback{fb("a-sign", "A", "accepted", "a-sign-1", "", day(3, 12))}))
	if a := sum(all); a.Overridden != 1 || a.Accepted != 1 {
		t.Errorf("an older feedback decided the order: %+v", a)
	}
	// Prescriber filters: "" selects the card without a userId.
	if a := sum(store.AggQuery{From: all.From, To: all.To, PrescriberFilter: true}); a.Cards != 1 || a.NoFeedback != 1 {
		t.Errorf("no prescriber: %+v", a)
	}
	if a := sum(store.AggQuery{From: all.From, To: all.To, PrescriberFilter: true, Prescriber: "Practitioner/1"}); a.Cards != 1 || a.Overridden != 1 {
		t.Errorf("Practitioner/1: %+v", a)
	}
	pres, err := s.Prescribers(ctx, all)
	must(err)
	if len(pres) != 3 {
		t.Errorf("prescriber rows %+v, want 3 (two and none)", pres)
	}
	recent, err := s.RecentOrders(ctx, all, 0, 10)
	must(err)
	if len(recent) != 3 || recent[0].CardUUID != "c" || recent[2].CardUUID != "a-sel" || recent[2].Outcome != "overridden" {
		t.Errorf("recent orders: %+v", recent)
	}
	// Bounds that are not whole days are refused: the caller falls back to Orders.
	if _, err := s.FamilyMonths(ctx, store.AggQuery{From: day(2, 9), To: all.To}); err != store.ErrRollupUnavailable {
		t.Errorf("a bound at 09:00: %v", err)
	}
}
