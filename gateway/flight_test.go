package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"valuerx/fhir"
)

// Two hooks of one client fetching the same search at once share the round trip; when the hook
// that started it runs out of time first, the other still gets its data (fetching again under
// its own deadline), and a hook never waits for a shared fetch past its own deadline.
func TestSharedFetchOutlivesTheFirstHooksDeadline(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		delay := 150 * time.Millisecond
		if r.URL.Query().Get("x") != "" {
			delay = 3 * time.Second
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"c1","status":"active"}}]}`))
	}))
	t.Cleanup(srv.Close)
	r := newResolver(Config{}, newMetrics(prometheus.NewRegistry(), nil))
	client := func() *hookData {
		c, err := fhir.NewClient(srv.URL, "tok", srv.Client(), true)
		if err != nil {
			t.Fatal(err)
		}
		return &hookData{client: c}
	}
	const query = "Coverage?patient=Patient/p1&status=active"

	short, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
	defer cancel()
	leaderErr := make(chan error, 1)
	go func() {
		_, err := r.fetch(short, client(), "https://ehr.test", srv.URL, keyCoverage, query)
		leaderErr <- err
	}()
	time.Sleep(10 * time.Millisecond) // the second hook joins the first's round trip
	long, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	f, err := r.fetch(long, client(), "https://ehr.test", srv.URL, keyCoverage, query)
	if err != nil {
		t.Fatalf("the hook with time left got the other hook's failure: %v", err)
	}
	if len(f.resources) != 1 {
		t.Fatalf("resources %d, want 1", len(f.resources))
	}
	if err := <-leaderErr; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the hook whose deadline passed: %v, want a deadline error", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests reached the server, want 2 (the shared one, then the second hook's own)", n)
	}

	// A hook that joins a fetch that needs more time than it has returns at its own deadline.
	go func() { _, _ = r.fetch(long, client(), "https://ehr.test", srv.URL, keyCoverage, query+"&x=1") }()
	time.Sleep(10 * time.Millisecond)
	brief, cancel3 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel3()
	start := time.Now()
	_, err = r.fetch(brief, client(), "https://ehr.test", srv.URL, keyCoverage, query+"&x=1")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second { // the shared fetch takes 3 s
		t.Fatalf("joined fetch with a 30 ms deadline: %v after %v", err, time.Since(start))
	}
}
