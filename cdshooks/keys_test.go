package cdshooks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const jwtTestJKUIss = "https://jku-ehr.example.org"

// jwtKeyServer is a real loopback JWKS server whose answer tests change.
type jwtKeyServer struct {
	srv  *httptest.Server
	hits atomic.Int64

	mu      sync.Mutex
	status  int
	body    []byte
	handler http.HandlerFunc // replaces the canned answer when set
}

func newJWTKeyServer(t testing.TB, body []byte) *jwtKeyServer {
	t.Helper()
	ks := &jwtKeyServer{status: http.StatusOK, body: body}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.hits.Add(1)
		ks.mu.Lock()
		status, b, h := ks.status, ks.body, ks.handler
		ks.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

func (ks *jwtKeyServer) set(status int, body []byte) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.status, ks.body = status, body
}

func (ks *jwtKeyServer) url() string { return ks.srv.URL + "/.well-known/jwks.json" }

// jwtJoinSets merges the keys of several JWK Sets.
func jwtJoinSets(t testing.TB, sets ...[]byte) []byte {
	t.Helper()
	var keys []map[string]any
	for _, s := range sets {
		var set struct{ Keys []map[string]any }
		if err := json.Unmarshal(s, &set); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, set.Keys...)
	}
	return jwtSetJSON(t, keys...)
}

// jwtJKUFixture: signers a (in the served set from the start) and b (a
// rotated-in key), both for jwtTestJKUIss with jku = the server's URL.
type jwtJKUFixture struct {
	*jwtFixture
	server *jwtKeyServer
	a, b   *Signer
}

func newJWTJKUFixture(t testing.TB) *jwtJKUFixture {
	t.Helper()
	f := &jwtJKUFixture{jwtFixture: newJWTFixture(t)}
	f.a = jwtLoadSigner(t, "es384.pem", jwtTestJKUIss)
	kb, err := GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	f.b, err = NewSigner(kb, jwtTestJKUIss, "")
	if err != nil {
		t.Fatal(err)
	}
	f.server = newJWTKeyServer(t, f.a.PublicJWKS())
	for _, s := range []*Signer{f.a, f.b} {
		s.JKU, s.Now = f.server.url(), f.clock.Now
	}
	return f
}

func (f *jwtJKUFixture) verifier(t testing.TB, edit func(*VerifierConfig)) *Verifier {
	t.Helper()
	cfg := VerifierConfig{
		Clients:    []TrustedClient{{Issuer: jwtTestJKUIss, JKUAllow: []string{f.server.url()}}},
		Now:        f.clock.Now,
		HTTPClient: f.server.srv.Client(),
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *jwtJKUFixture) verify(t testing.TB, v *Verifier, s *Signer) (*Claims, error) {
	t.Helper()
	return v.Verify(context.Background(), jwtMint(t, s, jwtTestAud, nil), jwtTestAud)
}

func TestJKUFetchedOnceAndCached(t *testing.T) {
	f := newJWTJKUFixture(t)
	v := f.verifier(t, nil)
	for i := range 5 {
		claims, err := f.verify(t, v, f.a)
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if claims.JKU != f.server.url() || claims.KeyID != f.a.KID {
			t.Errorf("claims jku %q kid %q", claims.JKU, claims.KeyID)
		}
		f.clock.Advance(time.Minute)
	}
	if n := f.server.hits.Load(); n != 1 {
		t.Errorf("key server hits = %d, want 1", n)
	}
}

func TestJKUConcurrentFirstUseFetchesOnce(t *testing.T) {
	f := newJWTJKUFixture(t)
	v := f.verifier(t, nil)
	toks := make([]string, 16)
	for i := range toks {
		toks[i] = jwtMint(t, f.a, jwtTestAud, nil)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(toks))
	for i, tok := range toks {
		wg.Go(func() { _, errs[i] = v.Verify(context.Background(), tok, jwtTestAud) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("token %d: %v", i, err)
		}
	}
	if n := f.server.hits.Load(); n != 1 {
		t.Errorf("key server hits = %d, want 1", n)
	}
}

func TestJKUKeyRotationRateLimited(t *testing.T) {
	f := newJWTJKUFixture(t)
	v := f.verifier(t, nil)
	stranger := &Signer{Key: f.b.Key, KID: "never-published", Issuer: jwtTestJKUIss, JKU: f.server.url(), Alg: "ES384", Now: f.clock.Now}

	steps := []struct {
		name    string
		advance time.Duration
		rotate  bool
		signer  *Signer
		reason  string // "" = accepted
		hits    int64
	}{
		{"first use fetches", 0, false, f.a, "", 1},
		{"server rotates in key b", 0, true, nil, "", 1},
		{"b within the refresh interval is unknown, no fetch", 10 * time.Second, false, f.b, ReasonKeyUnknown, 1},
		{"b after the interval triggers one refresh", 25 * time.Second, false, f.b, "", 2},
		{"a still works from the refreshed set", 0, false, f.a, "", 2},
		{"unknown kid right after a refresh: no fetch", 5 * time.Second, false, stranger, ReasonKeyUnknown, 2},
		{"unknown kid again: still no fetch", 5 * time.Second, false, stranger, ReasonKeyUnknown, 2},
		{"unknown kid after the interval: one fetch", 30 * time.Second, false, stranger, ReasonKeyUnknown, 3},
		{"and again at once: none", 0, false, stranger, ReasonKeyUnknown, 3},
	}
	for _, st := range steps {
		f.clock.Advance(st.advance)
		if st.rotate {
			f.server.set(http.StatusOK, jwtJoinSets(t, f.a.PublicJWKS(), f.b.PublicJWKS()))
			continue
		}
		_, err := f.verify(t, v, st.signer)
		if got := jwtReason(err); got != st.reason {
			t.Fatalf("%s: reason %q, want %q (%v)", st.name, got, st.reason, err)
		}
		if n := f.server.hits.Load(); n != st.hits {
			t.Fatalf("%s: hits = %d, want %d", st.name, n, st.hits)
		}
	}
}

func TestJKUOutageKeepsLastGoodSet(t *testing.T) {
	f := newJWTJKUFixture(t)
	v := f.verifier(t, func(c *VerifierConfig) { c.JWKSMaxAge = 10 * time.Minute })
	if _, err := f.verify(t, v, f.a); err != nil {
		t.Fatal(err)
	}
	// The key server fails; once the set is stale a refresh is attempted,
	// fails, and the last good set keeps verifying.
	f.server.set(http.StatusServiceUnavailable, []byte("down"))
	f.clock.Advance(11 * time.Minute)
	if _, err := f.verify(t, v, f.a); err != nil {
		t.Fatalf("after a failed refresh: %v", err)
	}
	if n := f.server.hits.Load(); n != 2 {
		t.Errorf("hits = %d, want 2 (one failed refresh)", n)
	}
	// Stale and within the refresh interval: no new attempt.
	f.clock.Advance(5 * time.Second)
	if _, err := f.verify(t, v, f.a); err != nil {
		t.Fatal(err)
	}
	if n := f.server.hits.Load(); n != 2 {
		t.Errorf("hits = %d, want 2", n)
	}
	// The server disappears altogether (connection refused).
	f.server.srv.Close()
	f.clock.Advance(time.Minute)
	if _, err := f.verify(t, v, f.a); err != nil {
		t.Fatalf("with the key server gone: %v", err)
	}
	// A kid that was never in the good set stays unknown, not "unavailable".
	if _, err := f.verify(t, v, f.b); jwtReason(err) != ReasonKeyUnknown {
		t.Errorf("unknown kid during outage: %v", err)
	}
}

func TestJKUBadKeyServers(t *testing.T) {
	var elsewhereHits atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhereHits.Add(1)
	}))
	defer elsewhere.Close()

	cases := []struct {
		name    string
		handler func(f *jwtJKUFixture) http.HandlerFunc
		edit    func(*VerifierConfig)
	}{
		{"500", func(*jwtJKUFixture) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }
		}, nil},
		{"not JSON", func(*jwtJKUFixture) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }
		}, nil},
		{"body over the limit", func(f *jwtJKUFixture) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				// A valid set padded past 1 KiB with whitespace.
				_, _ = w.Write(append(f.a.PublicJWKS(), []byte(strings.Repeat(" ", 2048))...))
			}
		}, func(c *VerifierConfig) { c.JWKSMaxBytes = 1024 }},
		{"only a symmetric key", func(*jwtJKUFixture) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","kid":"x","k":"c2VjcmV0"}]}`))
			}
		}, nil},
		{"redirect elsewhere", func(*jwtJKUFixture) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, elsewhere.URL, http.StatusFound) }
		}, nil},
		{"slower than the fetch timeout", func(*jwtJKUFixture) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
		}, func(c *VerifierConfig) { c.JWKSFetchTimeout = 50 * time.Millisecond }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newJWTJKUFixture(t)
			f.server.mu.Lock()
			f.server.handler = tc.handler(f)
			f.server.mu.Unlock()
			v := f.verifier(t, tc.edit)
			_, err := f.verify(t, v, f.a)
			if got := jwtReason(err); got != ReasonKeysUnavailable {
				t.Fatalf("reason %q, want %q (%v)", got, ReasonKeysUnavailable, err)
			}
		})
	}
	if n := elsewhereHits.Load(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

func TestJKUCancelledContextDoesNotUseRefreshBudget(t *testing.T) {
	f := newJWTJKUFixture(t)
	v := f.verifier(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, jwtMint(t, f.a, jwtTestAud, nil), jwtTestAud); jwtReason(err) != ReasonKeysUnavailable {
		t.Fatalf("cancelled ctx: %v", err)
	}
	// Same instant, fresh context: the fetch must happen now, not 30 s later.
	if _, err := f.verify(t, v, f.a); err != nil {
		t.Fatalf("after a cancelled attempt: %v", err)
	}
}

func TestJKUInlineKeysNeedNoFetch(t *testing.T) {
	f := newJWTJKUFixture(t)
	v := f.verifier(t, func(c *VerifierConfig) { c.Clients[0].JWKS = f.a.PublicJWKS() })
	if _, err := f.verify(t, v, f.a); err != nil {
		t.Fatal(err)
	}
	if n := f.server.hits.Load(); n != 0 {
		t.Errorf("hits = %d, want 0: the kid was inline", n)
	}
	// A kid not inline falls through to the allowlisted jku.
	f.server.set(http.StatusOK, f.b.PublicJWKS())
	if _, err := f.verify(t, v, f.b); err != nil {
		t.Fatal(err)
	}
	if n := f.server.hits.Load(); n != 1 {
		t.Errorf("hits = %d, want 1", n)
	}
}

func TestJKUFetchedSetSkipsUnusableKeys(t *testing.T) {
	f := newJWTJKUFixture(t)
	f.server.set(http.StatusOK, jwtJoinSets(t,
		[]byte(`{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`),
		f.a.PublicJWKS()))
	v := f.verifier(t, nil)
	if _, err := f.verify(t, v, f.a); err != nil {
		t.Fatalf("usable key next to unusable ones: %v", err)
	}
}

func TestSignerDefaults(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	f := newJWTFixture(t)
	cases := []struct {
		name string
		s    func() (*Signer, error)
		alg  string
	}{
		{"P-384", func() (*Signer, error) { return NewSigner(f.ec.Key, DevIssuer, "") }, "ES384"},
		{"RSA", func() (*Signer, error) { return NewSigner(f.rsa.Key, DevIssuer, "") }, "RS384"},
		{"P-256", func() (*Signer, error) { return NewSigner(p256, DevIssuer, "") }, "ES256"},
		{"P-521", func() (*Signer, error) { return NewSigner(p521, DevIssuer, "") }, "ES512"},
		{"explicit kid", func() (*Signer, error) { return NewSigner(p256, DevIssuer, "kid-1") }, "ES256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.s()
			if err != nil {
				t.Fatal(err)
			}
			if s.Alg != tc.alg {
				t.Errorf("alg %q, want %q", s.Alg, tc.alg)
			}
			if tc.name == "explicit kid" {
				if s.KID != "kid-1" {
					t.Errorf("kid %q", s.KID)
				}
			} else if tp, _ := jwtThumbprint(s.Key.Public()); s.KID != tp || len(s.KID) != 43 {
				t.Errorf("kid %q, want the 43-char thumbprint %q", s.KID, tp)
			}
			// Whatever it mints, a Verifier built from its TrustedClient accepts.
			v, err := NewVerifier(VerifierConfig{Clients: []TrustedClient{s.TrustedClient()}})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Mint(jwtTestAud, time.Minute, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), tok, jwtTestAud); err != nil {
				t.Fatalf("own token refused: %v", err)
			}
		})
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, fn := range map[string]func() (*Signer, error){
		"ed25519":      func() (*Signer, error) { return NewSigner(edKey, DevIssuer, "") },
		"nil key":      func() (*Signer, error) { return NewSigner(nil, DevIssuer, "") },
		"empty issuer": func() (*Signer, error) { return NewSigner(p256, "", "") },
	} {
		if _, err := fn(); err == nil {
			t.Errorf("%s: NewSigner accepted", name)
		}
	}
}

func TestThumbprintRFC7638(t *testing.T) {
	// RFC 7638 §3.1 worked example.
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	got, err := jwtThumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %q, want %q", got, want)
	}
}

func TestMintShape(t *testing.T) {
	f := newJWTFixture(t)
	s := f.ec
	s.JKU = "https://valuerx.example/.well-known/jwks.json"
	tok, err := s.Mint(jwtTestAud, 2*time.Minute, map[string]any{"tenant": "org-1", "iat": nil})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	var header, claims map[string]any
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	wantHeader := map[string]any{"alg": "ES384", "typ": "JWT", "kid": s.KID, "jku": s.JKU}
	for k, v := range wantHeader {
		if header[k] != v {
			t.Errorf("header %s = %v, want %v", k, header[k], v)
		}
	}
	if len(header) != len(wantHeader) {
		t.Errorf("header has extra members: %v", header)
	}
	now := f.clock.Now().Unix()
	if claims["iss"] != jwtTestECIss || claims["aud"] != jwtTestAud || claims["tenant"] != "org-1" ||
		claims["exp"] != float64(now+120) {
		t.Errorf("claims = %v", claims)
	}
	if _, ok := claims["iat"]; ok {
		t.Error("iat not removed by a nil extra")
	}
	jti, _ := claims["jti"].(string)
	if b, err := hex.DecodeString(jti); err != nil || len(b) != 16 {
		t.Errorf("jti %q is not 32 hex digits", jti)
	}
	seen := map[string]bool{}
	for range 50 {
		tok := jwtMint(t, s, jwtTestAud, nil)
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		var c struct{ JTI string }
		_ = json.Unmarshal(b, &c)
		if seen[c.JTI] {
			t.Fatalf("jti %q repeated", c.JTI)
		}
		seen[c.JTI] = true
	}
}

func TestMintRefusesBadAlg(t *testing.T) {
	f := newJWTFixture(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	cases := []*Signer{
		{Key: f.ec.Key, KID: "k", Issuer: "i", Alg: "RS384"},
		{Key: f.ec.Key, KID: "k", Issuer: "i", Alg: "ES256"},
		{Key: f.ec.Key, KID: "k", Issuer: "i", Alg: "HS256"},
		{Key: f.ec.Key, KID: "k", Issuer: "i", Alg: "none"},
		{Key: f.rsa.Key, KID: "k", Issuer: "i", Alg: "ES384"},
		{Key: edKey, KID: "k", Issuer: "i", Alg: "EdDSA"},
		{Key: f.ec.Key, Issuer: "i", Alg: "ES384"},
	}
	for _, s := range cases {
		if tok, err := s.Mint(jwtTestAud, time.Minute, nil); err == nil {
			t.Errorf("%T/%s minted %d bytes", s.Key, s.Alg, len(tok))
		}
		if s.KID != "" && s.PublicJWKS() != nil {
			t.Errorf("%T/%s: PublicJWKS for an unusable signer", s.Key, s.Alg)
		}
	}
}

func TestPublicJWKS(t *testing.T) {
	f := newJWTFixture(t)
	for _, s := range []*Signer{f.ec, f.rsa} {
		raw := s.PublicJWKS()
		var set struct{ Keys []map[string]any }
		if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("%s: %s (%v)", s.Alg, raw, err)
		}
		k := set.Keys[0]
		if k["kid"] != s.KID || k["alg"] != s.Alg || k["use"] != "sig" {
			t.Errorf("%s: jwk metadata %v", s.Alg, k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("%s: public JWKS carries private member %q", s.Alg, private)
			}
		}
		ks, err := jwtParseKeySet(raw, true)
		if err != nil {
			t.Fatal(err)
		}
		type equaler interface{ Equal(x crypto.PublicKey) bool }
		if !ks[s.KID].pub.(equaler).Equal(s.Key.Public()) {
			t.Errorf("%s: parsed key differs from the signer's public key", s.Alg)
		}
	}
}

func TestGenerateKeys(t *testing.T) {
	t.Parallel()
	ec, err := GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	if ec.Curve != elliptic.P384() {
		t.Fatalf("GenerateES384 curve %v", ec.Curve.Params().Name)
	}
	if s, err := NewSigner(ec, DevIssuer, ""); err != nil || s.Alg != "ES384" {
		t.Fatalf("signer for a generated P-384 key: %v, %v", s, err)
	}
	if testing.Short() {
		t.Skip("3072-bit RSA generation takes seconds under -race")
	}
	rs, err := GenerateRS384()
	if err != nil {
		t.Fatal(err)
	}
	if rs.N.BitLen() != jwtRSABits {
		t.Fatalf("GenerateRS384 bits %d", rs.N.BitLen())
	}
	if s, err := NewSigner(rs, DevIssuer, ""); err != nil || s.Alg != "RS384" {
		t.Fatalf("signer for a generated RSA key: %v, %v", s, err)
	}
}

func TestPEMRoundTrip(t *testing.T) {
	ec, err := GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	rs := newJWTFixture(t).rsa.Key.(*rsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pem  func() ([]byte, error)
		alg  string
	}{
		{"PKCS8 EC", func() ([]byte, error) { return MarshalPrivatePEM(ec) }, "ES384"},
		{"PKCS8 RSA", func() ([]byte, error) { return MarshalPrivatePEM(rs) }, "RS384"},
		{"SEC1 EC after a certificate block", func() ([]byte, error) {
			return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
				pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...), nil
		}, "ES384"},
		{"PKCS1 RSA", func() ([]byte, error) {
			return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rs)}), nil
		}, "RS384"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.pem()
			if err != nil {
				t.Fatal(err)
			}
			s, err := LoadSignerPEM(b, DevIssuer)
			if err != nil {
				t.Fatal(err)
			}
			if s.Alg != tc.alg || s.Issuer != DevIssuer {
				t.Errorf("alg %q issuer %q", s.Alg, s.Issuer)
			}
			again, _ := LoadSignerPEM(b, DevIssuer)
			if again.KID != s.KID {
				t.Errorf("kid not stable across loads: %q vs %q", s.KID, again.KID)
			}
			v, err := NewVerifier(VerifierConfig{Clients: []TrustedClient{s.TrustedClient()}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), jwtMint(t, s, jwtTestAud, nil), jwtTestAud); err != nil {
				t.Fatalf("round-tripped key's token refused: %v", err)
			}
		})
	}
	for name, b := range map[string][]byte{
		"empty":            nil,
		"not PEM":          []byte("hello"),
		"certificate only": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"corrupt PKCS8":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x01}}),
		"encrypted":        pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x01}}),
	} {
		if _, err := LoadSignerPEM(b, DevIssuer); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPEM, err := MarshalPrivatePEM(edKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadSignerPEM(edPEM, DevIssuer)
	if err == nil {
		t.Error("Ed25519 key loaded as a signer")
	}
	if errors.Is(err, ErrUnauthorized) {
		t.Error("a config error must not look like an auth refusal")
	}
}

// TestJWKSURLOutOfBand covers a client whose key set location was agreed
// out of band: tokens without jku use it, and a token naming it as jku is
// allowed too.
func TestJWKSURLOutOfBand(t *testing.T) {
	f := newJWTJKUFixture(t)
	v := f.verifier(t, func(c *VerifierConfig) {
		c.Clients[0].JKUAllow = nil
		c.Clients[0].JWKSURL = f.server.url()
	})
	noJKU := *f.a
	noJKU.JKU = ""
	claims, err := f.verify(t, v, &noJKU)
	if err != nil {
		t.Fatalf("token without jku: %v", err)
	}
	if claims.JKU != f.server.url() {
		t.Errorf("claims.JKU = %q", claims.JKU)
	}
	if _, err := f.verify(t, v, f.a); err != nil {
		t.Fatalf("token naming the JWKS URL as jku: %v", err)
	}
	if n := f.server.hits.Load(); n != 1 {
		t.Errorf("hits = %d, want 1", n)
	}
}

// TestInfernoProfile mimics the Inferno CRD server suite (checklist §5.2,
// §10.1): a jku-published set with an EC P-384 and an RSA key carrying
// use "sig" and key_ops ["verify"], ES384 and RS384 tokens with a 64-hex
// jti and no tenant, and one token reused for several requests, which the
// per-client ReplayOff allows.
func TestInfernoProfile(t *testing.T) {
	f := newJWTFixture(t)
	var set []map[string]any
	for _, s := range []*Signer{f.ec, f.rsa} {
		var one struct{ Keys []map[string]any }
		if err := json.Unmarshal(s.PublicJWKS(), &one); err != nil {
			t.Fatal(err)
		}
		one.Keys[0]["key_ops"] = []string{"verify"}
		set = append(set, one.Keys[0])
	}
	ks := newJWTKeyServer(t, jwtSetJSON(t, set...))
	iss := ks.srv.URL + "/custom/crd_server"
	jku := iss + "/jwks.json"
	off := ReplayOff
	v, err := NewVerifier(VerifierConfig{
		Clients:    []TrustedClient{{Issuer: iss, JKUAllow: []string{jku}, Replay: &off}},
		Now:        f.clock.Now,
		HTTPClient: ks.srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	jti := strings.Repeat("ab", 32)
	for _, base := range []*Signer{f.ec, f.rsa} {
		s := *base
		s.Issuer, s.JKU = iss, jku
		tok := jwtMint(t, &s, jwtTestAud, map[string]any{"jti": jti})
		for i := range 3 {
			claims, err := v.Verify(context.Background(), tok, jwtTestAud)
			if err != nil {
				t.Fatalf("%s use %d: %v", s.Alg, i, err)
			}
			if claims.JKU != jku || claims.ID != jti {
				t.Errorf("%s: claims %+v", s.Alg, claims)
			}
		}
	}
	if n := ks.hits.Load(); n != 1 {
		t.Errorf("key server hits = %d, want 1", n)
	}
}
