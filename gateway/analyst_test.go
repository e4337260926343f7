package gateway

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// oidcProvider is a real OpenID Connect provider in-process: discovery document and JWKS over
// HTTP on loopback, RS256 tokens signed with its own key. It counts key set fetches.
type oidcProvider struct {
	srv       *httptest.Server
	key       *rsa.PrivateKey
	kid       string
	jwksHits  atomic.Int64
	discovery atomic.Int64

	// The authorization code flow: /auth signs the user in at once and redirects back with a
	// code; /token checks the code, the client and the PKCE verifier and returns an ID token.
	mu        sync.Mutex
	codes     map[string]authRequest
	editID    func(jwt.MapClaims) // changes the ID token's claims (tests of refusals)
	exchanges atomic.Int64
}

type authRequest struct{ clientID, redirect, nonce, challenge string }

func newOIDCProvider(t *testing.T) *oidcProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &oidcProvider{key: key, kid: "idp-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/realms/staff/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discovery.Add(1)
		iss := p.srv.URL + "/realms/staff"
		writeJSON(w, 200, map[string]any{"issuer": iss, "jwks_uri": iss + "/certs",
			"authorization_endpoint": iss + "/auth", "token_endpoint": iss + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("/realms/staff/certs", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		writeJSON(w, 200, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": p.kid,
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("/realms/staff/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" {
			http.Error(w, "bad authorization request", 400)
			return
		}
		code := uuid.NewString()
		p.mu.Lock()
		p.codes[code] = authRequest{q.Get("client_id"), q.Get("redirect_uri"), q.Get("nonce"), q.Get("code_challenge")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("/realms/staff/token", func(w http.ResponseWriter, r *http.Request) {
		p.exchanges.Add(1)
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		p.mu.Lock()
		ar, found := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !found || id != "valuerx-dashboard" || secret != "dashboard-secret" || ar.clientID != id || ar.redirect != r.PostForm.Get("redirect_uri") ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != ar.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		idTok := p.token(t, p.key, func(c jwt.MapClaims) {
			c["aud"], c["nonce"] = "valuerx-dashboard", ar.nonce
			if p.editID != nil {
				p.editID(c)
			}
		})
		writeJSON(w, 200, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": idTok})
	})
	p.codes = map[string]authRequest{}
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *oidcProvider) issuer() string { return p.srv.URL + "/realms/staff" }

// token signs claims over these defaults: the provider's issuer, audience valuerx-analytics,
// group vbc-analysts, valid for five minutes.
func (p *oidcProvider) token(t *testing.T, key *rsa.PrivateKey, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": p.issuer(), "aud": "valuerx-analytics", "sub": "u-4711", "azp": "valuerx-analytics",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"realm_access": map[string]any{"roles": []string{"offline_access", "vbc-analysts"}}}
	if edit != nil {
		edit(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = p.kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// Analytics without a credential is 401 for scripts (with the schemes in WWW-Authenticate) and
// a redirect to the login form for browsers; local accounts: wrong password and unknown names
// refused alike, the right password admitted; credentials never reach the logs.
func TestAnalyticsLocalAccounts(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/analytics/summary", "/analytics/contracts"} {
		st, out, h := e.do(http.MethodGet, path, nil, nil)
		if st != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `Basic realm="valuerx-analytics"`) || !strings.Contains(string(out), "OperationOutcome") {
			t.Fatalf("%s without credentials: %d %v %s", path, st, h, out)
		}
		if strings.Contains(string(out), "mssp-aco") {
			t.Fatalf("%s leaked data to an anonymous caller", path)
		}
	}
	basic := func(user, pw string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))}
	}
	for _, c := range []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"wrong password", basic(testAnalyst, "correct horse battery"), 401},
		{"unknown account", basic("mallory", testAnalystPassword), 401},
		{"empty password", basic(testAnalyst, ""), 401},
		{"a CDS client's JWT is no analyst credential", bearer(e.token("/analytics/contracts")), 401},
		{"unknown scheme", map[string]string{"Authorization": "Digest x"}, 401},
		{"right password", analystHeader(), 200},
	} {
		st, out, h := e.do(http.MethodGet, "/analytics/contracts", nil, c.hdr)
		if st != c.status {
			t.Fatalf("%s: %d %s", c.name, st, out)
		}
		if st == 200 && (!strings.Contains(string(out), "mssp-aco") || h.Get("Cache-Control") != "no-store") {
			t.Fatalf("%s: %s %v", c.name, out, h)
		}
	}
	// A browser is sent to the login form, keeping where it was going.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/analytics/summary", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st, h := resp.StatusCode, resp.Header
	if st != http.StatusSeeOther || h.Get("Location") != "/analytics/login?next=%2Fanalytics%2Fsummary" {
		t.Fatalf("browser without a session: %d %v", st, h)
	}
	logs := e.logs.String()
	if strings.Contains(logs, testAnalystPassword) || strings.Contains(logs, "correct horse battery\"") {
		t.Fatal("a password reached the logs")
	}
	if !strings.Contains(logs, `"reason":"wrong name or password"`) || !strings.Contains(logs, `"reason":"no credential"`) {
		t.Fatalf("refusals are not logged with their reason:\n%s", logs)
	}
}

// The login form sets a signed session cookie (HttpOnly, SameSite=Strict, Secure and __Host-
// when configured) that admits the browser until it expires; a tampered or expired cookie, a
// cross-origin form post and an open redirect in next are refused.
func TestAnalyticsLoginSession(t *testing.T) {
	now := time.Now()
	clock := &now
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { return *clock }
		c.Analysts.SessionTTL = time.Hour
	})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	st, page, _ := e.do(http.MethodGet, "/analytics/login?next=/analytics/contracts", nil, nil)
	if st != 200 || !strings.Contains(string(page), `name="password"`) || !strings.Contains(string(page), `value="/analytics/contracts"`) {
		t.Fatalf("login form: %d %s", st, page)
	}
	post := func(form url.Values, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/analytics/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(url.Values{"username": {testAnalyst}, "password": {"nope"}, "next": {"/analytics/contracts"}}, nil); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong password: %d %v", resp.StatusCode, resp.Cookies())
	}
	if resp := post(url.Values{"username": {testAnalyst}, "password": {testAnalystPassword}}, map[string]string{"Origin": "https://evil.test"}); resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Fatalf("cross-origin login: %d", resp.StatusCode)
	}
	resp := post(url.Values{"username": {testAnalyst}, "password": {testAnalystPassword}, "next": {"//evil.test/analytics/x"}}, map[string]string{"Origin": e.srv.URL})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/analytics/summary" {
		t.Fatalf("login with an off-site next: %d %v", resp.StatusCode, resp.Header)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	ck := cookies[0]
	if ck.Name != "valuerx_analyst" || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.MaxAge != 3600 || ck.Path != "/" {
		t.Fatalf("session cookie attributes: %+v", ck)
	}
	if strings.Contains(ck.Value, testAnalystPassword) {
		t.Fatal("the cookie carries the password")
	}
	withCookie := func(v string) int {
		st, _, _ := e.do(http.MethodGet, "/analytics/summary", nil, map[string]string{"Cookie": ck.Name + "=" + v})
		return st
	}
	if st := withCookie(ck.Value); st != 200 {
		t.Fatalf("session cookie not admitted: %d", st)
	}
	// Forged: another account name under the same signature, and a flipped signature byte.
	parts := strings.Split(ck.Value, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("root")) + "." + parts[2] + "." + parts[3]
	sig := []byte(parts[3])
	sig[0] ^= 1
	flipped := parts[0] + "." + parts[1] + "." + parts[2] + "." + string(sig)
	for name, v := range map[string]string{"another name": forged, "bad signature": flipped, "garbage": "x.y", "empty": ""} {
		if st := withCookie(v); st != 401 {
			t.Fatalf("%s cookie: %d", name, st)
		}
	}
	*clock = now.Add(time.Hour + time.Second)
	if st := withCookie(ck.Value); st != 401 {
		t.Fatalf("expired session: %d", st)
	}
	// Logout clears the cookie.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/analytics/logout", nil)
	out, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if c := out.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("logout cookies %v", c)
	}
}

// Over https the cookie is Secure and __Host- prefixed.
func TestAnalyticsSecureCookie(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Analysts.SecureCookie = true })
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(e.srv.URL+"/analytics/login", url.Values{"username": {testAnalyst}, "password": {testAnalystPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Cookies(); len(c) != 1 || c[0].Name != "__Host-valuerx_analyst" || !c[0].Secure || c[0].Path != "/" || c[0].Domain != "" {
		t.Fatalf("cookies %+v", c)
	}
}

// A flood of password guesses is cut off with 429 before bcrypt runs, so it cannot take the CPU
// the hooks need.
func TestAnalyticsPasswordAttemptsBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Analysts.PasswordChecksPerSecond = 1 }) // burst 2
	wrong := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("analyst:guess"))}
	var got429 bool
	for range 5 + accountReserveBurst { // the account's own reserve comes after the rations
		st, _, h := e.do(http.MethodGet, "/analytics/summary", nil, wrong)
		if st == 429 && h.Get("Retry-After") != "" {
			got429 = true
		}
	}
	if !got429 {
		t.Fatalf("%d guesses in a row at 1/s (burst 2, then the account's reserve of %d) were not throttled", 5+accountReserveBurst, accountReserveBurst)
	}
}

// OpenID Connect: a real provider in-process. Valid token with the group admitted; wrong
// audience, missing group, expired, another issuer, another key and no token refused; tokens with
// made-up kids do not make valuerx hammer the provider's key set.
func TestAnalyticsOIDC(t *testing.T) {
	p := newOIDCProvider(t)
	e := newEnv(t, func(c *Config) {
		c.Analysts = AnalystAuth{OIDC: &AnalystOIDC{Issuer: p.issuer(), Audience: "valuerx-analytics",
			Claim: "realm_access.roles", Values: []string{"vbc-analysts", "pharmacy"}}}
	})
	if n := p.discovery.Load(); n != 0 {
		t.Fatalf("discovery ran %d times before any token: an IdP outage would stop valuerx from starting", n)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := []struct {
		name   string
		tok    string
		status int
		reason string
	}{
		{"valid", p.token(t, p.key, nil), 200, ""},
		{"valid, role given as a string", p.token(t, p.key, func(c jwt.MapClaims) { c["realm_access"] = map[string]any{"roles": "pharmacy"} }), 200, ""},
		{"valid, audience among several", p.token(t, p.key, func(c jwt.MapClaims) { c["aud"] = []string{"account", "valuerx-analytics"} }), 200, ""},
		{"wrong audience", p.token(t, p.key, func(c jwt.MapClaims) { c["aud"] = "ehr-portal" }), 401, "token audience mismatch"},
		{"missing group", p.token(t, p.key, func(c jwt.MapClaims) { c["realm_access"] = map[string]any{"roles": []string{"offline_access"}} }), 401, "token lacks the required realm_access.roles value"},
		{"group in another claim", p.token(t, p.key, func(c jwt.MapClaims) {
			delete(c, "realm_access")
			c["groups"] = []string{"vbc-analysts"}
		}), 401, "token lacks the required"},
		{"expired", p.token(t, p.key, func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(-20 * time.Minute).Unix()
			c["exp"] = time.Now().Add(-10 * time.Minute).Unix()
		}), 401, "token expired"},
		{"another issuer", p.token(t, p.key, func(c jwt.MapClaims) { c["iss"] = "https://idp.evil.test" }), 401, "token issuer mismatch"},
		{"signed by another key", p.token(t, other, nil), 401, "token signature invalid"},
		{"not a JWT", "abc.def", 401, "token malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, out, h := e.do(http.MethodGet, "/analytics/summary", nil, bearer(c.tok))
			if st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, out)
			}
			if st == 401 && h.Get("WWW-Authenticate") != `Bearer realm="valuerx-analytics"` {
				t.Fatalf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
			}
			if c.reason != "" && !strings.Contains(e.logs.String(), `"reason":"`+c.reason) {
				t.Fatalf("refusal not logged as %q", c.reason)
			}
		})
	}
	if st, _, _ := e.do(http.MethodGet, "/analytics/summary", nil, nil); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	// Made-up kids: at most one key set fetch per 30 s, however many tokens arrive.
	before := p.jwksHits.Load()
	for i := range 20 {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": p.issuer(), "aud": "valuerx-analytics", "exp": time.Now().Add(time.Minute).Unix()})
		tok.Header["kid"] = "made-up-" + string(rune('a'+i))
		s, _ := tok.SignedString(other)
		if st, _, _ := e.do(http.MethodGet, "/analytics/summary", nil, bearer(s)); st != 401 {
			t.Fatalf("made-up kid admitted: %d", st)
		}
	}
	if n := p.jwksHits.Load() - before; n > 1 {
		t.Fatalf("20 tokens with unknown kids caused %d key set fetches", n)
	}
	logs := e.logs.String()
	if strings.Contains(logs, cases[0].tok[strings.LastIndexByte(cases[0].tok, '.')+1:]) {
		t.Fatal("a token signature reached the logs")
	}
}

// With the provider down, analytics answers 503 and the gateway keeps serving hooks; discovery
// is retried at most every 30 s.
func TestAnalyticsOIDCProviderDown(t *testing.T) {
	var tries atomic.Int64
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tries.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer down.Close()
	e := newEnv(t, func(c *Config) {
		c.Analysts = AnalystAuth{OIDC: &AnalystOIDC{Issuer: down.URL, Audience: "a", Values: []string{"g"}}}
	})
	for range 3 {
		if st, _, _ := e.do(http.MethodGet, "/analytics/summary", nil, bearer("x.y.z")); st != 503 {
			t.Fatalf("provider down: %d", st)
		}
	}
	if n := tries.Load(); n != 1 {
		t.Fatalf("discovery tried %d times within 30 s", n)
	}
	if st, out, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select")); st != 200 {
		t.Fatalf("hooks must not depend on the analysts' provider: %d %s", st, out)
	}
}

// /metrics is not on the gateway's listener unless asked; when it is, it needs an analyst.
func TestMetricsOnGateway(t *testing.T) {
	e := newEnv(t)
	if st, _, _ := e.do(http.MethodGet, "/metrics", nil, nil); st != 404 {
		t.Fatalf("/metrics on the gateway by default: %d", st)
	}
	e = newEnv(t, func(c *Config) { c.MetricsOnGateway = true })
	if st, _, _ := e.do(http.MethodGet, "/metrics", nil, nil); st != 401 {
		t.Fatalf("/metrics without credentials: %d", st)
	}
	st, out, _ := e.do(http.MethodGet, "/metrics", nil, analystHeader())
	if st != 200 || !strings.Contains(string(out), "valuerx_") {
		t.Fatalf("/metrics with credentials: %d %.200s", st, out)
	}
	rec := httptest.NewRecorder()
	e.gw.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "valuerx_analyst_auth_failures_total") {
		t.Fatalf("MetricsHandler: %d", rec.Code)
	}
}

// CORS headers are for the CDS Hooks routes only: analytics and the demo FHIR server are never
// readable from another origin, even with cors.origins "*". Refused preflights are logged.
func TestCORSOnlyOnCDSRoutes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CORSOrigins = []string{"*"} })
	_, _, h := e.do(http.MethodGet, "/analytics/summary", nil, mergeHdr(analystHeader(), map[string]string{"Origin": "https://evil.test"}))
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("analytics readable cross-origin: %v", h)
	}
	e = newEnv(t)
	e.do(http.MethodOptions, serviceOf("order-select"), nil, map[string]string{"Origin": "https://ehr.evil.test", "Access-Control-Request-Method": "POST"})
	e.do(http.MethodOptions, serviceOf("order-select"), nil, map[string]string{"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,x-trace-id"})
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"CORS preflight refused"`) || !strings.Contains(logs, `"origin":"https://ehr.evil.test"`) || !strings.Contains(logs, "origin not in cors.origins") {
		t.Fatalf("refused preflight not logged with its reason:\n%s", logs)
	}
	if !strings.Contains(logs, "requested headers not allowed: x-trace-id") {
		t.Fatalf("unlisted request header not logged")
	}
}

func mergeHdr(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// An audience mismatch (the classic: the client was given 127.0.0.1 where valuerx knows itself as
// localhost) is logged with the token's aud and the audience expected, never the token, so an
// integrator who sees "Failed to connect" can find why.
func TestAudienceMismatchLogged(t *testing.T) {
	e := newEnv(t)
	path := serviceOf("order-select")
	wrong := strings.Replace(e.srv.URL, "127.0.0.1", "localhost", 1) + path
	tok, err := e.signer.Mint(wrong, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _, _ := e.do(http.MethodPost, path, e.demoRequest("aco-herceptin-order-select"), bearer(tok))
	if st != 401 {
		t.Fatalf("status %d", st)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "audience mismatch") || !strings.Contains(logs, wrong) || !strings.Contains(logs, e.srv.URL+path) {
		t.Fatalf("audience mismatch not logged with both audiences:\n%s", logs)
	}
	if strings.Contains(logs, tok[strings.LastIndexByte(tok, '.')+1:]) {
		t.Fatal("the token reached the logs")
	}
}

// A browser signs in with the provider (authorization code flow with PKCE, state and nonce) and
// reads the analytics with the session cookie valuerx sets; a forged state, a replayed callback,
// an ID token for another client, with another nonce or without the group are refused.
func TestAnalyticsOIDCBrowserSignIn(t *testing.T) {
	p := newOIDCProvider(t)
	e := newEnv(t, func(c *Config) {
		c.Analysts = AnalystAuth{OIDC: &AnalystOIDC{Issuer: p.issuer(), Audience: "valuerx-analytics",
			Claim: "realm_access.roles", Values: []string{"vbc-analysts"}, ClientID: "valuerx-dashboard", ClientSecret: "dashboard-secret"}}
	})
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	get := func(c *http.Client, u string) (int, string, *http.Response) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), resp
	}
	// Without a session (and no local accounts) a browser goes through the provider and lands on
	// valuerx's "signed in" page, which moves on to where it was going.
	b := browser()
	st, page, _ := get(b, e.srv.URL+"/analytics/contracts")
	if st != 200 || !strings.Contains(page, `url=/analytics/contracts`) || p.exchanges.Load() != 1 {
		t.Fatalf("sign-in: %d %s (code exchanges %d)", st, page, p.exchanges.Load())
	}
	st, page, _ = get(b, e.srv.URL+"/analytics/contracts")
	if st != 200 || !strings.Contains(page, "mssp-aco") {
		t.Fatalf("analytics with the provider's session: %d %s", st, page)
	}

	// Refusals, each in a fresh browser.
	noRedirect := func(c *http.Client) *http.Client {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return c
	}
	startFlow := func() (*http.Client, string) {
		c := noRedirect(browser())
		_, _, resp := get(c, e.srv.URL+"/analytics/oidc/login")
		return c, resp.Header.Get("Location")
	}
	// Forged state: the callback's state is not the one sealed in this browser's cookie.
	c, auth := startFlow()
	_, _, resp := get(c, auth)
	cb, _ := url.Parse(resp.Header.Get("Location"))
	q := cb.Query()
	q.Set("state", "forged")
	cb.RawQuery = q.Encode()
	if st, _, _ := get(c, cb.String()); st != 400 {
		t.Fatalf("forged state: %d", st)
	}
	// A callback replayed in a browser that never started the flow has no state cookie.
	if st, _, _ := get(noRedirect(browser()), resp.Header.Get("Location")); st != 400 {
		t.Fatalf("callback without the state cookie: %d", st)
	}
	for _, tc := range []struct {
		name   string
		edit   func(jwt.MapClaims)
		status int
	}{
		{"id_token for another client", func(c jwt.MapClaims) { c["aud"] = "another-app" }, 401},
		{"another nonce", func(c jwt.MapClaims) { c["nonce"] = "replayed" }, 401},
		{"without the group", func(c jwt.MapClaims) { c["realm_access"] = map[string]any{"roles": []string{"nurse"}} }, 403},
		{"expired", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, 401},
	} {
		p.editID = tc.edit
		c, auth := startFlow()
		_, _, resp := get(c, auth)
		st, _, out := get(c, resp.Header.Get("Location"))
		if st != tc.status {
			t.Fatalf("%s: %d", tc.name, st)
		}
		for _, ck := range out.Cookies() {
			if ck.Name == "valuerx_analyst" && ck.MaxAge >= 0 {
				t.Fatalf("%s: a session cookie was set", tc.name)
			}
		}
		if st, _, _ := get(c, e.srv.URL+"/analytics/summary"); st == 200 {
			t.Fatalf("%s: analytics readable after a refused sign-in", tc.name)
		}
	}
	p.editID = nil
	if strings.Contains(e.logs.String(), "dashboard-secret") {
		t.Fatal("the client secret reached the logs")
	}
}

// With local accounts and a provider, the login form offers both.
func TestAnalyticsLoginPageOffersProvider(t *testing.T) {
	p := newOIDCProvider(t)
	e := newEnv(t, func(c *Config) {
		c.Analysts.OIDC = &AnalystOIDC{Issuer: p.issuer(), Audience: "valuerx-analytics", Values: []string{"g"}, ClientID: "valuerx-dashboard"}
	})
	st, page, _ := e.do(http.MethodGet, "/analytics/login?next=/analytics/contracts", nil, nil)
	if st != 200 || !strings.Contains(page2(page), "/analytics/oidc/login?next=%2Fanalytics%2Fcontracts") || !strings.Contains(string(page), `name="password"`) {
		t.Fatalf("login page: %d %s", st, page)
	}
}

func page2(b []byte) string { return strings.ReplaceAll(string(b), "&amp;", "&") }

// Password checks cannot be turned into a denial of service of the hooks (issue 11 review: 60
// guesses at 10 a second took the hooks from 3 ms to 1 s on 2 cores): a verified name and
// password is recognised without bcrypt again, checks are rationed per address before the global
// ration is spent, and only one bcrypt runs at a time.
func TestAnalyticsPasswordChecksRationed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Analysts.PasswordChecksPerSecond = 4 }) // burst 8; per address 2/s, burst 4
	an := e.gw.analysts
	// A scraper with the right password, twenty times in a row: one bcrypt, never throttled.
	for i := range 20 {
		if who, fail := an.checkPassword("10.0.0.1", testAnalyst, testAnalystPassword); fail != nil || who != "local:"+testAnalyst {
			t.Fatalf("right password, scrape %d: %v", i, fail)
		}
	}
	// Guesses from one address stop at its burst and the account's reserve; another address
	// still gets its checks.
	var throttled int
	for range 6 + accountReserveBurst {
		if _, fail := an.checkPassword("10.0.0.2", testAnalyst, "guess"); fail != nil && fail.status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled != 2 {
		t.Fatalf("%d guesses from one address at burst 4 and a reserve of %d: %d throttled, want 2", 6+accountReserveBurst, accountReserveBurst, throttled)
	}
	if _, fail := an.checkPassword("10.0.0.3", testAnalyst, "guess"); fail == nil || fail.status != http.StatusUnauthorized {
		t.Fatalf("another address's first guess: %v, want 401", fail)
	}
	// While a check is running, another is refused at once instead of queueing bcrypt work.
	an.checking <- struct{}{}
	if _, fail := an.checkPassword("10.0.0.4", testAnalyst, "other guess"); fail == nil || fail.status != http.StatusTooManyRequests {
		t.Fatalf("a check while another runs: %v, want 429", fail)
	}
	<-an.checking
	// The cache holds verified credentials only: a wrong password is never remembered as right.
	if _, fail := an.checkPassword("10.0.0.5", testAnalyst, testAnalystPassword+"x"); fail == nil || fail.status != http.StatusUnauthorized {
		t.Fatalf("wrong password after the right one was cached: %v", fail)
	}
}

// A flood of guesses locks out no analyst whose name it does not guess (security review, 2
// December 2026: wrong guesses from four addresses at 5 a second turned every sign-in of another
// account into 429 for as long as they lasted, and a scraper's after verifiedPasswordTTL).
func TestPasswordFloodLocksOutOnlyItsTarget(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("second analyst's password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		c.Analysts.PasswordChecksPerSecond = 2 // the default: overall burst 4, per address burst 3
		c.Analysts.Accounts = append(c.Analysts.Accounts, AnalystAccount{Name: "analyst2", PasswordHash: string(hash)})
	})
	an := e.gw.analysts
	// The flood: guesses at the first account from twenty addresses, all behind one /64 or one
	// IPv4 proxy, until both rations and that account's reserve are spent.
	for i := range 20 {
		an.checkPassword(fmt.Sprintf("2001:db8:1:2::%x", i+1), testAnalyst, "guess")
		an.checkPassword("192.0.2.10", testAnalyst, "guess")
	}
	if _, fail := an.checkPassword("192.0.2.10", testAnalyst, "guess"); fail == nil || fail.status != http.StatusTooManyRequests {
		t.Fatalf("the flood's target after the flood: %v, want 429", fail)
	}
	if _, fail := an.checkPassword("2001:db8:1:2::ffff", "nobody", "guess"); fail == nil || fail.status != http.StatusTooManyRequests {
		t.Fatalf("an unknown name from the flood's /64: %v, want 429", fail)
	}
	// The second analyst, from behind the same proxy, still signs in on its own reserve, and a
	// wrong password of theirs is still a 401, not a lockout.
	if who, fail := an.checkPassword("192.0.2.10", "analyst2", "second analyst's password"); fail != nil || who != "local:analyst2" {
		t.Fatalf("another account during the flood: %q %v", who, fail)
	}
	if _, fail := an.checkPassword("192.0.2.10", "analyst2", "typo"); fail == nil || fail.status != http.StatusUnauthorized {
		t.Fatalf("another account's typo during the flood: %v, want 401", fail)
	}
	// Verified credentials are keyed by the account's hash: a changed password stops at once.
	an.accounts["analyst2"] = []byte("$2a$04$changedchangedchangedchangedchangedchangedchangedcha")
	if who, fail := an.checkPassword("192.0.2.11", "analyst2", "second analyst's password"); fail == nil {
		t.Fatalf("the old password after its hash changed: %q", who)
	}
}

func TestRationKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", "2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "2001:db8:1:2::1": "2001:db8:1:2::/64",
		"::ffff:192.0.2.1": "::ffff:192.0.2.1", "not an address": "not an address",
	} {
		if got := rationKey(in); got != want {
			t.Errorf("rationKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// Logout is refused from another origin, as the login form is (the review found a cross-site POST
// could log an analyst out).
func TestAnalyticsLogoutCrossOrigin(t *testing.T) {
	e := newEnv(t)
	st, _, h := e.do(http.MethodPost, analystLogoutPath, nil, map[string]string{"Origin": "https://evil.example"})
	if st != http.StatusForbidden || strings.Contains(h.Get("Set-Cookie"), "valuerx_analyst") {
		t.Fatalf("cross-origin logout: %d %v", st, h)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+analystLogoutPath, nil)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("same-site logout: %d %v", resp.StatusCode, resp.Header)
	}
}

// Paths the caller wrote are never logged as written: an analytics path is named by the route it
// matched, and any other path below /analytics or a service is {other} (the issue 11 review had
// "/analytics/Patient John Smith MBI ... DOB ..." in the access log from a 404).
func TestRouteLabelsHoldNoCallerText(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{
		"/analytics/Patient%20John%20Smith%20MBI%201EG4TE5MK73%20DOB%201950-02-03",
		"/analytics/JohnSmith1EG4TE5MK73",
		"/cds-services/valuerx-order-sign/JohnSmith1EG4TE5MK73",
		"/cds-services/JohnSmith1EG4TE5MK73/feedback",
	} {
		e.do(http.MethodGet, p, nil, nil)
	}
	e.do(http.MethodGet, "/analytics/summary", nil, analystHeader())
	logs := e.logs.String()
	if strings.Contains(logs, "John") || strings.Contains(logs, "1EG4TE5MK73") {
		t.Fatalf("caller text in the logs:\n%s", logs)
	}
	for _, want := range []string{`"route":"/analytics/{other}"`, `"route":"/cds-services/valuerx-order-sign/{other}"`,
		`"route":"/cds-services/{unknown}/feedback"`, `"route":"/analytics/summary"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

// The SQLite store's health is on /metrics: the -wal file's size (the hook's commit put frames in
// it), the failed checkpoints and the panicking writes (none here; store's
// TestCheckpointFailuresCounted and TestCommitterSurvivesAPanickingWrite make them).
func TestWALMetrics(t *testing.T) {
	e := newEnv(t)
	if st, out, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select")); st != 200 {
		t.Fatalf("hook: %d %s", st, out)
	}
	rec := httptest.NewRecorder()
	e.gw.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	var wal, failures, panics float64 = -1, -1, -1
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "valuerx_store_wal_bytes "); ok {
			wal, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, "valuerx_store_checkpoint_failures_total "); ok {
			failures, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, "valuerx_store_write_panics_total "); ok {
			panics, _ = strconv.ParseFloat(v, 64)
		}
	}
	if wal <= 0 || failures != 0 || panics != 0 {
		t.Fatalf("valuerx_store_wal_bytes %v (want > 0 after a commit), valuerx_store_checkpoint_failures_total %v, valuerx_store_write_panics_total %v (want 0 and 0)", wal, failures, panics)
	}
}
