package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"valuerx/cdshooks"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxClaims
	ctxJTI // *pendingJTI: a hook's jti claim, written with its decisions (decisions.go)
)

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(ctxRequestID).(string)
	return s
}

// recoverer turns a panic into a 500 with an OperationOutcome. The stack goes to the log (it holds
// code locations, not request data); the caller sees no trace.
func (g *Gateway) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				stack := debug.Stack()
				if ps, ok := v.(interface{ PanicStack() []byte }); ok {
					stack = ps.PanicStack() // raised again from where it was recovered (a store write): its own stack
				}
				g.log.Error("panic recovered", "path", g.routeLabel(r), "request_id", requestID(r.Context()),
					"stack", string(stack))
				g.metrics.panics.Inc()
				writeError(w, errorf(KindInternal, "panic", "internal error", nil))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// cors answers preflights without authentication (browsers never send credentials on OPTIONS)
// and marks responses readable by the allowed origins. CDS Hooks §CORS; the sandbox needs the
// Authorization header allowed. Only the CDS Hooks routes take part: analytics, metrics and the
// demo FHIR server are never readable from another origin. A refused preflight is logged with
// its reason (the origin and the request headers are not PHI), so an integrator who sees the
// sandbox's "Failed to connect" can find why in valuerx's log.
func (g *Gateway) cors(next http.Handler) http.Handler {
	allowAny := false
	allowed := map[string]bool{}
	for _, o := range g.cfg.CORSOrigins {
		if o == "*" {
			allowAny = true
		}
		allowed[strings.TrimRight(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cds-services" && !strings.HasPrefix(r.URL.Path, "/cds-services/") {
			next.ServeHTTP(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if origin != "" && (allowAny || allowed[origin]) {
			h := w.Header()
			if allowAny {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Add("Vary", "Origin")
			}
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
			if preflight {
				if extra := unlistedHeaders(r.Header.Get("Access-Control-Request-Headers")); extra != "" {
					g.warnLimited("cors-headers", "CORS preflight: the browser will refuse the call", "route", g.routeLabel(r), "origin", logSafe(origin),
						"reason", "requested headers not allowed: "+extra)
				}
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		} else if preflight {
			reason := "origin not in cors.origins"
			if origin == "" {
				reason = "preflight without Origin"
			}
			g.warnLimited("cors-refused", "CORS preflight refused", "route", g.routeLabel(r), "origin", logSafe(origin), "reason", reason)
		}
		if r.Method == http.MethodOptions {
			// A preflight from an origin we do not serve, or a bare OPTIONS: no CORS headers.
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

const corsAllowHeaders = "Authorization, Content-Type, Accept"

// unlistedHeaders returns the requested headers a preflight answer does not allow ("" if none).
func unlistedHeaders(requested string) string {
	var out []string
	for _, h := range strings.Split(requested, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "", "authorization", "content-type", "accept":
		default:
			out = append(out, h)
		}
	}
	return logSafe(strings.Join(out, ","))
}

// logSafe bounds a header value for a log line and drops control characters.
func logSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// limitBody caps request bodies; handlers read with readBody, which reports 413.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > g.cfg.MaxBodyBytes {
			writeError(w, errorf(KindTooLarge, "read", "request body too large", nil))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// accessLog logs one line per request: method, route, status, duration and a request id. Never the
// body, query string or headers (tokens, patient ids).
func (g *Gateway) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		// Every answer is JSON, CSV, HTML or an asset of a declared type: no browser may sniff
		// one into something else (analytics review: JSON and the outcomes CSVs lacked it).
		w.Header().Set("X-Content-Type-Options", "nosniff")
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxRequestID, id)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		g.log.Info("request", "method", r.Method, "route", g.routeLabel(r), "status", sw.status,
			"ms", float64(time.Since(start).Microseconds())/1000, "request_id", id)
	})
}

// routeLabel names the route without anything a caller chose beyond a known service id: an
// analytics path is named by the template of the route it matched (a path that matches none is
// "{other}": the issue 11 review had a name, an MBI and a birth date logged from a 404).
func (g *Gateway) routeLabel(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/cds-services", p == "/healthz", p == "/metrics":
		return p
	case strings.HasPrefix(p, "/analytics/"):
		var m mux.RouteMatch
		if g.router != nil && g.router.Match(r, &m) && m.MatchErr == nil && m.Route != nil {
			if tpl, err := m.Route.GetPathTemplate(); err == nil {
				return tpl
			}
		}
		return "/analytics/{other}"
	case strings.HasPrefix(p, "/cds-services/"):
		rest := strings.TrimPrefix(p, "/cds-services/")
		id, tail, hasTail := strings.Cut(rest, "/")
		if !knownServiceID(id) {
			id = "{unknown}"
		}
		switch {
		case tail == "feedback":
			return "/cds-services/" + id + "/feedback"
		case hasTail:
			return "/cds-services/" + id + "/{other}"
		}
		return "/cds-services/" + id
	case strings.HasPrefix(p, "/fhir"):
		return "/fhir/..."
	case strings.HasPrefix(p, comparePath):
		return comparePath + "{ref}" // the reference is a bearer of the page: never logged
	}
	return "{other}"
}

// authenticate verifies the CDS Hooks client JWT (CDS Hooks §Trusting CDS Clients). The audience
// is the configured external URL of exactly this endpoint. Failures answer 401 with no detail;
// the reason goes to the log without the token.
func (g *Gateway) authenticate(next http.Handler) http.Handler {
	return g.authenticateWith(next, false)
}

// authenticateHook is authenticate for the hook endpoint: the jti's claim in the shared store
// (VerifyDeferred) is left to the hook, which writes it in the same commit as its decisions
// (recorder.commit) or alone when it records nothing (settleJTI), so a hook pays for one commit.
// Replays to this instance are still refused here, by the verifier's in-memory cache.
func (g *Gateway) authenticateHook(next http.Handler) http.Handler {
	return g.authenticateWith(next, g.deferJTI)
}

func (g *Gateway) authenticateWith(next http.Handler, deferJTI bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.cfg.Verifier == nil {
			next.ServeHTTP(w, r)
			return
		}
		authz := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(authz, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			g.unauthorized(w, r, errors.New("no bearer token"))
			return
		}
		aud := g.cfg.ExternalURL + r.URL.Path
		if !deferJTI {
			claims, err := g.cfg.Verifier.Verify(r.Context(), strings.TrimSpace(token), aud)
			if err != nil {
				g.unauthorized(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxClaims, claims)))
			return
		}
		claims, claim, err := g.cfg.Verifier.VerifyDeferred(r.Context(), strings.TrimSpace(token), aud)
		if err != nil {
			g.unauthorized(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), ctxClaims, claims)
		if claim != nil {
			ctx = context.WithValue(ctx, ctxJTI, &pendingJTI{claim: claim})
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (g *Gateway) unauthorized(w http.ResponseWriter, r *http.Request, reason error) {
	g.metrics.authFailures.Inc()
	key := "auth"
	if ae := (*cdshooks.AuthError)(nil); errors.As(reason, &ae) {
		key += "\x00" + ae.Reason // a fixed set: one bucket per reason
	}
	g.warnLimited(key, "authentication failed", "route", g.routeLabel(r), "request_id", requestID(r.Context()), "reason", reason.Error())
	writeError(w, &Error{Kind: KindUnauthorized, Op: "auth", Message: "unauthorized", Err: cdshooks.ErrUnauthorized})
}
