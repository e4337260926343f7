package gateway

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"valuerx/cdshooks"
)

// signWith mints a token with arbitrary header and claims using the env's ES384 key.
func (e *testEnv) signWith(t *testing.T, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES384, claims)
	tok.Header["kid"] = e.signer.KID
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(e.signer.Key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *testEnv) claims(aud string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": e.signer.Issuer, "aud": e.srv.URL + aud, "exp": now.Add(4 * time.Minute).Unix(),
		"iat": now.Unix(), "jti": uuid.NewString()}
}

func unsigned(claims jwt.MapClaims) string {
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": "x"})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// Hostile or broken tokens and requests, each refused with the right status; good tokens of both
// algorithms accepted. (cdshooks has the exhaustive verifier table; this one proves the gateway
// wires it on every route, with 401 + WWW-Authenticate and no detail.)
func TestHostileRequests(t *testing.T) {
	e := newEnv(t)
	path := serviceOf("order-select")
	body := e.demoRequest("aco-herceptin-order-select")

	// A jku server that must never be called: an attacker-chosen URL.
	var jkuHits atomic.Int64
	jkuSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { jkuHits.Add(1) }))
	defer jkuSrv.Close()

	pub, _ := x509.MarshalPKIXPublicKey(e.signer.Key.(*ecdsa.PrivateKey).Public())
	hs256 := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims(path))
	hs256.Header["kid"] = e.signer.KID
	hsToken, _ := hs256.SignedString(pub)

	replayed := e.token(path)
	if s, out, _ := e.do(http.MethodPost, path, body, map[string]string{"Authorization": "Bearer " + replayed}); s != 200 {
		t.Fatalf("first use of a token: %d %s", s, out)
	}
	other, _ := cdshooks.GenerateES384()
	stranger, _ := cdshooks.NewSigner(other, "https://stranger.test", "")
	strangerTok, _ := stranger.Mint(e.srv.URL+path, time.Minute, nil)
	good := e.token(path)
	tampered := good[:len(good)-4] + "AAAA"
	if tampered == good {
		tampered = good[:len(good)-4] + "BBBB"
	}
	parts := strings.Split(e.token(path), ".")
	badPayload, _ := json.Marshal(map[string]any{"iss": e.signer.Issuer, "aud": e.srv.URL + path, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": "x"})
	payloadSwapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString(badPayload) + "." + parts[2]

	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = ' '
	}
	copy(big, body)

	mod := func(f func(jwt.MapClaims)) jwt.MapClaims { c := e.claims(path); f(c); return c }
	cases := []struct {
		name   string
		auth   string
		body   []byte
		status int
	}{
		{"no token", "", body, 401},
		{"empty bearer", "Bearer ", body, 401},
		{"basic scheme", "Basic dXNlcjpwYXNz", body, 401},
		{"malformed two segments", "Bearer abc.def", body, 401},
		{"garbage", "Bearer !!!.@@@.###", body, 401},
		{"alg none", "Bearer " + unsigned(e.claims(path)), body, 401},
		{"HS256 signed with the public key", "Bearer " + hsToken, body, 401},
		{"wrong kid", "Bearer " + e.signWith(t, map[string]any{"kid": "not-a-key"}, e.claims(path)), body, 401},
		{"missing kid", "Bearer " + e.signWith(t, map[string]any{"kid": nil}, e.claims(path)), body, 401},
		{"missing typ", "Bearer " + e.signWith(t, map[string]any{"typ": nil}, e.claims(path)), body, 401},
		{"untrusted iss", "Bearer " + strangerTok, body, 401},
		{"jku not on the allowlist", "Bearer " + e.signWith(t, map[string]any{"jku": jkuSrv.URL + "/jwks.json", "kid": "attacker"}, e.claims(path)), body, 401},
		{"wrong aud (discovery URL)", "Bearer " + e.signWith(t, nil, e.claims("/cds-services")), body, 401},
		{"aud of the other service", "Bearer " + e.signWith(t, nil, e.claims(serviceOf("order-sign"))), body, 401},
		{"expired", "Bearer " + e.signWith(t, nil, mod(func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(-10 * time.Minute).Unix()
			c["iat"] = time.Now().Add(-12 * time.Minute).Unix()
		})), body, 401},
		{"iat in the future", "Bearer " + e.signWith(t, nil, mod(func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
			c["exp"] = time.Now().Add(12 * time.Minute).Unix()
		})), body, 401},
		{"lifetime too long", "Bearer " + e.signWith(t, nil, mod(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() })), body, 401},
		{"missing jti", "Bearer " + e.signWith(t, nil, mod(func(c jwt.MapClaims) { delete(c, "jti") })), body, 401},
		{"missing exp", "Bearer " + e.signWith(t, nil, mod(func(c jwt.MapClaims) { delete(c, "exp") })), body, 401},
		{"replayed jti", "Bearer " + replayed, body, 401},
		{"tampered signature", "Bearer " + tampered, body, 401},
		{"payload swapped", "Bearer " + payloadSwapped, body, 401},
		{"oversize body", "Bearer " + e.token(path), big, 413},
		{"non-JSON body", "Bearer " + e.token(path), []byte("<xml/>"), 400},
		{"good ES384", "Bearer " + e.token(path), body, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			if c.auth != "" {
				hdr["Authorization"] = c.auth
			}
			s, out, h := e.do(http.MethodPost, path, c.body, hdr)
			if s != c.status {
				t.Fatalf("status %d want %d: %.200s", s, c.status, out)
			}
			if s == 401 {
				if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without WWW-Authenticate: Bearer")
				}
				if !strings.Contains(string(out), `"diagnostics":"unauthorized"`) || strings.Contains(string(out), "expired") || strings.Contains(string(out), "kid") {
					t.Errorf("401 body gives detail: %s", out)
				}
			}
		})
	}
	if n := jkuHits.Load(); n != 0 {
		t.Fatalf("valuerx fetched a key set from an unlisted jku %d times", n)
	}
	// No token ever reaches the logs.
	logs := e.logs.String()
	for _, tok := range []string{good, replayed, strangerTok} {
		if strings.Contains(logs, tok[strings.LastIndex(tok, ".")+1:]) {
			t.Fatal("a token signature appears in the logs")
		}
	}
}

// RS384 is accepted as well as ES384.
func TestRS384Accepted(t *testing.T) {
	e := newEnv(t)
	key, err := cdshooks.GenerateRS384()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cdshooks.NewSigner(key, "https://rsa-ehr.test", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{Clients: []cdshooks.TrustedClient{rs.TrustedClient()}})
	if err != nil {
		t.Fatal(err)
	}
	e.gw.cfg.Verifier = v
	e.gw.handler = e.gw.routes()
	path := serviceOf("order-sign")
	tok, err := rs.Mint(e.srv.URL+path, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, out, _ := e.do(http.MethodPost, path, e.demoRequest("aco-herceptin-2024-order-sign"), map[string]string{"Authorization": "Bearer " + tok})
	if s != 200 {
		t.Fatalf("RS384: %d %s", s, out)
	}
}

// CORS preflight is answered without a JWT and allows Authorization; other origins get nothing.
func TestCORSPreflight(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/cds-services", serviceOf("order-select"), serviceOf("order-sign") + "/feedback"} {
		s, _, h := e.do(http.MethodOptions, path, nil, map[string]string{
			"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization,content-type"})
		if s/100 != 2 || h.Get("Access-Control-Allow-Origin") != "https://sandbox.cds-hooks.org" ||
			!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Fatalf("%s preflight: %d %v", path, s, h)
		}
	}
	s, _, h := e.do(http.MethodOptions, "/cds-services", nil, map[string]string{"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"})
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("unknown origin allowed: %d %v", s, h)
	}
}

// A panic inside a handler becomes a 500 OperationOutcome with no stack trace for the caller.
func TestPanicRecovered(t *testing.T) {
	e := newEnv(t)
	h := e.gw.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom at /secret/path") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cds-services", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "OperationOutcome") || strings.Contains(rec.Body.String(), "goroutine") || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("got %d %s", rec.Code, rec.Body.String())
	}
}

type stackedPanic struct{ stack []byte }

func (p stackedPanic) PanicStack() []byte { return p.stack }

// A panic raised again from where it was first recovered (a store write's, raised in its
// caller's goroutine) is logged with the stack it carries, where the bug is, not the re-raise's.
func TestPanicRecoveredLogsItsOwnStack(t *testing.T) {
	e := newEnv(t)
	h := e.gw.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(stackedPanic{stack: []byte("goroutine 7 [running]:\nvaluerx/store.theBuggyWrite()")})
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cds-services", nil))
	if rec.Code != 500 || !strings.Contains(e.logs.String(), "theBuggyWrite") || strings.Contains(rec.Body.String(), "theBuggyWrite") {
		t.Fatalf("status %d, body %s; log has the write's stack: %v", rec.Code, rec.Body.String(), strings.Contains(e.logs.String(), "theBuggyWrite"))
	}
}
