package cdshooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// jwtReplayCache remembers accepted (iss, jti) pairs until their token can
// no longer be accepted anyway. It is a map with per-entry expiry plus a
// FIFO of insertions that bounds its size, driven by the Verifier's clock
// (so tests can move time) and without a background goroutine.
//
// Tokens live at most MaxLifetime, so insertion order is close to expiry
// order and sweeping expired entries from the front of the FIFO keeps the
// map small. When the cache is full the oldest entry is dropped even if it
// has not expired: a bound on memory matters more than replay protection
// for a token that has survived 100 000 newer ones, and filling the cache
// requires validly signed tokens.
//
// Keys are kept as 128-bit SHA-256 prefixes and expiries as Unix nanoseconds: about 60 bytes an
// entry instead of about 200, because at 100 000 live tokens the cache was the largest use of
// memory under load (docs/performance.md). A prefix collision could only refuse a token, never
// accept a replay, and needs about 2^64 tokens.
type jwtReplayCache struct {
	mu    sync.Mutex
	max   int
	seen  map[jwtReplayKey]int64 // key -> expiry (Unix ns)
	order []jwtReplayEntry       // ring buffer in insertion order
	head  int                    // index of the oldest entry in order
	n     int                    // number of live entries in order
}

type jwtReplayKey [16]byte

type jwtReplayEntry struct {
	key    jwtReplayKey
	expiry int64
}

func newJWTReplayCache(size int) *jwtReplayCache {
	return &jwtReplayCache{max: size, seen: make(map[jwtReplayKey]int64)}
}

func replayKey(s string) jwtReplayKey {
	sum := sha256.Sum256([]byte(s))
	return jwtReplayKey(sum[:16])
}

// add records key until expiry and reports whether it was new. A key whose
// previous expiry has passed counts as new.
func (c *jwtReplayCache) add(keyText string, expiryTime, nowTime time.Time) bool {
	key, expiry, now := replayKey(keyText), expiryTime.UnixNano(), nowTime.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(now)
	if exp, ok := c.seen[key]; ok && now < exp {
		return false
	}
	if c.n == c.max {
		c.popOldest()
	}
	if len(c.order) == c.n { // grow the ring
		grown := make([]jwtReplayEntry, max(2*len(c.order), 16))
		grown = grown[:min(len(grown), c.max)]
		for i := range c.n {
			grown[i] = c.order[(c.head+i)%len(c.order)]
		}
		c.order, c.head = grown, 0
	}
	c.order[(c.head+c.n)%len(c.order)] = jwtReplayEntry{key: key, expiry: expiry}
	c.n++
	c.seen[key] = expiry
	return true
}

// sweep drops expired entries from the front of the ring.
func (c *jwtReplayCache) sweep(now int64) {
	for c.n > 0 && now >= c.order[c.head].expiry {
		c.popOldest()
	}
}

func (c *jwtReplayCache) popOldest() {
	e := c.order[c.head]
	c.order[c.head] = jwtReplayEntry{}
	c.head = (c.head + 1) % len(c.order)
	c.n--
	// A key re-added after expiry has a newer entry further back; only the
	// map entry that this ring slot created may be deleted.
	if exp, ok := c.seen[e.key]; ok && exp == e.expiry {
		delete(c.seen, e.key)
	}
}

// size reports the number of remembered keys (for tests).
func (c *jwtReplayCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// ReplayStore is a durable record of accepted jtis shared by every instance that uses it (valuerx
// passes its decision store). ClaimJTI records key until expires and reports whether it was new
// (or its earlier claim had expired by now); it returns only once the claim is durable.
type ReplayStore interface {
	ClaimJTI(ctx context.Context, key string, expires, now time.Time) (bool, error)
}

// ReasonReplayStore is the refusal when the ReplayStore cannot answer: replay protection fails
// closed, since accepting unchecked tokens is what it exists to prevent.
const ReasonReplayStore = "replay store unavailable"

// replayStoreTimeout bounds one claim in the ReplayStore.
const replayStoreTimeout = 2 * time.Second

// JTIClaim is an accepted token's claim in the ReplayStore, as VerifyDeferred leaves it to its
// caller: Key is the SHA-256 (hex) of issuer and jti, never the jti itself, valid until Expires
// (exp plus the clock skew), claimed at Now (the verifier's clock).
type JTIClaim struct {
	Key     string
	Expires time.Time
	Now     time.Time

	issuer, kid, jti string // for the refusal's log line (loggable forms)
}

// Replay is the refusal for c when the store finds its key already claimed by a caller's own
// write (the gateway's hook commit): the same error Verify returns for a replay.
func (c *JTIClaim) Replay() error {
	return &AuthError{Reason: ReasonReplay, Issuer: c.issuer, KeyID: c.kid, JTI: c.jti}
}

// Unavailable is the refusal for c when the store could not take its claim: replay protection
// fails closed.
func (c *JTIClaim) Unavailable(err error) error {
	return &AuthError{Reason: ReasonReplayStore, Issuer: c.issuer, KeyID: c.kid, JTI: c.jti, Err: err}
}

// Claim writes c in the ReplayStore on its own and returns once it is committed: nil, or the
// refusal (a replay, or the store unavailable) as an error wrapping ErrUnauthorized.
func (v *Verifier) Claim(ctx context.Context, c *JTIClaim) error {
	ctx, cancel := context.WithTimeout(ctx, replayStoreTimeout)
	defer cancel()
	fresh, err := v.store.ClaimJTI(ctx, c.Key, c.Expires, c.Now)
	if err != nil {
		return c.Unavailable(err)
	}
	if !fresh {
		return c.Replay()
	}
	return nil
}

// claimJTI records an accepted token's (issuer, jti) until expiry in the in-memory cache, which
// refuses a replay to this instance without a store round trip. A key it has not seen must then
// be claimed in the ReplayStore, which catches replays across a restart and across instances:
// the claim to write is returned (nil without a store), the store being given a SHA-256 of the
// key, never the jti itself.
func (v *Verifier) claimJTI(key string, expires, now time.Time) (*JTIClaim, *AuthError) {
	if !v.replay.add(key, expires, now) {
		return nil, &AuthError{Reason: ReasonReplay}
	}
	if v.store == nil {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(key))
	return &JTIClaim{Key: hex.EncodeToString(sum[:]), Expires: expires, Now: now}, nil
}

// ReplayStore is the store the verifier claims jtis in (nil: the in-memory cache alone). A caller
// writes VerifyDeferred's claims into its own transactions only when they are the same store.
func (v *Verifier) ReplayStore() ReplayStore { return v.store }
