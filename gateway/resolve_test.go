package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"valuerx/fhir"
)

// cardsSignature reduces a response to what must not depend on how the data arrived: for each
// card its summary and the suggested products (uuids differ per call).
func cardsSignature(t *testing.T, body []byte) string {
	t.Helper()
	resp := decodeResponse(t, body)
	var b strings.Builder
	for _, c := range resp.Cards {
		b.WriteString(c.Summary)
		for _, s := range c.Suggestions {
			b.WriteString("|" + s.Label)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// The same hook gives the same cards with full prefetch and with no prefetch at all (the service
// fetches from the EHR's FHIR server with the hook's token).
func TestSameCardsWithAndWithoutPrefetch(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"aco-herceptin-order-select", "ma-capitation-herceptin-order-select", "aco-midcourse-herceptin-order-select", "medicare-ffs-herceptin-order-select"} {
		t.Run(name, func(t *testing.T) {
			full := e.demoRequest(name)
			none := setJSON(t, full, "prefetch", nil)
			before := e.fhirSrv.Requests()
			s1, b1, _ := e.post(serviceOf(name), full)
			mid := e.fhirSrv.Requests()
			s2, b2, _ := e.post(serviceOf(name), none)
			if s1 != http.StatusOK || s2 != http.StatusOK {
				t.Fatalf("status %d / %d: %s %s", s1, s2, b1, b2)
			}
			if mid != before {
				t.Errorf("full prefetch must not call the FHIR server; it made %d requests", mid-before)
			}
			if e.fhirSrv.Requests() == mid {
				t.Errorf("no prefetch: valuerx must fetch from the FHIR server")
			}
			if a, b := cardsSignature(t, b1), cardsSignature(t, b2); a != b {
				t.Fatalf("cards differ:\nprefetch:\n%s\nfetched:\n%s", a, b)
			}
		})
	}
}

// Each prefetch state: present, null, OperationOutcome, absent.
func TestPrefetchStates(t *testing.T) {
	base := newEnv(t).demoRequest("aco-herceptin-order-select")
	withPrefetch := func(key string, v any) []byte {
		var m map[string]any
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		pf := m["prefetch"].(map[string]any)
		if v == "absent" {
			delete(pf, key)
		} else {
			pf[key] = v
		}
		out, _ := json.Marshal(m)
		return out
	}
	outcome := json.RawMessage(fhir.OperationOutcome("error", "exception", "could not fetch"))
	cases := []struct {
		name      string
		body      []byte
		noServer  bool
		status    int
		wantCard  bool
		wantFetch bool
	}{
		{"coverage present", base, false, 200, true, false},
		{"coverage null: no coverage, no card, no fetch", withPrefetch("coverage", nil), false, 200, false, false},
		{"coverage OperationOutcome: fetched from the server", withPrefetch("coverage", outcome), false, 200, true, true},
		{"coverage absent: fetched", withPrefetch("coverage", "absent"), false, 200, true, true},
		{"coverage absent and no server: 412", withPrefetch("coverage", "absent"), true, 412, false, false},
		{"coverage OperationOutcome and no server: 412", withPrefetch("coverage", outcome), true, 412, false, false},
		{"medications null: still a card", withPrefetch("medications", nil), false, 200, true, false},
		{"patient absent: MBI from Coverage.subscriberId, fetched", withPrefetch("patient", "absent"), false, 200, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t) // a fresh coverage cache per case
			body := setJSON(t, c.body, "fhirServer", e.fhirURL)
			if c.noServer {
				body = setJSON(t, setJSON(t, body, "fhirServer", nil), "fhirAuthorization", nil)
			}
			before := e.fhirSrv.Requests()
			status, out, _ := e.post(serviceOf("order-select"), body)
			if status != c.status {
				t.Fatalf("status %d want %d: %s", status, c.status, out)
			}
			fetched := e.fhirSrv.Requests() > before
			if fetched != c.wantFetch {
				t.Errorf("fetched=%v want %v", fetched, c.wantFetch)
			}
			if status == 200 {
				if got := len(decodeResponse(t, out).Cards) > 0; got != c.wantCard {
					t.Errorf("card=%v want %v: %s", got, c.wantCard, out)
				}
			}
		})
	}
}

// A paginated prefetch searchset is followed with the FHIR client.
func TestPaginatedPrefetchIsFollowed(t *testing.T) {
	e := newEnv(t)
	base := e.demoRequest("aco-midcourse-herceptin-order-select")
	var m map[string]any
	if err := json.Unmarshal(base, &m); err != nil {
		t.Fatal(err)
	}
	// First page holds nothing; the Herceptin in progress is behind the next link. If valuerx
	// did not follow it, it would switch a patient mid-course.
	m["prefetch"].(map[string]any)["medications"] = map[string]any{
		"resourceType": "Bundle", "type": "searchset",
		"link": []any{map[string]any{"relation": "next", "url": e.fhirURL + "/MedicationRequest?patient=pat-aco-midcourse"}},
	}
	body, _ := json.Marshal(m)
	status, out, _ := e.post(serviceOf("order-select"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, out)
	}
	if n := len(decodeResponse(t, out).Cards); n != 0 {
		t.Fatalf("the next page shows Herceptin in progress: want no card, got %d", n)
	}
}

// A repeat for the same patient and server does not fetch Coverage again (order-sign after
// order-select).
func TestCoverageCachedAcrossHooks(t *testing.T) {
	e := newEnv(t)
	req := setJSON(t, e.demoRequest("aco-herceptin-order-sign-noprefetch"), "fhirServer", e.fhirURL)
	if s, out, _ := e.post(serviceOf("order-sign"), req); s != 200 {
		t.Fatalf("status %d: %s", s, out)
	}
	first := e.fhirSrv.Requests()
	if s, out, _ := e.post(serviceOf("order-sign"), req); s != 200 {
		t.Fatalf("status %d: %s", s, out)
	}
	// The second hook fetches only the order and administration history and the problem list,
	// not Patient or Coverage.
	if n := e.fhirSrv.Requests() - first; n != 3 {
		t.Fatalf("second hook made %d FHIR requests, want 3 (medications, administrations, conditions)", n)
	}
}

// A slow FHIR server: valuerx answers within its budget (412 for the required coverage it could
// not get), instead of waiting for the server.
func TestSlowFHIRServerAnswersWithinBudget(t *testing.T) {
	e := newEnv(t, withBudget(150*time.Millisecond))
	e.fhirSrv.SetDelay(3 * time.Second)
	req := setJSON(t, e.demoRequest("aco-herceptin-order-select"), "prefetch", nil)
	done := make(chan int, 1)
	go func() {
		s, _, _ := e.post(serviceOf("order-select"), req)
		done <- s
	}()
	select {
	case s := <-done:
		if s != http.StatusPreconditionFailed {
			t.Fatalf("status %d, want 412", s)
		}
	case <-time.After(2500 * time.Millisecond):
		// Not a timing assertion on performance: a hang past the server's delay is the bug.
		t.Fatal("valuerx waited for the slow FHIR server instead of its budget")
	}
	// With coverage prefetched, a slow server costs only the optional history: still a card.
	e.fhirSrv.SetDelay(3 * time.Second)
	req = setJSON(t, e.demoRequest("aco-herceptin-order-select"), "prefetch", map[string]any{
		"coverage": mustPrefetch(t, e, "aco-herceptin-order-select", "coverage"),
		"patient":  mustPrefetch(t, e, "aco-herceptin-order-select", "patient"),
	})
	s, out, _ := e.post(serviceOf("order-select"), req)
	if s != http.StatusOK || len(decodeResponse(t, out).Cards) != 1 {
		t.Fatalf("want 200 with a card, got %d %s", s, out)
	}
	if !strings.Contains(string(out), "Medication history was not available") {
		t.Errorf("the card must say history could not be checked")
	}
}

func mustPrefetch(t *testing.T, e *testEnv, name, key string) any {
	var m map[string]any
	if err := json.Unmarshal(e.demoRequest(name), &m); err != nil {
		t.Fatal(err)
	}
	return m["prefetch"].(map[string]any)[key]
}

// A dead server and a server answering 401: 412 for the required data, and neither the FHIR
// token nor patient identifiers reach the logs.
func TestDeadAndUnauthorizedFHIRServer(t *testing.T) {
	e := newEnv(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	e.fhirSrv.RequireToken("the-right-token")
	for _, c := range []struct{ name, server string }{{"dead", deadURL}, {"401", e.fhirURL}} {
		t.Run(c.name, func(t *testing.T) {
			req := setJSON(t, setJSON(t, e.demoRequest("aco-herceptin-order-select"), "prefetch", nil), "fhirServer", c.server)
			s, out, _ := e.post(serviceOf("order-select"), req)
			if s != http.StatusPreconditionFailed {
				t.Fatalf("status %d want 412: %s", s, out)
			}
		})
	}
	logs := e.logs.String()
	for _, secret := range []string{"demo-fhir-token", "1EG4TE5MK73", "pat-aco", "Aco"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// Coverage facts expire after CoverageTTL on the gateway's clock: a hook after that fetches again.
func TestCoverageCacheExpires(t *testing.T) {
	now := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { return now }
		c.CoverageTTL = time.Minute
	})
	req := setJSON(t, e.demoRequest("aco-herceptin-order-sign-noprefetch"), "fhirServer", e.fhirURL)
	post := func() int64 {
		before := e.fhirSrv.Requests()
		if s, out, _ := e.post(serviceOf("order-sign"), req); s != 200 {
			t.Fatalf("status %d: %s", s, out)
		}
		return e.fhirSrv.Requests() - before
	}
	// Patient, Coverage, MedicationRequest, MedicationAdministration and Condition; within the
	// TTL the last three only.
	if n := post(); n != 5 {
		t.Fatalf("first hook: %d FHIR requests, want 5", n)
	}
	now = now.Add(30 * time.Second)
	if n := post(); n != 3 {
		t.Fatalf("within the TTL: %d FHIR requests, want 3", n)
	}
	now = now.Add(2 * time.Minute)
	if n := post(); n != 5 {
		t.Fatalf("after the TTL: %d FHIR requests, want 5", n)
	}
	// A hit does not extend the entry: with hooks 40 s apart (each within the TTL of the one
	// before), the Coverage fetched at 10:02:30 is fetched again at 10:03:50, its first hook past
	// 10:03:30. Before 2 December 2026 a hit re-cached the entry with a fresh expiry, and it was
	// served for as long as hooks kept coming.
	for i, want := range []int64{3, 5} {
		now = now.Add(40 * time.Second)
		if n := post(); n != want {
			t.Fatalf("hook %d, %s: %d FHIR requests, want %d", i+1, now.Format("15:04:05"), n, want)
		}
	}
}

// Circuit breakers are bounded (issue 11: a breaker per distinct fhirServer string, never
// removed, grew the heap with every invented URL): a healthy server gets none, failing ones are
// kept in an LRU of breakerCacheSize.
func TestBreakersBounded(t *testing.T) {
	e := newEnv(t)
	r := e.gw.resolver
	for i := range 3 * breakerCacheSize {
		r.record("client-a", "https://healthy-"+strconv.Itoa(i)+".test/fhir", nil)
	}
	if n := r.breakers.Len(); n != 0 {
		t.Fatalf("healthy servers made %d breakers", n)
	}
	for i := range 3 * breakerCacheSize {
		r.record("client-a", "https://failing-"+strconv.Itoa(i)+".test/fhir", fhir.ErrUnavailable)
	}
	if n := r.breakers.Len(); n != breakerCacheSize {
		t.Fatalf("%d breakers for %d failing servers, want the cap %d", n, 3*breakerCacheSize, breakerCacheSize)
	}
	// The newest failing server is still tracked: three failures open its breaker.
	last := "https://failing-" + strconv.Itoa(3*breakerCacheSize-1) + ".test/fhir"
	r.record("client-a", last, fhir.ErrUnavailable)
	r.record("client-a", last, fhir.ErrUnavailable)
	if r.allow("client-a", last) {
		t.Fatal("three failures in a row must open the breaker")
	}
}

// One client's hooks cannot move another client's breaker (issue 11): B naming A's failing server
// and getting an answer, or having its dial refused, leaves A's breaker open; B failing against
// it does not open A's.
func TestBreakerPerClient(t *testing.T) {
	e := newEnv(t)
	r := e.gw.resolver
	const srv = "https://ehr-a.test/fhir"
	for range 3 {
		r.record("client-a", srv, fhir.ErrUnavailable)
	}
	if r.allow("client-a", srv) {
		t.Fatal("three failures in a row must open A's breaker")
	}
	r.record("client-b", srv, nil)
	r.record("client-b", srv, fmt.Errorf("dial: %w", fhir.ErrAddressRefused))
	r.record("client-a", srv, fmt.Errorf("dial: %w", fhir.ErrAddressRefused))
	if r.allow("client-a", srv) {
		t.Fatal("B's answer or a refused dial closed A's breaker")
	}
	if !r.allow("client-b", srv) {
		t.Fatal("A's failures opened B's breaker")
	}
	for range 3 {
		r.record("client-b", "https://ehr-b.test/fhir", fhir.ErrUnavailable)
	}
	if !r.allow("client-a", "https://ehr-b.test/fhir") {
		t.Fatal("B's failures opened A's breaker")
	}
}

// The coverage cache is bounded in bytes (issue 11 review: 9 MB per entry from a server answering
// a 7 MB Coverage search): an answer above maxCoverageEntryBytes is not kept, the total stays
// under maxCoverageCacheBytes, and replacing an entry does not make the count drift.
func TestCoverageCacheBoundedInBytes(t *testing.T) {
	e := newEnv(t)
	r := e.gw.resolver
	blob := func(n int) coverageEntry {
		return coverageEntry{coverages: []json.RawMessage{bytes.Repeat([]byte("x"), n)}, expires: time.Now().Add(time.Hour)}
	}
	r.cacheCoverage("huge", blob(maxCoverageEntryBytes+1))
	if _, ok := r.covCache.Peek("huge"); ok || r.covBytes.Load() != 0 {
		t.Fatalf("an answer of %d bytes was cached (%d bytes held)", maxCoverageEntryBytes+1, r.covBytes.Load())
	}
	const each = 30 << 10
	n := 2 * maxCoverageCacheBytes / each // twice what fits
	for i := range n {
		r.cacheCoverage("k"+strconv.Itoa(i), blob(each))
	}
	if got := r.covBytes.Load(); got > maxCoverageCacheBytes || got != int64(r.covCache.Len()*each) {
		t.Fatalf("%d entries of %d bytes: %d bytes counted, %d entries held (bound %d)", n, each, got, r.covCache.Len(), maxCoverageCacheBytes)
	}
	if _, ok := r.covCache.Peek("k" + strconv.Itoa(n-1)); !ok {
		t.Fatal("the newest entry was dropped instead of the oldest")
	}
	before := r.covBytes.Load()
	for range 10 {
		r.cacheCoverage("k"+strconv.Itoa(n-1), blob(each))
	}
	if r.covBytes.Load() != before {
		t.Fatalf("replacing one entry moved the byte count from %d to %d", before, r.covBytes.Load())
	}
}
