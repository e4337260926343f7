package gateway

import (
	"sync"
	"time"
)

// Warnings a caller can provoke at will (a refused CORS preflight needs no credential, a failed
// authentication only a request) are rate-limited per message, so that a flood of them cannot
// fill the operator's log or its disk (attacker review, issue 11). The limit is per message text,
// a fixed set, never per origin or client: a caller choosing the key could always get a fresh
// bucket. What was dropped is counted and reported on the next line let through; the metrics
// (valuerx_auth_failures_total) still count every one. A failed authentication is limited per
// reason (cdshooks.AuthError.Reason, a fixed set): a flood of malformed tokens, which needs no
// credential, must not hide the replay of a stolen token or an unreachable key set.
const (
	warnBurst = 20          // lines of one message before the limit
	warnEvery = time.Second // then one line per this
)

type warnLimiter struct {
	mu sync.Mutex
	m  map[string]*warnBucket
}

type warnBucket struct {
	tokens  float64
	last    time.Time
	dropped int
}

// allow reports whether a line of msg may be written at now and, if so, how many were dropped
// since the last one written.
func (l *warnLimiter) allow(msg string, now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*warnBucket{}
	}
	b := l.m[msg]
	if b == nil {
		b = &warnBucket{tokens: warnBurst, last: now}
		l.m[msg] = b
	}
	b.tokens = min(warnBurst, b.tokens+float64(now.Sub(b.last))/float64(warnEvery))
	b.last = now
	if b.tokens < 1 {
		b.dropped++
		return false, 0
	}
	b.tokens--
	dropped, b.dropped = b.dropped, 0
	return true, dropped
}

// warnLimited logs msg at WARN unless the limit of key (a fixed string: the message, or the
// message and a fixed reason) is reached (warnLimiter); a line after dropped ones carries their
// number as "suppressed".
func (g *Gateway) warnLimited(key, msg string, args ...any) {
	ok, dropped := g.warns.allow(key, time.Now())
	if !ok {
		return
	}
	if dropped > 0 {
		args = append(args, "suppressed", dropped)
	}
	g.log.Warn(msg, args...)
}
