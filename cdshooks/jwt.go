// CDS client authentication (CDS Hooks 2.0 "Trusting CDS Clients",
// https://cds-hooks.hl7.org/2.0/#trusting-cds-clients, and
// https://cds-hooks.hl7.org/2.0/#jwt-signing-algorithm).
//
// A CDS client (an EHR, the CDS Hooks Sandbox, Inferno) signs a short-lived
// JWT with an asymmetric key and sends it as "Authorization: Bearer <JWT>".
// The Verifier in this file checks that token against an allowlist of
// trusted clients: which issuers, which of their keys (inline JWKS, or a jku
// URL that is itself on the allowlist), which audiences, how long a token may
// live, and whether its jti has been seen before.
//
// Every refusal is an error wrapping ErrUnauthorized whose text is safe to
// log: it names the reason and, when known, the iss, kid and jti, but never
// contains the token or any part of its payload besides those three.

package cdshooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthorized is wrapped by every error Verify returns. The gateway maps
// it to 401 with "WWW-Authenticate: Bearer" and no further detail; the
// wrapped *AuthError carries the loggable reason.
var ErrUnauthorized = errors.New("cdshooks: unauthorized")

// DevIssuer is the iss of valuerx's own development client (the dev UI, the
// `valuerx token` subcommand, the load harness). cmd generates its key at
// first start and trusts it like any other client.
const DevIssuer = "urn:valuerx:dev-client"

// Defaults chosen from what real clients send (checklist §5.2): both the
// Sandbox and Inferno mint tokens with exp = iat + 300 s, and Inferno itself
// allows 60 s of leeway when it validates JWTs.
const (
	DefaultClockSkew        = 60 * time.Second
	DefaultJWKSMinRefresh   = 30 * time.Second
	DefaultJWKSMaxAge       = time.Hour
	DefaultJWKSFetchTimeout = 5 * time.Second
	DefaultJWKSMaxBytes     = 64 << 10
	DefaultReplayCacheSize  = 100_000
	// jwtMaxTokenBytes bounds the work done on a hostile Authorization
	// header before any parsing. Real CDS Hooks tokens are well under 2 KiB.
	jwtMaxTokenBytes = 16 << 10
	jwtLifetimeBase  = 5 * time.Minute
	jwtMaxLoggedLen  = 128
)

// jwtAllowedAlgs lists the asymmetric JWS algorithms accepted. CDS Hooks
// 2.0 forbids "none" and every symmetric (HS*) algorithm and recommends
// ES384 and RS384; the other sizes and RSA-PSS are accepted because nothing
// in the spec rules them out and some EHR key services default to them.
// A function rather than a package variable so that nothing can change it.
func jwtAllowedAlgs() []string {
	return []string{
		"ES256", "ES384", "ES512",
		"RS256", "RS384", "RS512",
		"PS256", "PS384", "PS512",
	}
}

// jwtAlgAllowed reports whether alg is in jwtAllowedAlgs.
func jwtAlgAllowed(alg string) bool {
	switch alg {
	case "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return true
	}
	return false
}

// ReplayMode says what to do with a jti that was already accepted.
type ReplayMode int

const (
	// ReplayReject refuses a jti (per issuer) seen within its token's
	// lifetime. This is the default and what the spec's jti is for.
	ReplayReject ReplayMode = iota
	// ReplayOff accepts repeated jtis. Only for test suites such as Inferno
	// that reuse one token for several requests (checklist §10.1).
	ReplayOff
)

// String returns the configuration spelling of m.
func (m ReplayMode) String() string {
	switch m {
	case ReplayReject:
		return "reject"
	case ReplayOff:
		return "off"
	}
	return fmt.Sprintf("ReplayMode(%d)", int(m))
}

// ParseReplayMode parses "reject" (or "") and "off", so that cmd can read
// the mode from flags or a config file.
func ParseReplayMode(s string) (ReplayMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "reject":
		return ReplayReject, nil
	case "off":
		return ReplayOff, nil
	}
	return 0, fmt.Errorf("cdshooks: unknown replay mode %q (want reject or off)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (m ReplayMode) MarshalText() ([]byte, error) {
	if m != ReplayReject && m != ReplayOff {
		return nil, fmt.Errorf("cdshooks: invalid replay mode %d", int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (yaml.v3 and
// encoding/json both use it).
func (m *ReplayMode) UnmarshalText(b []byte) error {
	v, err := ParseReplayMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// TrustedClient is one CDS client allowed to call the service.
type TrustedClient struct {
	// Issuer is the exact iss the client puts in its tokens.
	Issuer string
	// JWKS is the client's public JWK Set exchanged out of band (the spec's
	// alternative to jku). cmd loads it from a file; it may be empty when
	// JKUAllow or JWKSURL is set. Keys found here are used without any
	// fetch, even when the token names a jku, allowlisted or not.
	JWKS json.RawMessage
	// JKUAllow lists the exact jku URLs this client may point at. A token
	// whose jku is not listed is refused without any outbound request.
	JKUAllow []string
	// JWKSURL is an out-of-band key set location for tokens that carry no
	// jku header (the spec's "communicate the JWK Set out-of-band"). It is
	// fetched and cached exactly like an allowlisted jku.
	JWKSURL string
	// Tenants, when non-empty, is the allowlist for the optional tenant
	// claim; a token without tenant is then refused.
	Tenants []string
	// Replay overrides VerifierConfig.Replay for this client.
	Replay *ReplayMode
}

// VerifierConfig configures a Verifier. Zero values select the defaults.
type VerifierConfig struct {
	Clients []TrustedClient
	// ClockSkew is the leeway for exp, iat and nbf (default 60 s).
	ClockSkew time.Duration
	// MaxLifetime bounds exp - iat (default 5 min + ClockSkew: clients
	// compute iat and exp from separate clock reads, so 301 s happens).
	MaxLifetime time.Duration
	// Replay is the default replay mode (ReplayReject).
	Replay ReplayMode
	// ReplayCacheSize bounds the jti store (default 100 000 entries).
	ReplayCacheSize int
	// ReplayStore, when set, is the durable, shared record of accepted jtis (jwt_replay.go):
	// replay protection then survives a restart and holds across every instance sharing it.
	ReplayStore ReplayStore
	// Now is the clock (default time.Now).
	Now func() time.Time
	// HTTPClient fetches jku key sets. The Verifier uses a copy that
	// refuses redirects, so an allowlisted URL cannot bounce elsewhere.
	// Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// JWKSFetchTimeout bounds one key set fetch (default 5 s).
	JWKSFetchTimeout time.Duration
	// JWKSMinRefresh is the shortest interval between two fetches of the
	// same jku URL, whatever the number of unknown kids seen (default 30 s).
	JWKSMinRefresh time.Duration
	// JWKSMaxAge is how long a fetched set is used before the next token
	// that needs it triggers a refresh in the request path (default 1 h;
	// there is no background goroutine). A failed refresh keeps the last
	// good set, so a key server outage does not lock clients out.
	JWKSMaxAge time.Duration
	// JWKSMaxBytes bounds a fetched key set body (default 64 KiB).
	JWKSMaxBytes int64
	// Logger receives key set fetch failures at Warn and fetches at Debug
	// (URL, key count, cause; never a token). Default: discard.
	Logger *slog.Logger
}

// Claims are the verified contents of a CDS Hooks client JWT.
type Claims struct {
	Issuer    string
	Subject   string // not a CDS Hooks 2.0 claim; passed through if sent
	Audience  []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	ID        string // jti
	Tenant    string // optional tenant claim
	KeyID     string // header kid
	JKU       string // URL the key came from (jku or JWKSURL); "" for an inline key
	Algorithm string // header alg
}

// AuthError is the concrete error behind every refusal. Its text is safe to
// log: Reason is a fixed phrase and Issuer, KeyID and JTI are quoted and
// truncated. It unwraps to ErrUnauthorized and to the underlying cause.
type AuthError struct {
	Reason string
	Issuer string
	KeyID  string
	JTI    string
	// Audience, on an audience mismatch, is the aud of the (signature-checked) token and Expected
	// the audience the endpoint wanted: the usual cause is a client given another base URL than
	// externalURL (127.0.0.1 for localhost, http for https, a proxy path missing).
	Audience []string
	Expected string
	Err      error // cause from the JWT library or a key fetch; not printed
}

// Error implements error.
func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUnauthorized.Error())
	b.WriteString(": ")
	b.WriteString(e.Reason)
	for _, f := range [...]struct{ k, v string }{{"iss", e.Issuer}, {"kid", e.KeyID}, {"jti", e.JTI}} {
		if f.v != "" {
			fmt.Fprintf(&b, " %s=%q", f.k, jwtTruncate(f.v))
		}
	}
	if e.Reason == ReasonAudience {
		aud := make([]string, 0, min(len(e.Audience), 4))
		for _, a := range e.Audience[:min(len(e.Audience), 4)] {
			aud = append(aud, jwtTruncate(a))
		}
		fmt.Fprintf(&b, " aud=%q expected=%q", aud, jwtTruncate(e.Expected))
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrUnauthorized) and errors.Is(err, cause) work.
func (e *AuthError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnauthorized}
	}
	return []error{ErrUnauthorized, e.Err}
}

// Refusal reasons. They are stable strings so that logs and metrics can
// count them.
const (
	ReasonMissingToken    = "token missing"
	ReasonTooLarge        = "token too large"
	ReasonMalformed       = "token malformed"
	ReasonAlgorithm       = "algorithm not allowed"
	ReasonTyp             = "typ header missing or not JWT"
	ReasonCrit            = "crit header not supported"
	ReasonKID             = "kid header missing"
	ReasonIssuerMissing   = "iss missing"
	ReasonIssuerUntrusted = "issuer not trusted"
	ReasonJKUNotAllowed   = "jku not allowed"
	ReasonKeyUnknown      = "no key for kid"
	ReasonKeysUnavailable = "key set unavailable"
	ReasonKeyMismatch     = "key does not match alg"
	ReasonSignature       = "signature invalid"
	ReasonAudience        = "audience mismatch"
	ReasonExpMissing      = "exp missing"
	ReasonExpired         = "token expired"
	ReasonIatMissing      = "iat missing"
	ReasonIatFuture       = "iat in the future"
	ReasonNotYetValid     = "token not yet valid"
	ReasonLifetime        = "lifetime out of bounds" // exp not after iat, or exp - iat > MaxLifetime
	ReasonJTIMissing      = "jti missing"
	ReasonReplay          = "jti replayed"
	ReasonTenant          = "tenant not allowed"
	ReasonClaims          = "claims invalid"
	ReasonNoAudience      = "verifier given no audience"
)

// Verifier checks CDS client JWTs. It is safe for concurrent use.
type Verifier struct {
	clients  map[string]*jwtClient
	jku      map[string]*jwtRemoteSet // every allowlisted URL, shared by clients
	skew     time.Duration
	maxLife  time.Duration
	now      func() time.Time
	replay   *jwtReplayCache
	store    ReplayStore // nil: the in-memory cache alone
	log      *slog.Logger
	fetchCfg jwtFetchConfig
	algs     []string // jwtAllowedAlgs, for jwt.WithValidMethods
}

type jwtClient struct {
	issuer  string
	inline  jwtKeySet
	jku     map[string]bool
	jwksURL string
	tenants []string
	replay  ReplayMode
}

// NewVerifier validates cfg (issuers unique, inline key sets parse and hold
// only asymmetric keys, jku URLs absolute) and returns a Verifier. It does
// no network I/O: jku sets are fetched on first use.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Clients) == 0 {
		return nil, errors.New("cdshooks: verifier: no trusted clients configured")
	}
	if cfg.ClockSkew < 0 || cfg.MaxLifetime < 0 || cfg.ReplayCacheSize < 0 ||
		cfg.JWKSFetchTimeout < 0 || cfg.JWKSMinRefresh < 0 || cfg.JWKSMaxAge < 0 || cfg.JWKSMaxBytes < 0 {
		return nil, errors.New("cdshooks: verifier: negative duration or size in config")
	}
	if err := jwtCheckReplayMode(cfg.Replay); err != nil {
		return nil, err
	}
	v := &Verifier{
		clients: make(map[string]*jwtClient, len(cfg.Clients)),
		jku:     make(map[string]*jwtRemoteSet),
		skew:    jwtOr(cfg.ClockSkew, DefaultClockSkew),
		now:     cfg.Now,
		log:     cfg.Logger,
		algs:    jwtAllowedAlgs(),
	}
	v.maxLife = jwtOr(cfg.MaxLifetime, jwtLifetimeBase+v.skew)
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	v.store = cfg.ReplayStore
	v.replay = newJWTReplayCache(int(jwtOr(int64(cfg.ReplayCacheSize), DefaultReplayCacheSize)))
	v.fetchCfg = jwtFetchConfig{
		client:     jwtNoRedirectClient(cfg.HTTPClient),
		timeout:    jwtOr(cfg.JWKSFetchTimeout, DefaultJWKSFetchTimeout),
		minRefresh: jwtOr(cfg.JWKSMinRefresh, DefaultJWKSMinRefresh),
		maxAge:     jwtOr(cfg.JWKSMaxAge, DefaultJWKSMaxAge),
		maxBytes:   jwtOr(cfg.JWKSMaxBytes, DefaultJWKSMaxBytes),
	}
	for i, tc := range cfg.Clients {
		if tc.Issuer == "" {
			return nil, fmt.Errorf("cdshooks: verifier: client %d has no issuer", i)
		}
		if _, dup := v.clients[tc.Issuer]; dup {
			return nil, fmt.Errorf("cdshooks: verifier: issuer %q configured twice", tc.Issuer)
		}
		c := &jwtClient{issuer: tc.Issuer, jku: map[string]bool{}, tenants: slices.Clone(tc.Tenants), replay: cfg.Replay}
		if tc.Replay != nil {
			if err := jwtCheckReplayMode(*tc.Replay); err != nil {
				return nil, err
			}
			c.replay = *tc.Replay
		}
		if len(tc.JWKS) > 0 {
			ks, err := jwtParseKeySet(tc.JWKS, true)
			if err != nil {
				return nil, fmt.Errorf("cdshooks: verifier: issuer %q: inline JWKS: %w", tc.Issuer, err)
			}
			c.inline = ks
		}
		remote := slices.Clone(tc.JKUAllow)
		if tc.JWKSURL != "" {
			remote = append(remote, tc.JWKSURL)
			c.jwksURL = tc.JWKSURL
		}
		for _, u := range remote {
			if err := jwtCheckURL(u); err != nil {
				return nil, fmt.Errorf("cdshooks: verifier: issuer %q: key set URL %q: %w", tc.Issuer, u, err)
			}
			c.jku[u] = true // a token may also name JWKSURL as its jku
			if v.jku[u] == nil {
				v.jku[u] = newJWTRemoteSet(u)
			}
		}
		if len(c.inline) == 0 && len(c.jku) == 0 && c.jwksURL == "" {
			return nil, fmt.Errorf("cdshooks: verifier: issuer %q has no inline JWKS, allowed jku or JWKS URL", tc.Issuer)
		}
		v.clients[tc.Issuer] = c
	}
	return v, nil
}

// jwtClaims is what the JWT library decodes the payload into. It embeds
// RegisteredClaims (string-or-array aud, numeric dates) and adds tenant.
type jwtClaims struct {
	jwt.RegisteredClaims
	Tenant string `json:"tenant,omitempty"`
}

// Verify checks token (the bare JWT, without "Bearer ") for a request to
// audience, the exact external URL of the endpoint being called
// (…/cds-services, …/cds-services/{id} or …/cds-services/{id}/feedback).
// ctx bounds any jku fetch. On success the jti is recorded for replay
// protection; on failure the error wraps ErrUnauthorized and *AuthError.
func (v *Verifier) Verify(ctx context.Context, token, audience string) (*Claims, error) {
	claims, pending, err := v.VerifyDeferred(ctx, token, audience)
	if err != nil {
		return nil, err
	}
	if pending != nil {
		if err := v.Claim(ctx, pending); err != nil {
			return nil, err
		}
	}
	return claims, nil
}

// VerifyDeferred is Verify that leaves the token's claim in the ReplayStore to the caller: the
// in-memory cache has refused a replay to this instance already, and the returned claim (nil
// when there is no ReplayStore or the client's replay mode is off) must be written before
// anything is acknowledged, with the caller's own write (the hook's decisions) or by Claim. A
// caller that does neither accepts replays across instances and restarts.
func (v *Verifier) VerifyDeferred(ctx context.Context, token, audience string) (*Claims, *JTIClaim, error) {
	switch {
	case audience == "":
		return nil, nil, &AuthError{Reason: ReasonNoAudience}
	case strings.TrimSpace(token) == "":
		return nil, nil, &AuthError{Reason: ReasonMissingToken}
	case len(token) > jwtMaxTokenBytes:
		return nil, nil, &AuthError{Reason: ReasonTooLarge}
	}
	now := v.now()
	var vs jwtVerifyState
	claims := &jwtClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods(v.algs),
		jwt.WithAudience(audience),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(v.skew),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	tok, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.jwtKeyFor(ctx, t, claims, &vs)
	})
	ids := func(e *AuthError) *AuthError {
		// What a refused token says of itself is the caller's text until its issuer is known: a
		// jti is logged as a tag only (it correlates repeats, and was seen to carry a name and a
		// birth date); an untrusted issuer only when it looks like an issuer URL, and its kid not.
		e.Issuer, e.KeyID, e.JTI = claims.Issuer, loggableKID(vs.kid), loggableTag(claims.ID)
		if vs.client == nil {
			e.Issuer, e.KeyID = loggableIssuer(claims.Issuer), ""
		}
		return e
	}
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			return nil, nil, ids(ae)
		}
		ce := ids(v.jwtClassify(err, tok, claims))
		if ce.Reason == ReasonAudience && vs.client != nil {
			// The library checks claims only after the signature: this aud was signed by a
			// trusted client's key, and naming it tells the integrator what to fix.
			ce.Audience, ce.Expected = slices.Clone([]string(claims.Audience)), audience
		}
		return nil, nil, ce
	}
	c := vs.client
	switch {
	case claims.IssuedAt == nil:
		return nil, nil, ids(&AuthError{Reason: ReasonIatMissing})
	case !claims.ExpiresAt.After(claims.IssuedAt.Time) || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > v.maxLife:
		return nil, nil, ids(&AuthError{Reason: ReasonLifetime})
	case claims.ID == "":
		return nil, nil, ids(&AuthError{Reason: ReasonJTIMissing})
	case len(c.tenants) > 0 && !slices.Contains(c.tenants, claims.Tenant):
		return nil, nil, ids(&AuthError{Reason: ReasonTenant})
	case !tenantShaped(claims.Tenant):
		// Without an allowlist the tenant is still kept with every decision (as part of the
		// client): an identifier, not text (a review stored "Jane-Doe-MBI-..." with markup).
		return nil, nil, ids(&AuthError{Reason: ReasonTenant})
	}
	var pending *JTIClaim
	if c.replay == ReplayReject {
		// The entry must outlive every instant at which this token could
		// still be accepted: exp plus the leeway.
		var ae *AuthError
		if pending, ae = v.claimJTI(c.issuer+"\x00"+claims.ID, claims.ExpiresAt.Add(v.skew), now); ae != nil {
			return nil, nil, ids(ae)
		}
		if pending != nil {
			pending.issuer, pending.kid, pending.jti = claims.Issuer, loggableKID(vs.kid), loggableTag(claims.ID)
		}
	}
	return &Claims{
		Issuer:    claims.Issuer,
		Subject:   claims.Subject,
		Audience:  slices.Clone([]string(claims.Audience)),
		IssuedAt:  claims.IssuedAt.Time,
		ExpiresAt: claims.ExpiresAt.Time,
		ID:        claims.ID,
		Tenant:    claims.Tenant,
		KeyID:     vs.kid,
		JKU:       vs.jku,
		Algorithm: tok.Method.Alg(),
	}, pending, nil
}

// jwtVerifyState carries what the key function learned from the header to
// the checks after signature verification.
type jwtVerifyState struct {
	client *jwtClient
	kid    string
	jku    string
}

// jwtKeyFor is the jwt.Keyfunc: header rules, issuer allowlist, jku
// allowlist, key lookup and the alg/key agreement check. It runs after the
// library has checked alg against jwtAllowedAlgs and before the signature
// is verified, so nothing here may be trusted beyond selecting a key.
func (v *Verifier) jwtKeyFor(ctx context.Context, t *jwt.Token, claims *jwtClaims, vs *jwtVerifyState) (any, error) {
	if _, present := t.Header["crit"]; present {
		// RFC 7515 §4.1.11: extensions listed in crit must be understood,
		// and this verifier understands none.
		return nil, &AuthError{Reason: ReasonCrit}
	}
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, "JWT") {
		return nil, &AuthError{Reason: ReasonTyp}
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, &AuthError{Reason: ReasonKID}
	}
	vs.kid = kid
	if claims.Issuer == "" {
		return nil, &AuthError{Reason: ReasonIssuerMissing}
	}
	c := v.clients[claims.Issuer]
	if c == nil {
		return nil, &AuthError{Reason: ReasonIssuerUntrusted}
	}
	vs.client = c
	jku := ""
	raw, jkuPresent := t.Header["jku"]
	if jkuPresent {
		s, ok := raw.(string)
		if !ok {
			return nil, &AuthError{Reason: ReasonJKUNotAllowed}
		}
		jku = s
	}
	alg := t.Method.Alg()
	// Static keys first (inline or from a file): no I/O, and they are the
	// out-of-band set the spec prescribes. A client configured with them is
	// verified with them even when its tokens also carry a jku header (the
	// CDS Hooks sandbox always sends one): the header is not fetched, listed
	// or not.
	if k, ok := c.inline[kid]; ok {
		return k.verificationKey(alg)
	}
	if jkuPresent && !c.jku[jku] {
		// Refused before any I/O: an attacker must not be able to make
		// us fetch from a URL of their choosing.
		return nil, &AuthError{Reason: ReasonJKUNotAllowed}
	}
	src := jku
	if src == "" {
		src = c.jwksURL
	}
	if src == "" {
		return nil, &AuthError{Reason: ReasonKeyUnknown}
	}
	k, err := v.jku[src].key(ctx, kid, v.fetchCfg, v.now, v.log)
	if err != nil {
		return nil, err
	}
	vs.jku = src
	return k.verificationKey(alg)
}

// jwtClassify turns a JWT library error into a refusal with a fixed reason.
// The library's own messages are kept only as the unprinted cause.
func (v *Verifier) jwtClassify(err error, tok *jwt.Token, claims *jwtClaims) *AuthError {
	reason := ReasonClaims
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		reason = ReasonMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// ParseUnverified found an alg with no registered method ("XYZ").
		reason = ReasonAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		reason = ReasonSignature
		if tok != nil && tok.Method != nil && !jwtAlgAllowed(tok.Method.Alg()) {
			reason = ReasonAlgorithm
		}
	case claims.ExpiresAt == nil:
		reason = ReasonExpMissing
	case errors.Is(err, jwt.ErrTokenExpired):
		reason = ReasonExpired
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		reason = ReasonIatFuture
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		reason = ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		reason = ReasonAudience
	}
	return &AuthError{Reason: reason, Err: err}
}

func jwtCheckReplayMode(m ReplayMode) error {
	if m != ReplayReject && m != ReplayOff {
		return fmt.Errorf("cdshooks: verifier: invalid replay mode %d", int(m))
	}
	return nil
}

func jwtOr[T int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// tenantShaped reports whether a tenant claim is an identifier: at most 64 characters of
// letters, digits and ". _ - : /" (ids, OIDs and URLs fit), or absent.
func tenantShaped(t string) bool { return len(t) <= 64 && plainChars(t, "._-:/") }

// plainChars reports whether s holds only ASCII letters, digits and the bytes of extra: the
// shape test of the claims valuerx keeps or logs as sent (tenant, iss, kid).
func plainChars(s, extra string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r))
	})
}

// loggableTag is a short hash of a caller's value, for logs that must tell repeats apart without
// repeating the value.
func loggableTag(v string) string {
	if v == "" {
		return ""
	}
	h := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(h[:6])
}

// loggableIssuer is an untrusted iss as logged: as sent when it is a plain issuer URL
// (scheme://host[:port][/path] of URL characters, at most 96 of them), which is what an operator
// needs to recognise a misconfigured EHR; otherwise a tag.
func loggableIssuer(iss string) string {
	if iss == "" {
		return ""
	}
	u, err := url.Parse(iss)
	ok := err == nil && len(iss) <= 96 && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.User == nil && u.RawQuery == "" && u.Fragment == "" && plainChars(iss, ".-_:/~")
	if ok {
		return iss
	}
	return loggableTag(iss)
}

// loggableKID is a kid as logged: as sent when it is short and of the characters key ids are
// made of (key rotation problems need it), otherwise a tag.
func loggableKID(kid string) string {
	if len(kid) <= 64 && plainChars(kid, "._-:=+/") {
		return kid
	}
	return loggableTag(kid)
}

func jwtTruncate(s string) string {
	if len(s) <= jwtMaxLoggedLen {
		return s
	}
	return s[:jwtMaxLoggedLen] + "…"
}

// BearerToken extracts the token from an Authorization header value
// ("Bearer <token>", scheme case-insensitive per RFC 9110 §11.1). It returns
// "" when the header is absent or uses another scheme, which Verify then
// refuses as a missing token.
func BearerToken(authorization string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
