package gateway

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingFHIR is a FHIR server on loopback that counts the requests it receives, per path, and
// answers each with answer.
type countingFHIR struct {
	mu    sync.Mutex
	paths []string
	url   string
}

func newCountingFHIR(t *testing.T, answer http.HandlerFunc) *countingFHIR {
	t.Helper()
	c := &countingFHIR{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.paths = append(c.paths, r.URL.RequestURI())
		c.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(ts.Close)
	c.url = ts.URL
	return c
}

func (c *countingFHIR) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

// unavailable answers 503 with an OperationOutcome.
func unavailable(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient"}]}`))
}

// withMedicationReference is body with its first draft naming its medication by reference only,
// so recognising it needs a read of the Medication from the FHIR server.
func withMedicationReference(t *testing.T, body []byte, ref string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	dr := m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	delete(dr, "medicationCodeableConcept")
	dr["medicationReference"] = map[string]any{"reference": ref}
	out, _ := json.Marshal(m)
	return out
}

// Single-resource reads pass the per-(client, server) circuit breaker that searches use (issue 11
// review): a fully prefetched hook whose draft names its Medication by reference reads it from the
// FHIR server, which answers 503. Three such failures in a row open client A's breaker, after
// which A's hooks send nothing to that server (before, each hook read the Medication again, and
// its failures never counted); client B's breaker for the same server is its own, so B's hook
// still reads.
func TestBreakerCoversSingleResourceReads(t *testing.T) {
	now := time.Now()
	e, b := twoClients(t, withNow(now)) // a fixed clock: the breaker, once open, stays open
	srv := newCountingFHIR(t, unavailable)
	name := "aco-herceptin-order-select"
	body := withMedicationReference(t, setJSON(t, e.demoRequest(name), "fhirServer", srv.url), "Medication/med-herceptin-150")
	const hooks = 6
	for i := range hooks {
		if s, out := e.postAs(e.signer, serviceOf(name), body); s != http.StatusOK {
			t.Fatalf("hook %d: %d %s", i, s, out)
		}
	}
	got := srv.requests()
	if len(got) != 3 {
		t.Fatalf("A's %d hooks sent %d requests %v: want 3 (the failures that open the breaker), then none", hooks, len(got), got)
	}
	for _, p := range got {
		if p != "/Medication/med-herceptin-150" {
			t.Errorf("unexpected request %s: the hook is fully prefetched", p)
		}
	}
	if s, out := e.postAs(b, serviceOf(name), body); s != http.StatusOK {
		t.Fatalf("B: %d %s", s, out)
	}
	if n := len(srv.requests()); n != 4 {
		t.Fatalf("B's hook: %d requests in all, want 4: A's breaker is not B's", n)
	}
	if logs := e.logs.String(); strings.Contains(logs, "med-herceptin-150") {
		t.Error("a log line names the Medication id")
	}
}

// connCounter counts a test server's open connections and the most open at once.
type connCounter struct {
	mu         sync.Mutex
	open, peak int
}

func (c *connCounter) state(_ net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case http.StateNew:
		c.open++
		c.peak = max(c.peak, c.open)
	case http.StateClosed, http.StateHijacked:
		c.open--
	}
}

func (c *connCounter) max() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak
}

// A burst of one client's hooks opens at most FHIRMaxConnsPerHost connections to its FHIR server
// (issue 11 review: the pooled transport kept 64 idle connections per host but opened one per
// request in flight). Eight concurrent no-prefetch hooks, each with its own access token (no
// shared fetch, no shared cache entry) and five searches, put 40 requests in flight against a
// server that takes 40 ms per answer; with a cap of 3 they queue for the 3 connections and every
// hook is still answered within its budget.
func TestFHIRConnectionsPerHostCapped(t *testing.T) {
	const maxConns = 3
	e := newEnv(t, func(c *Config) { c.FHIRMaxConnsPerHost = maxConns })
	e.fhirSrv.SetDelay(40 * time.Millisecond)
	conns := &connCounter{}
	ts := httptest.NewUnstartedServer(e.fhirSrv)
	ts.Config.ConnState = conns.state
	ts.Start()
	t.Cleanup(ts.Close)
	name := "aco-herceptin-order-select"
	base := setJSON(t, setJSON(t, e.demoRequest(name), "prefetch", nil), "fhirServer", ts.URL)
	const hooks = 8
	var wg sync.WaitGroup
	statuses := make([]int, hooks)
	for i := range hooks {
		body := withToken(t, base, "token-"+strconv.Itoa(i))
		wg.Go(func() { statuses[i], _ = e.postAs(e.signer, serviceOf(name), body) })
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("hook %d: status %d", i, s)
		}
	}
	if got := conns.max(); got > maxConns || got == 0 {
		t.Fatalf("%d connections open at once to the FHIR server, want at most %d", got, maxConns)
	}
}
