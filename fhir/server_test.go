package fhir

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// loadFixture returns a server holding testdata/transaction.json.
func loadFixture(t testing.TB) *Server {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "transaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer()
	if err := s.LoadBundle(raw); err != nil {
		t.Fatal(err)
	}
	return s
}

// serve starts s on a loopback listener.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, u string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func ids(t *testing.T, res []json.RawMessage) []string {
	t.Helper()
	out := []string{}
	for _, r := range res {
		var v struct{ ID string }
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.ID)
	}
	return out
}

func TestLoadBundleResolvesReferences(t *testing.T) {
	s := loadFixture(t)
	if got, want := s.Len(), 2+3+8+5+1+1; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	cov, ok := s.Get("Coverage", "cov-1")
	if !ok {
		t.Fatal("cov-1 missing")
	}
	if !bytes.Contains(cov, []byte(`"reference":"Patient/123"`)) || bytes.Contains(cov, []byte("urn:uuid")) {
		t.Errorf("urn reference not rewritten: %s", cov)
	}
	grp, _ := s.Get("Group", "grp-aco")
	if !bytes.Contains(grp, []byte(`"Patient/456"`)) {
		t.Errorf("group member not rewritten: %s", grp)
	}
	// The POSTed Coverage got a server id and keeps its rewritten beneficiary.
	s.mu.RLock()
	var posted *record
	for id, r := range s.data["Coverage"] {
		if id != "cov-1" && id != "cov-2" {
			posted = r
		}
	}
	s.mu.RUnlock()
	if posted == nil || !validID(posted.id) || len(posted.beneficiary) != 1 || posted.beneficiary[0].ID != "456" {
		t.Fatalf("posted coverage = %+v", posted)
	}
	var v struct{ ID string }
	_ = json.Unmarshal(posted.raw, &v)
	if v.ID != posted.id {
		t.Errorf("stored id %q, resource id %q", posted.id, v.ID)
	}
}

func TestLoadBundleErrors(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"not a bundle", `{"resourceType":"Patient","id":"1"}`},
		{"entry without resource", `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"PUT","url":"Patient/1"}}]}`},
		{"bad id", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"a b"}}]}`},
		{"bad method", `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"MERGE","url":"Patient"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer()
			if err := s.LoadBundle([]byte(tt.raw)); err == nil {
				t.Fatal("no error")
			}
			if s.Len() != 0 {
				t.Errorf("partial load: %d resources", s.Len())
			}
		})
	}
}

func FuzzLoadBundle(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "transaction.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"DELETE","url":"Patient/1"}},{"fullUrl":"urn:uuid:a","resource":{"resourceType":"Patient","id":"1","x":"urn:uuid:a"},"request":{"method":"POST"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","effectivePeriod":{"start":7},"subject":"x","code":{"coding":"y"}}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := NewServer()
		if err := s.LoadBundle(raw); err != nil {
			if s.Len() != 0 {
				t.Fatalf("failed load stored %d resources", s.Len())
			}
			return
		}
		s.mu.RLock()
		defer s.mu.RUnlock()
		for typ, m := range s.data {
			for id, rec := range m {
				if !validType(typ) || !validID(id) || rec.id != id || ResourceType(rec.raw) != typ {
					t.Fatalf("stored %s/%s as %+v", typ, id, rec)
				}
			}
		}
	})
}

func TestServerRead(t *testing.T) {
	ts := serve(t, loadFixture(t))
	st, hdr, body := get(t, ts.URL+"/Patient/123")
	if st != http.StatusOK || hdr.Get("Content-Type") != "application/fhir+json" || ResourceType(body) != "Patient" {
		t.Fatalf("read = %d %q %s", st, hdr.Get("Content-Type"), body)
	}
	st, _, body = get(t, ts.URL+"/Patient/999")
	issues, ok := ParseOperationOutcome(body)
	if st != http.StatusNotFound || !ok || issues[0].Code != "not-found" {
		t.Fatalf("absent read = %d %s", st, body)
	}
	st, _, _ = get(t, ts.URL+"/patient/123")
	if st != http.StatusNotFound {
		t.Errorf("lower-case type = %d", st)
	}
	st, _, body = get(t, ts.URL+"/metadata")
	if st != http.StatusOK || ResourceType(body) != "CapabilityStatement" {
		t.Errorf("metadata = %d %s", st, body)
	}
}

// searchIDs runs a search over HTTP and returns the entry ids of the first page and the total.
func searchIDs(t *testing.T, base, query string, hdr ...string) (int, []string, int) {
	t.Helper()
	st, _, body := get(t, base+"/"+query, hdr...)
	if st != http.StatusOK {
		return st, nil, 0
	}
	var b struct {
		Total int `json:"total"`
	}
	_ = json.Unmarshal(body, &b)
	res, _, err := BundleResources(body)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return st, ids(t, res), b.Total
}

func TestServerSearch(t *testing.T) {
	ts := serve(t, loadFixture(t))
	allMR := []string{"mr-1", "mr-2", "mr-3", "mr-4", "mr-5", "mr-6", "mr-7"}
	tests := []struct {
		query  string
		status int
		want   []string
	}{
		{"MedicationRequest?patient=123", 200, allMR},
		{"MedicationRequest?patient=Patient/123", 200, allMR},
		{"MedicationRequest?subject=Patient/123", 200, allMR},
		{"MedicationRequest?subject:Patient=123", 200, allMR},
		{"MedicationRequest?patient=http://ehr.example/fhir/Patient/123", 200, allMR},
		{"MedicationRequest?patient=Group/123", 200, []string{}},
		{"MedicationRequest?patient=456", 200, []string{"mr-8"}},
		{"MedicationRequest?patient=123&status=active", 200, []string{"mr-1", "mr-2", "mr-3", "mr-4", "mr-7"}},
		{"MedicationRequest?patient=123&status=completed,on-hold", 200, []string{"mr-5", "mr-6"}},
		{"MedicationRequest?patient=123&status:not=active", 200, []string{"mr-5", "mr-6"}},
		{"MedicationRequest?patient=123&status=active&intent=order", 200, []string{"mr-1", "mr-2", "mr-3", "mr-7"}},
		{"MedicationRequest?code=" + url.QueryEscape(SystemRxNorm+"|617312"), 200, []string{"mr-2", "mr-5", "mr-7"}},
		{"MedicationRequest?code=" + url.QueryEscape(SystemNDC+"|"), 200, []string{"mr-3"}},
		{"MedicationRequest?patient=123&authoredon=ge2025-04&_sort=-authoredon", 200, []string{"mr-7", "mr-6", "mr-4"}},
		{"MedicationRequest?patient=123&status=&unknown=1", 200, allMR},
		{"MedicationRequest?patient=123&unknown=1", 400, nil}, // strict, below
		{"Coverage?patient=123", 200, []string{"cov-1", "cov-2"}},
		{"Coverage?beneficiary=Patient/123&status=active", 200, []string{"cov-1"}},
		{"Observation?patient=123&code=29463-7&_sort=-date", 200, []string{"obs-w2", "obs-w1", "obs-w3"}},
		{"Observation?patient=123&code=" + url.QueryEscape("http://loinc.org|29463-7") + "&_sort=-date&_count=1", 200, []string{"obs-w2"}},
		{"Observation?patient=123&code=" + url.QueryEscape("|29463-7"), 200, []string{}},
		{"Observation?subject=123&date=2025-06-01", 200, []string{"obs-bp", "obs-w2"}},
		{"Observation?subject=123&date=lt2025", 200, []string{"obs-w3"}},
		{"Observation?subject=123&date=ge2025-01-01&date=le2025-03", 200, []string{"obs-w1"}},
		{"Observation?date=sa2025", 400, nil},
		{"Observation?date=2025-13-01", 400, nil},
		{"Medication?_id=med-1", 200, []string{"med-1"}},
		{"Patient?_id=123,456", 200, []string{"123", "456"}},
		{"Patient?identifier=" + url.QueryEscape(SystemMBI+"|2EG4TE5MK74"), 200, []string{"456"}},
		{"Group?member=Patient/456", 200, []string{"grp-aco"}},
		{"Encounter?patient=123", 200, []string{}},
		{"MedicationRequest?_count=x", 400, nil},
		{"MedicationRequest?_count=-1", 400, nil},
		{"MedicationRequest?status:exact=active", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var hdr []string
			if strings.Contains(tt.query, "unknown=1") && tt.status == 400 {
				hdr = []string{"Prefer", "handling=strict"}
			}
			st, got, _ := searchIDs(t, ts.URL, tt.query, hdr...)
			if st != tt.status {
				t.Fatalf("status = %d, want %d", st, tt.status)
			}
			if tt.status != 200 {
				return
			}
			// Observation sorts are checked in order; the rest come back in id order.
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServerSearchPaging(t *testing.T) {
	ts := serve(t, loadFixture(t))
	next := ts.URL + "/MedicationRequest?patient=123&_count=3"
	var all []string
	pages := 0
	for next != "" {
		st, _, body := get(t, next)
		if st != http.StatusOK {
			t.Fatalf("page %d: status %d", pages, st)
		}
		var b struct {
			Type  string `json:"type"`
			Total int    `json:"total"`
			Entry []struct {
				FullURL string `json:"fullUrl"`
				Search  struct {
					Mode string `json:"mode"`
				} `json:"search"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		if b.Type != "searchset" || b.Total != 7 {
			t.Errorf("page %d: type %q total %d", pages, b.Type, b.Total)
		}
		for _, e := range b.Entry {
			if e.Search.Mode != "match" || !strings.HasPrefix(e.FullURL, ts.URL+"/MedicationRequest/mr-") {
				t.Errorf("entry fullUrl %q mode %q", e.FullURL, e.Search.Mode)
			}
		}
		res, n, err := BundleResources(body)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(t, res)...)
		next = n
		pages++
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	if diff := cmp.Diff([]string{"mr-1", "mr-2", "mr-3", "mr-4", "mr-5", "mr-6", "mr-7"}, all); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	_, _, total := searchIDs(t, ts.URL, "MedicationRequest?patient=123&_summary=count")
	if total != 7 {
		t.Errorf("_summary=count total = %d", total)
	}
}

func TestServerPostSearchAndTransaction(t *testing.T) {
	s := NewServer()
	s.AllowWrites(true)
	ts := serve(t, s)
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:p1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
	 {"resource":{"resourceType":"Coverage","id":"c1","status":"active","beneficiary":{"reference":"urn:uuid:p1"}},"request":{"method":"PUT","url":"Coverage/c1"}}]}`
	resp, err := http.Post(ts.URL+"/", "application/fhir+json", strings.NewReader(tx))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out struct {
		Type  string `json:"type"`
		Entry []struct {
			Response struct{ Status, Location string } `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != 200 || out.Type != "transaction-response" || len(out.Entry) != 2 {
		t.Fatalf("transaction = %d %s", resp.StatusCode, body)
	}
	loc := out.Entry[0].Response.Location
	typ, pid := SplitReference(loc)
	if typ != "Patient" || out.Entry[0].Response.Status != "201 Created" {
		t.Fatalf("patient entry response %+v", out.Entry[0].Response)
	}
	resp, err = http.PostForm(ts.URL+"/Coverage/_search", url.Values{"patient": {"Patient/" + pid}, "status": {"active"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	res, _, err := BundleResources(body)
	if err != nil || len(res) != 1 || !bytes.Contains(res[0], []byte(`"Patient/`+pid+`"`)) {
		t.Fatalf("POST _search = %s (%v)", body, err)
	}
	resp, err = http.Post(ts.URL+"/", "application/fhir+json", strings.NewReader(`{"resourceType":"Patient"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("non-bundle transaction = %d", resp.StatusCode)
	}
}

func TestServerKnobs(t *testing.T) {
	s := loadFixture(t)
	ts := serve(t, s)
	s.RequireToken("tok-1")
	if st, hdr, body := get(t, ts.URL+"/Patient/123"); st != 401 || hdr.Get("WWW-Authenticate") == "" || ResourceType(body) != "OperationOutcome" {
		t.Errorf("no token = %d %s", st, body)
	}
	if st, _, _ := get(t, ts.URL+"/Patient/123", "Authorization", "Bearer tok-2"); st != 401 {
		t.Errorf("wrong token = %d", st)
	}
	if st, _, _ := get(t, ts.URL+"/Patient/123", "Authorization", "Bearer tok-1"); st != 200 {
		t.Errorf("right token = %d", st)
	}
	s.RequireToken("")
	s.SetFailure(503)
	if st, _, body := get(t, ts.URL+"/Patient/123"); st != 503 || ResourceType(body) != "OperationOutcome" {
		t.Errorf("failure = %d %s", st, body)
	}
	s.SetFailure(0)
	s.FailType("MedicationRequest", 500)
	if st, _, _ := get(t, ts.URL+"/MedicationRequest?patient=123"); st != 500 {
		t.Errorf("FailType search = %d", st)
	}
	if st, _, _ := get(t, ts.URL+"/Coverage?patient=123"); st != 200 {
		t.Errorf("other type while FailType = %d", st)
	}
	s.FailType("MedicationRequest", 0)
	if st, _, _ := get(t, ts.URL+"/MedicationRequest/mr-1"); st != 200 {
		t.Errorf("after FailType cleared = %d", st)
	}
	before := s.Requests()
	get(t, ts.URL+"/Patient/123")
	get(t, ts.URL+"/Patient/nope")
	if got := s.Requests() - before; got != 2 {
		t.Errorf("Requests delta = %d, want 2", got)
	}
}

func TestServerMountedUnderPrefix(t *testing.T) {
	s := loadFixture(t)
	if err := s.SetBaseURL("/fhir/r4"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/fhir/r4/", s)
	ts := serve(t, mux)
	st, _, body := get(t, ts.URL+"/fhir/r4/MedicationRequest?patient=123&_count=2")
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	_, next, _ := BundleResources(body)
	if !strings.HasPrefix(next, ts.URL+"/fhir/r4/MedicationRequest?") {
		t.Errorf("next = %q", next)
	}
	if err := s.SetBaseURL("http://"); err == nil {
		t.Error("hostless absolute base accepted")
	}
}

// TestServerGolden pins the searchset Bundle shape (total, links, fullUrl, search.mode, raw
// resources kept as loaded). Run with -update to rewrite.
func TestServerGolden(t *testing.T) {
	s := loadFixture(t)
	if err := s.SetBaseURL("https://fhir.test/r4"); err != nil {
		t.Fatal(err)
	}
	ts := serve(t, s)
	_, _, body := get(t, ts.URL+"/r4/Observation?patient=Patient/123&code=29463-7&_sort=-date&_count=2")
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", "golden", "search-observation-weight.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestServerGolden -update)", err)
	}
	if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
		t.Errorf("search bundle (-want +got):\n%s", diff)
	}
}

func TestServerConcurrent(t *testing.T) {
	s := loadFixture(t)
	ts := serve(t, s)
	c, err := NewClient(ts.URL, "", ts.Client(), true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- s.Put(json.RawMessage(fmt.Sprintf(`{"resourceType":"MedicationRequest","id":"c-%d","status":"active","subject":{"reference":"Patient/789"}}`, i)))
		}()
		go func() {
			defer wg.Done()
			_, err := c.Search(t.Context(), "MedicationRequest?patient=789&_count=4")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Search(t.Context(), "MedicationRequest?patient=789&_count=4")
	if err != nil || len(res) != 20 {
		t.Fatalf("after concurrent puts: %d resources, %v", len(res), err)
	}
}

// BenchmarkServerSearch measures the in-memory server alone (no network): 500 MedicationRequests
// over 50 patients, one patient's active orders.
func BenchmarkServerSearch(b *testing.B) {
	s := NewServer()
	for i := range 500 {
		st := "active"
		if i%3 == 0 {
			st = "completed"
		}
		if err := s.Put(json.RawMessage(fmt.Sprintf(`{"resourceType":"MedicationRequest","id":"m%03d","status":"%s","intent":"order","subject":{"reference":"Patient/p%d"}}`, i, st, i%50))); err != nil {
			b.Fatal(err)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/MedicationRequest?patient=p7&status=active", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// By default the server is read-only over HTTP: every write is a 405 OperationOutcome and the
// store is unchanged; reads and the POST form of search still work.
func TestServerReadOnlyByDefault(t *testing.T) {
	s := NewServer()
	if err := s.Put(json.RawMessage(`{"resourceType":"Patient","id":"p1","name":[{"family":"Original"}]}`)); err != nil {
		t.Fatal(err)
	}
	ts := serve(t, s)
	writes := []struct{ method, path, body string }{
		{http.MethodPut, "/Patient/p1", `{"resourceType":"Patient","id":"p1","name":[{"family":"Changed"}]}`},
		{http.MethodPut, "/Patient/p2", `{"resourceType":"Patient","id":"p2"}`},
		{http.MethodPost, "/Patient", `{"resourceType":"Patient"}`},
		{http.MethodDelete, "/Patient/p1", ``},
		{http.MethodPatch, "/Patient/p1", `[]`},
		{http.MethodPost, "/", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"p3"},"request":{"method":"PUT","url":"Patient/p3"}}]}`},
	}
	for _, w := range writes {
		req, _ := http.NewRequest(w.method, ts.URL+w.path, strings.NewReader(w.body))
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(body), "read-only") {
			t.Errorf("%s %s: %d %s", w.method, w.path, resp.StatusCode, body)
		}
	}
	if raw, _ := s.Get("Patient", "p1"); !strings.Contains(string(raw), "Original") || s.Len() != 1 {
		t.Fatalf("the store changed: %s, %d resources", raw, s.Len())
	}
	resp, err := http.PostForm(ts.URL+"/Patient/_search", url.Values{"_id": {"p1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST _search on a read-only server: %d", resp.StatusCode)
	}
}
