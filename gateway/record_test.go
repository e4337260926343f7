package gateway

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/imports"
	"valuerx/store"
	"valuerx/tracking"
)

// withDraft replaces the first draft order of a hook body by resource (a suggestion's update,
// or the same draft under another id).
func withDraft(t *testing.T, body []byte, resource json.RawMessage, id string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	entry := m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)
	if resource != nil {
		var r any
		if err := json.Unmarshal(resource, &r); err != nil {
			t.Fatal(err)
		}
		entry["resource"] = r
	}
	if id != "" {
		entry["resource"].(map[string]any)["id"] = id
		if sel, ok := m["context"].(map[string]any)["selections"].([]any); ok && len(sel) > 0 {
			sel[0] = "MedicationRequest/" + id
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *testEnv) hook(name string, body []byte) cdshooks.Response {
	e.t.Helper()
	s, out := e.postAs(e.signer, serviceOf(name), body)
	if s != 200 {
		e.t.Fatalf("%s: %d %s", name, s, out)
	}
	return decodeResponse(e.t, out)
}

func (e *testEnv) feedback(service string, item map[string]any) {
	e.t.Helper()
	item["outcomeTimestamp"] = e.gw.cfg.Now().UTC().Format(time.RFC3339)
	if s, out := e.postAs(e.signer, serviceOf(service)+"/feedback", feedbackBody(item)); s != 200 {
		e.t.Fatalf("feedback: %d %s", s, out)
	}
}

// TestProgrammeRecordThroughTheGateway drives the real gateway over HTTP into a real SQLite
// file, imports an administration, computes the divergence and checks the programme report
// against figures worked by hand from the CMS Q1 2026 payment limits (USD per 10 mg: Herceptin
// J9355 73.483, Trazimera 8.205, Hercessi 37.151, Kanjinti 51.439). A 420 mg dose bills 45
// Herceptin units (three 150 mg vials) or 42 units of a biosimilar with a 420 mg vial; a course
// and a year of therapy are both 17 doses (every three weeks). The payer's saving is Medicare's
// own payment (scoring.Saved): of an allowed amount a, the patient owes the Part B deductible
// ($283 in 2026, on the course's first dose) and 20 % of the rest, 0.2 x a + 0.8 x 283, and
// Medicare pays the rest less 2 % sequestration, 0.98 x (0.8 x a - 226.4). Between two products
// the deductible cancels: the payer saves 0.784 x the allowed difference.
//
//	A  ACO patient, Herceptin at order-select: card; the THIRD suggestion (Hercessi) accepted;
//	   order-sign of the same draft then carries Hercessi; one administration imported.
//	   Allowed 17 x (45 x 73.483 - 42 x 37.151) = 29,688.681 less per course (= per year): books
//	   0.784 x 29,688.681 = 23,275.925904 to the payer, 20 % of it, 5,937.7362, to the patient;
//	   realised, since signed and given.
//	B  the same patient, another draft: card, FIRST suggestion (Trazimera) accepted, never signed:
//	   projected 0.784 x 17 x (45 x 73.483 - 42 x 8.205) = 0.784 x 50,356.125 = 39,479.202,
//	   realised nothing.
//	E  another draft ordered on Trazimera itself: no card (already-best), a new start on a biosimilar.
//	F  another draft on Herceptin: card overridden: a new start that stays on the reference.
//	L  a commercial patient's Lipitor at order-sign: card, no feedback; signed as ordered.
func TestProgrammeRecordThroughTheGateway(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sel := e.demoRequest("aco-herceptin-order-select")
	cardA := e.hook("order-select", sel)
	if len(cardA.Cards) != 1 || len(cardA.Cards[0].Suggestions) < 3 {
		t.Fatalf("order-select: want one card with three suggestions: %+v", cardA)
	}
	a := cardA.Cards[0]
	decA, err := e.store.Decision(ctx, a.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{decA.Suggestions[0].ProductID, decA.Suggestions[1].ProductID, decA.Suggestions[2].ProductID}; got[0] != "trazimera" || got[2] != "hercessi" {
		t.Fatalf("suggestions = %v, want trazimera first and hercessi third", got)
	}
	// The record: every option (the six biosimilars), per course and per year, the period, new start.
	if len(decA.Options) != 6 || decA.PricePeriod != "cms-asp-2026q1" || decA.Therapy != store.TherapyNewStart ||
		decA.AdministrationsPerYear != 17 || decA.OrderedRelationship != "reference" || len(decA.ScoreRequest) == 0 {
		t.Fatalf("decision record: %+v", decA)
	}
	e.feedback("order-select", map[string]any{"card": a.UUID, "outcome": "accepted", "acceptedSuggestions": []any{map[string]any{"id": a.Suggestions[2].UUID}}})
	// order-sign of the same draft order, now carrying the accepted product.
	e.hook("order-sign", withDraft(t, e.demoRequest("aco-herceptin-order-sign-noprefetch"), a.Suggestions[2].Actions[0].Resource, ""))

	cardB := e.hook("order-select", withDraft(t, sel, nil, "draft-b"))
	e.feedback("order-select", map[string]any{"card": cardB.Cards[0].UUID, "outcome": "accepted",
		"acceptedSuggestions": []any{map[string]any{"id": cardB.Cards[0].Suggestions[0].UUID}}})
	if none := e.hook("order-select", withDraft(t, sel, a.Suggestions[0].Actions[0].Resource, "draft-e")); len(none.Cards) != 0 {
		t.Fatalf("an order already on Trazimera got a card: %+v", none)
	}
	cardF := e.hook("order-select", withDraft(t, sel, nil, "draft-f"))
	e.feedback("order-select", map[string]any{"card": cardF.Cards[0].UUID, "outcome": "overridden",
		"overrideReason": map[string]any{"reason": map[string]any{"code": "patient-declines", "system": overrideSystem}}})
	if l := e.hook("order-sign", e.demoRequest("commercial-ppo-lipitor-order-sign")); len(l.Cards) != 1 {
		t.Fatalf("lipitor: %+v", l)
	}

	nd := `{"resourceType":"MedicationAdministration","id":"ma-1","status":"completed","subject":{"reference":"Patient/pat-aco"},` +
		`"request":{"reference":"MedicationRequest/draft-herceptin-pat-aco"},"effectiveDateTime":"` + time.Now().UTC().Format(time.RFC3339) + `",` + // given after the card: counts (store.AdministrationCounts)
		`"medicationCodeableConcept":{"coding":[{"system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets","code":"Q5146"}]}}` + "\n"
	res, err := imports.ImportAdministrations(ctx, strings.NewReader(nd), e.store, imports.AdministrationOptions{
		Joiner: imports.Joiner{Secret: e.gw.orderSecret, Client: e.signer.Issuer}, Catalog: testCatalog(t)})
	if err != nil || res.Recorded != 1 {
		t.Fatalf("import: %+v %v", res, err)
	}
	if _, err := e.gw.ComputeDivergence(ctx); err != nil {
		t.Fatal(err)
	}

	orders, err := e.store.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// A is one order though seen at order-select and order-sign: A, B, E, F, L.
	if len(orders) != 5 {
		t.Fatalf("orders = %d, want 5 (A once)", len(orders))
	}
	var oa store.OrderRecord
	for _, o := range orders {
		if o.AcceptedSuggestion == 3 {
			oa = o
		}
	}
	if oa.AcceptedProductID != "hercessi" || oa.SignedProductID != "hercessi" || oa.AdministeredProductID != "hercessi" || oa.Administrations != 1 ||
		math.Abs(oa.PayerSaved-23275.925904) > 1e-6 || math.Abs(oa.PatientSaved-5937.7362) > 1e-6 || oa.PayerSavedYear != 23275.93 {
		t.Fatalf("order A = %+v, want the third suggestion's 23,275.925904 booked, signed and given as Hercessi", oa)
	}

	targets := []tracking.Target{{Contract: "mssp-aco", BiosimilarShareNewStarts: ptrF(0.8)}}
	over := tracking.Build(orders, tracking.Filter{}, targets)
	rep := tracking.BuildOutcomes(orders, tracking.Filter{}, targets)
	tot := rep.Total
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"orders", float64(tot.Orders), 5}, {"cards", float64(tot.Cards), 4}, {"no card", float64(tot.NoCard), 1},
		{"accepted", float64(tot.Accepted), 2}, {"overridden", float64(over.Total.Overridden), 1}, {"no feedback", float64(over.Total.NoFeedback), 1},
		// projected: A's third suggestion and B's first, each booked to the cent: 23,275.93 + 39,479.20
		{"projected payer per course", over.Total.PayerSavedUSD, 62755.13}, {"projected payer per year", tot.ProjectedPayerSavedPerYearUSD, 62755.13},
		{"signed", float64(tot.Signed), 2}, {"administered", float64(tot.Administered), 1},
		// realised: A (signed and given Hercessi) and L (signed as ordered: 0); B accepted but never signed is not
		{"realised orders", float64(tot.RealisedOrders), 2}, {"realised switched", float64(tot.RealisedSwitched), 1},
		{"realised payer per year", tot.RealisedPayerSavedPerYearUSD, 23275.93}, {"realised patient per year", tot.RealisedPatientSavedPerYearUSD, 5937.74},
		// new starts of trastuzumab: A (Hercessi), B (Trazimera as accepted), E (Trazimera), F (Herceptin)
		{"new starts", float64(tot.NewStarts), 4}, {"on a biosimilar", float64(tot.NewStartsBiosimilar), 3},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if over.Total.NoCardReasons["already-best"] != 1 || over.Total.Orders != 5 || over.Total.Cards != 4 {
		t.Errorf("overview: %+v, want 5 orders, 4 cards, already-best once (E)", over.Total)
	}
	for _, tr := range rep.Contracts[0].Targets {
		if tr.Measure == tracking.MeasureBiosimilarNew && (!tr.Measured || tr.Met || tr.Actual != 0.75) {
			t.Errorf("biosimilar share of new starts = %+v, want 3/4 measured against 0.8, missed", tr)
		}
	}

	// Divergence. Under every Medicare-priced contract (medicare-ffs, mssp-aco, ma-capitation,
	// eom-oncology) a Herceptin order's best is Trazimera: under FFS the biosimilar's larger add-on
	// makes the cheapest earn the most (economics.md section 5). Under the commercial PPO (ASP +
	// 20 %, prefers Kanjinti and Ogivri, prior authorisation for the rest) it is Kanjinti, the
	// preferred product with the larger margin. So A, B and F diverge (PPO vs each value-based
	// contract) and E does not: E is already on Trazimera, and under the PPO Kanjinti would raise
	// the payer's and the patient's cost, so the PPO answer is to stay, like the others. Lipitor's
	// generic is every contract's answer.
	q := rep
	quarter := func(t time.Time) string {
		return t.UTC().Format("2006") + "-Q" + string(rune('1'+(int(t.UTC().Month())-1)/3))
	}(orders[0].FirstAt)
	want := map[string]tracking.DivergenceRow{
		"trastuzumab":  {Family: "trastuzumab", Quarter: quarter, Orders: 4, Comparable: 4, Diverged: 3, Share: 0.75, Requested: 4},
		"atorvastatin": {Family: "atorvastatin", Quarter: quarter, Orders: 1, Comparable: 1, Requested: 1},
	}
	if g := q.DivergenceGaps; g.Requested != 5 || g.Scored != 5 || g.Pending != 0 || g.NotScored[store.DivNotScoredConfig]+g.NotScored[store.DivNotScoredCatalog]+g.NotScored[store.DivNotScoredFailed] != 0 {
		t.Errorf("divergence gaps %+v, want all 5 orders with a request scored", g)
	}
	if len(q.Divergence) != 2 {
		t.Fatalf("divergence rows = %+v", q.Divergence)
	}
	for _, r := range q.Divergence {
		if r != want[r.Family] {
			t.Errorf("divergence %s = %+v, want %+v", r.Family, r, want[r.Family])
		}
	}
	// Following mssp-aco's answer (Trazimera) rather than the PPO's (Kanjinti), under mssp-aco's
	// figures, saves the allowed amount 17 x 42 x (51.439 - 8.205) = 30,869.076 a year per
	// diverging order, Medicare's own payment 0.784 x 30,869.076 = 24,201.355584: x 3 = 72,604.07.
	found := 0
	for _, p := range q.DivergencePairs {
		if p.Family != "trastuzumab" {
			continue
		}
		found++
		switch {
		case p.FFS == "medicare-ffs" && p.Diverged != 0:
			t.Errorf("medicare-ffs answers like the value-based contracts, yet %+v", p)
		case p.FFS == "commercial-ppo" && p.ValueBased == "mssp-aco" && (p.Orders != 4 || p.Diverged != 3 || p.PayerSavedPerYearUSD != 72604.07):
			t.Errorf("ppo vs mssp-aco = %+v, want 3 of 4 diverged, 72,604.07 a year to the payer", p)
		}
	}
	if found != 6 { // 2 FFS contracts x 3 value-based ones
		t.Errorf("trastuzumab pairs = %d, want 6: %+v", found, q.DivergencePairs)
	}

	// The same through the analysts' JSON API and CSV export.
	if st, _, _ := e.do(http.MethodGet, "/analytics/outcomes", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("outcomes without an analyst credential: %d", st)
	}
	st, body, _ := e.do(http.MethodGet, "/analytics/outcomes", nil, analystHeader())
	var api tracking.Outcomes
	if st != 200 || json.Unmarshal(body, &api) != nil {
		t.Fatalf("outcomes: %d %s", st, body)
	}
	if api.Total.RealisedPayerSavedPerYearUSD != 23275.93 || api.Total.RealisedOrders != 2 || api.Total.NewStarts != 4 || len(api.Divergence) != 2 {
		t.Errorf("outcomes API: %+v", api.Total)
	}
	// Realised: A (accepted, signed and given) and L (its card never answered, signed as
	// ordered); F's override was never signed. The report says so, in the JSON and on the page.
	if api.Total.RealisedOverridden != 0 || api.Total.RealisedUnanswered != 1 {
		t.Errorf("realised overridden %d, unanswered %d; want 0 and 1 (L)", api.Total.RealisedOverridden, api.Total.RealisedUnanswered)
	}
	html := analystHeader()
	html["Accept"] = "text/html"
	if st, page, _ := e.do(http.MethodGet, "/analytics/dashboard/outcomes", nil, html); st != 200 ||
		!strings.Contains(string(page), `id="out-realised-orders">2<`) || !strings.Contains(string(page), "0 overridden, 1 never answered") {
		t.Errorf("outcomes page: %d, no realised orders 2 (0 overridden, 1 never answered)", st)
	}
	st, body, _ = e.do(http.MethodGet, "/analytics/divergence.csv", nil, analystHeader())
	// header, two family lines, the pairs, three not-scored reasons and the pending line
	if lines := strings.Count(string(body), "\n"); st != 200 || lines != 1+2+len(q.DivergencePairs)+3+1 || !strings.HasPrefix(string(body), "level,family,quarter") {
		t.Errorf("divergence.csv: %d, %d lines: %s", st, lines, body)
	}
	if st, body, _ = e.do(http.MethodGet, "/analytics/outcomes.csv?from=2026-13-01", nil, analystHeader()); st != http.StatusBadRequest {
		t.Errorf("a bad date: %d %s", st, body)
	}
}

func ptrF(v float64) *float64 { return &v }

// An order that needs no card is recorded, but a store that cannot take it does not fail the
// hook: no feedback can come for it (the EHR gets its empty answer, the log says what was lost).
// An order with a card still gets a 503 (TestDecisionStoreDownIs503).
func TestNoCardOrderWithStoreDownAnswers(t *testing.T) {
	e := newEnv(t)
	sel := e.demoRequest("aco-herceptin-order-select")
	a := e.hook("order-select", sel).Cards[0]
	onTrazimera := withDraft(t, sel, a.Suggestions[0].Actions[0].Resource, "draft-t")
	e.store.Close()
	if r := e.hook("order-select", onTrazimera); len(r.Cards) != 0 {
		t.Fatalf("cards: %+v", r)
	}
	if !strings.Contains(e.logs.String(), "no-card decisions not recorded") {
		t.Fatalf("the lost record is not logged: %s", e.logs.String())
	}
}

// An order that was never scored (no coverage in force) is recorded with why, and whether it is a
// new start: the ACO patient has no trastuzumab on record, the mid-course patient has Herceptin.
func TestUnscoredOrderRecordedWithTherapy(t *testing.T) {
	e := newEnv(t)
	noCoverage := func(name string) []byte {
		var m map[string]any
		if err := json.Unmarshal(e.demoRequest(name), &m); err != nil {
			t.Fatal(err)
		}
		m["prefetch"].(map[string]any)["coverage"] = map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": []any{}}
		b, _ := json.Marshal(m)
		return b
	}
	for _, name := range []string{"aco-herceptin-order-select", "aco-midcourse-herceptin-order-select"} {
		if r := e.hook("order-select", noCoverage(name)); len(r.Cards) != 0 {
			t.Fatalf("%s without coverage got a card", name)
		}
	}
	orders, err := e.store.Orders(context.Background(), time.Time{}, time.Time{})
	if err != nil || len(orders) != 2 {
		t.Fatalf("orders: %+v %v", orders, err)
	}
	got := map[string]int{}
	for _, o := range orders {
		if o.NoCardReason != store.NoCardNoCoverage || o.GroupID != "trastuzumab" || o.ContractID != "" {
			t.Errorf("order %+v, want no-coverage, trastuzumab, no contract", o)
		}
		got[o.Therapy]++
	}
	if got[store.TherapyNewStart] != 1 || got[store.TherapyContinuing] != 1 {
		t.Errorf("therapies = %v, want one new start and one continuing", got)
	}
}
