package cdshooks

// Key sets for CDS client authentication.
//
// JWK parsing is github.com/MicahParks/jwkset's. Fetching is hand-written
// here rather than jwkset's HTTP storage because the verifier needs things
// that storage does not offer: a body size limit, no background refresh
// goroutine, a per-URL minimum interval that refuses (rather than waits)
// when exceeded, and a last good set that survives a failed refresh
// together with a maximum age that triggers the next refresh.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
)

// jwtMinRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const jwtMinRSABits = 2048

// jwtKey is one verification key with the JWK metadata that constrains it.
type jwtKey struct {
	pub any    // *ecdsa.PublicKey or *rsa.PublicKey
	alg string // the JWK's alg, "" when the JWK has none
	// es384 is pub checked and prepared for the variable-time ES384 path
	// (jwt_es384.go); nil for other keys.
	es384 *es384PublicKey
}

// jwtKeySet maps kid to key. kids are unique within a set (CDS Hooks 2.0).
type jwtKeySet map[string]jwtKey

// verificationKey returns the public key if it may verify a token signed
// with alg: the JWK's alg (when present) must equal it and the key type and
// curve must be the ones alg implies. Without this check an RS384 header
// could be paired with an EC key, or ES256 with a P-384 key.
func (k jwtKey) verificationKey(alg string) (any, error) {
	if k.alg != "" && k.alg != alg {
		return nil, &AuthError{Reason: ReasonKeyMismatch}
	}
	ok := false
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		ok = alg == jwtECAlg(pub.Curve)
	case *rsa.PublicKey:
		ok = len(alg) == 5 && (alg[:2] == "RS" || alg[:2] == "PS")
	}
	if !ok {
		return nil, &AuthError{Reason: ReasonKeyMismatch}
	}
	if alg == "ES384" && k.es384 != nil {
		return k.es384, nil
	}
	return k.pub, nil
}

// jwtECAlg is the only JWS alg that fits an EC curve (RFC 7518 §3.4).
func jwtECAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// jwtParseKeySet parses a JWK Set. With strict (operator-supplied inline
// sets) every key must be a usable asymmetric signing key and any other key
// is an error, so a misconfiguration is loud at start-up. Without strict
// (sets fetched from jku) unusable keys (symmetric, encryption-only,
// unsupported curves, no kid) are skipped. Private members are ignored.
// Either way a duplicate kid is an error and an empty result is an error.
func jwtParseKeySet(raw []byte, strict bool) (jwtKeySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("decode JWK Set: %w", err)
	}
	ks := make(jwtKeySet, len(set.Keys))
	for i, rawKey := range set.Keys {
		kid, key, err := jwtParseKey(rawKey)
		if err != nil {
			if strict {
				return nil, fmt.Errorf("key %d: %w", i, err)
			}
			continue
		}
		if _, dup := ks[kid]; dup {
			return nil, fmt.Errorf("key %d: duplicate kid %q", i, kid)
		}
		ks[kid] = key
	}
	if len(ks) == 0 {
		return nil, errors.New("no usable signing keys")
	}
	return ks, nil
}

func jwtParseKey(raw json.RawMessage) (string, jwtKey, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", jwtKey{}, fmt.Errorf("decode JWK: %w", err)
	}
	switch {
	case m.KTY == jwkset.KtyOct:
		return "", jwtKey{}, errors.New("symmetric (oct) keys are not allowed")
	case m.KTY != jwkset.KtyEC && m.KTY != jwkset.KtyRSA:
		return "", jwtKey{}, fmt.Errorf("unsupported kty %q", m.KTY)
	case m.KID == "":
		return "", jwtKey{}, errors.New("key has no kid")
	case m.USE != "" && m.USE != jwkset.UseSig:
		return "", jwtKey{}, fmt.Errorf("key use %q is not sig", m.USE)
	case len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify):
		return "", jwtKey{}, errors.New("key_ops lacks verify")
	case m.ALG != "" && !jwtAlgAllowed(m.ALG.String()):
		return "", jwtKey{}, fmt.Errorf("key alg %q is not an allowed signing algorithm", m.ALG)
	}
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: false}, jwkset.JWKValidateOptions{})
	if err != nil {
		return "", jwtKey{}, fmt.Errorf("kid %q: %w", m.KID, err)
	}
	k := jwtKey{pub: j.Key(), alg: m.ALG.String()}
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		if jwtECAlg(pub.Curve) == "" {
			return "", jwtKey{}, fmt.Errorf("kid %q: unsupported curve", m.KID)
		}
		// crypto/ecdsa would refuse every token for a point off the curve
		// or at infinity; refuse the key itself, loudly, at load time.
		if _, err := pub.Bytes(); err != nil {
			return "", jwtKey{}, fmt.Errorf("kid %q: invalid EC public key: %w", m.KID, err)
		}
		if pub.Curve == elliptic.P384() {
			fast, err := newES384PublicKey(pub)
			if err != nil {
				return "", jwtKey{}, fmt.Errorf("kid %q: %w", m.KID, err)
			}
			k.es384 = fast
		}
	case *rsa.PublicKey:
		if pub.N.BitLen() < jwtMinRSABits {
			return "", jwtKey{}, fmt.Errorf("kid %q: RSA key shorter than %d bits", m.KID, jwtMinRSABits)
		}
	default:
		return "", jwtKey{}, fmt.Errorf("kid %q: unexpected key type %T", m.KID, pub)
	}
	if _, err := k.verificationKey(jwtDefaultAlg(k.pub, k.alg)); err != nil {
		return "", jwtKey{}, fmt.Errorf("kid %q: alg %q does not fit the key", m.KID, m.ALG)
	}
	return m.KID, k, nil
}

// jwtDefaultAlg is the alg a key is used with when its JWK names none:
// the curve's ES alg, or RS384 for RSA (the spec's recommendation).
func jwtDefaultAlg(pub any, alg string) string {
	if alg != "" {
		return alg
	}
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		return jwtECAlg(pub.Curve)
	case *rsa.PublicKey:
		return "RS384"
	}
	return ""
}

// jwtFetchConfig holds the Verifier's settings for jku fetches.
type jwtFetchConfig struct {
	client     *http.Client
	timeout    time.Duration
	minRefresh time.Duration
	maxAge     time.Duration
	maxBytes   int64
}

// jwtRemoteSet is the cached key set behind one allowlisted jku URL.
type jwtRemoteSet struct {
	url string
	// sem serialises fetches; waiting on it honours ctx. Holding it while
	// fetching means a burst of tokens with a new kid causes one request.
	sem chan struct{}

	mu          sync.Mutex
	keys        jwtKeySet // last good set; nil until the first success
	fetchedAt   time.Time
	lastAttempt time.Time
}

func newJWTRemoteSet(u string) *jwtRemoteSet {
	return &jwtRemoteSet{url: u, sem: make(chan struct{}, 1)}
}

// lookup reports the key for kid and whether the set is still fresh.
func (s *jwtRemoteSet) lookup(kid string, now time.Time, maxAge time.Duration) (k jwtKey, found, fresh, have bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, found = s.keys[kid]
	return k, found, s.keys != nil && now.Sub(s.fetchedAt) < maxAge, s.keys != nil
}

// key returns the key for kid, fetching the set when it has never been
// fetched, when kid is unknown (key rotation) or when the set is older than
// maxAge; at most one fetch per minRefresh. A failed fetch leaves the last
// good set in place.
func (s *jwtRemoteSet) key(ctx context.Context, kid string, cfg jwtFetchConfig, clock func() time.Time, log *slog.Logger) (jwtKey, error) {
	if k, found, fresh, _ := s.lookup(kid, clock(), cfg.maxAge); found && fresh {
		return k, nil
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return jwtKey{}, &AuthError{Reason: ReasonKeysUnavailable, Err: ctx.Err()}
	}
	now := clock()
	// Another request may have fetched while this one waited.
	if k, found, fresh, _ := s.lookup(kid, now, cfg.maxAge); found && fresh {
		return k, nil
	}
	s.mu.Lock()
	prevAttempt := s.lastAttempt
	due := prevAttempt.IsZero() || now.Sub(prevAttempt) >= cfg.minRefresh
	if due {
		s.lastAttempt = now
	}
	s.mu.Unlock()
	var fetchErr error
	if due {
		ks, err := jwtFetchKeySet(ctx, s.url, cfg)
		switch {
		case err == nil:
			s.mu.Lock()
			s.keys, s.fetchedAt = ks, clock()
			s.mu.Unlock()
			log.DebugContext(ctx, "cdshooks: jku key set fetched",
				slog.String("jku", s.url), slog.Int("keys", len(ks)))
		case ctx.Err() != nil:
			// The caller gave up; that says nothing about the key server,
			// so it must not use up the refresh budget.
			s.mu.Lock()
			s.lastAttempt = prevAttempt
			s.mu.Unlock()
			fetchErr = err
		default:
			log.WarnContext(ctx, "cdshooks: jku key set fetch failed; keeping last good set",
				slog.String("jku", s.url), slog.String("error", err.Error()))
			fetchErr = err
		}
	}
	k, found, _, have := s.lookup(kid, now, cfg.maxAge)
	switch {
	case found:
		return k, nil
	case !have:
		return jwtKey{}, &AuthError{Reason: ReasonKeysUnavailable, Err: fetchErr}
	}
	return jwtKey{}, &AuthError{Reason: ReasonKeyUnknown, Err: fetchErr}
}

// jwtFetchKeySet GETs a JWK Set with a timeout and a body size limit.
func jwtFetchKeySet(ctx context.Context, u string, cfg jwtFetchConfig) (jwtKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("jku request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := cfg.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jku fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("jku fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jku read: %w", err)
	}
	if int64(len(body)) > cfg.maxBytes {
		return nil, fmt.Errorf("jku fetch: body larger than %d bytes", cfg.maxBytes)
	}
	ks, err := jwtParseKeySet(body, false)
	if err != nil {
		return nil, fmt.Errorf("jku key set: %w", err)
	}
	return ks, nil
}

// jwtNoRedirectClient returns a copy of hc (or a default client) that does
// not follow redirects: the allowlist names the URL keys come from, and a
// redirect would let that server delegate to anywhere.
func jwtNoRedirectClient(hc *http.Client) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Timeout = 10 * time.Second
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// jwtCheckURL accepts absolute http(s) URLs. Plain http is allowed because
// local Inferno instances serve their JWKS over http; the exact-match
// allowlist is the operator's decision.
func jwtCheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("not an absolute http(s) URL")
	}
	return nil
}
