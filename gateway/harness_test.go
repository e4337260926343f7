package gateway

import (
	"bytes"
	"context"
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
	logs    *syncBuffer
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
		sc, err := scoring.NewScorer(c.Catalog, reg, 128)
		if err != nil {
			t.Fatal(err)
		}
		c.Registry, c.Scorer = reg, sc
	}
}

var (
	catalogOnce sync.Once
	catalogVal  *scoring.Catalog
	catalogErr  error
)

func testCatalog(t testing.TB) *scoring.Catalog {
	catalogOnce.Do(func() { catalogVal, catalogErr = scoring.DefaultCatalog() })
	if catalogErr != nil {
		t.Fatal(catalogErr)
	}
	return catalogVal
}

func newEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	e := &testEnv{t: t, logs: &syncBuffer{}}
	e.fhirSrv = fhir.NewServer()
	if err := e.fhirSrv.LoadBundle(demo.Patients()); err != nil {
		t.Fatal(err)
	}
	fsrv := httptest.NewServer(e.fhirSrv)
	t.Cleanup(fsrv.Close)
	e.fhirURL = fsrv.URL

	key, err := cdshooks.GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	e.signer, err = cdshooks.NewSigner(key, "https://ehr.test/cds-client", "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "valuerx.db"))
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	t.Cleanup(func() { st.Close() })

	cat := testCatalog(t)
	reg, err := scoring.NewRegistry(scoring.DefaultConfig(), cat)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scoring.NewScorer(cat, reg, 256)
	if err != nil {
		t.Fatal(err)
	}
	// The gateway needs its external URL before the listener exists: start unstarted.
	e.srv = httptest.NewUnstartedServer(nil)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{Clients: []cdshooks.TrustedClient{e.signer.TrustedClient()}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		ExternalURL:   e.srv.URL,
		Catalog:       cat,
		Registry:      reg,
		Scorer:        sc,
		Store:         st,
		Verifier:      v,
		CORSOrigins:   []string{"https://sandbox.cds-hooks.org"},
		HookBudget:    2 * time.Second, // generous: tests run under -race on a shared machine
		AllowHTTPFHIR: true,
		Logger:        slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.gw, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.gw.Close() })
	e.srv.Config.Handler = e.gw
	return e
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
