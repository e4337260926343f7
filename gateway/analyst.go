package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"valuerx/fhir"
)

// Analyst access to /analytics/* (and to /metrics when it is served on the gateway's listener).
// The analytics show contracts, savings and clinicians' decisions: staff of the value-based care
// team may read them, an EHR client's JWT or an anonymous caller may not. Three credentials:
//
//   - Authorization: Bearer <JWT> from the health system's OpenID Connect provider: the issuer's
//     keys come from its discovery document and JWKS (github.com/coreos/go-oidc), the token's aud
//     must include the configured audience, and a configured claim (groups, roles, or a dotted
//     path such as realm_access.roles) must hold one of the configured values.
//   - Authorization: Basic for local accounts (small sites, scripts, Prometheus), bcrypt-hashed.
//   - A session cookie set by the login form at /analytics/login for local accounts in a browser:
//     HMAC-signed, HttpOnly, SameSite=Strict, Secure when valuerx is reached over https.
//
// Browsers (Accept: text/html) without a credential are sent to the login form; everything else
// gets 401 with WWW-Authenticate naming the schemes configured.

// AnalystAuth configures analyst access. A zero AnalystAuth admits nobody.
type AnalystAuth struct {
	OIDC     *AnalystOIDC
	Accounts []AnalystAccount
	// SessionKey signs session cookies (at least 32 bytes). Empty: a random key per process, so
	// sessions end when valuerx restarts.
	SessionKey []byte
	// SessionTTL is how long a login lasts (default 8 h).
	SessionTTL time.Duration
	// SecureCookie marks the session cookie Secure (and names it __Host-...): set it when
	// browsers reach valuerx over https, at valuerx or at a proxy in front of it.
	SecureCookie bool
	// PasswordChecksPerSecond bounds bcrypt work from password checks over all callers, so a
	// flood of guesses cannot take the CPU the hooks need: one check at cost 12 is about 0.2 s of
	// a core, so the default of 2 a second (bursts of 4) holds guessing to a fifth of a core.
	// Beyond it, or beyond half of it from one address (bursts of 3; an IPv6 address counts
	// by its /64), or while another check is running, 429. Each configured account keeps a small
	// reserve of its own beyond those (accountReserve), so a flood of guesses locks out at most
	// the account it names, not every analyst behind the same proxy. A verified name and
	// password is remembered for verifiedPasswordTTL, so a Prometheus scraper's Basic
	// credentials cost one bcrypt, not one per scrape.
	PasswordChecksPerSecond float64
}

// AnalystOIDC is the OpenID Connect provider whose tokens admit analysts.
type AnalystOIDC struct {
	// Issuer is the provider's issuer URL; its /.well-known/openid-configuration is read on the
	// first token valuerx sees (not at start: an IdP outage must not stop the CDS service).
	Issuer string
	// Audience must be among the token's aud values (the client id or API audience the IdP
	// puts in tokens meant for valuerx).
	Audience string
	// Claim is the claim holding groups or roles, a dotted path for nested claims
	// ("realm_access.roles"); default "groups". Values lists those that admit (any one).
	Claim  string
	Values []string
	// ClientScopes limits the analysts of some Values to some clients (EHRs): value -> the
	// client identities (store.Decision.Client: the JWT iss, and " tenant=..." with a tenant)
	// whose decisions they may see on every dashboard page, JSON API and CSV export. An analyst
	// admitted by a value without an entry (the health system's own team) sees every client;
	// one admitted only by values with entries sees the union of theirs.
	ClientScopes map[string][]string
	// HTTPClient fetches the discovery document and key set (default: 10 s timeout).
	HTTPClient *http.Client
	// ClientID and ClientSecret let browsers sign in (authorization code flow with PKCE, at
	// /analytics/oidc/login; the provider must allow the redirect URI externalURL +
	// /analytics/oidc/callback). Without a ClientID only bearer tokens are accepted. The
	// secret may be empty for a public client (PKCE protects the code).
	ClientID     string
	ClientSecret string
}

// AnalystAccount is a local account: a name and a bcrypt hash of its password
// (`valuerx hash-password` makes one).
type AnalystAccount struct {
	Name         string
	PasswordHash string
	// Clients, when not nil, are the only clients (EHRs: store.Decision.Client) whose decisions
	// the account may see; nil (the default, the health system's own team): every client.
	Clients []string
}

const (
	analystRealm       = "valuerx-analytics"
	defaultSessionTTL  = 8 * time.Hour
	jwksMinRefresh     = 30 * time.Second
	discoveryRetry     = 30 * time.Second
	analystLoginPath   = "/analytics/login"
	analystLogoutPath  = "/analytics/logout"
	analystDefaultPage = "/analytics/summary"
	// The browser sign-in with the OpenID Connect provider (authorization code flow with PKCE).
	analystOIDCLoginPath    = "/analytics/oidc/login"
	analystOIDCCallbackPath = "/analytics/oidc/callback"
	oidcStateCookie         = "valuerx_oidc_state"
)

// analysts verifies analyst credentials. It is safe for concurrent use.
type analysts struct {
	accounts   map[string][]byte   // name -> bcrypt hash
	scopes     map[string][]string // name -> the clients a scoped account may see (absent: every client)
	dummy      []byte              // compared against for unknown names, so timing does not tell names apart
	key        []byte
	ttl        time.Duration
	secure     bool
	cookieName string
	limiter    *rate.Limiter                         // bcrypt checks over all callers
	perAddr    *expirable.LRU[string, *rate.Limiter] // bcrypt checks per remote address
	addrRate   rate.Limit
	addrBurst  int
	reserve    map[string]*rate.Limiter                  // per configured account: checks beyond the rations above
	checking   chan struct{}                             // one bcrypt at a time
	verified   *expirable.LRU[[sha256.Size]byte, string] // keyed MAC of a verified name and password
	oidc       *oidcAnalysts
	external   *url.URL
	now        func() time.Time
	failures   *prometheus.CounterVec
}

func newAnalysts(a AnalystAuth, externalURL string, now func() time.Time, reg prometheus.Registerer) (*analysts, error) {
	an := &analysts{accounts: map[string][]byte{}, ttl: a.SessionTTL, secure: a.SecureCookie, now: now}
	if an.ttl <= 0 {
		an.ttl = defaultSessionTTL
	}
	ext, err := url.Parse(externalURL)
	if err != nil {
		return nil, fmt.Errorf("gateway: analysts: external URL: %w", err)
	}
	an.external = ext
	maxCost := bcrypt.MinCost
	for i, acc := range a.Accounts {
		if acc.Name == "" || strings.ContainsAny(acc.Name, ":\x00") {
			return nil, fmt.Errorf("gateway: analyst account %d: a name without ':' is required", i)
		}
		if _, dup := an.accounts[acc.Name]; dup {
			return nil, fmt.Errorf("gateway: analyst account %q configured twice", acc.Name)
		}
		cost, err := bcrypt.Cost([]byte(acc.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("gateway: analyst account %q: passwordHash is not a bcrypt hash (valuerx hash-password makes one): %w", acc.Name, err)
		}
		maxCost = max(maxCost, cost)
		an.accounts[acc.Name] = []byte(acc.PasswordHash)
		if acc.Clients != nil {
			if an.scopes == nil {
				an.scopes = map[string][]string{}
			}
			an.scopes[acc.Name] = slices.Clone(acc.Clients)
		}
	}
	if len(an.accounts) > 0 {
		var b [16]byte
		_, _ = rand.Read(b[:])
		if an.dummy, err = bcrypt.GenerateFromPassword(b[:], maxCost); err != nil {
			return nil, fmt.Errorf("gateway: analysts: %w", err)
		}
	}
	switch {
	case len(a.SessionKey) == 0:
		an.key = make([]byte, 32)
		_, _ = rand.Read(an.key)
	case len(a.SessionKey) < 32:
		return nil, errors.New("gateway: analysts: the session key must have at least 32 bytes")
	default:
		an.key = slices.Clone(a.SessionKey)
	}
	an.cookieName = "valuerx_analyst"
	if an.secure {
		an.cookieName = "__Host-valuerx_analyst" // Secure, Path=/, no Domain: not settable by a sibling host
	}
	perSec := a.PasswordChecksPerSecond
	if perSec <= 0 {
		perSec = 2
	}
	an.limiter = rate.NewLimiter(rate.Limit(perSec), int(max(2, 2*perSec)))
	an.addrRate, an.addrBurst = rate.Limit(max(0.5, perSec/2)), int(max(3, perSec))
	an.perAddr = expirable.NewLRU[string, *rate.Limiter](4096, nil, 10*time.Minute)
	an.reserve = make(map[string]*rate.Limiter, len(an.accounts))
	for name := range an.accounts {
		an.reserve[name] = rate.NewLimiter(accountReserveRate, accountReserveBurst)
	}
	an.checking = make(chan struct{}, 1)
	an.verified = expirable.NewLRU[[sha256.Size]byte, string](256, nil, verifiedPasswordTTL)
	if a.OIDC != nil {
		if an.oidc, err = newOIDCAnalysts(*a.OIDC, now); err != nil {
			return nil, err
		}
	}
	an.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "valuerx_analyst_auth_failures_total",
		Help: "Refused analyst credentials on /analytics and /metrics, by fixed reason.",
	}, []string{"reason"})
	if reg != nil {
		reg.MustRegister(an.failures)
	}
	return an, nil
}

// configured reports whether any credential can admit anyone.
func (an *analysts) configured() bool { return len(an.accounts) > 0 || an.oidc != nil }

// analystFailure is a refusal with a fixed, loggable reason (never a token or password).
type analystFailure struct {
	status int
	reason string
}

func (f *analystFailure) Error() string { return f.reason }

func refuse(reason string) *analystFailure {
	return &analystFailure{status: http.StatusUnauthorized, reason: reason}
}

// authenticate returns the analyst's identity ("local:NAME" or "oidc:SUBJECT") or a refusal.
func (an *analysts) authenticate(r *http.Request) (string, *analystFailure) {
	authz := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(strings.TrimSpace(authz), " ")
	switch {
	case authz == "":
	case strings.EqualFold(scheme, "Bearer"):
		if an.oidc == nil {
			return "", refuse("bearer token but no OpenID Connect provider configured")
		}
		return an.oidc.verify(r.Context(), strings.TrimSpace(cred))
	case strings.EqualFold(scheme, "Basic"):
		name, pw, ok := r.BasicAuth()
		if !ok {
			return "", refuse("malformed Basic credentials")
		}
		return an.checkPassword(remoteAddr(r), name, pw)
	default:
		return "", refuse("unsupported Authorization scheme")
	}
	if c, err := r.Cookie(an.cookieName); err == nil {
		who, ok := an.openSession(c.Value)
		if !ok {
			return "", refuse("session cookie invalid or expired")
		}
		return who, nil
	}
	return "", refuse("no credential")
}

// verifiedPasswordTTL is how long a verified name and password is taken without bcrypt again.
// The entry is keyed by the account's hash as well (credentialTag), so a changed password stops
// working at once and a removed account at once (checkPassword looks it up); until 2 December
// 2026 it was five minutes, after which a scraper needed bcrypt again and a flood of guesses
// elsewhere turned its scrapes into 429s (security review).
const verifiedPasswordTTL = 12 * time.Hour

// accountReserveRate and accountReserveBurst are each configured account's own password checks
// beyond the per-address and overall rations: a flood of guesses from many addresses (or from
// behind the proxy every analyst comes through) spends those rations, and the analysts whose
// names it does not guess still sign in. Only configured names have one, so under such a flood a
// configured name is answered 401 where an unknown one gets 429: account names are not the
// secret here, their passwords are.
const (
	accountReserveRate  = rate.Limit(0.2)
	accountReserveBurst = 3
)

// reserveWait is how long a check on an account's reserve waits for the bcrypt in progress.
const reserveWait = 2 * time.Second

// checkPassword compares against the account's hash, or a dummy one for an unknown name. bcrypt
// is slow on purpose, which makes every guess cost the server CPU the hooks need: checks are
// rationed per address and overall, run one at a time, and a name and password verified in the
// last few minutes is recognised by a keyed MAC instead of bcrypt again.
func (an *analysts) checkPassword(addr, name, pw string) (string, *analystFailure) {
	if len(an.accounts) == 0 {
		return "", refuse("Basic credentials but no local accounts configured")
	}
	hash, known := an.accounts[name]
	if !known {
		hash = an.dummy
	}
	tag := an.credentialTag(name, pw, hash)
	if who, ok := an.verified.Get(tag); ok && known {
		return who, nil
	}
	busy := &analystFailure{status: http.StatusTooManyRequests, reason: "too many password attempts"}
	addr = rationKey(addr)
	lim, ok := an.perAddr.Get(addr)
	if !ok {
		lim = rate.NewLimiter(an.addrRate, an.addrBurst)
		an.perAddr.Add(addr, lim)
	}
	switch {
	case lim.Allow() && an.limiter.Allow():
		select {
		case an.checking <- struct{}{}:
			defer func() { <-an.checking }()
		default:
			return "", busy
		}
	case known && an.reserve[name].Allow():
		// The rations are spent (a flood, or a burst from this address): the account's own
		// reserve, waiting for the check in progress rather than losing to the flood's timing.
		t := time.NewTimer(reserveWait)
		defer t.Stop()
		select {
		case an.checking <- struct{}{}:
			defer func() { <-an.checking }()
		case <-t.C:
			return "", busy
		}
	default:
		return "", busy
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(pw)); err != nil || !known {
		return "", refuse("wrong name or password")
	}
	who := "local:" + name
	an.verified.Add(tag, who)
	return who, nil
}

// credentialTag is a MAC of a name, a password and the account's hash under the session key:
// what the verified cache holds instead of the password, useless without the key, and no longer
// matching once the account's hash changes.
func (an *analysts) credentialTag(name, pw string, hash []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, an.key)
	m.Write([]byte("valuerx analyst password\x00"))
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write(hash)
	m.Write([]byte{0})
	m.Write([]byte(pw))
	var t [sha256.Size]byte
	m.Sum(t[:0])
	return t
}

// remoteAddr is the caller's IP without the port (the rationing key for password checks).
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rationKey is the key password checks are rationed by: the address, or for IPv6 its /64 (one
// host usually holds a whole /64, and would otherwise get a ration per address in it).
func rationKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() || ip.Is4In6() {
		return addr
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}

// Session cookies: "v1.<base64url identity>.<expiry unix>.<base64url HMAC-SHA256>" over the
// first three fields, the identity "local:NAME" or "oidc:SUBJECT". Stateless: logging out clears
// the cookie in that browser; a cookie copied elsewhere stays valid until it expires (SessionTTL)
// or the session key changes.
func (an *analysts) sealSession(identity string) string {
	return an.seal("session", identity, an.now().Add(an.ttl))
}

// seal signs value for purpose ("session", "oidc-state") until exp.
func (an *analysts) seal(purpose, value string, exp time.Time) string {
	payload := "v1." + base64.RawURLEncoding.EncodeToString([]byte(value)) + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(an.mac(purpose, payload))
}

func (an *analysts) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, an.key)
	m.Write([]byte("valuerx analyst " + purpose + "\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// openSession returns the identity of a session cookie this key sealed for an account or
// provider still configured.
func (an *analysts) openSession(v string) (string, bool) {
	who, ok := an.open("session", v)
	if !ok {
		return "", false
	}
	kind, name, _ := strings.Cut(who, ":")
	switch {
	case kind == "local":
		if _, ok := an.accounts[name]; !ok {
			return "", false // the account was removed from the configuration
		}
	case kind == "oidc" && an.oidc != nil && name != "":
	default:
		return "", false
	}
	return who, true
}

// open checks a value sealed for purpose and returns it while it has not expired.
func (an *analysts) open(purpose, v string) (string, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 || len(v) > 512 {
		return "", false
	}
	payload, sig := v[:i], v[i+1:]
	strict := base64.RawURLEncoding.Strict() // one encoding per value: no second spelling of a cookie
	got, err := strict.DecodeString(sig)
	if err != nil || !hmac.Equal(got, an.mac(purpose, payload)) {
		return "", false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return "", false
	}
	name, err := strict.DecodeString(parts[1])
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || err2 != nil || !an.now().Before(time.Unix(exp, 0)) {
		return "", false
	}
	return string(name), true
}

// wwwAuthenticate names the schemes a client may use.
func (an *analysts) wwwAuthenticate() string {
	var s []string
	if an.oidc != nil {
		s = append(s, `Bearer realm="`+analystRealm+`"`)
	}
	if len(an.accounts) > 0 {
		s = append(s, `Basic realm="`+analystRealm+`", charset="UTF-8"`)
	}
	if len(s) == 0 {
		s = append(s, `Bearer realm="`+analystRealm+`"`)
	}
	return strings.Join(s, ", ")
}

// analystKey holds the signed-in analyst's identity in a request context, analystScopeKey the
// clients it may see.
type analystKey struct{}
type analystScopeKey struct{}

// analystScope is the clients an analyst may see: nil for every client (an unscoped account),
// else these only (possibly none).
type analystScope struct{ clients []string }

// AnalystClients returns the clients the analyst admitted by requireAnalyst may see: nil for
// every client, else these only (possibly none).
func AnalystClients(ctx context.Context) []string {
	s, _ := ctx.Value(analystScopeKey{}).(*analystScope)
	if s == nil {
		return nil
	}
	return s.clients
}

// oidcScopeSep separates an OIDC identity's subject from the scoped claim values that admitted
// it ("oidc:SUBJECT" alone when a value without ClientScopes did).
const oidcScopeSep = "\x00"

// scopeOf returns the clients identity may see (nil: every client), from the configuration in
// force: an account's Clients, or the ClientScopes of the claim values an OIDC token carried.
func (an *analysts) scopeOf(identity string) []string {
	kind, rest, _ := strings.Cut(identity, ":")
	switch kind {
	case "local":
		if cl, ok := an.scopes[rest]; ok {
			return append([]string{}, cl...)
		}
		return nil
	case "oidc":
		parts := strings.Split(rest, oidcScopeSep)
		if len(parts) < 2 || an.oidc == nil {
			return nil
		}
		out := []string{}
		for _, v := range parts[1:] {
			cl, ok := an.oidc.cfg.ClientScopes[v]
			if !ok {
				return nil // a value no longer scoped: every client, as for a token carrying it now
			}
			for _, c := range cl {
				if !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
		return out
	}
	return []string{} // not an identity requireAnalyst admits: nothing
}

// oidcIdentity is the identity of an OIDC subject admitted by claims: "oidc:SUBJECT", followed
// by the admitting claim values when every one of them is limited by ClientScopes.
func oidcIdentity(cfg AnalystOIDC, subject string, claims map[string]any) string {
	who := "oidc:" + subject
	if len(cfg.ClientScopes) == 0 {
		return who
	}
	var scoped []string
	for _, v := range claimValues(claims, cfg.Claim) {
		if !slices.Contains(cfg.Values, v) || slices.Contains(scoped, v) {
			continue
		}
		if _, ok := cfg.ClientScopes[v]; !ok {
			return who // admitted by an unscoped value as well: every client
		}
		scoped = append(scoped, v)
	}
	slices.Sort(scoped)
	return who + oidcScopeSep + strings.Join(scoped, oidcScopeSep)
}

// displayIdentity is identity without the scoped claim values (for logs).
func displayIdentity(identity string) string {
	who, _, _ := strings.Cut(identity, oidcScopeSep)
	return who
}

// AnalystFrom returns the identity requireAnalyst admitted ("local:NAME", "oidc:SUBJECT").
func AnalystFrom(ctx context.Context) string {
	s, _ := ctx.Value(analystKey{}).(string)
	return s
}

// requireAnalyst guards next with analyst authentication.
func (g *Gateway) requireAnalyst(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, fail := g.analysts.authenticate(r)
		if fail == nil {
			w.Header().Set("Cache-Control", "no-store")
			ctx := context.WithValue(r.Context(), analystKey{}, displayIdentity(who))
			ctx = context.WithValue(ctx, analystScopeKey{}, &analystScope{clients: g.analysts.scopeOf(who)})
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		g.analystRefused(r, fail)
		if fail.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
			writeOutcome(w, http.StatusTooManyRequests, "throttled", "too many attempts; try again shortly")
			return
		}
		if fail.status == http.StatusServiceUnavailable {
			writeOutcome(w, http.StatusServiceUnavailable, "transient", "the OpenID Connect provider cannot be reached; try again shortly")
			return
		}
		if fail.reason == "no credential" && wantsHTML(r) && (len(g.analysts.accounts) > 0 || g.analysts.oidc.browser()) {
			http.Redirect(w, r, analystLoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", g.analysts.wwwAuthenticate())
		writeOutcome(w, http.StatusUnauthorized, "login", "analyst credentials required")
	})
}

func (g *Gateway) analystRefused(r *http.Request, fail *analystFailure) {
	g.analysts.failures.WithLabelValues(fail.reason).Inc()
	g.log.Warn("analyst authentication failed", "route", g.routeLabel(r), "request_id", requestID(r.Context()), "reason", fail.reason)
}

func wantsHTML(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
}

func writeOutcome(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_, _ = w.Write(fhir.OperationOutcome("error", code, msg))
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>valuerx analytics: sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:3rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;font-size:1rem}input{margin:.3rem 0 1rem;padding:.5rem}
button{padding:.6rem}p.err{color:#a00}</style></head>
<body><h1>valuerx analytics</h1>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="next" value="{{.Next}}">
<label for="u">Name</label><input id="u" name="username" autocomplete="username" required autofocus>
<label for="p">Password</label><input id="p" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>
{{if .OIDC}}<p><a href="{{.OIDC}}">Sign in with your organisation's account</a></p>{{end}}
</body></html>
`))

// safeNext keeps a post-login redirect on valuerx's own analytics pages.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/analytics/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		next == analystLoginPath || next == analystLogoutPath || strings.HasPrefix(next, "/analytics/oidc/") {
		return analystDefaultPage
	}
	return next
}

func (g *Gateway) renderLogin(w http.ResponseWriter, status int, next, msg string) {
	var b bytes.Buffer
	oidcLink := ""
	if g.analysts.oidc.browser() {
		oidcLink = analystOIDCLoginPath + "?next=" + url.QueryEscape(safeNext(next))
	}
	_ = loginPage.Execute(&b, map[string]string{"Action": analystLoginPath, "Next": safeNext(next), "Error": msg, "OIDC": oidcLink})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// handleLogin serves the login form (GET) and checks it (POST).
func (g *Gateway) handleLogin(w http.ResponseWriter, r *http.Request) {
	if len(g.analysts.accounts) == 0 {
		if g.analysts.oidc != nil && r.Method == http.MethodGet {
			http.Redirect(w, r, analystOIDCLoginPath+"?next="+url.QueryEscape(safeNext(r.URL.Query().Get("next"))), http.StatusSeeOther)
			return
		}
		writeOutcome(w, http.StatusNotFound, "not-supported", "no analyst sign-in is configured (analytics.accounts or analytics.oidc)")
		return
	}
	if r.Method == http.MethodGet {
		g.renderLogin(w, http.StatusOK, r.URL.Query().Get("next"), "")
		return
	}
	// Login CSRF: a browser posting the form from another site says so in Origin.
	if o := r.Header.Get("Origin"); o != "" && !sameOriginAs(o, g.analysts.external) {
		g.analystRefused(r, refuse("login form posted from another origin"))
		writeOutcome(w, http.StatusForbidden, "forbidden", "cross-origin login refused")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOutcome(w, http.StatusBadRequest, "structure", "form body does not parse")
		return
	}
	next := r.PostForm.Get("next")
	who, fail := g.analysts.checkPassword(remoteAddr(r), r.PostForm.Get("username"), r.PostForm.Get("password"))
	if fail != nil {
		g.analystRefused(r, fail)
		if fail.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		msg := "Wrong name or password."
		if fail.status == http.StatusTooManyRequests {
			msg = "Too many sign-in attempts. Wait a minute and try again."
		}
		g.renderLogin(w, fail.status, next, msg)
		return
	}
	g.setSession(w, who)
	g.log.Info("analyst signed in", "account", who, "request_id", requestID(r.Context()))
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (g *Gateway) setSession(w http.ResponseWriter, identity string) {
	http.SetCookie(w, &http.Cookie{
		Name: g.analysts.cookieName, Value: g.analysts.sealSession(identity), Path: "/",
		MaxAge: int(g.analysts.ttl / time.Second), HttpOnly: true, Secure: g.analysts.secure, SameSite: http.SameSiteStrictMode,
	})
}

// handleLogout clears the session cookie in this browser. A cross-site form cannot log an analyst
// out (the same Origin check as the login form's).
func (g *Gateway) handleLogout(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && !sameOriginAs(o, g.analysts.external) {
		writeOutcome(w, http.StatusForbidden, "forbidden", "cross-origin logout refused")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: g.analysts.cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: g.analysts.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, analystLoginPath, http.StatusSeeOther)
}

func sameOriginAs(origin string, ext *url.URL) bool {
	o, err := url.Parse(origin)
	return err == nil && ext != nil && sameOriginURL(o, ext)
}

func sameOriginURL(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// oidcAnalysts verifies bearer tokens of the configured OpenID Connect provider.
type oidcAnalysts struct {
	cfg AnalystOIDC
	hc  *http.Client
	now func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier // bearer tokens: aud must hold Audience
	idTokens *oidc.IDTokenVerifier // ID tokens of the browser sign-in: aud must hold ClientID
	tried    time.Time
	err      error
}

// browser reports whether browsers can sign in with the provider.
func (o *oidcAnalysts) browser() bool { return o != nil && o.cfg.ClientID != "" }

func newOIDCAnalysts(c AnalystOIDC, now func() time.Time) (*oidcAnalysts, error) {
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("gateway: analysts: oidc issuer must be an absolute URL")
	}
	if c.Audience == "" {
		return nil, errors.New("gateway: analysts: oidc audience is required (tokens for other applications must not admit)")
	}
	if len(c.Values) == 0 {
		return nil, errors.New("gateway: analysts: oidc values is required: the group or role that admits analysts")
	}
	if c.Claim == "" {
		c.Claim = "groups"
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	cp := *hc
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = &jwksThrottle{next: base, min: jwksMinRefresh, now: now}
	return &oidcAnalysts{cfg: c, hc: &cp, now: now}, nil
}

// get returns the verifier, running discovery on first use and at most every 30 s after a failure.
func (o *oidcAnalysts) get() (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	if !o.tried.IsZero() && o.now().Sub(o.tried) < discoveryRetry {
		return nil, o.err
	}
	o.tried = o.now()
	// Not the request's context: a cancelled request must not leave the provider half set up,
	// and go-oidc keeps this context's HTTP client for its later key fetches.
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), o.hc), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		o.err = fmt.Errorf("OpenID Connect discovery failed: %w", err)
		return nil, o.err
	}
	algs := []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
	o.provider = p
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.cfg.Audience, SupportedSigningAlgs: algs, Now: o.now})
	o.idTokens = o.verifier
	if o.cfg.ClientID != "" && o.cfg.ClientID != o.cfg.Audience {
		o.idTokens = p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, SupportedSigningAlgs: algs, Now: o.now})
	}
	return o.verifier, nil
}

func (o *oidcAnalysts) verify(ctx context.Context, raw string) (string, *analystFailure) {
	if raw == "" || len(raw) > 16<<10 {
		return "", refuse("bearer token missing or too large")
	}
	v, err := o.get()
	if err != nil {
		return "", &analystFailure{status: http.StatusServiceUnavailable, reason: "OpenID Connect provider unavailable"}
	}
	tok, err := v.Verify(oidc.ClientContext(ctx, o.hc), raw)
	if err != nil {
		return "", refuse(oidcReason(err))
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return "", refuse("token claims do not parse")
	}
	if !claimHasAny(claims, o.cfg.Claim, o.cfg.Values) {
		return "", refuse("token lacks the required " + o.cfg.Claim + " value")
	}
	return oidcIdentity(o.cfg, tok.Subject, claims), nil
}

// oidcReason maps go-oidc's errors to fixed phrases: its texts quote audiences and times, and
// logs should count reasons, not echo what a caller sent.
func oidcReason(err error) string {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return "token expired"
	case strings.Contains(msg, "audience"):
		return "token audience mismatch"
	case strings.Contains(msg, "issued by a different provider"):
		return "token issuer mismatch"
	case strings.Contains(msg, "signature"), strings.Contains(msg, "fetching keys"):
		return "token signature invalid"
	case strings.Contains(msg, "malformed"):
		return "token malformed"
	case strings.Contains(msg, "nbf"):
		return "token not yet valid"
	}
	return "token invalid"
}

// claimHasAny reports whether the claim at path (dotted) is a string or an array of strings
// holding one of want.
// claimValues returns the string values of the claim at path (dotted, for nested claims).
func claimValues(claims map[string]any, path string) []string {
	var cur any = claims
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	switch v := cur.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func claimHasAny(claims map[string]any, path string, want []string) bool {
	var cur any = claims
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		cur = m[seg]
	}
	switch v := cur.(type) {
	case string:
		return slices.Contains(want, v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && slices.Contains(want, s) {
				return true
			}
		}
	}
	return false
}

// jwksThrottle serves a repeat GET of the same URL from the last good answer for min after it:
// go-oidc refetches the key set for every token with an unknown kid, and an anonymous caller
// could otherwise make valuerx hammer the provider with made-up kids.
type jwksThrottle struct {
	next http.RoundTripper
	min  time.Duration
	now  func() time.Time

	mu   sync.Mutex
	last map[string]jwksCached
}

type jwksCached struct {
	at     time.Time
	body   []byte
	header http.Header
}

func (t *jwksThrottle) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		return t.next.RoundTrip(r)
	}
	key := r.URL.String()
	t.mu.Lock()
	c, ok := t.last[key]
	t.mu.Unlock()
	if ok && t.now().Sub(c.at) < t.min {
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: c.header.Clone(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)), Request: r}, nil
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.last == nil {
		t.last = map[string]jwksCached{}
	}
	t.last[key] = jwksCached{at: t.now(), body: body, header: resp.Header.Clone()}
	t.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}
