package fhir

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
)

// Defaults for Client fields left zero.
const (
	DefaultMaxPages = 10
	DefaultMaxBody  = 8 << 20 // bytes of one response body
	// maxErrorBody bounds what is read of a non-2xx body to find its OperationOutcome.
	maxErrorBody = 64 << 10
)

// Error kinds, for errors.Is on the errors the Client returns.
var (
	ErrNotFound        = errors.New("fhir: not found")                      // 404, 410
	ErrUnauthorized    = errors.New("fhir: unauthorized")                   // 401, 403
	ErrUnavailable     = errors.New("fhir: server unavailable")             // 5xx, 429, network, timeout, cancel
	ErrInvalidResponse = errors.New("fhir: invalid response")               // not JSON, wrong type, too large
	ErrForeignLink     = errors.New("fhir: link outside the server's base") // refused; the token stays home
	ErrInvalidRequest  = errors.New("fhir: invalid request")                // bad type, id or URL given to the Client
	// ErrAddressRefused is for a dialer that refuses an address by policy (the gateway's
	// private-address guard wraps it): the request never left, so it is not an outage of the
	// server and must not count against it.
	ErrAddressRefused = errors.New("fhir: server address refused")
	// ErrCircuitOpen is for a transport that refuses to send a request because the server has
	// been failing (the gateway's circuit breaker). The request never left; the error is also
	// ErrUnavailable, so callers degrade as for an outage.
	ErrCircuitOpen = errors.New("fhir: circuit open, request not sent")
)

// Error is what every Client call returns on failure. Its Error() text names the operation, the
// resource type and the status or failure class only: never ids, query strings, URLs, tokens,
// response bodies or diagnostics, so it can be logged as is.
type Error struct {
	Op     string // "read Coverage", "search MedicationRequest", "get Patient"
	Status int    // HTTP status; 0 when no response was received
	Code   string // first OperationOutcome issue code of the response, or a local class ("timeout", "too-large", ...)
	// Details holds the OperationOutcome diagnostics of the response. It may describe patient data:
	// NEVER log it; at most pass it back to the party that is allowed to see it.
	Details string

	kind  error // one of the Err* sentinels
	cause error // underlying transport or context error, for errors.Is(err, context.DeadlineExceeded)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("fhir ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "status %d", e.Status)
	} else if e.kind != nil {
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "fhir: "))
	}
	if e.Code != "" {
		b.WriteString(" (")
		b.WriteString(e.Code)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap exposes the error kind (ErrNotFound, ...) and the transport cause.
func (e *Error) Unwrap() []error {
	var out []error
	if e.kind != nil {
		out = append(out, e.kind)
	}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

// Client talks to one FHIR R4 server on behalf of one CDS Hooks request (the token is the
// request's short-lived fhirAuthorization.access_token). The zero MaxPages and MaxBody mean the
// defaults. A Client is safe for concurrent use if its fields are not changed.
type Client struct {
	BaseURL   string // service base without a trailing "/", e.g. "https://ehr.example/fhir/r4"
	Token     string // bearer token; sent only to BaseURL's origin
	HTTP      *http.Client
	AllowHTTP bool  // permit a plain-http BaseURL (tests, the demo); never in production
	MaxPages  int   // pages Search follows, including the first
	MaxBody   int64 // bytes allowed in one response body
}

// NewClient checks base (absolute, https unless allowHTTP, no user info, query or fragment) and
// returns a Client for it. A nil hc means a client with a 10 s overall timeout; per-call deadlines
// come from the context.
func NewClient(base, token string, hc *http.Client, allowHTTP bool) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil {
		return nil, fmt.Errorf("fhir: base URL does not parse: %w", ErrInvalidRequest)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return nil, fmt.Errorf("fhir: base URL must use https: %w", ErrInvalidRequest)
	default:
		return nil, fmt.Errorf("fhir: base URL must be an absolute https URL: %w", ErrInvalidRequest)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("fhir: base URL must be scheme://host/path only: %w", ErrInvalidRequest)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return &Client{BaseURL: u.String(), Token: token, HTTP: hc, AllowHTTP: allowHTTP}, nil
}

// Read fetches typ/id and checks that the answer is a resource of that type.
func (c *Client) Read(ctx context.Context, typ, id string) (json.RawMessage, error) {
	op := "read " + opType(typ)
	if !validType(typ) || !validID(id) {
		return nil, &Error{Op: op, Code: "invalid-id", kind: ErrInvalidRequest}
	}
	base, err := c.base()
	if err != nil {
		return nil, &Error{Op: op, Code: "invalid-base", kind: ErrInvalidRequest, cause: err}
	}
	u := *base
	u.Path = base.Path + "/" + typ + "/" + id
	body, err := c.do(ctx, op, &u)
	if err != nil {
		return nil, err
	}
	if got := ResourceType(body); got != typ {
		return nil, &Error{Op: op, Status: http.StatusOK, Code: "unexpected-type", kind: ErrInvalidResponse}
	}
	return body, nil
}

// Search runs a type-level search such as "Coverage?patient=123&status=active" (relative to
// BaseURL, as in a prefetch template) and returns the matching resources of every page, following
// Bundle next links up to MaxPages pages; stopping at MaxPages is not an error. Entries with
// search.mode "outcome" are dropped. Next links are followed only when they stay on BaseURL's
// origin and path: any other link is refused (ErrForeignLink) so the token never leaves. A next
// link to a page already fetched ends the search.
//
// On error, the resources gathered from earlier pages are returned along with it, so a caller
// with a deadline can degrade instead of failing.
func (c *Client) Search(ctx context.Context, query string) ([]json.RawMessage, error) {
	op := "search " + opType(c.queryType(query))
	u, err := c.resolve(query)
	if err != nil {
		return nil, &Error{Op: op, Code: "invalid-url", kind: errKind(err), cause: err}
	}
	maxPages := c.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	var out []json.RawMessage
	seen := map[string]bool{}
	for page := 0; page < maxPages && !seen[u.String()]; page++ {
		seen[u.String()] = true // a server that links a page to itself must not loop us
		body, err := c.do(ctx, op, u)
		if err != nil {
			return out, err
		}
		res, next, err := pageResources(ctx, body) // do validated body; a large one is split under ctx (page.go)
		if err != nil {
			if ctx.Err() != nil {
				return out, deadlineError(ctx, op)
			}
			return out, &Error{Op: op, Status: http.StatusOK, Code: "not-a-bundle", kind: ErrInvalidResponse}
		}
		out = append(out, res...)
		if next == "" {
			break
		}
		nu, err := c.resolveFrom(u, next)
		if err != nil {
			return out, &Error{Op: op, Code: "next-link", kind: errKind(err), cause: err}
		}
		u = nu
	}
	return out, nil
}

// Get fetches a URL relative to BaseURL (an expanded prefetch template: a read or a search) and
// returns the body as is, a resource or a Bundle, without following next links. An absolute URL
// is accepted only on BaseURL's origin and path.
func (c *Client) Get(ctx context.Context, relative string) (json.RawMessage, error) {
	op := "get " + opType(c.queryType(relative))
	u, err := c.resolve(relative)
	if err != nil {
		return nil, &Error{Op: op, Code: "invalid-url", kind: errKind(err), cause: err}
	}
	body, err := c.do(ctx, op, u)
	if err != nil {
		return nil, err
	}
	if ResourceType(body) == "" {
		return nil, &Error{Op: op, Status: http.StatusOK, Code: "not-a-resource", kind: ErrInvalidResponse}
	}
	return body, nil
}

func errKind(err error) error {
	if errors.Is(err, ErrForeignLink) {
		return ErrForeignLink
	}
	return ErrInvalidRequest
}

// opType reduces a caller-supplied type to something safe to put in an error message.
func opType(typ string) string {
	if validType(typ) {
		return typ
	}
	return "resource"
}

// queryType extracts the resource type from "Type?query", "Type/id" or an absolute URL under
// the base (the first path segment after the base path; never a later one, which may be an id).
func (c *Client) queryType(q string) string {
	if i := strings.IndexAny(q, "?#"); i >= 0 {
		q = q[:i]
	}
	if strings.Contains(q, "://") || strings.HasPrefix(q, "//") {
		base, err := c.base()
		u, err2 := url.Parse(q)
		if err != nil || err2 != nil || !sameOrigin(u, base) {
			return ""
		}
		rest, ok := strings.CutPrefix(u.Path, base.Path+"/")
		if !ok {
			return ""
		}
		q = rest
	}
	q = strings.TrimPrefix(q, "/")
	if i := strings.IndexByte(q, '/'); i >= 0 {
		q = q[:i]
	}
	return q
}

func (c *Client) base() (*url.URL, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("fhir: base URL does not parse")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && c.AllowHTTP) {
		return nil, errors.New("fhir: base URL must use https")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// resolve turns a relative reference (or a same-origin absolute URL) into a URL under the base.
func (c *Client) resolve(ref string) (*url.URL, error) {
	base, err := c.base()
	if err != nil {
		return nil, err
	}
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errors.New("fhir: empty URL")
	}
	// Absolute only when the part before the query says so: query values such as
	// code=http://loinc.org|29463-7 carry "://" too.
	pathPart, _, _ := strings.Cut(ref, "?")
	if strings.Contains(pathPart, "://") || strings.HasPrefix(pathPart, "//") {
		return c.resolveFrom(base, ref)
	}
	// A path-absolute link that names the base path ("/fhir/Coverage?_page=2" from a server at
	// /fhir) is what some servers write in next links; joined to the base it would become
	// /fhir/fhir/Coverage. Other leading-slash references ("/Patient/1") stay relative to the base.
	if base.Path != "" && (pathPart == base.Path || strings.HasPrefix(pathPart, base.Path+"/")) {
		return c.resolveFrom(base, ref)
	}
	r, err := url.Parse(strings.TrimPrefix(ref, "/"))
	if err != nil {
		return nil, errors.New("fhir: URL does not parse")
	}
	if r.Scheme != "" || r.Host != "" || r.Opaque != "" {
		return nil, errors.New("fhir: URL is not relative")
	}
	if strings.Contains("/"+r.Path+"/", "/../") || strings.Contains("/"+r.Path+"/", "/./") || strings.Contains(r.Path, ";") {
		return nil, errors.New("fhir: dot segments or path parameters in URL")
	}
	u := *base
	u.Path = base.Path + "/" + r.Path
	u.RawPath = base.EscapedPath() + "/" + r.EscapedPath() // keeps "%2F" inside an id as sent
	u.RawQuery = r.RawQuery
	return &u, nil
}

// resolveFrom resolves link (a next link, possibly relative) against cur and accepts it only when
// it stays on the base URL's scheme, host, port and path.
func (c *Client) resolveFrom(cur *url.URL, link string) (*url.URL, error) {
	base, err := c.base()
	if err != nil {
		return nil, err
	}
	l, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return nil, errors.New("fhir: link does not parse")
	}
	u := cur.ResolveReference(l)
	u.Fragment = ""
	if !underBase(u, base) {
		return nil, ErrForeignLink
	}
	return u, nil
}

// underBase reports whether u stays on base's scheme, host and port, at or under its path, with
// no user info and no dot segments: the one rule for next links and redirects alike, so the token
// only ever goes to the FHIR service it was issued for.
func underBase(u, base *url.URL) bool {
	if !sameOrigin(u, base) || u.User != nil {
		return false
	}
	p := u.Path
	if p != base.Path && !strings.HasPrefix(p, base.Path+"/") {
		return false
	}
	if strings.Contains(p+"/", "/../") || strings.Contains(p+"/", "/./") {
		return false
	}
	// A path parameter: Tomcat and Jetty (HAPI FHIR and many Java servers) read "/..;/" as "..",
	// so "/fhir/..;/admin" would leave the base there; IIS reads a backslash (or %5C) as "/", so
	// "/fhir/..\admin" would leave it there. FHIR's REST paths never need either.
	return !strings.ContainsAny(p, ";\\")
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// do performs one GET and returns the 2xx body, or an *Error.
func (c *Client) do(ctx context.Context, op string, u *url.URL) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Op: op, Code: "invalid-url", kind: ErrInvalidRequest}
	}
	req.Header.Set("Accept", "application/fhir+json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, transportError(ctx, op, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		e := &Error{Op: op, Status: resp.StatusCode, kind: statusKind(resp.StatusCode)}
		if issues, ok := ParseOperationOutcome(raw); ok && len(issues) > 0 {
			e.Code = loggableIssueCode(issues[0].Code)
			var d []string
			for _, is := range issues {
				if is.Diagnostics != "" {
					d = append(d, is.Diagnostics)
				}
			}
			e.Details = strings.Join(d, "; ")
		}
		return nil, e
	}
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, transportError(ctx, op, err)
	}
	if int64(len(raw)) > limit {
		return nil, &Error{Op: op, Status: resp.StatusCode, Code: "too-large", kind: ErrInvalidResponse}
	}
	raw = bytes.TrimSpace(raw)
	if err := validBody(ctx, raw); err != nil {
		if err != errNotJSON {
			return nil, deadlineError(ctx, op) // the deadline came while a large body was checked (page.go)
		}
		return nil, &Error{Op: op, Status: resp.StatusCode, Code: "not-json", kind: ErrInvalidResponse}
	}
	return raw, nil
}

// deadlineError is the error of an operation whose context ended after its response arrived,
// while valuerx was still reading it: unavailable (in time), as a timeout of the server is.
func deadlineError(ctx context.Context, op string) error {
	e := &Error{Op: op, Status: http.StatusOK, Code: "canceled", kind: ErrUnavailable, cause: ctx.Err()}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e.Code = "timeout"
	}
	return e
}

// httpClient returns a copy of the configured client whose redirects follow the rule of next
// links: same scheme, host and port as BaseURL and a path at or under its path. Go forwards
// Authorization on same-host redirects, so a redirect from /fhir/r4 to /admin of the same origin
// would otherwise carry the token outside the FHIR service; it is refused before any request.
func (c *Client) httpClient() *http.Client {
	hc := http.Client{Timeout: 10 * time.Second}
	if c.HTTP != nil {
		hc = *c.HTTP
	}
	inner := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		base, err := c.base()
		if err != nil {
			return err
		}
		if !underBase(req.URL, base) {
			return ErrForeignLink
		}
		if len(via) >= 5 {
			return errors.New("fhir: too many redirects")
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return &hc
}

func statusKind(status int) error {
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		return ErrNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrUnauthorized
	case status >= 500 || status == http.StatusTooManyRequests:
		return ErrUnavailable
	}
	return nil
}

// transportError classifies a failed round trip without keeping the *url.Error text (it holds the
// URL, whose path and query carry patient ids).
func transportError(ctx context.Context, op string, err error) error {
	e := &Error{Op: op, kind: ErrUnavailable}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrForeignLink):
		e.kind, e.Code = ErrForeignLink, "redirect"
		return e
	case errors.Is(err, ErrAddressRefused):
		e.kind, e.Code = ErrAddressRefused, "address-refused"
		return e
	case errors.Is(err, ErrCircuitOpen):
		e.Code, e.cause = "circuit-open", ErrCircuitOpen
		return e
	case ctx.Err() != nil:
		e.cause = ctx.Err()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e.Code = "timeout"
		} else {
			e.Code = "canceled"
		}
		return e
	case errors.As(err, &ne) && ne.Timeout():
		e.Code = "timeout"
	default:
		e.Code = "network"
	}
	e.cause = causeWithoutURL(err)
	return e
}

// causeWithoutURL keeps err for errors.Is/As when its text cannot carry the request URL.
func causeWithoutURL(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe // addresses and syscall errors only
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return nil
}

// issueTypes are the codes of FHIR R4's IssueType value set
// (http://hl7.org/fhir/R4/valueset-issue-type.html).
var issueTypes = map[string]bool{
	"invalid": true, "structure": true, "required": true, "value": true, "invariant": true,
	"security": true, "login": true, "unknown": true, "expired": true, "forbidden": true,
	"suppressed": true, "processing": true, "not-supported": true, "duplicate": true,
	"multiple-matches": true, "not-found": true, "deleted": true, "too-long": true,
	"code-invalid": true, "extension": true, "too-costly": true, "business-rule": true,
	"conflict": true, "transient": true, "lock-error": true, "no-store": true, "exception": true,
	"timeout": true, "incomplete": true, "throttled": true, "informational": true,
}

// loggableIssueCode is an OperationOutcome issue code as Error.Code keeps it: a code of the
// IssueType value set, else "non-standard". Error.Code is logged as is, and the code is the FHIR
// server's text: a server answering 404 with a name, an MBI and a birth date as its code put them
// in valuerx's log (security review, 2 December 2026).
func loggableIssueCode(code string) string {
	if issueTypes[code] {
		return code
	}
	return "non-standard"
}
