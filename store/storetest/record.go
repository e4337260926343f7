package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"valuerx/store"
)

// The full decision record (issue 16 items 1, 2 and 4): every option with per-course and per-year
// figures, orders that needed no card, signatures, administrations, claims and divergence.

func recordSuite(t *testing.T, open Open) {
	t.Run("record round trip: options, periods, location, tenant", func(t *testing.T) { recordRoundTrip(t, open(t)) })
	t.Run("orders without a card are recorded, take no feedback, count no card", func(t *testing.T) { noCardOrders(t, open(t)) })
	t.Run("offered, accepted, signed, administered, paid", func(t *testing.T) { offerToRealised(t, open(t)) })
	t.Run("divergence stored once, pending until computed", func(t *testing.T) { divergenceRecord(t, open(t)) })
	t.Run("administrations count only between the card and their import", func(t *testing.T) { administrationWindow(t, open(t)) })
	t.Run("a voided administration imported again stops counting", func(t *testing.T) { voidedAdministration(t, open(t)) })
}

// voidedAdministration: a dose of trazimera imported "completed", then again with the same key as
// "entered-in-error" (the EHR voiding a charted dose). The record takes the correction: the order
// has no administration and realises nothing (it realised trazimera's 300 a year, the first
// status kept; finance review, 3 December 2026). The same import again changes nothing.
func voidedAdministration(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	d := store.Decision{CardUUID: "c1", Client: "ehr", OrderKey: "K", ServiceID: "svc", Hook: "order-select", ContractID: "aco",
		Arrangement: "shared-savings-upside", GroupID: "trastuzumab", OrderedProductID: "herceptin", BestProductID: "trazimera", At: at,
		Options:     []store.Option{{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerYear: store.Saving{Payer: 300}}},
		Suggestions: []store.Suggestion{{UUID: "s1", ProductID: "trazimera", PayerSaving: 100, PerYear: store.Saving{Payer: 300}}}}
	must(t, s.RecordDecisions(ctx, []store.Decision{d}))
	must(t, s.RecordFeedback(ctx, []store.Feedback{{Client: "ehr", ServiceID: "svc", CardUUID: "c1", OrderKey: "K", Outcome: "accepted",
		SuggestionUUID: "s1", OutcomeSent: at, OutcomeAt: at, ReceivedAt: at}}))
	adm := store.Administration{Client: "ehr", OrderKey: "K", Key: "ma-1", ProductID: "trazimera", Status: "completed",
		At: at.Add(24 * time.Hour), ImportedAt: at.Add(48 * time.Hour)}
	figures := func() (int, int64) {
		t.Helper()
		orders, err := s.Orders(ctx, time.Time{}, time.Time{})
		must(t, err)
		if len(orders) != 1 {
			t.Fatalf("%d orders", len(orders))
		}
		n, real := orders[0].Administrations, orders[0].OutcomeFigures().RealPayerY
		// The rollup (the dashboard's source) agrees: the correction queued the order again.
		ru, ok := s.(store.Rollups)
		if !ok {
			return n, real
		}
		rows, err := ru.FamilyMonths(ctx, store.AggQuery{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)})
		must(t, err)
		var admin, rolled int64
		for _, r := range rows {
			admin += int64(r.Outcome.Administered)
			rolled += r.Outcome.RealPayerY
		}
		if int(admin) != n || rolled != real {
			t.Errorf("rollup: %d administered, realised %d; the record: %d, %d", admin, rolled, n, real)
		}
		return n, real
	}
	if n, err := s.RecordAdministrations(ctx, []store.Administration{adm}); err != nil || n != 1 {
		t.Fatalf("first import: %d recorded, %v", n, err)
	}
	if n, real := figures(); n != 1 || real != 300_000_000 {
		t.Fatalf("given: %d administrations, realised %d micro-dollars a year; want 1 and 300 000 000", n, real)
	}
	adm.Status, adm.ImportedAt = "entered-in-error", at.Add(72*time.Hour)
	if n, err := s.RecordAdministrations(ctx, []store.Administration{adm}); err != nil || n != 1 {
		t.Fatalf("the correction: %d recorded, %v; want 1", n, err)
	}
	if n, real := figures(); n != 0 || real != 0 {
		t.Errorf("voided: %d administrations, realised %d micro-dollars a year; want 0 and 0", n, real)
	}
	if n, err := s.RecordAdministrations(ctx, []store.Administration{adm}); err != nil || n != 0 {
		t.Errorf("the same correction again: %d recorded, %v; want 0", n, err)
	}
}

// administrationWindow: order k1's card is at 2026-02-15 10:00 (no feedback), the import at
// 2026-03-15 10:00. Completed administrations of trazimera dated 1990-01-01 (before the card),
// 2026-02-13 23:59 (a minute before the UTC day before the card's), 2026-03-15 10:11 (11 minutes
// after the import, past the 10-minute skew) count for nothing; one of ogivri at 2026-02-14
// 00:00 (a date-only effective time a day behind) and one of kanjinti at 2026-03-15 10:09
// (inside the skew) count: 2 administrations, 3 out of the window, the latest product kanjinti,
// the first at 2026-02-14. Before the window was applied the order showed 5 and trazimera.
func administrationWindow(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.RecordDecisions(ctx, []store.Decision{offered("w1", "k1")}))
	imported := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	admin := func(key, product string, when time.Time) store.Administration {
		return store.Administration{Client: "https://a.test", OrderKey: "k1", Key: key, ProductID: product, Status: "completed", At: when, ImportedAt: imported}
	}
	_, err := s.RecordAdministrations(ctx, []store.Administration{
		admin("w-1990", "trazimera", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)),
		admin("w-early", "trazimera", time.Date(2026, 2, 13, 23, 59, 0, 0, time.UTC)),
		admin("w-late", "trazimera", imported.Add(11*time.Minute)),
		admin("w-day", "ogivri", time.Date(2026, 2, 14, 0, 0, 0, 0, time.UTC)),
		admin("w-skew", "kanjinti", imported.Add(9*time.Minute)),
	})
	must(t, err)
	got, err := s.Orders(ctx, time.Time{}, time.Time{})
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("orders = %d, want 1", len(got))
	}
	o := got[0]
	if o.Administrations != 2 || o.AdministrationsOutOfWindow != 3 || o.AdministeredProductID != "kanjinti" ||
		!o.FirstAdministeredAt.Equal(time.Date(2026, 2, 14, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("k1 = %d administrations (%d out of window), product %q, first %v; want 2 (3 out), kanjinti, 2026-02-14",
			o.Administrations, o.AdministrationsOutOfWindow, o.AdministeredProductID, o.FirstAdministeredAt)
	}
}

var options = []store.Option{
	{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: store.Saving{Payer: 100, Patient: 20, Org: 50}, PerYear: store.Saving{Payer: 300, Patient: 60, Org: 150}},
	{ProductID: "kanjinti", Relationship: "biosimilar", Eligible: true, PerCourse: store.Saving{Payer: 80, Patient: 16, Org: 40}, PerYear: store.Saving{Payer: 240, Patient: 48, Org: 120}},
	{ProductID: "ogivri", Relationship: "biosimilar", Eligible: true, PerCourse: store.Saving{Payer: 60, Patient: 12, Org: 30}, PerYear: store.Saving{Payer: 180, Patient: 36, Org: 90}},
	{ProductID: "herzuma", Relationship: "biosimilar", Exclusion: "raises-payer-cost", PerCourse: store.Saving{Payer: -5, Patient: -1}, PerYear: store.Saving{Payer: -15, Patient: -3}},
}

// offered is a card for order k offering the first three options as suggestions sN-1..3.
func offered(id, order string) store.Decision {
	var ss []store.Suggestion
	for i, o := range options[:3] {
		ss = append(ss, store.Suggestion{UUID: id + "-s" + string(rune('1'+i)), ProductID: o.ProductID, PayerSaving: o.PerCourse.Payer,
			PatientSaving: o.PerCourse.Patient, OrgImpact: o.PerCourse.Org, PerYear: o.PerYear})
	}
	d := card(id, "https://a.test", order, "mssp-aco", ss...)
	d.Hook, d.Tenant, d.Location, d.Therapy = "order-select", "", "Location/infusion-1", store.TherapyNewStart
	d.PricePeriod, d.CatalogVersion, d.AdministrationsPerYear, d.OrderedRelationship = "cms-asp-2026q1", "cat-1", 17, "reference"
	d.Options = options
	d.ScoreRequest = []byte(`{"contract":"mssp-aco","product":"herceptin"}`)
	return d
}

func recordRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := offered("c1", "k1")
	d.Tenant, d.Client = "b-main", "https://b.test tenant=b-main"
	must(t, s.RecordDecisions(ctx, []store.Decision{d}))
	got, err := s.Decision(ctx, "c1")
	must(t, err)
	if got.Tenant != "b-main" || got.Location != "Location/infusion-1" || got.Therapy != store.TherapyNewStart || got.PricePeriod != "cms-asp-2026q1" ||
		got.CatalogVersion != "cat-1" || got.AdministrationsPerYear != 17 || got.OrderedRelationship != "reference" ||
		!reflect.DeepEqual(got.Options, options) || string(got.ScoreRequest) != string(d.ScoreRequest) ||
		got.Suggestions[2].PerYear != options[2].PerYear || got.NoCardReason != "" {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, d)
	}
}

// noCardOrders: k1 is ordered on trazimera already (already-best at order-select and order-sign),
// k2 gets a card. The summary counts one card; Orders has both, k1 without a card.
func noCardOrders(t *testing.T, s store.Store) {
	ctx := context.Background()
	sel := card("n1", "a", "k1", "mssp-aco")
	sel.NoCardReason, sel.Therapy, sel.OrderedProductID, sel.Hook = "already-best", store.TherapyNewStart, "trazimera", "order-select"
	sign := sel
	sign.CardUUID, sign.Hook, sign.At = "n2", "order-sign", at.Add(10*time.Minute)
	c := card("c2", "a", "k2", "mssp-aco", store.Suggestion{UUID: "c2s1", ProductID: "trazimera", PayerSaving: 10})
	c.Therapy = store.TherapyContinuing
	must(t, s.RecordDecisions(ctx, []store.Decision{sel, sign, c}))
	if _, err := s.Decision(ctx, "n1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a no-card decision takes no feedback: Decision = %v", err)
	}
	if sum := byContract(t, s)["mssp-aco"]; sum.Cards != 1 || sum.NoFeedback != 1 {
		t.Fatalf("summary counts the card only: %+v", sum)
	}
	got, err := s.Orders(ctx, time.Time{}, time.Time{})
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("orders = %d, want 2: %+v", len(got), got)
	}
	k1, k2 := got[0], got[1]
	if k1.OrderedProductID != "trazimera" {
		k1, k2 = k2, k1
	}
	if k1.Card() || k1.NoCardReason != "already-best" || k1.Therapy != store.TherapyNewStart || k1.SignedProductID != "trazimera" ||
		!k1.SignedAt.Equal(at.Add(10*time.Minute)) || k1.Outcome != "" {
		t.Errorf("k1 = %+v, want no card (already-best), new start, signed trazimera", k1)
	}
	if !k2.Card() || k2.NoCardReason != "" || k2.Therapy != store.TherapyContinuing || k2.SignedProductID != "herceptin" {
		t.Errorf("k2 = %+v, want a card, continuing, signed herceptin (its order-sign card, not accepted)", k2)
	}
}

// offerToRealised: k1 gets an order-select card, the clinician accepts its third suggestion
// (ogivri: 60/12/30 per course, 180/36/90 per year), the order-sign hook then carries ogivri and
// needs no card; two completed administrations (one imported twice) and one not done, and a
// claim line. k2 is accepted at order-sign itself: signed is the accepted product.
func offerToRealised(t *testing.T, s store.Store) {
	ctx := context.Background()
	sel := offered("sel", "k1")
	sign := card("sign", "https://a.test", "k1", "mssp-aco")
	sign.OrderedProductID, sign.NoCardReason, sign.At = "ogivri", "already-best", at.Add(5*time.Minute)
	k2 := offered("k2card", "k2")
	k2.Hook, k2.At = "order-sign", at.Add(time.Hour)
	must(t, s.RecordDecisions(ctx, []store.Decision{sel, sign, k2}))
	must(t, s.RecordFeedback(ctx, []store.Feedback{fb("https://a.test", "sel", "k1", "accepted", "sel-s3", 2),
		fb("https://a.test", "k2card", "k2", "accepted", "k2card-s2", 62)}))
	admin := func(key, order, product, status string, day int) store.Administration {
		return store.Administration{Client: "https://a.test", OrderKey: order, Key: key, ProductID: product, Status: status,
			At: at.AddDate(0, 0, day), ImportedAt: at.AddDate(0, 1, 0)}
	}
	n, err := s.RecordAdministrations(ctx, []store.Administration{admin("a1", "k1", "ogivri", "completed", 1),
		admin("a2", "k1", "ogivri", "completed", 22), admin("a3", "k1", "ogivri", "not-done", 43)})
	must(t, err)
	if n != 3 {
		t.Fatalf("administrations added = %d, want 3", n)
	}
	n, err = s.RecordAdministrations(ctx, []store.Administration{admin("a1", "k1", "ogivri", "completed", 1)})
	must(t, err)
	if n != 0 {
		t.Fatalf("a re-imported administration was added again (%d)", n)
	}
	cl := store.Claim{Client: "https://a.test", OrderKey: "k1", Key: "cl1", ServiceDate: at.AddDate(0, 0, 1), HCPCS: "Q5114", ProductID: "ogivri",
		Units: 42, AllowedUSD: 1583.78, PaidUSD: 1241.68, PatientUSD: 316.76, ImportedAt: at.AddDate(0, 2, 0)}
	n, err = s.RecordClaims(ctx, []store.Claim{cl, cl})
	must(t, err)
	if n != 1 {
		t.Fatalf("claims added = %d, want 1 (the repeat is the same line)", n)
	}
	got, err := s.Orders(ctx, time.Time{}, time.Time{})
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("orders = %d, want 2: %+v", len(got), got)
	}
	o := got[0]
	if o.Outcome != "accepted" || o.AcceptedSuggestion != 3 || o.AcceptedSuggestionUUID != "sel-s3" || o.AcceptedProductID != "ogivri" ||
		o.PayerSaved != 60 || o.PatientSaved != 12 || o.OrgImpact != 30 || o.PayerSavedYear != 180 || o.PatientSavedYear != 36 || o.OrgImpactYear != 90 {
		t.Errorf("k1 accepted: %+v, want the third suggestion's 60/12/30 per course and 180/36/90 per year", o)
	}
	if o.OrderedProductID != "herceptin" || o.SignedProductID != "ogivri" || o.Administrations != 2 || o.AdministeredProductID != "ogivri" ||
		!o.FirstAdministeredAt.Equal(at.AddDate(0, 0, 1)) || o.ClaimLines != 1 || o.PaidUSD != 1241.68 || o.AllowedUSD != 1583.78 ||
		o.Location != "Location/infusion-1" || o.PricePeriod != "cms-asp-2026q1" || len(o.Options) != 4 || !o.Card() {
		t.Errorf("k1 realised: %+v, want ordered herceptin, signed ogivri, 2 completed administrations, 1 claim line", o)
	}
	if o := got[1]; o.SignedProductID != "kanjinti" || o.AcceptedSuggestion != 2 || o.Administrations != 0 {
		t.Errorf("k2: %+v, want signed kanjinti (accepted on its order-sign card), no administration", o)
	}
}

// divergenceRecord: answers are stored once per scoring request and catalog version
// (store.DivergenceKey) and every decision with that request and version has them.
//
//	c0  no scoring request (recorded before version 5)     -> never pending
//	c1  request A on cat-1, a card for k1                  -> pending, then computed
//	c2  request B on cat-1, no card (below-threshold)      -> pending (no-card decisions too), never computed here
//	c3  request A on cat-1, a card for k3                  -> pending until A is computed, then has c1's answers
//	c4  request A on cat-2 (after a catalog swap), k4      -> still pending: a new catalog is scored again
//	c5  request A naming another configuration, on cat-1 -> still pending: new contracts are scored again
func divergenceRecord(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := offered("c1", "k1")
	old := card("c0", "a", "k0", "x") // no scoring request (recorded before version 5): never pending
	nc := offered("c2", "k2")
	nc.NoCardReason, nc.At = "below-threshold", at.Add(time.Minute)
	nc.ScoreRequest = []byte(`{"contract":"mssp-aco","product":"herceptin","doseMg":440}`)
	same := offered("c3", "k3")
	same.At = at.Add(2 * time.Minute)
	swapped := offered("c4", "k4")
	swapped.CatalogVersion, swapped.At = "cat-2", at.Add(3*time.Minute)
	reconf := offered("c5", "k5") // the gateway's request names its configuration's fingerprint
	reconf.ScoreRequest, reconf.At = []byte(`{"contract":"mssp-aco","product":"herceptin","config":"0123456789abcdef"}`), at.Add(4*time.Minute)
	must(t, s.RecordDecisions(ctx, []store.Decision{d, old, nc, same, swapped, reconf}))
	ids := func(ds []store.Decision) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.CardUUID)
		}
		return out
	}
	pend, next, err := s.PendingDivergence(ctx, "", 10)
	must(t, err)
	if got := ids(pend); !reflect.DeepEqual(got, []string{"c1", "c2", "c3", "c4", "c5"}) || next != "" || string(pend[0].ScoreRequest) == "" ||
		pend[0].CatalogVersion != "cat-1" || pend[3].CatalogVersion != "cat-2" {
		t.Fatalf("pending = %v (cursor %q), want c1 c2 c3 c4 c5 with request and catalog version, then the end", got, next)
	}
	one, next, err := s.PendingDivergence(ctx, "", 1)
	must(t, err)
	if len(one) != 1 || one[0].CardUUID != "c1" || next == "" {
		t.Fatalf("limit 1 returned %v, cursor %q", ids(one), next)
	}
	rest, _, err := s.PendingDivergence(ctx, next, 10)
	must(t, err)
	if got := ids(rest); !reflect.DeepEqual(got, []string{"c2", "c3", "c4", "c5"}) {
		t.Fatalf("after the cursor: %v, want c2 c3 c4 c5", got)
	}
	if _, _, err := s.PendingDivergence(ctx, "not a cursor", 10); err == nil {
		t.Error("a bad cursor was accepted")
	}
	ans := []store.Answer{
		{ContractID: "mssp-aco", Arrangement: "shared-savings-two-sided", BestProductID: "trazimera", Card: true,
			Year: map[string]store.YearFigures{"trazimera": {PayerAllowed: 100, NetImpact: 5}, "herceptin": {PayerAllowed: 400}}},
		{ContractID: "ppo", Arrangement: "ffs", BestProductID: "herceptin", Reason: "margin-falls", Differs: true},
	}
	key := d.DivergenceKey()
	if key == "" || key == nc.DivergenceKey() || key != same.DivergenceKey() || key == swapped.DivergenceKey() || old.DivergenceKey() != "" ||
		key == reconf.DivergenceKey() {
		t.Fatalf("keys: c1 %q c2 %q c3 %q c4 %q c0 %q c5 %q", key, nc.DivergenceKey(), same.DivergenceKey(), swapped.DivergenceKey(), old.DivergenceKey(),
			reconf.DivergenceKey())
	}
	must(t, s.RecordDivergence(ctx, []store.Divergence{{Key: key, CatalogVersion: "cat-1", ComputedAt: at, Answers: ans}}))
	must(t, s.RecordDivergence(ctx, []store.Divergence{{Key: key, CatalogVersion: "cat-2", ComputedAt: at, Answers: ans[:1]}}))
	if err := s.RecordDivergence(ctx, []store.Divergence{{CatalogVersion: "cat-1", ComputedAt: at, Answers: ans}}); err == nil {
		t.Error("answers without a key were stored")
	}
	pend, _, err = s.PendingDivergence(ctx, "", 10)
	must(t, err)
	if got := ids(pend); !reflect.DeepEqual(got, []string{"c2", "c4", "c5"}) {
		t.Fatalf("pending after request A = %v, want c2, c4 and c5 (c3 has c1's request)", got)
	}
	got, err := s.Orders(ctx, time.Time{}, time.Time{})
	must(t, err)
	seen := map[string]bool{}
	for _, o := range got {
		if o.OrderedProductID != "herceptin" || o.ContractID != "mssp-aco" || !o.Card() {
			continue
		}
		switch o.Prescriber {
		case "Practitioner/dr-k1", "Practitioner/dr-k3":
			if !reflect.DeepEqual(o.Answers, ans) {
				t.Errorf("%s answers = %+v, want the first recorded %+v", o.Prescriber, o.Answers, ans)
			}
		case "Practitioner/dr-k4", "Practitioner/dr-k5":
			if o.Answers != nil {
				t.Errorf("%s (catalog cat-2, another configuration) has answers %+v before its own are computed", o.Prescriber, o.Answers)
			}
		}
		seen[o.Prescriber] = true
	}
	if len(seen) != 4 {
		t.Errorf("orders k1, k3, k4, k5 missing: %+v", got)
	}

	// Not scored (c4's catalog and c5's configuration are no longer loaded): stored with the
	// reason and no answers, so neither is pending any more; a second row for a key keeps the
	// first. By hand over the five orders with a request (k1..k5; k0 has none): k1 and k3
	// scored, k4 catalog replaced, k5 configuration replaced, k2 pending.
	must(t, s.RecordDivergence(ctx, []store.Divergence{
		{Key: swapped.DivergenceKey(), CatalogVersion: "cat-2", ComputedAt: at, NotScored: store.DivNotScoredCatalog},
		{Key: reconf.DivergenceKey(), CatalogVersion: "cat-1", ComputedAt: at, NotScored: store.DivNotScoredConfig}}))
	must(t, s.RecordDivergence(ctx, []store.Divergence{{Key: reconf.DivergenceKey(), CatalogVersion: "cat-1", Config: "0123456789abcdef", ComputedAt: at, Answers: ans}}))
	pend, _, err = s.PendingDivergence(ctx, "", 10)
	must(t, err)
	if got := ids(pend); !reflect.DeepEqual(got, []string{"c2"}) {
		t.Fatalf("pending after the not-scored rows = %v, want c2", got)
	}
	got, err = s.Orders(ctx, time.Time{}, time.Time{})
	must(t, err)
	state := map[string]string{}
	for _, o := range got {
		v := o.DivergenceNotScored
		if v == "" && o.Answers != nil {
			v = "scored"
		}
		if !o.ScoreRequested {
			v = "no request"
		}
		state[o.Prescriber] = v
	}
	want := map[string]string{"Practitioner/dr-k0": "no request", "Practitioner/dr-k1": "scored", "Practitioner/dr-k2": "", "Practitioner/dr-k3": "scored",
		"Practitioner/dr-k4": store.DivNotScoredCatalog, "Practitioner/dr-k5": store.DivNotScoredConfig}
	if !reflect.DeepEqual(state, want) {
		t.Errorf("divergence per order %v, want %v", state, want)
	}
	ru, ok := s.(store.Rollups)
	if !ok {
		return
	}
	fams, err := ru.FamilyMonths(ctx, store.AggQuery{From: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	must(t, err)
	var sum store.OutcomeSums
	for _, a := range fams {
		sum.Add(a.Outcome)
	}
	if sum.DivRequests != 5 || sum.DivOrders != 2 || sum.DivNotScoredCatalog != 1 || sum.DivNotScoredConfig != 1 || sum.DivNotScoredFailed != 0 {
		t.Errorf("rollup: %d requests, %d with answers, not scored %d catalog %d configuration %d failed; want 5, 2, 1, 1, 0",
			sum.DivRequests, sum.DivOrders, sum.DivNotScoredCatalog, sum.DivNotScoredConfig, sum.DivNotScoredFailed)
	}
}
