package fhir

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// maxServerBody bounds request bodies the in-memory server accepts.
const maxServerBody = 32 << 20

// Server is an in-memory FHIR R4 server for tests, the load harness and the demo. It stores any
// resource type as raw JSON, answers reads and the search parameters valuerx uses (see
// parseSearch) with searchset Bundles and paging, and, once AllowWrites is on, accepts creates,
// updates, deletes and transaction/batch Bundles on POST /. Knobs (SetDelay, SetFailure, RequireToken) let tests exercise a client's failure paths.
// It is safe for concurrent use.
type Server struct {
	mu      sync.RWMutex
	data    map[string]map[string]*record // type -> id -> record
	base    *url.URL                      // SetBaseURL; nil = derived from each request
	token   string                        // RequireToken; "" = no authentication
	delay   atomic.Int64                  // nanoseconds
	failure atomic.Int32                  // status every request fails with; 0 = off
	reqs    atomic.Int64
	failFor map[string]int // FailType: resource type -> status; guarded by mu
	writes  atomic.Bool    // AllowWrites; off: HTTP writes are 405
}

// AllowWrites lets HTTP clients create, update and delete resources and post transactions (tests
// that exercise a client's writes opt in). By default the server is read-only over HTTP: the demo
// serves it unauthenticated next to valuerx, and nobody may change its patients from a browser.
// Put and LoadBundle work either way.
func (s *Server) AllowWrites(on bool) { s.writes.Store(on) }

// NewServer returns an empty server.
func NewServer() *Server {
	return &Server{data: map[string]map[string]*record{}}
}

// SetDelay makes every request wait d before it is served (0 disables). The wait ends early when
// the client goes away, so closing a test server never blocks on it.
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// SetFailure makes every request fail with status and an OperationOutcome (0 disables).
func (s *Server) SetFailure(status int) { s.failure.Store(int32(status)) }

// FailType makes requests on one resource type (reads and searches) fail with status and an
// OperationOutcome while the other types keep working (0 restores it). Tests use it for "Coverage
// is there but the medication history fetch fails".
func (s *Server) FailType(typ string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failFor == nil {
		s.failFor = map[string]int{}
	}
	if status == 0 {
		delete(s.failFor, typ)
		return
	}
	s.failFor[typ] = status
}

// Requests returns the number of HTTP requests received, failed ones included.
func (s *Server) Requests() int64 { return s.reqs.Load() }

// RequireToken makes every request except GET /metadata need "Authorization: Bearer tok"
// ("" disables); others get 401 with an OperationOutcome.
func (s *Server) RequireToken(tok string) {
	s.mu.Lock()
	s.token = tok
	s.mu.Unlock()
}

// SetBaseURL fixes the service base used in fullUrl and paging links and the path prefix the
// server is mounted under: "http://localhost:8080/fhir" or just "/fhir" (host taken from each
// request). By default the base is the request's scheme and Host with no prefix.
func (s *Server) SetBaseURL(base string) error {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "" && u.Host == "") {
		return errors.New("fhir: server base URL must be scheme://host/path or /path")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	s.mu.Lock()
	s.base = u
	s.mu.Unlock()
	return nil
}

// Put stores raw under its resourceType and id, replacing any previous version. A resource
// without an id gets a new one.
func (s *Server) Put(raw json.RawMessage) error {
	rec, err := prepare(raw, "")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.store(rec)
	s.mu.Unlock()
	return nil
}

// Get returns the stored resource typ/id (for tests and the demo).
func (s *Server) Get(typ, id string) (json.RawMessage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.data[typ][id]
	if !ok {
		return nil, false
	}
	return rec.raw, true
}

// Len returns the number of stored resources.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, m := range s.data {
		n += len(m)
	}
	return n
}

func (s *Server) store(rec *record) {
	m := s.data[rec.typ]
	if m == nil {
		m = map[string]*record{}
		s.data[rec.typ] = m
	}
	m[rec.id] = rec
}

// prepare validates raw, gives it id (when id != "") or keeps its own (assigning one if absent)
// and indexes it.
func prepare(raw json.RawMessage, id string) (*record, error) {
	typ := ResourceType(raw)
	if !validType(typ) {
		return nil, errors.New("fhir: not a FHIR resource (no valid resourceType)")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, fmt.Errorf("fhir: invalid %s JSON", typ)
	}
	raw = compact.Bytes()
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("fhir: invalid %s JSON", typ)
	}
	var have string
	if len(probe.ID) > 0 {
		if err := json.Unmarshal(probe.ID, &have); err != nil {
			return nil, fmt.Errorf("fhir: %s.id is not a string", typ)
		}
	}
	if id == "" {
		id = have
	}
	if id == "" {
		id = uuid.NewString()
	}
	if !validID(id) {
		return nil, fmt.Errorf("fhir: invalid %s id", typ)
	}
	if id != have {
		var err error
		if raw, err = setMember(raw, "id", id); err != nil {
			return nil, fmt.Errorf("fhir: set %s id: %w", typ, err)
		}
	}
	return newRecord(raw)
}

// setMember sets a string member of a JSON object. The other members keep their raw values;
// only the member order changes.
func setMember(raw json.RawMessage, name, value string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("not a JSON object")
	}
	v, _ := json.Marshal(value)
	m[name] = v
	return json.Marshal(m)
}

// LoadBundle stores the resources of a transaction, batch or collection Bundle (any other type
// is treated like a collection). Entries with request.method PUT keep the id of request.url or
// the resource; POST entries get new ids; entries without a request keep their id or get one;
// DELETE entries remove request.url; GET entries are ignored. References to an entry's
// "urn:uuid:" (or other) fullUrl are rewritten to the stored Type/id. All or nothing.
func (s *Server) LoadBundle(raw []byte) error {
	_, err := s.load(raw)
	return err
}

type loadResult struct {
	status, location string
}

func (s *Server) load(raw []byte) ([]loadResult, error) {
	b, err := decodeBundle(raw)
	if err != nil {
		return nil, err
	}
	type planned struct {
		typ, id  string
		resource json.RawMessage
		del      bool
		skip     bool
		created  bool
	}
	plan := make([]planned, len(b.Entry))
	rename := map[string]string{} // fullUrl -> Type/id
	for i, e := range b.Entry {
		method := ""
		if e.Request != nil {
			method = strings.ToUpper(strings.TrimSpace(e.Request.Method))
		}
		p := planned{resource: bytes.TrimSpace(e.Resource)}
		switch method {
		case "GET", "HEAD", "PATCH":
			p.skip = true
			plan[i] = p
			continue
		case "DELETE":
			r := ParseReference(e.Request.URL)
			if r.Type == "" || r.ID == "" {
				return nil, fmt.Errorf("fhir: bundle entry %d: DELETE needs Type/id", i)
			}
			plan[i] = planned{typ: r.Type, id: r.ID, del: true}
			continue
		}
		p.typ = ResourceType(p.resource)
		if !validType(p.typ) {
			return nil, fmt.Errorf("fhir: bundle entry %d: no resource", i)
		}
		var own struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(p.resource, &own)
		switch method {
		case "POST":
			p.id, p.created = uuid.NewString(), true
		case "PUT":
			if r := ParseReference(e.Request.URL); r.Type == p.typ && r.ID != "" {
				p.id = r.ID
			} else {
				p.id = own.ID
			}
		case "":
			p.id = own.ID
		default:
			return nil, fmt.Errorf("fhir: bundle entry %d: unsupported method", i)
		}
		if p.id == "" {
			p.id, p.created = uuid.NewString(), true
		}
		if !validID(p.id) {
			return nil, fmt.Errorf("fhir: bundle entry %d: invalid id", i)
		}
		if fu := strings.TrimSpace(e.FullURL); fu != "" {
			if r := ParseReference(fu); r.URN != "" || r.Type != p.typ || r.ID != p.id {
				rename[fu] = p.typ + "/" + p.id
			}
		}
		plan[i] = p
	}
	// Rewrite references to renamed fullUrls: exact JSON string matches only.
	olds := make([]string, 0, len(rename))
	for k := range rename {
		olds = append(olds, k)
	}
	slices.Sort(olds)
	recs := make([]*record, len(plan))
	for i, p := range plan {
		if p.skip || p.del {
			continue
		}
		res := p.resource
		for _, old := range olds {
			q, _ := json.Marshal(old)
			if bytes.Contains(res, q) {
				n, _ := json.Marshal(rename[old])
				res = bytes.ReplaceAll(res, q, n)
			}
		}
		rec, err := prepare(res, p.id)
		if err != nil {
			return nil, fmt.Errorf("fhir: bundle entry %d: %w", i, err)
		}
		recs[i] = rec
	}
	out := make([]loadResult, len(plan))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range plan {
		switch {
		case p.skip:
			out[i] = loadResult{status: "200 OK"}
		case p.del:
			delete(s.data[p.typ], p.id)
			out[i] = loadResult{status: "204 No Content"}
		default:
			_, existed := s.data[p.typ][p.id]
			s.store(recs[i])
			st := "200 OK"
			if !existed {
				st = "201 Created"
			}
			out[i] = loadResult{status: st, location: p.typ + "/" + p.id}
		}
	}
	return out, nil
}

// ServeHTTP implements the FHIR REST subset described on Server.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.reqs.Add(1)
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if st := int(s.failure.Load()); st != 0 {
		writeOutcome(w, st, "error", "transient", "injected failure")
		return
	}
	s.mu.RLock()
	tok, base := s.token, s.base
	s.mu.RUnlock()

	path := r.URL.Path
	if base != nil && base.Path != "" {
		if path == base.Path {
			path = "/"
		} else if strings.HasPrefix(path, base.Path+"/") {
			path = path[len(base.Path):]
		}
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	if len(segs) == 1 && segs[0] == "metadata" && r.Method == http.MethodGet {
		s.capability(w)
		return
	}
	if tok != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fhir"`)
			writeOutcome(w, http.StatusUnauthorized, "error", "login", "a valid bearer token is required")
			return
		}
	}
	if len(segs) > 0 {
		s.mu.RLock()
		st := s.failFor[segs[0]]
		s.mu.RUnlock()
		if st != 0 {
			writeOutcome(w, st, "error", "transient", "injected failure")
			return
		}
	}
	baseURL := s.baseFor(r, base)
	if !s.writes.Load() && isWrite(r, segs) {
		w.Header().Set("Allow", "GET, HEAD")
		writeOutcome(w, http.StatusMethodNotAllowed, "error", "not-supported", "this FHIR server is read-only")
		return
	}
	switch {
	case len(segs) == 0:
		if r.Method != http.MethodPost {
			writeOutcome(w, http.StatusMethodNotAllowed, "error", "not-supported", "only POST of a transaction or batch Bundle is supported here")
			return
		}
		s.transaction(w, r)
	case !validType(segs[0]):
		writeOutcome(w, http.StatusNotFound, "error", "not-supported", "unknown resource type")
	case len(segs) == 1:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.search(w, r, segs[0], r.URL.Query(), baseURL)
		case http.MethodPost:
			s.create(w, r, segs[0])
		default:
			writeOutcome(w, http.StatusMethodNotAllowed, "error", "not-supported", "method not supported")
		}
	case len(segs) == 2 && segs[1] == "_search":
		if r.Method != http.MethodPost {
			writeOutcome(w, http.StatusMethodNotAllowed, "error", "not-supported", "_search needs POST")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxServerBody)
		if err := r.ParseForm(); err != nil {
			writeOutcome(w, http.StatusBadRequest, "error", "invalid", "form body does not parse")
			return
		}
		s.search(w, r, segs[0], r.Form, baseURL)
	case len(segs) == 2:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.read(w, segs[0], segs[1])
		case http.MethodPut:
			s.update(w, r, segs[0], segs[1])
		case http.MethodDelete:
			s.mu.Lock()
			delete(s.data[segs[0]], segs[1])
			s.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			writeOutcome(w, http.StatusMethodNotAllowed, "error", "not-supported", "method not supported")
		}
	default:
		writeOutcome(w, http.StatusNotFound, "error", "not-supported", "unsupported path")
	}
}

// isWrite reports whether r would change the store: anything but GET and HEAD, except the POST
// form of search (Type/_search), which only reads.
func isWrite(r *http.Request, segs []string) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return false
	case http.MethodPost:
		return !(len(segs) == 2 && segs[1] == "_search")
	}
	return true
}

// baseFor returns the absolute service base for links in a response to r.
func (s *Server) baseFor(r *http.Request, base *url.URL) string {
	scheme, host, path := "http", r.Host, ""
	if r.TLS != nil {
		scheme = "https"
	}
	if base != nil {
		if base.Scheme != "" {
			scheme, host = base.Scheme, base.Host
		}
		path = base.Path
	}
	return scheme + "://" + host + path
}

func (s *Server) read(w http.ResponseWriter, typ, id string) {
	s.mu.RLock()
	rec, ok := s.data[typ][id]
	s.mu.RUnlock()
	if !ok {
		writeOutcome(w, http.StatusNotFound, "error", "not-found", "resource not found")
		return
	}
	writeJSON(w, http.StatusOK, rec.raw)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxServerBody))
	if err != nil {
		writeOutcome(w, http.StatusRequestEntityTooLarge, "error", "too-costly", "body too large")
		return nil, false
	}
	return body, true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, typ string) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if ResourceType(body) != typ {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "body is not a "+typ)
		return
	}
	rec, err := prepare(body, uuid.NewString())
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "invalid resource")
		return
	}
	s.mu.Lock()
	s.store(rec)
	s.mu.Unlock()
	w.Header().Set("Location", typ+"/"+rec.id)
	writeJSON(w, http.StatusCreated, rec.raw)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, typ, id string) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if ResourceType(body) != typ || !validID(id) {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "body is not a "+typ+" or id invalid")
		return
	}
	rec, err := prepare(body, id)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "invalid resource")
		return
	}
	s.mu.Lock()
	_, existed := s.data[typ][id]
	s.store(rec)
	s.mu.Unlock()
	st := http.StatusOK
	if !existed {
		st = http.StatusCreated
	}
	writeJSON(w, st, rec.raw)
}

func (s *Server) transaction(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	res, err := s.load(body)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "bundle not loaded: "+strings.TrimPrefix(err.Error(), "fhir: "))
		return
	}
	typ := "transaction-response"
	if b, _ := decodeBundle(body); b != nil && b.Type == "batch" {
		typ = "batch-response"
	}
	type respEntry struct {
		Response struct {
			Status   string `json:"status"`
			Location string `json:"location,omitempty"`
		} `json:"response"`
	}
	out := struct {
		ResourceType string      `json:"resourceType"`
		Type         string      `json:"type"`
		Entry        []respEntry `json:"entry"`
	}{ResourceType: "Bundle", Type: typ, Entry: make([]respEntry, len(res))}
	for i, lr := range res {
		out.Entry[i].Response.Status = lr.status
		out.Entry[i].Response.Location = lr.location
	}
	b, _ := json.Marshal(out)
	writeJSON(w, http.StatusOK, b)
}

// searchBundle is the searchset Bundle the server answers with.
type searchBundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Total        int           `json:"total"`
	Link         []bundleLink  `json:"link"`
	Entry        []searchEntry `json:"entry,omitempty"`
}

type searchEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Search   struct {
		Mode string `json:"mode"`
	} `json:"search"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, typ string, params url.Values, base string) {
	strict := false
	for _, p := range r.Header.Values("Prefer") {
		if strings.Contains(strings.ReplaceAll(p, " ", ""), "handling=strict") {
			strict = true
		}
	}
	q, err := parseSearch(typ, params, strict)
	if err != nil {
		var se *searchError
		code := "invalid"
		if errors.As(err, &se) {
			code = se.code
		}
		writeOutcome(w, http.StatusBadRequest, "error", code, err.Error())
		return
	}
	b, err := s.runSearch(q, base)
	if err != nil {
		writeOutcome(w, http.StatusInternalServerError, "error", "exception", "search failed")
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// runSearch evaluates q against the store and renders one page as a searchset Bundle.
func (s *Server) runSearch(q *searchQuery, base string) ([]byte, error) {
	s.mu.RLock()
	var hits []*record
	for _, rec := range s.data[q.typ] {
		if q.match(rec) {
			hits = append(hits, rec)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(hits, q.less)

	link := func(offset int) string {
		v := url.Values{}
		for k, vs := range q.params {
			v[k] = vs
		}
		v.Set("_count", fmt.Sprint(q.count))
		if offset > 0 {
			v.Set("_offset", fmt.Sprint(offset))
		}
		return base + "/" + q.typ + "?" + v.Encode()
	}
	out := searchBundle{
		ResourceType: "Bundle", Type: "searchset", Total: len(hits),
		Link: []bundleLink{{Relation: "self", URL: link(q.offset)}},
	}
	if q.summary || q.count == 0 {
		return marshalNoEscape(out)
	}
	start := min(q.offset, len(hits))
	end := min(start+q.count, len(hits))
	if end < len(hits) {
		out.Link = append(out.Link, bundleLink{Relation: "next", URL: link(end)})
	}
	if start > 0 {
		out.Link = append(out.Link, bundleLink{Relation: "previous", URL: link(max(0, start-q.count))})
	}
	for _, rec := range hits[start:end] {
		e := searchEntry{FullURL: base + "/" + rec.typ + "/" + rec.id, Resource: rec.raw}
		e.Search.Mode = "match"
		out.Entry = append(out.Entry, e)
	}
	return marshalNoEscape(out)
}

// marshalNoEscape marshals v without HTML-escaping '&', '<' and '>' (paging links carry '&').
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (s *Server) capability(w http.ResponseWriter) {
	const cs = `{"resourceType":"CapabilityStatement","status":"active","date":"2026-01-01",` +
		`"kind":"instance","fhirVersion":"4.0.1","format":["application/fhir+json"],` +
		`"rest":[{"mode":"server","resource":[` +
		`{"type":"Patient","interaction":[{"code":"read"},{"code":"search-type"}],"searchParam":[{"name":"_id","type":"token"},{"name":"identifier","type":"token"}]},` +
		`{"type":"Coverage","interaction":[{"code":"read"},{"code":"search-type"}],"searchParam":[{"name":"patient","type":"reference"},{"name":"beneficiary","type":"reference"},{"name":"status","type":"token"}]},` +
		`{"type":"MedicationRequest","interaction":[{"code":"read"},{"code":"search-type"}],"searchParam":[{"name":"patient","type":"reference"},{"name":"subject","type":"reference"},{"name":"status","type":"token"},{"name":"intent","type":"token"},{"name":"code","type":"token"},{"name":"authoredon","type":"date"}]},` +
		`{"type":"Observation","interaction":[{"code":"read"},{"code":"search-type"}],"searchParam":[{"name":"patient","type":"reference"},{"name":"subject","type":"reference"},{"name":"code","type":"token"},{"name":"date","type":"date"}]},` +
		`{"type":"Medication","interaction":[{"code":"read"},{"code":"search-type"}],"searchParam":[{"name":"code","type":"token"}]},` +
		`{"type":"Group","interaction":[{"code":"read"},{"code":"search-type"}],"searchParam":[{"name":"member","type":"reference"}]}]}]}`
	writeJSON(w, http.StatusOK, []byte(cs))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeOutcome(w http.ResponseWriter, status int, severity, code, diagnostics string) {
	writeJSON(w, status, OperationOutcome(severity, code, diagnostics))
}
