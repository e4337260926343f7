package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"valuerx/cdshooks"
)

// Defaults for Options fields left zero.
const (
	DefaultIssuer  = "urn:valuerx:conformance"
	DefaultOrigin  = "https://conformance.valuerx.invalid"
	DefaultTimeout = 15 * time.Second
	// tokenTTL matches what the Sandbox and Inferno mint (checklist §5.2).
	tokenTTL = 5 * time.Minute
	// maxBody bounds what the suite reads from any response.
	maxBody = 8 << 20
)

// Options configures a run. Only BaseURL is required.
type Options struct {
	// BaseURL is the service base: discovery is at BaseURL + "/cds-services".
	BaseURL string
	// Requests are user-supplied requests (ParseRequests), posted to every discovered service of
	// their hook in addition to the built-in ones.
	Requests []HookRequest
	// SkipBuiltin leaves out the built-in requests (user requests only).
	SkipBuiltin bool
	// HTTPClient makes every call; nil means a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds one HTTP exchange when HTTPClient is nil (default 15 s, above CRD's 5 s target
	// so that slow answers are measured rather than cut off).
	Timeout time.Duration
	// TimingCalls is the number of extra timed calls per service with the built-in request, on top
	// of the calls the other checks make. Zero or less: only those calls are timed.
	TimingCalls int
	// Signer mints the suite's JWTs. nil means a fresh ES384 key with Issuer. Its JKU is replaced
	// by the loopback JWKS URL unless JKU or OmitJKU says otherwise.
	Signer *cdshooks.Signer
	// Issuer is the iss of a generated signer (default DefaultIssuer).
	Issuer string
	// JKU, when set, is advertised in the token header as is, and the suite serves no JWKS unless
	// JWKSListen is also set.
	JKU string
	// OmitJKU sends tokens without jku: the service has the key out of band.
	OmitJKU bool
	// JWKSListen is the address the suite serves its JWKS on ("127.0.0.1:0" by default when it
	// advertises its own jku); a fixed port lets a service allowlist the jku in advance.
	JWKSListen string
	// Origin is the Origin sent with every request and in the CORS preflight.
	Origin string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Trust tells the operator what the service under test must trust to accept the suite's tokens.
type Trust struct {
	Issuer string          `json:"iss"`
	JKU    string          `json:"jku,omitempty"`
	KID    string          `json:"kid"`
	Alg    string          `json:"alg"`
	JWKS   json.RawMessage `json:"jwks"`
}

// ServiceInfo is a discovered service the suite exercised.
type ServiceInfo struct {
	ID       string `json:"id"`
	Hook     string `json:"hook"`
	Prefetch bool   `json:"declaresPrefetch"`
}

// Report is the outcome of a run.
type Report struct {
	BaseURL  string        `json:"baseUrl"`
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsedNs"`
	Trust    Trust         `json:"trust"`
	Services []ServiceInfo `json:"services"`
	Timing   []Timing      `json:"timing,omitempty"`
	Results  []Result      `json:"results"`
}

// ShallFailed reports whether any SHALL requirement failed: the suite's exit status.
func (r *Report) ShallFailed() bool {
	for _, res := range r.Results {
		if res.Status == Fail && res.Level == Shall {
			return true
		}
	}
	return false
}

// Result returns the result of one check id.
func (r *Report) Result(id string) (Result, bool) {
	for _, res := range r.Results {
		if res.ID == id {
			return res, true
		}
	}
	return Result{}, false
}

// service is a discovered order service.
type service struct {
	ServiceInfo
	url       string
	templates map[string]string
	shared    bool // another discovered service has the same id
}

// key identifies a service within a run: discovery may list one id for several hooks (CDS Hooks
// 2.0 §Update stale guidance).
func (s service) key() string { return s.Hook + " " + s.ID }

// label names the service in timings: the id, with the hook when the id is shared.
func (s service) label() string {
	if s.shared {
		return s.ID + " (" + s.Hook + ")"
	}
	return s.ID
}

// seenCard is a card (and its suggestions) returned by a service, for the feedback checks.
type seenCard struct {
	uuid        string
	suggestions []string
	reason      map[string]string // code and system of the first override reason, if any
}

// suite is the state of one run.
type suite struct {
	opts    Options
	base    string
	hc      *http.Client
	rec     *recorder
	signer  *cdshooks.Signer
	fv      *fhirValidator
	now     func() time.Time
	report  *Report
	svcs    []service
	cards   map[string][]seenCard      // service id -> cards seen
	samples map[string][]time.Duration // service id -> latencies of 200 answers to valid requests
	valid   map[string]int             // service id -> status of the first built-in call
}

// Run runs the suite against opts.BaseURL and returns the report. The error is non-nil only when
// the suite could not run at all (bad options, no key); a service that fails checks, or cannot be
// reached, yields a report with failures.
func Run(ctx context.Context, opts Options) (*Report, error) {
	base, err := normalizeBase(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	s := &suite{
		opts: opts, base: base, rec: newRecorder(Catalog()),
		cards: map[string][]seenCard{}, samples: map[string][]time.Duration{}, valid: map[string]int{},
		now: opts.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.Origin == "" {
		s.opts.Origin = DefaultOrigin
	}
	s.hc = opts.HTTPClient
	if s.hc == nil {
		t := opts.Timeout
		if t <= 0 {
			t = DefaultTimeout
		}
		s.hc = &http.Client{Timeout: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if s.fv, err = newFHIRValidator(); err != nil {
		return nil, err
	}
	stop, err := s.setupSigner(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()

	started := s.now()
	s.report = &Report{BaseURL: base, Started: started.UTC(), Trust: Trust{
		Issuer: s.signer.Issuer, JKU: s.signer.JKU, KID: s.signer.KID, Alg: s.signer.Alg, JWKS: s.signer.PublicJWKS(),
	}}

	s.transport()
	s.preflight(ctx, base+"/cds-services", http.MethodGet, "discovery")
	s.discovery(ctx)
	for _, svc := range s.svcs {
		s.preflight(ctx, svc.url, http.MethodPost, "service "+svc.ID)
		for _, req := range s.requestsFor(svc.Hook) {
			s.invoke(ctx, svc, req)
		}
	}
	s.unmatchedRequests()
	for _, svc := range s.svcs {
		s.prefetch412(ctx, svc)
	}
	s.malformed(ctx)
	s.auth(ctx)
	s.feedback(ctx)
	for _, svc := range s.svcs {
		s.timing(ctx, svc)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("conformance: run interrupted: %w", err)
	}
	s.report.Elapsed = s.now().Sub(started)
	s.report.Results = s.rec.finish()
	return s.report, nil
}

func normalizeBase(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("conformance: no base URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("conformance: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("conformance: base URL must be an absolute http(s) URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("conformance: base URL must not have a query or fragment")
	}
	b := strings.TrimRight(u.String(), "/")
	// Accept the discovery URL itself as the base, as users often paste it.
	return strings.TrimSuffix(b, "/cds-services"), nil
}

// requestsFor returns the built-in and user requests for a hook.
func (s *suite) requestsFor(hook string) []HookRequest {
	var out []HookRequest
	if !s.opts.SkipBuiltin {
		for _, r := range BuiltinRequests() {
			if r.Hook == hook {
				out = append(out, r)
			}
		}
	}
	for _, r := range s.opts.Requests {
		if r.Hook == hook {
			out = append(out, r)
		}
	}
	return out
}

func (s *suite) unmatchedRequests() {
	offered := map[string]bool{}
	for _, svc := range s.svcs {
		offered[svc.Hook] = true
	}
	for _, r := range s.opts.Requests {
		if !offered[r.Hook] {
			s.rec.skip(CheckServiceStatus, Evidence{Request: r.Name, Message: "no discovered order service for hook " + r.Hook})
		}
	}
}

// exchange is one HTTP round trip as the suite saw it.
type exchange struct {
	label   string // "POST /cds-services/x (built-in order-select)"
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
	err     error
}

func (x *exchange) evidence(path, msg string) Evidence {
	return Evidence{Request: x.label, Status: x.status, Path: path, Message: msg}
}

// send performs one request. token "" sends no Authorization header. The label names the request
// by method, path relative to the base URL and purpose, never by content.
func (s *suite) send(ctx context.Context, method, target string, body []byte, token string, extra http.Header, purpose string) *exchange {
	rel := strings.TrimPrefix(target, s.base)
	if rel == "" {
		rel = "/"
	}
	x := &exchange{label: method + " " + rel}
	if purpose != "" {
		x.label += " (" + purpose + ")"
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		x.err = fmt.Errorf("building request: %w", err)
		return x
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodOptions {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("Origin", s.opts.Origin)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range extra {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	start := time.Now()
	resp, err := s.hc.Do(req)
	if err != nil {
		x.err = redactURLError(err)
		return x
	}
	defer resp.Body.Close()
	x.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	x.elapsed = time.Since(start)
	x.status = resp.StatusCode
	x.header = resp.Header
	if err != nil {
		x.err = fmt.Errorf("reading the response: %w", err)
	}
	return x
}

// redactURLError drops the URL from a *url.Error (the label already names the request).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("request failed: %w", ue.Err)
	}
	return fmt.Errorf("request failed: %w", err)
}

// mint returns a fresh valid token for aud (a new jti each call, so replay protection never
// rejects the suite's legitimate calls).
func (s *suite) mint(aud string) string {
	tok, err := s.signer.Mint(aud, tokenTTL, nil)
	if err != nil {
		// The signer was validated in setupSigner; a failure here is a broken key.
		return ""
	}
	return tok
}

func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (s *suite) transport() {
	u, _ := url.Parse(s.base)
	switch {
	case u.Scheme == "https":
		s.rec.pass(CheckTransportHTTPS, Evidence{})
	case isLoopback(u.Host):
		s.rec.skip(CheckTransportHTTPS, Evidence{Message: "plain HTTP on a loopback address (test deployment); production needs HTTPS"})
	default:
		s.rec.violate(CheckTransportHTTPS, Evidence{Message: "base URL uses plain HTTP"})
	}
}

// allowOrigin checks Access-Control-Allow-Origin on a successful cross-origin response.
func (s *suite) allowOrigin(x *exchange) {
	if x.err != nil || x.status < 200 || x.status > 299 {
		return
	}
	acao := x.header.Get("Access-Control-Allow-Origin")
	if acao == "*" || acao == s.opts.Origin {
		s.rec.pass(CheckCORSAllowOrigin, Evidence{})
		return
	}
	msg := "no Access-Control-Allow-Origin header"
	if acao != "" {
		msg = "Access-Control-Allow-Origin neither * nor the request's Origin"
	}
	s.rec.violate(CheckCORSAllowOrigin, x.evidence("", msg))
}

// preflight sends a browser's CORS preflight: no JWT, an Origin, the method and the headers a
// browser-based client such as the CDS Hooks Sandbox sends.
func (s *suite) preflight(ctx context.Context, target, method, purpose string) {
	h := http.Header{}
	h.Set("Access-Control-Request-Method", method)
	h.Set("Access-Control-Request-Headers", "authorization,content-type")
	x := s.send(ctx, http.MethodOptions, target, nil, "", h, "CORS preflight, "+purpose)
	if x.err != nil {
		s.rec.violate(CheckCORSPreflight, x.evidence("", x.err.Error()))
		return
	}
	var problems []string
	if x.status < 200 || x.status > 299 {
		problems = append(problems, fmt.Sprintf("preflight answered %d, not 2xx", x.status))
	}
	acao := x.header.Get("Access-Control-Allow-Origin")
	if acao != "*" && acao != s.opts.Origin {
		problems = append(problems, "Access-Control-Allow-Origin missing or not matching the Origin")
	}
	if m := x.header.Values("Access-Control-Allow-Methods"); len(m) > 0 && method != http.MethodGet && method != http.MethodPost {
		if !headerListHas(m, method) {
			problems = append(problems, "Access-Control-Allow-Methods lacks "+method)
		}
	} else if len(m) > 0 && !headerListHas(m, method) && !headerListHas(m, "*") {
		problems = append(problems, "Access-Control-Allow-Methods lacks "+method)
	}
	allowed := x.header.Values("Access-Control-Allow-Headers")
	for _, want := range []string{"authorization", "content-type"} {
		if !headerListHas(allowed, want) {
			// "*" does not cover Authorization (Fetch standard), so it must be listed by name.
			if want == "content-type" && headerListHas(allowed, "*") {
				continue
			}
			problems = append(problems, "Access-Control-Allow-Headers lacks "+want)
		}
	}
	if len(problems) > 0 {
		s.rec.violate(CheckCORSPreflight, x.evidence("", strings.Join(problems, "; ")))
		return
	}
	s.rec.pass(CheckCORSPreflight, Evidence{})
}

func headerListHas(values []string, want string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(item), want) {
				return true
			}
		}
	}
	return false
}
