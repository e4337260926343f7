// Package storetest is the behaviour every store.Store implementation must have, as one suite:
// the SQLite store runs it, and so must any other (a PostgreSQL store shared by several
// instances). Figures are small and worked by hand in each case.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"valuerx/store"
)

// Open returns a new, empty store for one subtest; the suite closes it.
type Open func(t *testing.T) store.Store

// Run runs the suite against stores made by open.
func Run(t *testing.T, open Open) {
	t.Run("decision round trip and idempotent", func(t *testing.T) { decisionRoundTrip(t, open(t)) })
	t.Run("summary books the accepted suggestion's own figures", func(t *testing.T) { summaryFigures(t, open(t)) })
	t.Run("one decision per order", func(t *testing.T) { onePerOrder(t, open(t)) })
	t.Run("feedback repeat is a no-op", func(t *testing.T) { feedbackRepeat(t, open(t)) })
	t.Run("data-quality flags", func(t *testing.T) { dataQuality(t, open(t)) })
	t.Run("orders: one record per order, period by its first card", func(t *testing.T) { ordersRecords(t, open(t)) })
	t.Run("jti claims", func(t *testing.T) { jtiClaims(t, open(t)) })
	t.Run("jti claimed with the hook's decisions", func(t *testing.T) { hookJTI(t, open(t)) })
	t.Run("jti claimed at once by many hooks", func(t *testing.T) { hookJTIRace(t, open(t)) })
	t.Run("concurrent writers", func(t *testing.T) { concurrent(t, open(t)) })
	t.Run("rollup rows per client, reads limited to clients", func(t *testing.T) { rollupPerClient(t, open(t)) })
	t.Run("a new store books every payer saving on the payer's own payment", func(t *testing.T) { payerBasisFresh(t, open(t)) })
	recordSuite(t, open)
}

// payerBasisFresh: a store made after payer savings became the payer's own payment holds no
// decision on the earlier basis, however many it records (the upgrade of a store that held some
// is tested per store: TestSQLiteMigratesV1File, TestPostgresPayerBasisUpgrade).
func payerBasisFresh(t *testing.T, s store.Store) {
	ctx := context.Background()
	pb, ok := s.(store.PayerBasis)
	if !ok {
		t.Fatalf("%T does not say the basis of its payer savings (store.PayerBasis)", s)
	}
	must(t, s.RecordDecisions(ctx, []store.Decision{card("c1", "a", "o1", "mssp-aco", store.Suggestion{UUID: "s1", ProductID: "trazimera", PayerSaving: 10})}))
	if until, err := pb.AllowedBasisUntil(ctx); err != nil || !until.IsZero() {
		t.Fatalf("AllowedBasisUntil = %v, %v; want zero: every decision of this store books the payer's own payment", until, err)
	}
}

var at = time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)

func card(id, client, order, contract string, suggs ...store.Suggestion) store.Decision {
	d := store.Decision{CardUUID: id, HookInstance: "h-" + id, ServiceID: "svc", Hook: "order-sign", Client: client,
		OrderKey: order, Fingerprint: "fp-" + order, UserID: "Practitioner/dr-" + order, ContractID: contract, Arrangement: "arr-" + contract,
		GroupID: "trastuzumab", OrderedProductID: "herceptin", Suggestions: suggs, At: at}
	if len(suggs) > 0 {
		d.BestProductID = suggs[0].ProductID
		d.PayerSaving, d.PatientSaving, d.OrgImpact = suggs[0].PayerSaving, suggs[0].PatientSaving, suggs[0].OrgImpact
	}
	return d
}

// fb is a feedback item as the gateway builds it from the card's decision (order key and
// fingerprint copied from card()'s).
func fb(client, cardID, order, outcome, sugg string, minute int) store.Feedback {
	t := at.Add(time.Duration(minute) * time.Minute)
	return store.Feedback{Client: client, ServiceID: "svc", CardUUID: cardID, OrderKey: order, Fingerprint: "fp-" + order,
		Outcome: outcome, SuggestionUUID: sugg, OutcomeSent: t, OutcomeAt: t, ReceivedAt: t}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func byContract(t *testing.T, s store.Store) map[string]store.ContractSummary {
	t.Helper()
	sum, err := s.Summary(context.Background())
	must(t, err)
	out := map[string]store.ContractSummary{}
	for _, c := range sum {
		out[c.ContractID] = c
	}
	return out
}

func decisionRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := card("c1", "https://a.test", "k1", "mssp-aco",
		store.Suggestion{UUID: "s1", ProductID: "trazimera", PayerSaving: 100, PatientSaving: 20, OrgImpact: 50},
		store.Suggestion{UUID: "s2", ProductID: "kanjinti", PayerSaving: 80, PatientSaving: 16, OrgImpact: 40})
	must(t, s.RecordDecisions(ctx, []store.Decision{d, d})) // a repeat inside a batch is ignored
	changed := d
	changed.Client = "https://b.test"
	must(t, s.RecordDecisions(ctx, []store.Decision{changed})) // and a later repeat keeps the first
	got, err := s.Decision(ctx, "c1")
	must(t, err)
	if got.Client != "https://a.test" || got.OrderKey != "k1" || got.UserID != "Practitioner/dr-k1" || got.Fingerprint != "fp-k1" || got.ServiceID != "svc" ||
		!got.At.Equal(at) || len(got.Suggestions) != 2 || got.Suggestions[1] != d.Suggestions[1] || !got.HasSuggestion("s2") || got.HasSuggestion("s3") {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := s.Decision(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown card: %v", err)
	}
	if c := byContract(t, s)["mssp-aco"]; c.Cards != 1 || c.NoFeedback != 1 {
		t.Fatalf("one card: %+v", c)
	}
	must(t, s.RecordDecisions(ctx, nil))
}

func summaryFigures(t *testing.T, s store.Store) {
	ctx := context.Background()
	sg := func(id string, payer float64) store.Suggestion {
		return store.Suggestion{UUID: id, ProductID: "p-" + id, PayerSaving: payer, PatientSaving: payer / 5, OrgImpact: payer / 2}
	}
	must(t, s.RecordDecisions(ctx, []store.Decision{
		card("c1", "a", "k1", "mssp-aco", sg("c1s1", 1000), sg("c1s2", 600), sg("c1s3", 300)),
		card("c2", "a", "k2", "mssp-aco", sg("c2s1", 1000)),
		card("c3", "a", "k3", "medicare-ffs", sg("c3s1", 7)),
	}))
	must(t, s.RecordFeedback(ctx, []store.Feedback{
		fb("a", "c1", "k1", "accepted", "c1s3", 1), // the third suggestion: 300 / 60 / 150, not the first's 1000
		func() store.Feedback {
			f := fb("a", "c2", "k2", "overridden", "", 1)
			f.ReasonCode, f.HasComment = "continuing-established-course", true
			return f
		}(),
	}))
	got := byContract(t, s)
	aco, ffs := got["mssp-aco"], got["medicare-ffs"]
	if aco.Cards != 2 || aco.Accepted != 1 || aco.Overridden != 1 || aco.Acceptance != 0.5 {
		t.Errorf("aco counts: %+v", aco)
	}
	if aco.PayerSaved != 300 || aco.PatientSaved != 60 || aco.OrgImpact != 150 {
		t.Errorf("aco savings must be the third suggestion's (300, 60, 150): %+v", aco)
	}
	if aco.Overrides["continuing-established-course"] != 1 {
		t.Errorf("override reasons: %+v", aco.Overrides)
	}
	if ffs.Cards != 1 || ffs.NoFeedback != 1 || ffs.PayerSaved != 0 {
		t.Errorf("ffs: %+v", ffs)
	}
	// A later override of c1 wins over its acceptance: no savings left.
	must(t, s.RecordFeedback(ctx, []store.Feedback{fb("a", "c1", "k1", "overridden", "", 5)}))
	if aco := byContract(t, s)["mssp-aco"]; aco.Accepted != 0 || aco.Overridden != 2 || aco.PayerSaved != 0 {
		t.Errorf("latest feedback must win: %+v", aco)
	}
}

func onePerOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	sel := card("sel", "a", "k1", "mssp-aco", store.Suggestion{UUID: "sel1", PayerSaving: 100})
	sign := card("sign", "a", "k1", "mssp-aco", store.Suggestion{UUID: "sign1", PayerSaving: 100})
	sign.At = at.Add(time.Minute)
	other := card("other", "b", "k1", "mssp-aco", store.Suggestion{UUID: "o1", PayerSaving: 100}) // same key, other client
	must(t, s.RecordDecisions(ctx, []store.Decision{sel, sign, other}))
	if _, err := s.OrderState(ctx, "a", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no feedback yet: %v", err)
	}
	if c := byContract(t, s)["mssp-aco"]; c.Cards != 2 || c.NoFeedback != 2 {
		t.Fatalf("order-select and order-sign of one order are one decision (plus client b's): %+v", c)
	}
	must(t, s.RecordFeedback(ctx, []store.Feedback{fb("a", "sel", "k1", "overridden", "", 2)}))
	st, err := s.OrderState(ctx, "a", "k1")
	must(t, err)
	if st.Outcome != "overridden" || st.Fingerprint != "fp-k1" {
		t.Fatalf("order state: %+v", st)
	}
	if _, err := s.OrderState(ctx, "b", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("client b's order is its own: %v", err)
	}
	must(t, s.RecordFeedback(ctx, []store.Feedback{fb("a", "sign", "k1", "accepted", "sign1", 3)}))
	st, err = s.OrderState(ctx, "a", "k1")
	must(t, err)
	if st.Outcome != "accepted" {
		t.Fatalf("later acceptance: %+v", st)
	}
	if r, ok := s.(store.OrderStatesReader); ok {
		// One read for several orders answers what OrderState answers for each: the latest of
		// k1's two feedback items, nothing for keys without feedback or for another client.
		states, err := r.OrderStates(ctx, "a", []string{"k1", "", "k-none", "k1"})
		must(t, err)
		if len(states) != 1 || states["k1"] != st {
			t.Fatalf("order states of a: %+v, want only k1: %+v", states, st)
		}
		if states, err := r.OrderStates(ctx, "b", []string{"k1"}); err != nil || len(states) != 0 {
			t.Fatalf("order states of b (no feedback): %+v, %v", states, err)
		}
		if states, err := r.OrderStates(ctx, "a", nil); err != nil || len(states) != 0 {
			t.Fatalf("order states of no keys: %+v, %v", states, err)
		}
	}
	if c := byContract(t, s)["mssp-aco"]; c.Cards != 2 || c.Accepted != 1 || c.Overridden != 0 || c.PayerSaved != 100 {
		t.Fatalf("the order is accepted once: %+v", c)
	}
}

func feedbackRepeat(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.RecordDecisions(ctx, []store.Decision{card("c1", "a", "k1", "x", store.Suggestion{UUID: "s1", PayerSaving: 10})}))
	f := fb("a", "c1", "k1", "accepted", "s1", 1)
	must(t, s.RecordFeedback(ctx, []store.Feedback{f, f}))
	f.ReceivedAt = f.ReceivedAt.Add(time.Hour) // a retry later: same item
	must(t, s.RecordFeedback(ctx, []store.Feedback{f}))
	if c := byContract(t, s)["x"]; c.Accepted != 1 || c.PayerSaved != 10 {
		t.Fatalf("repeat counted: %+v", c)
	}
	must(t, s.RecordFeedback(ctx, nil))
}

func dataQuality(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.RecordDecisions(ctx, []store.Decision{card("c1", "a", "k1", "x"), card("c2", "a", "k2", "x")}))
	f := fb("a", "c1", "k1", "overridden", "", 1)
	f.ReasonCode = store.ReasonFiguresWrong
	g := fb("a", "c2", "k2", "overridden", "", 1)
	g.ReasonCode = "other"
	must(t, s.RecordFeedback(ctx, []store.Feedback{f, g}))
	if c := byContract(t, s)["x"]; c.DataQualityFlags != 1 || c.Overrides[store.ReasonFiguresWrong] != 1 || c.Overrides["other"] != 1 {
		t.Fatalf("data-quality flags: %+v", c)
	}
}

func jtiClaims(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := at
	claim := func(key string, exp, now time.Time) bool {
		t.Helper()
		ok, err := s.ClaimJTI(ctx, key, exp, now)
		must(t, err)
		return ok
	}
	if !claim("iss\x00j1", now.Add(5*time.Minute), now) {
		t.Fatal("first claim refused")
	}
	if claim("iss\x00j1", now.Add(5*time.Minute), now.Add(time.Minute)) {
		t.Fatal("replay inside the lifetime accepted")
	}
	if !claim("other\x00j1", now.Add(5*time.Minute), now) {
		t.Fatal("the same jti of another issuer is another token")
	}
	if !claim("iss\x00j1", now.Add(20*time.Minute), now.Add(6*time.Minute)) {
		t.Fatal("a claim whose expiry passed must be taken over")
	}
	if claim("iss\x00j1", now.Add(20*time.Minute), now.Add(7*time.Minute)) {
		t.Fatal("the renewed claim must hold")
	}
	// The gateway's early replay check reads claims without making one (gateway/fhirguard.go).
	r, ok := s.(interface {
		JTIHeld(ctx context.Context, key string, now time.Time) (bool, error)
	})
	if !ok {
		return
	}
	for _, c := range []struct {
		key  string
		now  time.Time
		want bool
	}{
		{"iss\x00j1", now.Add(7 * time.Minute), true},
		{"iss\x00j1", now.Add(20 * time.Minute), false}, // expired
		{"iss\x00never", now, false},
	} {
		held, err := r.JTIHeld(ctx, c.key, c.now)
		must(t, err)
		if held != c.want {
			t.Errorf("JTIHeld(%q, %v): %v, want %v", c.key, c.now, held, c.want)
		}
	}
	if claim("iss\x00never", now.Add(5*time.Minute), now) != true {
		t.Fatal("JTIHeld must not claim")
	}
}

// hookJTI: RecordHook writes the claim and the decisions together, and a live claim of the key,
// whether made by RecordHook or ClaimJTI, refuses the hook with ErrReplay and records none of its
// decisions (one decision: no savepoint; two: under one).
func hookJTI(t *testing.T, s store.Store) {
	ctx := context.Background()
	jti := func(key string, minute int) *store.JTI {
		now := at.Add(time.Duration(minute) * time.Minute)
		return &store.JTI{Key: key, Expires: now.Add(5 * time.Minute), Now: now}
	}
	cards := func() int {
		t.Helper()
		return byContract(t, s)["x"].Cards
	}
	must(t, s.RecordHook(ctx, jti("iss\x00h1", 0), []store.Decision{card("c1", "a", "k1", "x")}))
	if n := cards(); n != 1 {
		t.Fatalf("cards after the first hook: %d, want 1", n)
	}
	for _, ds := range [][]store.Decision{{card("c2", "a", "k2", "x")}, {card("c3", "a", "k3", "x"), card("c4", "a", "k4", "x")}} {
		if err := s.RecordHook(ctx, jti("iss\x00h1", 1), ds); !errors.Is(err, store.ErrReplay) {
			t.Fatalf("a hook replaying a claimed jti: %v, want ErrReplay", err)
		}
	}
	if n := cards(); n != 1 {
		t.Fatalf("cards after two replays: %d, want still 1 (a replay records nothing)", n)
	}
	if ok, err := s.ClaimJTI(ctx, "iss\x00h1", at.Add(time.Hour), at.Add(2*time.Minute)); err != nil || ok {
		t.Fatalf("ClaimJTI of a key a hook claimed: %v %v, want false", ok, err)
	}
	ok, err := s.ClaimJTI(ctx, "iss\x00h2", at.Add(5*time.Minute), at)
	must(t, err)
	if !ok {
		t.Fatal("first ClaimJTI of h2 refused")
	}
	if err := s.RecordHook(ctx, jti("iss\x00h2", 1), []store.Decision{card("c5", "a", "k5", "x")}); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("a hook with a jti ClaimJTI holds: %v, want ErrReplay", err)
	}
	if err := s.RecordHook(ctx, jti("iss\x00h2", 2), nil); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("a hook without decisions replaying: %v, want ErrReplay", err)
	}
	must(t, s.RecordHook(ctx, jti("iss\x00h3", 2), nil)) // no decisions: the claim alone
	if ok, _ := s.ClaimJTI(ctx, "iss\x00h3", at.Add(time.Hour), at.Add(3*time.Minute)); ok {
		t.Fatal("a claim RecordHook made without decisions does not hold")
	}
	// h1 expired at 0+5 min: at 6 min a hook takes it over, with two decisions.
	must(t, s.RecordHook(ctx, jti("iss\x00h1", 6), []store.Decision{card("c6", "a", "k6", "x"), card("c7", "a", "k7", "x")}))
	if n := cards(); n != 3 {
		t.Fatalf("cards after the expired claim was taken over: %d, want 3 (c1, c6, c7)", n)
	}
	must(t, s.RecordHook(ctx, nil, []store.Decision{card("c8", "a", "k8", "x")})) // no claim: RecordDecisions
	if n := cards(); n != 4 {
		t.Fatalf("cards after a hook without a claim: %d, want 4", n)
	}
	// 70 decisions (more than one multi-row insert holds), one of them twice: 69 cards, and a
	// replay of the hook records none of its 70.
	var many []store.Decision
	for i := range 69 {
		many = append(many, card(fmt.Sprintf("m%d", i), "a", fmt.Sprintf("km%d", i), "x"))
	}
	many = append(many, many[40])
	must(t, s.RecordHook(ctx, jti("iss\x00h4", 8), many))
	if n := cards(); n != 73 {
		t.Fatalf("cards after a hook of 70 decisions (one repeated): %d, want 73", n)
	}
	for i := range many {
		many[i].CardUUID += "-again"
	}
	if err := s.RecordHook(ctx, jti("iss\x00h4", 9), many); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("a replayed hook of 70 decisions: %v, want ErrReplay", err)
	}
	if n := cards(); n != 73 {
		t.Fatalf("cards after the replayed hook of 70: %d, want still 73", n)
	}
}

// hookJTIRace: 16 hooks carrying 4 distinct jtis, all at once: exactly one hook of each jti is
// recorded, the 12 others get ErrReplay.
func hookJTIRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	recorded, replays := 0, 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("r%d", i)
			err := s.RecordHook(ctx, &store.JTI{Key: fmt.Sprintf("iss\x00%d", i%4), Expires: at.Add(time.Hour), Now: at},
				[]store.Decision{card(id, "a", "k"+id, "x")})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				recorded++
			case errors.Is(err, store.ErrReplay):
				replays++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if recorded != 4 || replays != 12 {
		t.Fatalf("16 hooks over 4 jtis: %d recorded, %d replays, want 4 and 12", recorded, replays)
	}
	if c := byContract(t, s)["x"]; c.Cards != 4 {
		t.Fatalf("cards: %d, want 4 (one per jti)", c.Cards)
	}
}

func concurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("c%d", i)
			if err := s.RecordDecisions(ctx, []store.Decision{card(id, "a", "k"+id, "x", store.Suggestion{UUID: id + "s", PayerSaving: 1})}); err != nil {
				t.Error(err)
				return
			}
			if err := s.RecordFeedback(ctx, []store.Feedback{fb("a", id, "k"+id, "accepted", id+"s", 1)}); err != nil {
				t.Error(err)
			}
			ok, err := s.ClaimJTI(ctx, fmt.Sprintf("iss\x00%d", i%8), at.Add(time.Hour), at)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if c := byContract(t, s)["x"]; c.Cards != 64 || c.Accepted != 64 || c.PayerSaved != 64 {
		t.Fatalf("concurrent writes: %+v", c)
	}
	if fresh != 8 {
		t.Fatalf("8 distinct jtis claimed 64 times: %d accepted, want 8", fresh)
	}
}

// ordersRecords: order k1 is seen at order-select (10:00) and order-sign (10:30) and the third
// suggestion is accepted on the sign card: one record, first advised at 10:00, booking the third
// suggestion's 60/12/30. Order k2 (a day later) is overridden for clinical reasons. A period
// starting at 10:15 drops k1 (first advised before it) though its sign card is inside.
func ordersRecords(t *testing.T, s store.Store) {
	ctx := context.Background()
	sg := []store.Suggestion{{UUID: "s1", ProductID: "trazimera", PayerSaving: 100, PatientSaving: 20, OrgImpact: 50},
		{UUID: "s2", ProductID: "kanjinti", PayerSaving: 80, PatientSaving: 16, OrgImpact: 40},
		{UUID: "s3", ProductID: "ogivri", PayerSaving: 60, PatientSaving: 12, OrgImpact: 30}}
	sel := card("sel", "https://a.test", "k1", "mssp-aco", sg...)
	sign := card("sign", "https://a.test", "k1", "mssp-aco", store.Suggestion{UUID: "t1", ProductID: "trazimera", PayerSaving: 100},
		store.Suggestion{UUID: "t2", ProductID: "kanjinti", PayerSaving: 80}, sg[2])
	sign.CardUUID, sign.At = "sign", at.Add(30*time.Minute)
	sign.Suggestions[2].UUID = "t3"
	other := card("o", "https://a.test", "k2", "commercial")
	other.At = at.Add(24 * time.Hour)
	must(t, s.RecordDecisions(ctx, []store.Decision{sel, sign, other}))
	accept := fb("https://a.test", "sign", "k1", "accepted", "t3", 40)
	over := fb("https://a.test", "o", "k2", "overridden", "", 24*60+5)
	over.ReasonCode = "clinical-reason"
	must(t, s.RecordFeedback(ctx, []store.Feedback{accept, over}))

	got, err := s.Orders(ctx, time.Time{}, time.Time{})
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("orders = %d, want 2 (k1 once, k2): %+v", len(got), got)
	}
	k1, k2 := got[0], got[1]
	if !k1.FirstAt.Equal(at) || k1.Outcome != "accepted" || k1.AcceptedProductID != "ogivri" ||
		k1.PayerSaved != 60 || k1.PatientSaved != 12 || k1.OrgImpact != 30 || k1.GroupID != "trastuzumab" || k1.ContractID != "mssp-aco" || k1.Prescriber != "Practitioner/dr-k1" {
		t.Errorf("k1 = %+v, want first at %v, accepted ogivri 60/12/30", k1, at)
	}
	if k2.Outcome != "overridden" || k2.ReasonCode != "clinical-reason" || k2.PayerSaved != 0 || k2.AcceptedProductID != "" {
		t.Errorf("k2 = %+v, want overridden clinical-reason, nothing booked", k2)
	}
	got, err = s.Orders(ctx, at.Add(15*time.Minute), at.Add(48*time.Hour))
	must(t, err)
	if len(got) != 1 || got[0].ContractID != "commercial" {
		t.Errorf("orders from 10:15 = %+v, want only k2", got)
	}
	got, err = s.Orders(ctx, at, at.Add(24*time.Hour)) // to is exclusive
	must(t, err)
	if len(got) != 1 || got[0].ContractID != "mssp-aco" {
		t.Errorf("orders [10:00, +24h) = %+v, want only k1", got)
	}
}
