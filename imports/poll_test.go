package imports_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"valuerx/fhir"
	"valuerx/imports"
)

// TestPollerReadsChangedAdministrations: a FHIR server on loopback (an httptest handler speaking
// the search API: the in-memory fhir.Server has no _lastUpdated) answers the first poll with two
// pages (three administrations of p1's order mr1, one not done), the second with one new
// administration, a repeat and one dated a month after the poll (refused: in the future). The poller follows the next link with its token, records 3 then
// 1 new, and asks the second time from the start of the first poll.
func TestPollerReadsChangedAdministrations(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	decision(t, s, "c1", "p1", "mr1")
	ma := func(id, status, day string) string {
		return `{"resourceType":"MedicationAdministration","id":"` + id + `","meta":{"lastUpdated":"` + day + `T12:00:00Z"},"status":"` + status +
			`","subject":{"reference":"Patient/p1"},"request":{"reference":"MedicationRequest/mr1"},"effectiveDateTime":"` + day + `T10:00:00Z"}`
	}
	bundle := func(next string, entries ...string) string {
		link := ""
		if next != "" {
			link = `"link":[{"relation":"next","url":"` + next + `"}],`
		}
		var es []string
		for _, e := range entries {
			es = append(es, `{"resource":`+e+`,"search":{"mode":"match"}}`)
		}
		return `{"resourceType":"Bundle","type":"searchset",` + link + `"entry":[` + strings.Join(es, ",") + `]}`
	}
	var mu sync.Mutex
	var asked []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer system-token" || r.URL.Path != "/fhir/MedicationAdministration" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		asked = append(asked, r.URL.Query().Get("_lastUpdated"))
		n := len(asked)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+json")
		switch {
		case n == 1:
			w.Write([]byte(bundle(srv.URL+"/fhir/MedicationAdministration?page=2&_lastUpdated=x", ma("a1", "completed", "2026-02-16"), ma("a2", "completed", "2026-03-09"))))
		case n == 2:
			w.Write([]byte(bundle("", ma("a3", "not-done", "2026-03-30"))))
		default:
			w.Write([]byte(bundle("", ma("a2", "completed", "2026-03-09"), ma("a4", "completed", "2026-04-20"),
				ma("a5", "completed", "2026-06-01")))) // a month after the poll: refused
		}
	}))
	defer srv.Close()
	c, err := fhir.NewClient(srv.URL+"/fhir", "system-token", srv.Client(), true)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	clock := first
	p := &imports.Poller{Client: c, Joiner: joiner, Store: s, Since: first.AddDate(0, 0, -90), Now: func() time.Time { return clock }}
	res, err := p.Poll(ctx)
	if err != nil || res.Read != 3 || res.Recorded != 3 {
		t.Fatalf("first poll: %+v %v", res, err)
	}
	clock = first.Add(15 * time.Minute)
	res, err = p.Poll(ctx)
	if err != nil || res.Read != 3 || res.Recorded != 1 || res.Repeated != 1 || res.Skipped["effective-time-in-future"] != 1 {
		t.Fatalf("second poll: %+v %v", res, err)
	}
	if len(asked) != 3 || asked[0] != "ge2026-01-31T08:00:00Z" || asked[2] != "ge2026-05-01T08:00:00Z" {
		t.Fatalf("windows asked: %q", asked)
	}
	orders, err := s.Orders(ctx, time.Time{}, time.Time{})
	if err != nil || len(orders) != 1 || orders[0].Administrations != 3 {
		t.Fatalf("orders: %+v %v, want 3 completed administrations (a1, a2, a4)", orders, err)
	}
}
