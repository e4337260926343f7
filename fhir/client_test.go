package fhir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const secretToken = "tok-SECRET-7f3a"

// newClient returns a client for ts (plain http, so allowHTTP).
func newClient(t testing.TB, ts *httptest.Server, token string) *Client {
	t.Helper()
	c, err := NewClient(ts.URL, token, ts.Client(), true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// spy records whether anything reached it and with which Authorization header.
type spy struct {
	hits atomic.Int64
	auth atomic.Value
}

func (s *spy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.auth.Store(r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/fhir+json")
	_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"MedicationRequest","id":"evil"}}]}`))
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		base      string
		allowHTTP bool
		want      string // "" = error
	}{
		{"https://ehr.example/fhir/r4/", false, "https://ehr.example/fhir/r4"},
		{"https://ehr.example", false, "https://ehr.example"},
		{"http://localhost:8080/fhir", true, "http://localhost:8080/fhir"},
		{"http://ehr.example/fhir", false, ""},
		{"ftp://ehr.example/fhir", true, ""},
		{"ehr.example/fhir", true, ""},
		{"https://user:pw@ehr.example/fhir", false, ""},
		{"https://ehr.example/fhir?x=1", false, ""},
		{"https:///fhir", false, ""},
	}
	for _, tt := range tests {
		c, err := NewClient(tt.base, secretToken, nil, tt.allowHTTP)
		if tt.want == "" {
			if err == nil || !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("NewClient(%q) err = %v, want ErrInvalidRequest", tt.base, err)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("error echoes the URL: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewClient(%q): %v", tt.base, err)
			continue
		}
		if c.BaseURL != tt.want || c.HTTP == nil {
			t.Errorf("NewClient(%q).BaseURL = %q", tt.base, c.BaseURL)
		}
	}
	// A Client built by hand with an http base is refused at call time too.
	c := &Client{BaseURL: "http://127.0.0.1:1/fhir"}
	if _, err := c.Read(t.Context(), "Patient", "1"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("hand-built http client: %v", err)
	}
}

func TestClientRead(t *testing.T) {
	s := loadFixture(t)
	s.RequireToken(secretToken)
	ts := serve(t, s)
	c := newClient(t, ts, secretToken)

	raw, err := c.Read(t.Context(), "Coverage", "cov-1")
	if err != nil {
		t.Fatal(err)
	}
	if ResourceType(raw) != "Coverage" {
		t.Errorf("read = %s", raw)
	}
	_, err = c.Read(t.Context(), "Coverage", "nope")
	var fe *Error
	if !errors.As(err, &fe) || !errors.Is(err, ErrNotFound) || fe.Status != 404 || fe.Code != "not-found" {
		t.Errorf("absent read err = %#v", err)
	}
	for _, bad := range [][2]string{{"Coverage", "../Patient/123"}, {"coverage", "1"}, {"Coverage", ""}, {"Coverage", "a?b"}} {
		if _, err := c.Read(t.Context(), bad[0], bad[1]); !errors.Is(err, ErrInvalidRequest) || strings.Contains(err.Error(), bad[1]) && bad[1] != "" {
			t.Errorf("Read(%q, %q) err = %v", bad[0], bad[1], err)
		}
	}
	// The id must not leak into the error text.
	if _, err := c.Read(t.Context(), "Patient", "PHI-ID-999"); err == nil || strings.Contains(err.Error(), "PHI-ID-999") {
		t.Errorf("err = %v", err)
	}
}

func TestClientSearch(t *testing.T) {
	s := loadFixture(t)
	ts := serve(t, s)
	c := newClient(t, ts, "")
	all := []string{"mr-1", "mr-2", "mr-3", "mr-4", "mr-5", "mr-6", "mr-7"}
	tests := []struct {
		query    string
		want     []string
		requests int64
	}{
		{"MedicationRequest?patient=123&_count=3", all, 3},
		{"MedicationRequest?patient=Patient/123&_count=3", all, 3},
		{"/MedicationRequest?patient=123", all, 1},
		{"MedicationRequest?patient=123&status=active&_count=2", []string{"mr-1", "mr-2", "mr-3", "mr-4", "mr-7"}, 3},
		{"MedicationRequest?patient=123&status=completed", []string{"mr-5"}, 1},
		{"Coverage?patient=123&status=active", []string{"cov-1"}, 1},
		{"Coverage?patient=999", []string{}, 1},
		{"Observation?patient=123&code=http://loinc.org|29463-7&_sort=-date&_count=2", []string{"obs-w2", "obs-w1", "obs-w3"}, 2},
		{"Coverage?patient=" + "http://ehr.example/fhir/Patient/123", []string{"cov-1", "cov-2"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			before := s.Requests()
			res, err := c.Search(t.Context(), tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(t, res)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if got := s.Requests() - before; got != tt.requests {
				t.Errorf("round trips = %d, want %d", got, tt.requests)
			}
		})
	}

	c.MaxPages = 2
	res, err := c.Search(t.Context(), "MedicationRequest?patient=123&_count=3")
	if err != nil || len(res) != 6 {
		t.Errorf("MaxPages=2: %d resources, err %v", len(res), err)
	}
}

func TestClientGet(t *testing.T) {
	ts := serve(t, loadFixture(t))
	c := newClient(t, ts, "")
	raw, err := c.Get(t.Context(), "Coverage?patient=123")
	if err != nil || ResourceType(raw) != "Bundle" {
		t.Fatalf("Get search = %.60s, %v", raw, err)
	}
	raw, err = c.Get(t.Context(), "Patient/123")
	if err != nil || ResourceType(raw) != "Patient" {
		t.Fatalf("Get read = %.60s, %v", raw, err)
	}
	raw, err = c.Get(t.Context(), ts.URL+"/Patient/456")
	if err != nil || ResourceType(raw) != "Patient" {
		t.Fatalf("Get same-origin absolute = %.60s, %v", raw, err)
	}
	for _, bad := range []string{"https://elsewhere.example/Patient/1", "//elsewhere.example/Patient/1", "../admin", "", "Patient/./1"} {
		if _, err := c.Get(t.Context(), bad); err == nil {
			t.Errorf("Get(%q) accepted", bad)
		}
	}
	ts2 := serve(t, NewServer())
	c2, _ := NewClient(ts2.URL+"/fhir", "", ts2.Client(), true)
	for q, want := range map[string]string{
		"Coverage?patient=1":                       "get Coverage",
		"/Patient/Abc":                             "get Patient",
		ts2.URL + "/fhir/MedicationRequest?x=1":    "get MedicationRequest",
		ts2.URL + "/fhir/Patient/Secret":           "get Patient",
		"https://elsewhere.example/fhir/Patient/1": "get resource",
	} {
		_, err := c2.Get(t.Context(), q)
		var fe *Error
		if !errors.As(err, &fe) || fe.Op != want {
			t.Errorf("Get(%q) op = %v, want %q", q, err, want)
		}
	}
	if _, err := c.Get(t.Context(), "https://elsewhere.example/Patient/1"); !errors.Is(err, ErrForeignLink) {
		t.Errorf("foreign Get err = %v", err)
	}
}

func TestClientSlowServer(t *testing.T) {
	s := loadFixture(t)
	s.SetDelay(10 * time.Second) // far beyond the deadline; the handler returns when the client leaves
	ts := serve(t, s)
	c := newClient(t, ts, secretToken)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Search(ctx, "Coverage?patient=123")
	var fe *Error
	if !errors.As(err, &fe) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %#v, want ErrUnavailable wrapping context.DeadlineExceeded", err)
	}
	if fe.Status != 0 || fe.Code != "timeout" || strings.Contains(err.Error(), "patient") || strings.Contains(err.Error(), "123") {
		t.Errorf("err = %v (code %q)", err, fe.Code)
	}

	// The http.Client's own timeout is classified the same way.
	hc := ts.Client()
	hc.Timeout = 50 * time.Millisecond
	c2, _ := NewClient(ts.URL, "", hc, true)
	if _, err := c2.Read(t.Context(), "Patient", "123"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("client timeout err = %v", err)
	}
}

func TestClientSearchDeadlineKeepsEarlierPages(t *testing.T) {
	ts := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			<-r.Context().Done() // page 2 never comes
			return
		}
		writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"MedicationRequest?page=2"}],"entry":[{"resource":{"resourceType":"MedicationRequest","id":"a"}}]}`))
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	res, err := newClient(t, ts, "").Search(ctx, "MedicationRequest?patient=1")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff([]string{"a"}, ids(t, res)); diff != "" {
		t.Errorf("page 1 kept (-want +got):\n%s", diff)
	}
}

func TestClientDeadServer(t *testing.T) {
	ts := httptest.NewServer(NewServer())
	ts.Close() // the listener is gone: connection refused
	c := newClient(t, ts, secretToken)
	_, err := c.Read(t.Context(), "Patient", "123")
	var fe *Error
	if !errors.As(err, &fe) || !errors.Is(err, ErrUnavailable) || fe.Code != "network" {
		t.Fatalf("err = %#v", err)
	}
	if strings.Contains(err.Error(), "127.0.0.1") || strings.Contains(err.Error(), "/Patient/123") || strings.Contains(err.Error(), secretToken) {
		t.Errorf("err text leaks: %v", err)
	}
}

func TestClientErrorStatuses(t *testing.T) {
	const diag = "Patient Jane Doe (MRN 0042) is not visible to " + secretToken
	tests := []struct {
		status int
		kind   error
		code   string
		want   string // Error.Code; "" = code
	}{
		// A code outside FHIR's IssueType value set is the server's text, logged by valuerx as
		// Error.Code: it is replaced (security review, 2 December 2026).
		{404, ErrNotFound, "Doe, John MBI 1EG4-TE5-MK73 DOB 1950-01-01", "non-standard"},
		{500, ErrUnavailable, "NotFound", "non-standard"},
		{401, ErrUnauthorized, "login", ""},
		{403, ErrUnauthorized, "forbidden", ""},
		{404, ErrNotFound, "not-found", ""},
		{410, ErrNotFound, "deleted", ""},
		{429, ErrUnavailable, "throttled", ""},
		{500, ErrUnavailable, "exception", ""},
		{503, ErrUnavailable, "transient", ""},
		{400, nil, "invalid", ""},
	}
	for _, tt := range tests {
		if tt.want == "" {
			tt.want = tt.code
		}
		t.Run(fmt.Sprint(tt.status, tt.want), func(t *testing.T) {
			ts := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeOutcome(w, tt.status, "error", tt.code, diag)
			}))
			c := newClient(t, ts, secretToken)
			_, err := c.Search(t.Context(), "Coverage?patient=0042")
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if fe.Status != tt.status || fe.Code != tt.want || fe.Details != diag || fe.Op != "search Coverage" {
				t.Errorf("Error = %+v", fe)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.kind)
			}
			for _, kind := range []error{ErrNotFound, ErrUnauthorized, ErrUnavailable} {
				if kind != tt.kind && errors.Is(err, kind) {
					t.Errorf("%v also matches %v", err, kind)
				}
			}
			msg := err.Error()
			for _, leak := range []string{secretToken, "Jane", "0042", "MRN", "not visible", "Doe", "1EG4"} {
				if strings.Contains(msg, leak) {
					t.Errorf("Error() = %q contains %q", msg, leak)
				}
			}
			if !strings.Contains(msg, fmt.Sprint(tt.status)) {
				t.Errorf("Error() = %q lacks the status", msg)
			}
		})
	}
}

func TestClientUnauthorizedFromServer(t *testing.T) {
	s := loadFixture(t)
	s.RequireToken("the-right-token")
	ts := serve(t, s)
	_, err := newClient(t, ts, secretToken).Read(t.Context(), "Patient", "123")
	var fe *Error
	if !errors.As(err, &fe) || fe.Status != 401 || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %#v", err)
	}
	if strings.Contains(err.Error(), secretToken) || strings.Contains(err.Error(), fe.Details) || fe.Details == "" {
		t.Errorf("Error() = %q, Details = %q", err.Error(), fe.Details)
	}
}

func TestClientHeaders(t *testing.T) {
	var accept, auth atomic.Value
	ts := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept.Store(r.Header.Get("Accept"))
		auth.Store(r.Header.Get("Authorization"))
		writeJSON(w, 200, []byte(`{"resourceType":"Patient","id":"1"}`))
	}))
	if _, err := newClient(t, ts, secretToken).Read(t.Context(), "Patient", "1"); err != nil {
		t.Fatal(err)
	}
	if accept.Load() != "application/fhir+json" || auth.Load() != "Bearer "+secretToken {
		t.Errorf("Accept %q, Authorization %q", accept.Load(), auth.Load())
	}
	if _, err := newClient(t, ts, "").Read(t.Context(), "Patient", "1"); err != nil {
		t.Fatal(err)
	}
	if auth.Load() != "" {
		t.Errorf("Authorization sent without a token: %q", auth.Load())
	}
}

func TestClientForeignNextLink(t *testing.T) {
	other := &spy{}
	ots := serve(t, other)
	s := loadFixture(t)
	if err := s.SetBaseURL(ots.URL); err != nil { // the server advertises next links on another origin
		t.Fatal(err)
	}
	ts := serve(t, s)
	res, err := newClient(t, ts, secretToken).Search(t.Context(), "MedicationRequest?patient=123&_count=3")
	if !errors.Is(err, ErrForeignLink) {
		t.Fatalf("err = %v, want ErrForeignLink", err)
	}
	if diff := cmp.Diff([]string{"mr-1", "mr-2", "mr-3"}, ids(t, res)); diff != "" {
		t.Errorf("first page kept (-want +got):\n%s", diff)
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the other origin received %d requests (Authorization %q)", n, other.auth.Load())
	}
	if strings.Contains(err.Error(), ots.URL) || strings.Contains(err.Error(), secretToken) {
		t.Errorf("err text = %q", err.Error())
	}
}

func TestClientNextLinkOutsideBasePath(t *testing.T) {
	// Same origin, but a path outside the base: refused as well.
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/fhir/MedicationRequest", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"/admin/export?page=2"}],"entry":[{"resource":{"resourceType":"MedicationRequest","id":"a"}}]}`))
	})
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	ts := serve(t, mux)
	c, err := NewClient(ts.URL+"/fhir", secretToken, ts.Client(), true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(t.Context(), "MedicationRequest?patient=1")
	if !errors.Is(err, ErrForeignLink) || len(res) != 1 || hits.Load() != 0 {
		t.Errorf("res %d, err %v, admin hits %d", len(res), err, hits.Load())
	}
}

func TestClientRelativeNextLink(t *testing.T) {
	var page atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/fhir/MedicationRequest", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			page.Add(1)
			writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"MedicationRequest","id":"b"}}]}`))
			return
		}
		writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"MedicationRequest?page=2"}],"entry":[{"resource":{"resourceType":"MedicationRequest","id":"a"}}]}`))
	})
	ts := serve(t, mux)
	c, _ := NewClient(ts.URL+"/fhir/", "", ts.Client(), true)
	res, err := c.Search(t.Context(), "MedicationRequest?patient=1")
	if err != nil || len(res) != 2 || page.Load() != 1 {
		t.Errorf("res %v, err %v", ids(t, res), err)
	}
}

// A path parameter cannot step out of the base (Java servlet containers read "/..;/" as "/../"),
// in a next link or a reference; and a path-absolute next link that names the base path is
// followed where it points, not under the base a second time (/fhir/fhir/...).
func TestClientPathParametersAndRootedLinks(t *testing.T) {
	var admin, page2, doubled atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/fhir/MedicationRequest", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			page2.Add(1)
			writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"MedicationRequest","id":"b"}}]}`))
			return
		}
		writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"/fhir/MedicationRequest?page=2"}],"entry":[{"resource":{"resourceType":"MedicationRequest","id":"a"}}]}`))
	})
	mux.HandleFunc("/fhir/Coverage", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"/fhir/..;/admin/export"}],"entry":[{"resource":{"resourceType":"Coverage","id":"c"}}]}`))
	})
	mux.HandleFunc("/fhir/Observation", func(w http.ResponseWriter, r *http.Request) {
		// IIS reads a backslash as "/": /fhir/..\..\admin would leave the base there.
		writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"/fhir/..%5c..%5cadmin/Coverage"}],"entry":[{"resource":{"resourceType":"Observation","id":"o"}}]}`))
	})
	mux.HandleFunc("/fhir/fhir/", func(w http.ResponseWriter, r *http.Request) { doubled.Add(1) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.ContainsAny(r.URL.Path, ";\\") || strings.HasPrefix(r.URL.Path, "/admin") {
			admin.Add(1)
		}
	})
	ts := serve(t, mux)
	c, err := NewClient(ts.URL+"/fhir", secretToken, ts.Client(), true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(t.Context(), "MedicationRequest?patient=1")
	if err != nil || len(res) != 2 || page2.Load() != 1 || doubled.Load() != 0 {
		t.Errorf("rooted next link: res %d, err %v, page 2 hits %d, /fhir/fhir hits %d", len(res), err, page2.Load(), doubled.Load())
	}
	res, err = c.Search(t.Context(), "Coverage?patient=1")
	if !errors.Is(err, ErrForeignLink) || len(res) != 1 {
		t.Errorf("next link with ..;: res %d, err %v", len(res), err)
	}
	res, err = c.Search(t.Context(), "Observation?patient=1")
	if !errors.Is(err, ErrForeignLink) || len(res) != 1 {
		t.Errorf("next link with ..%%5c: res %d, err %v", len(res), err)
	}
	for _, id := range []string{"..;", `..\admin`} {
		if _, err := c.Read(t.Context(), "Patient", id); err == nil {
			t.Errorf("a read of Patient/%s was sent", id)
		}
	}
	if n := admin.Load(); n != 0 {
		t.Errorf("%d requests with a path parameter or outside the base reached the server", n)
	}
}

func TestClientSelfLinkingNextStops(t *testing.T) {
	var hits atomic.Int64
	ts := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeJSON(w, 200, []byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"MedicationRequest?page=2"}],"entry":[{"resource":{"resourceType":"MedicationRequest","id":"a"}}]}`))
	}))
	res, err := newClient(t, ts, "").Search(t.Context(), "MedicationRequest?patient=1")
	// Page 1, then page 2 links to itself: two fetches, not MaxPages.
	if err != nil || len(res) != 2 || hits.Load() != 2 {
		t.Errorf("res %d, err %v, hits %d", len(res), err, hits.Load())
	}
}

func TestClientRedirectToOtherOrigin(t *testing.T) {
	other := &spy{}
	ots := serve(t, other)
	ts := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ots.URL+"/Patient/1", http.StatusFound)
	}))
	_, err := newClient(t, ts, secretToken).Read(t.Context(), "Patient", "1")
	if !errors.Is(err, ErrForeignLink) || other.hits.Load() != 0 {
		t.Errorf("err %v, other origin hits %d", err, other.hits.Load())
	}
}

// A redirect on the FHIR server's own origin but outside its base path is refused like a next
// link there: the token never reaches /admin, and neither does the request. One under the base
// path is followed.
func TestClientRedirectOutsideBasePath(t *testing.T) {
	var admin, inside atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) { admin.Add(1) })
	mux.HandleFunc("/fhir/r4/Patient/1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/Patient/1", http.StatusFound)
	})
	mux.HandleFunc("/fhir/r4/Patient/2", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/fhir/r4/%2e%2e/%2e%2e/admin/x", http.StatusFound)
	})
	mux.HandleFunc("/fhir/r4/Patient/3", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/fhir/r4/Patient/3b", http.StatusFound)
	})
	mux.HandleFunc("/fhir/r4/Patient/3b", func(w http.ResponseWriter, r *http.Request) {
		inside.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+secretToken {
			w.WriteHeader(401)
			return
		}
		writeJSON(w, 200, []byte(`{"resourceType":"Patient","id":"3"}`))
	})
	ts := serve(t, mux)
	c, err := NewClient(ts.URL+"/fhir/r4", secretToken, ts.Client(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2"} {
		if _, err := c.Read(t.Context(), "Patient", id); !errors.Is(err, ErrForeignLink) {
			t.Errorf("redirect of Patient/%s: err %v, want ErrForeignLink", id, err)
		}
	}
	if n := admin.Load(); n != 0 {
		t.Fatalf("%d requests reached /admin through a redirect", n)
	}
	if _, err := c.Read(t.Context(), "Patient", "3"); err != nil || inside.Load() != 1 {
		t.Fatalf("redirect under the base path: err %v, hits %d", err, inside.Load())
	}
}

func TestClientInvalidResponses(t *testing.T) {
	tests := []struct {
		name, body string
		maxBody    int64
		code       string
	}{
		{"not json", `<html>hello</html>`, 0, "not-json"},
		{"too large", `{"resourceType":"Bundle","type":"searchset","entry":[]}`, 10, "too-large"},
		{"not a bundle", `{"resourceType":"Patient","id":"1"}`, 0, "not-a-bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, []byte(tt.body))
			}))
			c := newClient(t, ts, "")
			c.MaxBody = tt.maxBody
			_, err := c.Search(t.Context(), "MedicationRequest?patient=1")
			var fe *Error
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidResponse) || fe.Code != tt.code {
				t.Errorf("err = %#v, want code %q", err, tt.code)
			}
		})
	}
	ts := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []byte(`{"resourceType":"OperationOutcome","issue":[]}`))
	}))
	if _, err := newClient(t, ts, "").Read(t.Context(), "Patient", "1"); !errors.Is(err, ErrInvalidResponse) {
		t.Errorf("read answered with another type: %v", err)
	}
}

func TestClientTLS(t *testing.T) {
	ts := httptest.NewTLSServer(loadFixture(t))
	t.Cleanup(ts.Close)
	c, err := NewClient(ts.URL, secretToken, ts.Client(), false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(t.Context(), "Coverage?patient=123&_count=1")
	if err != nil || len(res) != 2 {
		t.Fatalf("https search: %d, %v", len(res), err)
	}
}

// BenchmarkClientSearch measures one two-page search against the in-memory server over loopback.
func BenchmarkClientSearch(b *testing.B) {
	s := NewServer()
	for i := range 40 {
		if err := s.Put(json.RawMessage(fmt.Sprintf(`{"resourceType":"MedicationRequest","id":"m%02d","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medicationCodeableConcept":{"coding":[{"system":"%s","code":"2119399"}]}}`, i, SystemRxNorm))); err != nil {
			b.Fatal(err)
		}
	}
	ts := serve(b, s)
	c := newClient(b, ts, secretToken)
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Search(b.Context(), "MedicationRequest?patient=1&status=active&_count=20")
		if err != nil || len(res) != 40 {
			b.Fatalf("%d, %v", len(res), err)
		}
	}
	b.ReportMetric(float64(s.Requests())/float64(b.N), "requests/op")
}

// A dialer that refuses the address by policy yields ErrAddressRefused, not ErrUnavailable: the
// request never left, and the server is not down.
func TestClientAddressRefusedByDialer(t *testing.T) {
	ts := serve(t, &spy{})
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("policy: %w", ErrAddressRefused)}
	}}
	c, err := NewClient(ts.URL, secretToken, &http.Client{Transport: tr}, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(t.Context(), "Patient", "1")
	var fe *Error
	if !errors.As(err, &fe) || !errors.Is(err, ErrAddressRefused) || errors.Is(err, ErrUnavailable) || fe.Code != "address-refused" {
		t.Fatalf("err = %v", err)
	}
}
