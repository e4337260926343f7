package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Why a server-side entry behind an opaque reference, rather than the scoring request signed into
// the URL: the request is not patient data on its own, but an order date, a weight-based dose, a
// formulary site and a diagnosis (the indication) together can point at one patient, and a
// signed token is readable by anyone who sees the URL (browser history, proxies, a forwarded
// e-mail). Encrypting it would hide it but tie every old link to the key forever. So the URL
// carries only a random 128-bit id, an expiry and an HMAC-SHA256 tag: nothing to read, nothing to
// guess, nothing to enumerate. The entry (the scoring result the card was built from) lives in
// a bounded LRU in the process that built the card, for TTL; the page re-reads that result, so
// it shows exactly the card's figures even after a catalog reload. The price: a link works on
// the instance that issued it (several instances need sticky routing or a shared store), and
// links die with a restart; both end in the same clear "expired" page, never in wrong data.

// RefLen is the length of an encoded reference (base64url of id, expiry and tag).
var RefLen = base64.RawURLEncoding.EncodedLen(refBytes)

const (
	idBytes  = 16
	expBytes = 8
	tagBytes = 32
	refBytes = idBytes + expBytes + tagBytes
	// refDomain separates these tags from any other use of the same secret.
	refDomain = "valuerx compare-link v1\x00"
)

// ID names one stored comparison.
type ID [idBytes]byte

// NewID draws a random id.
func NewID() (ID, error) {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		return id, fmt.Errorf("web: comparison id: %w", err)
	}
	return id, nil
}

// Errors of Links.Open. The page says the same thing for all of them (no oracle for a forger);
// they differ for tests and for the status code.
var (
	ErrMalformed = errors.New("web: malformed comparison reference")
	ErrForged    = errors.New("web: comparison reference with a bad signature")
	ErrExpired   = errors.New("web: comparison reference expired")
	ErrUnknown   = errors.New("web: comparison no longer held")
)

// Links issues and opens signed, short-lived references to stored comparisons.
//
// Each owner (the trusted client whose card carries the link, or the dashboard) has its own LRU
// of size comparisons: in one shared LRU a client's hooks evicted another's comparisons, whose
// links then answered 410 (security review, 2 December 2026: 64 hooks of client B at size 64;
// about 205 hooks of 20 drafts at the default). Owners are the configured clients, so their
// number is bounded by the configuration; a link does not name its owner, and Open looks in each.
type Links struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	size   int
	mu     sync.Mutex // Issue's read-modify-write of an entry's expiry, and owners
	owners map[string]*lru.Cache[ID, held]
}

type held struct {
	c   *Comparison
	exp time.Time
	// ref is the reference last issued for the entry, valid until refExp: an expiry is a whole
	// second, so every link issued for the same comparison within a second is the same string
	// and is signed once (an HMAC per card was a few percent of a 20-draft hook).
	ref    string
	refExp time.Time
}

// NewLinks keeps up to size comparisons per owner, each for ttl after its latest link was issued. secret
// keys the tags (32 random bytes are drawn when it is empty: links then die with the process).
func NewLinks(secret []byte, ttl time.Duration, size int, now func() time.Time) (*Links, error) {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("web: link secret: %w", err)
		}
	} else if len(secret) < 16 {
		return nil, errors.New("web: the link secret must have at least 16 bytes")
	}
	if ttl <= 0 {
		return nil, errors.New("web: link lifetime must be positive")
	}
	if size <= 0 {
		size = 4096
	}
	if now == nil {
		now = time.Now
	}
	return &Links{secret: append([]byte(nil), secret...), ttl: ttl, now: now, size: size, owners: map[string]*lru.Cache[ID, held]{}}, nil
}

// owner is owner's LRU, made on first use. Called with mu held.
func (l *Links) owner(owner string) *lru.Cache[ID, held] {
	c, ok := l.owners[owner]
	if !ok {
		c, _ = lru.New[ID, held](l.size) // size > 0: New fails only for size <= 0
		l.owners[owner] = c
	}
	return c
}

// TTL is how long a link stays valid.
func (l *Links) TTL() time.Duration { return l.ttl }

// Issue stores c under id in owner's LRU (build runs only when owner does not hold id) and
// returns a fresh reference valid for the TTL from now; the entry is kept at least that long
// unless owner's own comparisons evict it.
func (l *Links) Issue(owner string, id ID, build func() *Comparison) string {
	exp := l.now().Add(l.ttl).Truncate(time.Second)
	l.mu.Lock()
	c := l.owner(owner)
	h, ok := c.Get(id)
	if !ok {
		h.c = build()
	}
	if exp.After(h.exp) {
		h.exp = exp
	}
	if h.ref == "" || !h.refExp.Equal(exp) {
		h.ref, h.refExp = l.sign(id, exp), exp
	}
	c.Add(id, h)
	l.mu.Unlock()
	return h.ref
}

func (l *Links) sign(id ID, exp time.Time) string {
	var b [refBytes]byte
	copy(b[:idBytes], id[:])
	binary.BigEndian.PutUint64(b[idBytes:idBytes+expBytes], uint64(exp.Unix()))
	copy(b[idBytes+expBytes:], l.tag(b[:idBytes+expBytes]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (l *Links) tag(payload []byte) []byte {
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(refDomain))
	m.Write(payload)
	return m.Sum(nil)
}

// Open checks a reference (shape, tag, expiry, in that order, the tag in constant time) and
// returns the comparison it names.
func (l *Links) Open(ref string) (*Comparison, error) {
	if len(ref) != RefLen {
		return nil, ErrMalformed
	}
	b, err := base64.RawURLEncoding.DecodeString(ref)
	if err != nil || len(b) != refBytes {
		return nil, ErrMalformed
	}
	if !hmac.Equal(b[idBytes+expBytes:], l.tag(b[:idBytes+expBytes])) {
		return nil, ErrForged
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[idBytes:idBytes+expBytes])), 0)
	now := l.now()
	if !now.Before(exp) {
		return nil, ErrExpired
	}
	var id ID
	copy(id[:], b[:idBytes])
	var h held
	ok := false
	l.mu.Lock()
	for _, c := range l.owners {
		if h, ok = c.Get(id); ok && h.c != nil {
			break
		}
	}
	l.mu.Unlock()
	if !ok || h.c == nil {
		return nil, ErrUnknown
	}
	if !now.Before(h.exp) {
		return nil, ErrExpired
	}
	return h.c, nil
}
