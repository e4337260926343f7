package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"valuerx/catalog"
	"valuerx/cdshooks"
	"valuerx/demo"
	"valuerx/fhir"
	"valuerx/scoring"
	"valuerx/store"
)

// testEnv is a real valuerx on loopback: the gateway behind httptest, a real in-memory FHIR
// server on its own listener with the demo patients, a real SQLite file, and a real ES384 client
// key whose tokens the gateway verifies.
type testEnv struct {
	t       *testing.T
	gw      *Gateway
	srv     *httptest.Server
	fhirSrv *fhir.Server
	fhirURL string
	signer  *cdshooks.Signer
	store   *store.SQLite
	// storePath is the store's file, for tests that read a table the Store interface does not.
	storePath string
	logs      *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type envOption func(*Config)

func withoutAuth() envOption { return func(c *Config) { c.Verifier = nil } }

func withBudget(d time.Duration) envOption { return func(c *Config) { c.HookBudget = d } }

func withScoringConfig(t *testing.T, mutate func(*scoring.Config)) envOption {
	return func(c *Config) {
		scfg := scoring.DefaultConfig()
		mutate(&scfg)
		reg, err := scoring.NewRegistry(scfg, c.Catalog)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := scoring.NewScorerWithPolicy(c.Catalog, reg, c.Scorer.Policy(), 128)
		if err != nil {
			t.Fatal(err)
		}
		c.Registry, c.Scorer = reg, sc
	}
}

// withPolicy replaces the embedded demo P&T policy with one given as YAML (the embedded
// indication table stays).
func withPolicy(t *testing.T, yaml string) envOption {
	return func(c *Config) {
		ind, err := scoring.DefaultIndications()
		if err != nil {
			t.Fatal(err)
		}
		pol, err := scoring.ParsePolicy(c.Catalog, []byte(yaml), ind, "test policy")
		if err != nil {
			t.Fatal(err)
		}
		sc, err := scoring.NewScorerWithPolicy(c.Catalog, c.Registry, pol, 128)
		if err != nil {
			t.Fatal(err)
		}
		c.Scorer = sc
	}
}

var (
	catalogOnce sync.Once
	catalogVal  *scoring.Catalog
	catalogErr  error
)

func testCatalog(t testing.TB) *scoring.Catalog {
	catalogOnce.Do(func() {
		s, err := catalog.Embedded()
		if err != nil {
			catalogErr = err
			return
		}
		catalogVal, catalogErr = scoring.NewCatalog(s)
	})
	if catalogErr != nil {
		t.Fatal(catalogErr)
	}
	return catalogVal
}

func newEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	e := &testEnv{t: t, logs: &syncBuffer{}}
	e.fhirSrv, e.fhirURL = demoFHIR(t)
	e.signer = testSigner(t, "https://ehr.test/cds-client")
	e.storePath = filepath.Join(t.TempDir(), "valuerx.db")
	e.store = storeAt(t, e.storePath)
	cat, reg, sc := defaultScoring(t, 256)
	// The gateway needs its external URL before the listener exists: start unstarted.
	e.srv = httptest.NewUnstartedServer(nil)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	cfg := Config{
		ExternalURL:   e.srv.URL,
		Catalog:       cat,
		Registry:      reg,
		Scorer:        sc,
		Store:         e.store,
		Verifier:      verifierFor(t, e.signer),
		CORSOrigins:   []string{"https://sandbox.cds-hooks.org"},
		HookBudget:    2 * time.Second, // generous: tests run under -race on a shared machine
		AllowHTTPFHIR: true,
		// The test FHIR servers are httptest listeners on loopback, as in the demo. Tests of the
		// allowlist and of the private-address guard turn this off (allowlist_test.go).
		AllowPrivateFHIR: true,
		// Test hashes are cheap (bcrypt.MinCost): ration checks loosely so tests signing in many
		// times in a row are not throttled; TestAnalyticsPasswordAttemptsBounded sets its own.
		Analysts: AnalystAuth{Accounts: []AnalystAccount{{Name: testAnalyst, PasswordHash: testAnalystHash(t)}}, PasswordChecksPerSecond: 50},
		Logger:   slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	e.gw, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.gw.Close() })
	e.srv.Config.Handler = e.gw
	return e
}

// testAnalyst is the harness's local analyst account; analystHeader authenticates as it.
const testAnalyst, testAnalystPassword = "analyst", "correct horse battery staple"

var (
	analystHashOnce sync.Once
	analystHash     string
)

// testAnalystHash is a bcrypt hash of testAnalystPassword at the lowest cost (tests run under
// -race on a shared machine; production hashes come from valuerx hash-password at cost 12).
func testAnalystHash(tb testing.TB) string {
	analystHashOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte(testAnalystPassword), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		analystHash = string(h)
	})
	return analystHash
}

func analystHeader() map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(testAnalyst+":"+testAnalystPassword))}
}

// demoFHIR serves the demo patients from a real in-memory FHIR server on loopback.
func demoFHIR(tb testing.TB) (*fhir.Server, string) {
	tb.Helper()
	srv := fhir.NewServer()
	if err := srv.LoadBundle(demo.Patients()); err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return srv, ts.URL
}

// testSigner is an EHR's ES384 client key.
func testSigner(tb testing.TB, issuer string) *cdshooks.Signer {
	tb.Helper()
	key, err := cdshooks.GenerateES384()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := cdshooks.NewSigner(key, issuer, "")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func verifierFor(tb testing.TB, s *cdshooks.Signer) *cdshooks.Verifier {
	tb.Helper()
	v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{Clients: []cdshooks.TrustedClient{s.TrustedClient()}})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// tempStore is a real SQLite file in the test's temporary directory.
func tempStore(tb testing.TB) *store.SQLite {
	tb.Helper()
	return storeAt(tb, filepath.Join(tb.TempDir(), "valuerx.db"))
}

// storeAt opens a SQLite store at path, closed when the test ends.
func storeAt(tb testing.TB, path string) *store.SQLite {
	tb.Helper()
	st, err := store.OpenSQLite(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// defaultScoring is the embedded catalog and sample contracts behind a Scorer of cacheSize.
func defaultScoring(tb testing.TB, cacheSize int) (*scoring.Catalog, *scoring.Registry, *scoring.Scorer) {
	tb.Helper()
	cat := testCatalog(tb)
	reg, err := scoring.NewRegistry(scoring.DefaultConfig(), cat)
	if err != nil {
		tb.Fatal(err)
	}
	pol, err := scoring.DefaultPolicy(cat)
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := scoring.NewScorerWithPolicy(cat, reg, pol, cacheSize)
	if err != nil {
		tb.Fatal(err)
	}
	return cat, reg, sc
}

// demoRequest loads a demo request and points its fhirServer at this env's FHIR server.
func (e *testEnv) demoRequest(name string) []byte {
	e.t.Helper()
	b, ok := demo.Request(name)
	if !ok {
		e.t.Fatalf("no demo request %q", name)
	}
	return setJSON(e.t, b, "fhirServer", e.fhirURL)
}

func setJSON(t testing.TB, body []byte, key string, v any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		delete(m, key)
	} else {
		m[key] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// swapStore replaces the gateway's store mid-test (with or without the rollup, say). The
// background jobs read cfg.Store, so they are stopped first: the race detector caught the
// divergence job reading it while TestDashboardRowsPerClient wrote it. The tests that swap need
// neither job.
func (e *testEnv) swapStore(st store.Store) {
	e.gw.div.close()
	e.gw.fold.close()
	e.gw.cfg.Store = st
}

func (e *testEnv) token(path string) string {
	e.t.Helper()
	tok, err := e.signer.Mint(e.srv.URL+path, 5*time.Minute, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// post sends body to path with a fresh valid JWT.
func (e *testEnv) post(path string, body []byte) (int, []byte, http.Header) {
	e.t.Helper()
	return e.do(http.MethodPost, path, body, map[string]string{"Authorization": "Bearer " + e.token(path)})
}

func (e *testEnv) do(method, path string, body []byte, hdr map[string]string) (int, []byte, http.Header) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header
}

func decodeResponse(t testing.TB, body []byte) cdshooks.Response {
	t.Helper()
	var r cdshooks.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	return r
}

func serviceOf(name string) string {
	if strings.Contains(name, "order-select") {
		return "/cds-services/" + ServiceOrderSelect
	}
	return "/cds-services/" + ServiceOrderSign
}
