package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/store"
)

// Two trusted EHR clients, A (the env's own signer) and B (a second key and issuer), against the
// real gateway on loopback, for each high finding of issue 11: B gets nothing of A's, cannot
// change A's cards, and A's answers do not change after B's requests.

// twoClients is an env whose verifier trusts A (e.signer) and B.
func twoClients(t *testing.T, opts ...envOption) (*testEnv, *cdshooks.Signer) {
	t.Helper()
	b := testSigner(t, "https://other-ehr.test/cds-client")
	e := newEnv(t, opts...)
	// Trust A and B: a verifier of two clients, two keys, two issuers.
	v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{Clients: []cdshooks.TrustedClient{e.signer.TrustedClient(), b.TrustedClient()}})
	if err != nil {
		t.Fatal(err)
	}
	e.gw.cfg.Verifier = v
	e.gw.handler = e.gw.routes()
	return e, b
}

// postAs sends body to path with a fresh JWT of signer s.
func (e *testEnv) postAs(s *cdshooks.Signer, path string, body []byte) (int, []byte) {
	e.t.Helper()
	tok, err := s.Mint(e.srv.URL+path, 5*time.Minute, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	st, out, _ := e.do(http.MethodPost, path, body, map[string]string{"Authorization": "Bearer " + tok})
	return st, out
}

func withToken(t *testing.T, body []byte, tok string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["fhirAuthorization"].(map[string]any)["access_token"] = tok
	out, _ := json.Marshal(m)
	return out
}

func feedbackBody(items ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"feedback": items})
	return b
}

func summaryOf(t *testing.T, e *testEnv) map[string]store.ContractSummary {
	t.Helper()
	sum, err := e.store.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.ContractSummary{}
	for _, c := range sum {
		out[c.ContractID] = c
	}
	return out
}

// Finding 1: the coverage cache is per client and per token. A's fetch fills it; B, whose token
// the FHIR server refuses, must get the 412 its own data warrant, not a card built on A's
// coverage. A second token of A's own client is not answered from the first token's entry either.
func TestIsolationCoverageCache(t *testing.T) {
	e, b := twoClients(t)
	e.fhirSrv.RequireToken("demo-fhir-token")
	path := serviceOf("order-select")
	none := setJSON(t, e.demoRequest("aco-herceptin-order-select"), "prefetch", nil)
	before := e.fhirSrv.Requests()
	if s, out := e.postAs(e.signer, path, none); s != 200 || len(decodeResponse(t, out).Cards) != 1 {
		t.Fatalf("A, no prefetch: %d %s", s, out)
	}
	first := e.fhirSrv.Requests() - before
	before = e.fhirSrv.Requests()
	if s, out := e.postAs(e.signer, path, none); s != 200 || e.fhirSrv.Requests()-before != first-2 {
		t.Fatalf("A again: %d, %d FHIR requests (want %d: coverage and patient from the cache) %.300s", s, e.fhirSrv.Requests()-before, first-2, out)
	}
	refused := withToken(t, none, "not-a-valid-token")
	if s, out := e.postAs(b, path, refused); s != http.StatusPreconditionFailed || strings.Contains(string(out), "Trazimera") {
		t.Fatalf("B with a refused token must get 412 and no card: %d %s", s, out)
	}
	// The same refused token by A's own client: the cache is per token too.
	if s, out := e.postAs(e.signer, path, refused); s != http.StatusPreconditionFailed {
		t.Fatalf("A with a refused token must not be answered from its other token's entry: %d %s", s, out)
	}
	// B with a token the server accepts fetches for itself.
	before = e.fhirSrv.Requests()
	if s, out := e.postAs(b, path, none); s != 200 || len(decodeResponse(t, out).Cards) != 1 || e.fhirSrv.Requests()-before < 2 {
		t.Fatalf("B with a good token fetches its own coverage: %d, %d requests %s", s, e.fhirSrv.Requests()-before, out)
	}
}

// Finding 2: prefetched data is used for its own request only. B (and A itself) prefetch a fake
// commercial PPO Coverage for A's ACO patient; A's next no-prefetch answer is still Trazimera
// under the ACO contract.
func TestIsolationPrefetchNotCached(t *testing.T) {
	e, b := twoClients(t)
	path := serviceOf("order-select")
	aco := e.demoRequest("aco-herceptin-order-select")
	var ppo, fake map[string]any
	_ = json.Unmarshal(e.demoRequest("commercial-ppo-herceptin-order-select"), &ppo)
	_ = json.Unmarshal(aco, &fake)
	fake["prefetch"].(map[string]any)["coverage"] = ppo["prefetch"].(map[string]any)["coverage"]
	fakeBody, _ := json.Marshal(fake)
	none := setJSON(t, aco, "prefetch", nil)

	s, out := e.postAs(e.signer, path, none)
	if s != 200 {
		t.Fatalf("A: %d %s", s, out)
	}
	want := cardsSignature(t, out)
	if !strings.Contains(want, "Consider Trazimera") || !strings.Contains(want, "patient cost $1,398 vs $11,469") {
		t.Fatalf("A's baseline: %s", want)
	}
	for _, who := range []*cdshooks.Signer{b, e.signer} {
		s, out := e.postAs(who, path, fakeBody)
		if s != 200 || !strings.Contains(cardsSignature(t, out), "Consider Kanjinti") {
			t.Fatalf("the fake coverage is used for its own request: %d %s", s, cardsSignature(t, out))
		}
		s, out = e.postAs(e.signer, path, none)
		if s != 200 {
			t.Fatalf("A after the fake: %d %s", s, out)
		}
		if got := cardsSignature(t, out); got != want {
			t.Fatalf("A's answer changed after a prefetched fake by %s:\nbefore %s\nafter  %s", who.Issuer, want, got)
		}
	}
}

// Findings 3 and 4: feedback is accepted only from the client the card was shown to, on the
// service that issued it, for that card's suggestions; outcomeTimestamp is clamped to
// [card time, now + skew]; override codes outside valuerx's list are stored as "other".
func TestIsolationFeedback(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e, b := twoClients(t, func(c *Config) { c.Now = clock })
	sel := serviceOf("order-select")
	s, out := e.postAs(e.signer, sel, e.demoRequest("aco-herceptin-order-select"))
	if s != 200 {
		t.Fatalf("hook: %d %s", s, out)
	}
	card := decodeResponse(t, out).Cards[0]
	fbPath := sel + "/feedback"
	ts := func(d time.Duration) string { return clock().Add(d).Format(time.RFC3339) }
	overridden := func(at string, code string) map[string]any {
		return map[string]any{"card": card.UUID, "outcome": "overridden", "outcomeTimestamp": at,
			"overrideReason": map[string]any{"reason": map[string]any{"code": code, "system": overrideSystem}}}
	}
	accepted := func(at string, sugg string) map[string]any {
		return map[string]any{"card": card.UUID, "outcome": "accepted", "outcomeTimestamp": at,
			"acceptedSuggestions": []any{map[string]any{"id": sugg}}}
	}
	// A overrides its card, with a timestamp in 2099.
	if s, out := e.postAs(e.signer, fbPath, feedbackBody(overridden("2099-01-01T00:00:00Z", "patient-declines"))); s != 200 {
		t.Fatalf("A's feedback: %d %s", s, out)
	}
	aco := func() store.ContractSummary { return summaryOf(t, e)["mssp-aco"] }
	if c := aco(); c.Overridden != 1 || c.Accepted != 0 {
		t.Fatalf("A's override: %+v", c)
	}
	// B turns it into "accepted" (later timestamp, a real suggestion uuid): answered, not stored.
	if s, _ := e.postAs(b, fbPath, feedbackBody(accepted("2099-06-01T00:00:00Z", card.Suggestions[0].UUID))); s != 200 {
		t.Fatalf("B's feedback is answered as the spec allows: %d", s)
	}
	// A itself on the wrong service, and with a suggestion uuid of no card: not stored either.
	if s, _ := e.postAs(e.signer, serviceOf("order-sign")+"/feedback", feedbackBody(accepted(ts(time.Second), card.Suggestions[0].UUID))); s != 200 {
		t.Fatalf("wrong service: %d", s)
	}
	if s, _ := e.postAs(e.signer, fbPath, feedbackBody(accepted(ts(time.Second), "5b3b3c4c-0000-4000-8000-000000000000"))); s != 200 {
		t.Fatalf("unknown suggestion: %d", s)
	}
	// Feedback for an invented card id, 2,011 characters long: 200, not stored.
	long := map[string]any{"card": strings.Repeat("x", 2011), "outcome": "overridden", "outcomeTimestamp": ts(0)}
	if s, _ := e.postAs(b, fbPath, feedbackBody(long)); s != 200 {
		t.Fatalf("invented card: %d", s)
	}
	if c := aco(); c.Overridden != 1 || c.Accepted != 0 || c.PayerSaved != 0 {
		t.Fatalf("B, the wrong service or an unknown suggestion changed A's card: %+v", c)
	}
	// The 2099 timestamp was clamped to now + skew: ten minutes on, A's own acceptance (stamped
	// nine minutes on) is the latest and wins. Unclamped, 2099 would win for good.
	advance(10 * time.Minute)
	if s, _ := e.postAs(e.signer, fbPath, feedbackBody(accepted(ts(-time.Minute), card.Suggestions[0].UUID))); s != 200 {
		t.Fatal(s)
	}
	if c := aco(); c.Accepted != 1 || c.Overridden != 0 || math.Abs(c.PayerSaved-39479.20) > 0.01 {
		t.Fatalf("A's later acceptance must win over the clamped 2099 override (Medicare pays 43,850.29 - 4,371.09 = 39,479.20 less): %+v", c)
	}
	// PHI in an override code is stored as "other" and never reaches the analytics.
	phi := "Jane Q Patient MBI 1EG4-TE5-MK73 DOB 1950-01-01"
	advance(time.Minute)
	if s, _ := e.postAs(e.signer, fbPath, feedbackBody(overridden(ts(0), phi))); s != 200 {
		t.Fatal(s)
	}
	c := aco()
	if c.Overridden != 1 || c.Overrides["other"] != 1 {
		t.Fatalf("unlisted code stored as other: %+v", c)
	}
	_, body, _ := e.do(http.MethodGet, "/analytics/summary", nil, analystHeader())
	if strings.Contains(string(body), "Jane") || strings.Contains(string(body), "1EG4") || !strings.Contains(string(body), `"other":1`) {
		t.Fatalf("analytics: %s", body)
	}
	if strings.Contains(e.logs.String(), "1EG4") {
		t.Fatal("the PHI code reached the logs")
	}
}

// Issue 10 item 7: accepting the third suggestion books the third suggestion's own figures.
// Worked from the card's own figures: Herceptin is allowed $56,214.50 a course, Hercessi (the
// third suggestion) $26,525.81; Medicare pays 80 % of each after the Part B deductible, less 2 %
// sequestration, so the deductible cancels and accepting Hercessi saves Medicare
// 0.8 x 0.98 x (56,214.50 - 26,525.81) = 23,275.93, not Trazimera's 39,479.20 (within a cent: the
// table rounds each price to cents).
func TestFeedbackBooksAcceptedSuggestionFigures(t *testing.T) {
	e := newEnv(t)
	sel := serviceOf("order-select")
	s, out, _ := e.post(sel, e.demoRequest("aco-herceptin-order-select"))
	if s != 200 {
		t.Fatal(s, string(out))
	}
	card := decodeResponse(t, out).Cards[0]
	if len(card.Suggestions) != 3 || !strings.Contains(card.Suggestions[2].Label, "Hercessi") {
		t.Fatalf("suggestions: %+v", card.Suggestions)
	}
	fb := feedbackBody(map[string]any{"card": card.UUID, "outcome": "accepted", "outcomeTimestamp": time.Now().UTC().Format(time.RFC3339),
		"acceptedSuggestions": []any{map[string]any{"id": card.Suggestions[2].UUID}}})
	if s, out, _ := e.post(sel+"/feedback", fb); s != 200 {
		t.Fatal(s, string(out))
	}
	c := summaryOf(t, e)["mssp-aco"]
	if c.Accepted != 1 || math.Abs(c.PayerSaved-23275.93) > 0.01 {
		t.Fatalf("accepting Hercessi must book 0.784 x (56,214.50 - 26,525.81) = 23,275.93 to the payer: %+v", c)
	}
	d, err := e.store.Decision(context.Background(), card.UUID)
	if err != nil || len(d.Suggestions) != 3 || d.Suggestions[2].ProductID == "" || d.Client != e.signer.Issuer || d.OrderKey == "" {
		t.Fatalf("decision: %+v %v", d, err)
	}
	if strings.Contains(d.OrderKey, "pat-aco") {
		t.Fatal("the order key holds the patient id")
	}
}

// One trusted client cannot spend the store's time with feedback (security review, 2 December
// 2026: one 1 MB body of 9,203 invented card ids took 1.9 s, four in parallel slowed another
// client's hooks tenfold): a request holds at most maxFeedbackItems items (413, nothing stored),
// and at most maxFeedbackInFlight feedback requests are served at once (503, Retry-After).
func TestFeedbackBounded(t *testing.T) {
	e, _ := twoClients(t)
	sel := serviceOf("order-select")
	s, out := e.postAs(e.signer, sel, e.demoRequest("aco-herceptin-order-select"))
	if s != 200 {
		t.Fatalf("hook: %d %s", s, out)
	}
	card := decodeResponse(t, out).Cards[0]
	now := time.Now().UTC().Format(time.RFC3339)
	item := func(id string) map[string]any {
		return map[string]any{"card": id, "outcome": "overridden", "outcomeTimestamp": now}
	}
	// maxFeedbackItems + 1 items, A's own real card among them: 413, and A's override is not
	// stored (the request is refused whole, so the EHR can split it and send it again).
	items := []map[string]any{item(card.UUID)}
	for i := range maxFeedbackItems {
		items = append(items, item(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)))
	}
	s, out = e.postAs(e.signer, sel+"/feedback", feedbackBody(items...))
	if s != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), strconv.Itoa(maxFeedbackItems)) {
		t.Fatalf("%d items: %d %s, want 413 naming the cap", len(items), s, out)
	}
	if c := summaryOf(t, e)["mssp-aco"]; c.Overridden != 0 {
		t.Fatalf("a refused batch stored feedback: %+v", c)
	}
	// maxFeedbackItems items: answered and A's override counted.
	s, out = e.postAs(e.signer, sel+"/feedback", feedbackBody(items[:maxFeedbackItems]...))
	if s != 200 || summaryOf(t, e)["mssp-aco"].Overridden != 1 {
		t.Fatalf("%d items: %d %s, override %+v", maxFeedbackItems, s, out, summaryOf(t, e)["mssp-aco"])
	}

	// The in-flight cap, on the handler chain the routes use: maxFeedbackInFlight requests held
	// inside the handler, the next one refused at once.
	release, entered := make(chan struct{}), make(chan struct{}, maxFeedbackInFlight)
	h := e.gw.feedbackInFlight(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	for range maxFeedbackInFlight {
		wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil)) })
	}
	for range maxFeedbackInFlight {
		<-entered
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	close(release)
	wg.Wait()
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("feedback request %d: %d, Retry-After %q; want 503, 1", maxFeedbackInFlight+1, rec.Code, rec.Header().Get("Retry-After"))
	}
}
