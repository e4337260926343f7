package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"valuerx/cdshooks"
	"valuerx/fhir"
)

// fhirGuard is the HTTP client of one hook's FHIR client: every request the hook sends to its
// FHIR server (a prefetch key's search and its next pages, a plan's search, a Medication or
// Condition read, a redirect hop) passes through RoundTrip, which refuses it while the
// (client, server) breaker is open, bounds it by the hook's one deadline, and records its outcome
// for the breaker. Until issue 11's review only the prefetch keys' and the plan's searches
// consulted the breaker: a draft's Medication read went out to a server the breaker had given up
// on, and its failures never counted.
//
// It lives inside the hook's hookData (no allocation of its own) and is set up by wrap.
type fhirGuard struct {
	hc             http.Client // the hook's FHIR client's HTTP client: the allowlist's, with this transport
	base           http.RoundTripper
	r              *resolver
	client, server string    // the breaker's key parts: the verified client, the fhirServer named
	deadline       time.Time // the hook's one deadline
	// timeout is the configured client's Timeout, applied here as a deadline of the request's
	// context: an http.Client with a Timeout and a RoundTripper other than *http.Transport cancels
	// through a goroutine and a timer per request (net/http's setRequestCancel), which took the
	// warm hook of TestHotPathAllocBudget from 413 to 691 allocations.
	timeout time.Duration

	// jti is the hook's early replay check (nil: none): before the hook's first request, a
	// read-only look at the shared store's record of the token's jti, so a token another
	// instance sharing the store has spent is refused before any FHIR work rather than at its
	// commit (which stays the authority: two instances racing with one token still get exactly
	// one 200 there). Only hooks that make a request pay for it; a fully prefetched hook reads
	// nothing. refused is the refusal, set once (jtiRan), under jtiMu: concurrent first
	// requests wait for the one check.
	jti     jtiCheck // zero: none
	jtiMu   sync.Mutex
	jtiRan  bool
	refused error
}

// jtiReader is a store's read-only view of its jti claims (store.SQLite, store.Postgres).
type jtiReader interface {
	JTIHeld(ctx context.Context, key string, now time.Time) (bool, error)
}

// jtiCheck is what fhirGuard needs for the early replay check: the store and the hook's claim.
type jtiCheck struct {
	store jtiReader
	claim *cdshooks.JTIClaim
}

// errReplayRefused is what a request refused by the early replay check returns to the FHIR
// client; the hook itself answers with the replay's 401 (refusal).
var errReplayRefused = errors.New("gateway: token already spent: FHIR request not sent")

// checkJTI runs the early replay check once per hook and returns the refusal (nil: go on). A
// store that cannot answer refuses nothing here: the hook's commit claims the jti and fails
// closed, as it always has.
func (g *fhirGuard) checkJTI(ctx context.Context) error {
	if g.jti.store == nil {
		return nil
	}
	g.jtiMu.Lock()
	defer g.jtiMu.Unlock()
	if !g.jtiRan {
		g.jtiRan = true
		held, err := g.jti.store.JTIHeld(ctx, g.jti.claim.Key, g.jti.claim.Now)
		if err == nil && held {
			g.refused = g.jti.claim.Replay()
		}
	}
	return g.refused
}

// refusal is the hook's answer when the early replay check refused it (nil otherwise).
func (g *fhirGuard) refusal() error {
	if g.jti.store == nil {
		return nil
	}
	g.jtiMu.Lock() // waits for a check in progress
	defer g.jtiMu.Unlock()
	return g.refused
}

// wrap makes c send every request through g.
func (g *fhirGuard) wrap(r *resolver, c *fhir.Client, client, server string, deadline time.Time) {
	if c.HTTP != nil {
		g.hc = *c.HTTP
	} else {
		g.hc = http.Client{Timeout: 10 * time.Second}
	}
	g.base = g.hc.Transport
	if g.base == nil {
		g.base = http.DefaultTransport
	}
	g.r, g.client, g.server, g.deadline = r, client, server, deadline
	g.timeout, g.hc.Timeout = g.hc.Timeout, 0
	g.hc.Transport = g
	c.HTTP = &g.hc
}

func (g *fhirGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.checkJTI(req.Context()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errReplayRefused
	}
	if !g.r.allow(g.client, g.server) {
		if req.Body != nil {
			req.Body.Close() // RoundTrip's contract, even for a request never sent
		}
		return nil, fhir.ErrCircuitOpen // the request never left: not an outcome of the server
	}
	var cancel context.CancelFunc
	limit := g.deadline
	if g.timeout > 0 {
		if t := time.Now().Add(g.timeout); limit.IsZero() || t.Before(limit) {
			limit = t
		}
	}
	if dl, ok := req.Context().Deadline(); !limit.IsZero() && (!ok || dl.After(limit)) {
		// Every caller passes a context of the hook; this holds a future one to the deadline
		// too, and applies the client's per-request timeout when it is the sooner.
		var ctx context.Context
		ctx, cancel = context.WithDeadline(req.Context(), limit)
		req = req.WithContext(ctx)
	}
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		g.note(req.Context(), err)
		if cancel != nil {
			cancel()
		}
		return nil, err
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		g.note(req.Context(), errServerFailed)
		if cancel != nil {
			resp.Body = &guardedBody{ReadCloser: resp.Body, cancel: cancel}
		}
		return resp, nil
	}
	// The outcome is known once the body is read: a server that answers its headers at once and
	// then stalls the body past the deadline is failing, not answering.
	resp.Body = &guardedBody{ReadCloser: resp.Body, g: g, ctx: req.Context(), cancel: cancel}
	return resp, nil
}

// errServerFailed stands for a 5xx or 429 answer in the breaker's record.
var errServerFailed = errors.New("FHIR server answered 5xx or 429")

// note records one request's outcome (err nil: answered). A request cancelled because its hook
// no longer needs it (the hook was answered, or close ended an unneeded background search) says
// nothing about the server; one that ran out of the hook's deadline counts as a failure, as a
// slow server is one valuerx cannot use.
func (g *fhirGuard) note(ctx context.Context, err error) {
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return
		}
		if !errors.Is(err, fhir.ErrAddressRefused) {
			err = fhir.ErrUnavailable
		}
	}
	g.r.record(g.client, g.server, err)
}

// guardedBody records the outcome of a response once its body has been read to the end (or
// failed, or was closed before the end: the FHIR client stops at its size limit) and releases
// the request's deadline context, if RoundTrip made one, on Close.
type guardedBody struct {
	io.ReadCloser
	g      *fhirGuard // nil: nothing to record
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		if err == io.EOF {
			b.done(nil)
		} else {
			b.done(err)
		}
	}
	return n, err
}

func (b *guardedBody) Close() error {
	err := b.ReadCloser.Close()
	b.done(nil) // closed early: the server answered; the client chose to stop reading
	if b.cancel != nil {
		b.cancel()
	}
	return err
}

func (b *guardedBody) done(err error) {
	if b.g == nil {
		return
	}
	b.once.Do(func() { b.g.note(b.ctx, err) })
}
