package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"valuerx/cdshooks"
)

func TestWarnLimiter(t *testing.T) {
	var l warnLimiter
	t0 := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
	let := 0
	for range 100 {
		if ok, _ := l.allow("m", t0); ok {
			let++
		}
	}
	if let != warnBurst {
		t.Fatalf("a burst of 100 let %d through, want %d", let, warnBurst)
	}
	if ok, _ := l.allow("other", t0); !ok {
		t.Fatal("another message shares the first one's limit")
	}
	// Half a period later nothing more; a period later one line, with the drops counted.
	if ok, _ := l.allow("m", t0.Add(warnEvery/2)); ok {
		t.Fatal("a line let through before the bucket refilled")
	}
	ok, dropped := l.allow("m", t0.Add(warnEvery))
	if !ok || dropped != 81 {
		t.Fatalf("after a period: ok %v, dropped %d; want true, 81", ok, dropped)
	}
	if ok, dropped := l.allow("m", t0.Add(time.Hour)); !ok || dropped != 0 {
		t.Fatalf("an hour later: ok %v, dropped %d; want true, 0", ok, dropped)
	}
}

// A flood of refused preflights (no credential needed) and of bad tokens writes a bounded number
// of log lines; every request is still refused.
func TestProvokedWarningsRateLimited(t *testing.T) {
	e := newEnv(t)
	for range 300 {
		_, _, h := e.do(http.MethodOptions, serviceOf("order-select"), nil, map[string]string{"Origin": "https://ehr.evil.test", "Access-Control-Request-Method": "POST"})
		if h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from an unlisted origin allowed: %v", h)
		}
		s, _, _ := e.do(http.MethodPost, serviceOf("order-select"), []byte(`{}`), map[string]string{"Authorization": "Bearer not-a-jwt", "Content-Type": "application/json"})
		if s != http.StatusUnauthorized {
			t.Fatalf("bad token answered %d", s)
		}
	}
	logs := e.logs.String()
	for _, msg := range []string{`"msg":"CORS preflight refused"`, `"msg":"authentication failed"`} {
		// The 300 requests took well under the ten seconds that would refill ten more lines.
		if n := strings.Count(logs, msg); n < 1 || n > warnBurst+10 {
			t.Errorf("%s logged %d times for 300 requests, want 1..%d", msg, n, warnBurst+10)
		}
	}
}

// A flood of malformed tokens (no credential needed) does not hide the replay of a valid token
// that follows it: failed authentications are limited per reason.
func TestAuthFloodDoesNotHideAReplay(t *testing.T) {
	e := newEnv(t)
	for range 100 {
		e.do(http.MethodPost, serviceOf("order-select"), []byte(`{}`), map[string]string{"Authorization": "Bearer not-a-jwt", "Content-Type": "application/json"})
	}
	path := serviceOf("order-select")
	body := e.demoRequest("aco-herceptin-order-select")
	hdr := map[string]string{"Authorization": "Bearer " + e.token(path), "Content-Type": "application/json"}
	if s, out, _ := e.do(http.MethodPost, path, body, hdr); s != http.StatusOK {
		t.Fatalf("first use of the token: %d %s", s, out)
	}
	if s, _, _ := e.do(http.MethodPost, path, body, hdr); s != http.StatusUnauthorized {
		t.Fatalf("replay answered %d, want 401", s)
	}
	if logs := e.logs.String(); !strings.Contains(logs, cdshooks.ReasonReplay) {
		t.Fatalf("the replay after a flood of malformed tokens is not in the log:\n%.2000s", logs)
	}
}
