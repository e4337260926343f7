package gateway

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"valuerx/cdshooks"
)

// counter is a FHIR server that must never be called: it counts every request it receives.
type counter struct{ hits atomic.Int64 }

func (c *counter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c.hits.Add(1)
	w.Header().Set("Content-Type", "application/fhir+json")
	_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"forged","status":"active"}}]}`))
}

// allowlistEnv is a gateway with two trusted clients: "allowlisted", whose fhirServers name only
// the allowed server's /fhir and /redir bases, and "open", with no allowlist. The allowed server
// serves the demo patients under /fhir and, under /redir, redirects every request to the
// counting server (another loopback port) or to /admin of its own origin. Demo mode is off: the
// private-address guard is on, as in production.
type allowlistEnv struct {
	*testEnv
	allowed  string // base URL of the allowed server (loopback)
	trap     *counter
	trapURL  string
	admin    *atomic.Int64
	open     *cdshooks.Signer
	listed   *cdshooks.Signer
	fhirHits *atomic.Int64
}

func newAllowlistEnv(t *testing.T) *allowlistEnv {
	t.Helper()
	a := &allowlistEnv{trap: &counter{}, admin: &atomic.Int64{}, fhirHits: &atomic.Int64{}}
	trap := httptest.NewServer(a.trap)
	t.Cleanup(trap.Close)
	a.trapURL = trap.URL

	fsrv, _ := demoFHIR(t)
	mux := http.NewServeMux()
	mux.Handle("/fhir/", http.StripPrefix("/fhir", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.fhirHits.Add(1)
		fsrv.ServeHTTP(w, r)
	})))
	mux.HandleFunc("/redir/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, a.trapURL+"/fhir"+strings.TrimPrefix(r.URL.RequestURI(), "/redir"), http.StatusFound)
	})
	mux.HandleFunc("/redir-same/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin"+strings.TrimPrefix(r.URL.RequestURI(), "/redir-same"), http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/admin/", func(http.ResponseWriter, *http.Request) { a.admin.Add(1) })
	allowed := httptest.NewServer(mux)
	t.Cleanup(allowed.Close)
	a.allowed = allowed.URL

	a.listed = testSigner(t, "https://ehr-a.test/cds-client")
	a.open = testSigner(t, "https://ehr-b.test/cds-client")
	v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{Clients: []cdshooks.TrustedClient{a.listed.TrustedClient(), a.open.TrustedClient()}})
	if err != nil {
		t.Fatal(err)
	}
	a.testEnv = newEnv(t, func(c *Config) {
		c.Verifier = v
		c.AllowPrivateFHIR = false
		c.FHIRServers = map[string][]string{a.listed.Issuer: {a.allowed + "/fhir", a.allowed + "/redir", a.allowed + "/redir-same/"}}
	})
	return a
}

// hook posts a no-prefetch order-sign for pat-aco naming fhirServer, signed by s.
func (a *allowlistEnv) hook(t *testing.T, s *cdshooks.Signer, fhirServer string) (int, []byte) {
	t.Helper()
	path := serviceOf("order-sign")
	body := setJSON(t, a.demoRequest("aco-herceptin-order-sign-noprefetch"), "fhirServer", fhirServer)
	body = setJSON(t, body, "fhirAuthorization", map[string]any{"access_token": "tok-of-the-hook", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "valuerx"})
	tok, err := s.Mint(a.srv.URL+path, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, out, _ := a.do(http.MethodPost, path, body, map[string]string{"Authorization": "Bearer " + tok})
	return st, out
}

// The issue's test: a server on a second loopback port counts requests, and none reaches it from
// a hook whose fhirServer is outside the client's allowlist, directly, through a redirect from an
// allowed server, or through a name that resolves to loopback. The hooks that needed the data get
// 412 with an OperationOutcome; the allowlisted server, loopback though it is, is called.
func TestFHIRServerAllowlist(t *testing.T) {
	a := newAllowlistEnv(t)
	trapHost := strings.TrimPrefix(a.trapURL, "http://")
	_, trapPort, _ := net.SplitHostPort(trapHost)

	cases := []struct {
		name   string
		signer *cdshooks.Signer
		server string
		status int
	}{
		{"allowlisted server, loopback: trusted", a.listed, a.allowed + "/fhir", 200},
		// After the listed client's fetch: the coverage cache is per client, so the open client
		// is not answered from it.
		{"no allowlist: the allowed server is still loopback", a.open, a.allowed + "/fhir", 412},
		{"allowlisted prefix covers a sub-path", a.listed, a.allowed + "/fhir/", 200},
		{"outside the allowlist: another port", a.listed, a.trapURL + "/fhir", 412},
		{"outside the allowlist: same origin, prefix not on a segment boundary", a.listed, a.allowed + "/fhirx", 412},
		{"outside the allowlist: dot segments", a.listed, a.allowed + "/fhir/../admin", 412},
		{"redirect from an allowed server to another origin", a.listed, a.allowed + "/redir", 412},
		{"redirect from an allowed server outside its base path", a.listed, a.allowed + "/redir-same", 412},
		{"no allowlist: loopback address refused", a.open, a.trapURL + "/fhir", 412},
		{"no allowlist: localhost refused at dial time", a.open, "http://localhost:" + trapPort + "/fhir", 412},
		{"no allowlist: IPv4-mapped loopback refused", a.open, "http://[::ffff:127.0.0.1]:" + trapPort + "/fhir", 412},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := a.fhirHits.Load()
			st, out := a.hook(t, c.signer, c.server)
			if st != c.status {
				t.Fatalf("status %d, want %d: %.300s", st, c.status, out)
			}
			if st == 412 {
				var oo struct {
					ResourceType string `json:"resourceType"`
					Issue        []struct {
						Diagnostics string `json:"diagnostics"`
					} `json:"issue"`
				}
				if json.Unmarshal(out, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 ||
					!strings.Contains(oo.Issue[0].Diagnostics, "coverage") {
					t.Fatalf("412 body is not an OperationOutcome about coverage: %s", out)
				}
				if strings.Contains(string(out), trapPort) || strings.Contains(string(out), "tok-of-the-hook") {
					t.Fatalf("412 echoes the server or the token: %s", out)
				}
			}
			if st == 200 && a.fhirHits.Load() == before {
				t.Fatalf("200 without a fetch from the allowlisted server")
			}
			if st == 200 && len(decodeResponse(t, out).Cards) != 1 {
				t.Fatalf("want the Trazimera card from the fetched ACO coverage: %s", out)
			}
		})
	}
	if n := a.trap.hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server outside the allowlist", n)
	}
	if n := a.admin.Load(); n != 0 {
		t.Fatalf("%d requests reached /admin of the allowed server", n)
	}
	logs := a.logs.String()
	if !strings.Contains(logs, "not on this client's fhirServers allowlist") {
		t.Errorf("a refused fhirServer is not logged with its reason")
	}
	if strings.Contains(logs, "tok-of-the-hook") {
		t.Errorf("the hook's FHIR token is in the logs")
	}
}

// A paginated prefetch whose next link points at a server outside the allowlist is not followed
// (the fhirServer the hook names is refused, so there is no client to follow it with), and one
// whose fhirServer is allowed but whose next link leaves its base path is not followed either.
func TestFHIRServerAllowlistNextLinks(t *testing.T) {
	a := newAllowlistEnv(t)
	path := serviceOf("order-sign")
	for _, server := range []string{a.trapURL + "/fhir", a.allowed + "/fhir"} {
		body := a.demoRequest("aco-herceptin-order-sign-noprefetch")
		body = setJSON(t, body, "fhirServer", server)
		body = setJSON(t, body, "prefetch", map[string]any{
			"coverage": map[string]any{"resourceType": "Bundle", "type": "searchset",
				"link": []any{map[string]any{"relation": "next", "url": a.trapURL + "/fhir/Coverage?page=2"}}},
		})
		tok, _ := a.listed.Mint(a.srv.URL+path, time.Minute, nil)
		if st, out, _ := a.do(http.MethodPost, path, body, map[string]string{"Authorization": "Bearer " + tok}); st != 200 {
			t.Fatalf("%s: status %d: %.300s", server, st, out)
		}
	}
	if n := a.trap.hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server outside the allowlist through a next link", n)
	}
}

func TestPublicAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"8.8.8.8": true, "93.184.216.34": true, "2606:4700::1111": true, "2002:0808:0808::1": true, "64:ff9b::808:808": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.1.2.3": false, "172.16.0.1": false, "172.31.255.255": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00::1": false, "fc00::1": false,
		"100.64.0.1": false, "198.18.0.1": false, "224.0.0.1": false, "255.255.255.255": false, "ff02::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::127.0.0.1": false,
		"64:ff9b::7f00:1": false, "64:ff9b::a9fe:a9fe": false, "2002:7f00:0001::1": false, "2002:c0a8:0101::1": false,
		"192.0.2.1": false, "2001:db8::1": false, "172.32.0.1": true, "100.128.0.1": true,
	} {
		if got := publicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestParseFHIRBaseAndCovers(t *testing.T) {
	entry, err := parseFHIRBase("https://EHR.example.org/fhir/r4/")
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{
		"https://ehr.example.org/fhir/r4":           true,
		"https://ehr.example.org:443/fhir/r4/":      true,
		"https://ehr.example.org./fhir/r4/tenant-1": true,
		"https://ehr.example.org/fhir/r4x":          false,
		"https://ehr.example.org/fhir":              false,
		"http://ehr.example.org/fhir/r4":            false,
		"https://ehr.example.org:8443/fhir/r4":      false,
		"https://ehr.example.org.evil.test/fhir/r4": false,
		"https://evil.test/fhir/r4":                 false,
	} {
		b, err := parseFHIRBase(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := entry.covers(b); got != want {
			t.Errorf("covers(%s) = %v, want %v", s, got, want)
		}
	}
	for _, bad := range []string{"ftp://ehr/fhir", "/fhir", "https://user:pw@ehr/fhir", "https://ehr/fhir?x=1", "https://ehr/fhir#f", "https://ehr/fhir/../x", "https://ehr/fhir/%2e%2e/x",
		"https://ehr/fhir/..;/admin", "https://ehr/fhir/..%3b/admin", "https://ehr/fhir;jsessionid=1",
		`https://ehr/fhir/..\admin`, "https://ehr/fhir/..%5cadmin", "https://ehr/fhir/..%5C..%5Cadmin"} {
		if _, err := parseFHIRBase(bad); err == nil {
			t.Errorf("parseFHIRBase(%q) accepted", bad)
		}
	}
}

// An operator's allowlist entry that valuerx could never call, or that is plain http while
// plain http is off, is an error at start rather than a silent refusal later.
func TestFHIRServersConfigErrors(t *testing.T) {
	cat, reg, sc := defaultScoring(t, 16)
	for _, c := range []struct {
		servers   []string
		allowHTTP bool
		want      string
	}{
		{[]string{"https://ehr.example/fhir?tenant=1"}, false, "query"},
		{[]string{"http://ehr.example/fhir"}, false, "plain http"},
		{[]string{"ehr.example/fhir"}, true, "absolute"},
	} {
		_, err := New(Config{ExternalURL: "http://localhost:8080", Catalog: cat, Registry: reg, Scorer: sc,
			AllowHTTPFHIR: c.allowHTTP, FHIRServers: map[string][]string{"https://ehr.test": c.servers}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.servers, err, c.want)
		}
	}
	// A transport the guard cannot wrap is refused unless demo mode is on.
	odd := &http.Client{Transport: roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil })}
	if _, err := New(Config{ExternalURL: "http://localhost:8080", Catalog: cat, Registry: reg, Scorer: sc, FHIRClient: odd}); err == nil {
		t.Errorf("an unguardable FHIR transport was accepted")
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Through the gateway: a hookInstance that is not a UUID is a 400 OperationOutcome that says what
// the spec requires, and neither the body nor the logs echo it; logs of a valid hook carry a hash
// of its hookInstance, never the value.
func TestHookInstanceValidatedAndHashedInLogs(t *testing.T) {
	e := newEnv(t)
	path := serviceOf("order-sign")
	const phi = "SMITH^JOHN 1957-03-04 1EG4-TE5-MK73"
	st, out, _ := e.post(path, setJSON(t, e.demoRequest("aco-herceptin-order-sign-noprefetch"), "hookInstance", phi))
	if st != 400 || !strings.Contains(string(out), "OperationOutcome") || !strings.Contains(string(out), "must be a UUID") || strings.Contains(string(out), phi) {
		t.Fatalf("status %d: %s", st, out)
	}
	// A valid hook whose FHIR fetches fail logs them with the hash of its hookInstance.
	const hi = "0f8fad5b-d9cb-469f-a165-70867728950e"
	body := setJSON(t, e.demoRequest("aco-herceptin-order-sign-noprefetch"), "hookInstance", hi)
	e.fhirSrv.FailType("MedicationRequest", 503)
	if st, out, _ := e.post(path, body); st != 200 {
		t.Fatalf("status %d: %s", st, out)
	}
	logs := e.logs.String()
	if strings.Contains(logs, phi) || strings.Contains(logs, hi) {
		t.Fatalf("a hookInstance value is in the logs")
	}
	if !strings.Contains(logs, `"hook":"`+hookRef(hi)+`"`) {
		t.Fatalf("the failed fetch is not logged with the hookInstance hash %s:\n%s", hookRef(hi), logs)
	}
}

// Tenants of one issuer each have their own FHIR-server allowlist (issue 11 review, gap 5): with
// Config.TenantFHIRServers, a hook of tenant A may make valuerx call only A's server and a hook
// of tenant B only B's, though both tokens are signed with the issuer's one key. With the
// issuer's list shared by both (what FHIRServers alone gives, and all there was before), A's hooks
// could name B's server. A tenant without its own list keeps its issuer's.
func TestTenantAllowlists(t *testing.T) {
	var e *testEnv
	demo := func(w http.ResponseWriter, r *http.Request) { e.fhirSrv.ServeHTTP(w, r) } // the demo patients
	srvA, srvB, srvShared := newCountingFHIR(t, demo), newCountingFHIR(t, demo), newCountingFHIR(t, demo)
	e = newEnv(t, func(c *Config) {
		c.AllowPrivateFHIR = false
		c.FHIRServers = map[string][]string{"https://ehr.test/cds-client": {srvShared.url}}
		c.TenantFHIRServers = map[string]map[string][]string{"https://ehr.test/cds-client": {
			"tenant-a": {srvA.url},
			"tenant-b": {srvB.url},
		}}
	})
	name := "aco-herceptin-order-select"
	path := serviceOf(name)
	post := func(tenant, server string) int {
		t.Helper()
		extra := map[string]any{}
		if tenant != "" {
			extra["tenant"] = tenant
		}
		tok, err := e.signer.Mint(e.srv.URL+path, 5*time.Minute, extra)
		if err != nil {
			t.Fatal(err)
		}
		body := setJSON(t, setJSON(t, e.demoRequest(name), "prefetch", nil), "fhirServer", server)
		s, _, _ := e.do(http.MethodPost, path, body, map[string]string{"Authorization": "Bearer " + tok})
		return s
	}
	counts := func() [3]int { return [3]int{len(srvA.requests()), len(srvB.requests()), len(srvShared.requests())} }
	for _, c := range []struct {
		tenant, server string
		want           [3]int // requests to A, B and the shared server after the hook
	}{
		{"tenant-a", srvB.url, [3]int{0, 0, 0}},      // A names B's server: refused, nothing leaves
		{"tenant-a", srvShared.url, [3]int{0, 0, 0}}, // nor the issuer's list: A has its own
		{"tenant-b", srvA.url, [3]int{0, 0, 0}},      // B names A's server: refused
		{"tenant-a", srvA.url, [3]int{5, 0, 0}},      // A's own server: fetched (five searches)
		{"tenant-b", srvB.url, [3]int{5, 5, 0}},      // B's own
		{"tenant-c", srvShared.url, [3]int{5, 5, 5}}, // a tenant without a list: the issuer's
		{"tenant-c", srvA.url, [3]int{5, 5, 5}},      // ... which does not hold A's server
		{"", srvB.url, [3]int{5, 5, 5}},              // no tenant claim: the issuer's list
	} {
		before := counts()
		s := post(c.tenant, c.server)
		got := counts()
		if got != c.want {
			t.Fatalf("%q naming %s: requests to A, B, shared %v, want %v (status %d)", c.tenant, c.server, got, c.want, s)
		}
		if wantStatus := map[bool]int{true: http.StatusOK, false: http.StatusPreconditionFailed}[got != before]; s != wantStatus {
			t.Errorf("%q naming %s: status %d, want %d", c.tenant, c.server, s, wantStatus)
		}
	}
}
