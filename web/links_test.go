package web

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestLinks(t *testing.T, size int) (*Links, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)}
	l, err := NewLinks([]byte("0123456789abcdef0123456789abcdef"), time.Hour, size, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

func TestLinksIssueAndOpen(t *testing.T) {
	l, clk := newTestLinks(t, 8)
	id, _ := NewID()
	want := &Comparison{Assumptions: []string{"x"}}
	builds := 0
	ref := l.Issue("client-a", id, func() *Comparison { builds++; return want })
	if len(ref) != RefLen || RefLen != 75 || strings.ContainsAny(ref, "+/=") {
		t.Fatalf("reference %q (%d characters): want 75 URL-safe characters", ref, len(ref))
	}
	got, err := l.Open(ref)
	if err != nil || got != want {
		t.Fatalf("Open = %v, %v", got, err)
	}
	// A second card with the same id reuses the entry and gets its own reference.
	clk.add(time.Second)
	ref2 := l.Issue("client-a", id, func() *Comparison { builds++; return &Comparison{} })
	if builds != 1 || ref2 == ref {
		t.Fatalf("builds %d, refs equal %v", builds, ref2 == ref)
	}
	if got, err := l.Open(ref2); err != nil || got != want {
		t.Fatalf("second reference: %v, %v", got, err)
	}

	// Expiry: an hour after issue the first reference is dead, the second (a second younger) not.
	clk.add(time.Hour - time.Second)
	if _, err := l.Open(ref); !errors.Is(err, ErrExpired) {
		t.Errorf("expired reference: %v", err)
	}
	if _, err := l.Open(ref2); err != nil {
		t.Errorf("reference with a second left: %v", err)
	}
	clk.add(time.Second)
	if _, err := l.Open(ref2); !errors.Is(err, ErrExpired) {
		t.Errorf("second reference after its hour: %v", err)
	}
}

func TestLinksRefuseTamperedAndForeign(t *testing.T) {
	l, _ := newTestLinks(t, 8)
	id, _ := NewID()
	ref := l.Issue("client-a", id, func() *Comparison { return &Comparison{} })
	flip := func(i int) string {
		b := []byte(ref)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	other, _ := NewLinks([]byte("another secret of 32 bytes......"), time.Hour, 8, nil)
	for name, c := range map[string]struct {
		ref  string
		want error
	}{
		"id changed":          {flip(3), ErrForged},
		"expiry extended":     {flip(25), ErrForged},
		"tag changed":         {flip(60), ErrForged},
		"truncated":           {ref[:74], ErrMalformed},
		"padded":              {ref + "A", ErrMalformed},
		"not base64":          {strings.Repeat("*", 75), ErrMalformed},
		"empty":               {"", ErrMalformed},
		"another key's token": {other.Issue("client-a", id, func() *Comparison { return &Comparison{} }), ErrForged},
	} {
		if _, err := l.Open(c.ref); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// A reference whose comparison was evicted (or issued by another process) opens nothing.
func TestLinksEvicted(t *testing.T) {
	l, _ := newTestLinks(t, 2)
	var refs []string
	for range 3 {
		id, _ := NewID()
		refs = append(refs, l.Issue("client-a", id, func() *Comparison { return &Comparison{} }))
	}
	if _, err := l.Open(refs[0]); !errors.Is(err, ErrUnknown) {
		t.Errorf("evicted: %v", err)
	}
	if _, err := l.Open(refs[2]); err != nil {
		t.Errorf("newest: %v", err)
	}
}

// One owner's comparisons cannot evict another's (security review, 2 December 2026: client B's
// hooks turned client A's links into 410 in one shared LRU).
func TestLinksOwnersApart(t *testing.T) {
	l, _ := newTestLinks(t, 2)
	idA, _ := NewID()
	refA := l.Issue("client-a", idA, func() *Comparison { return &Comparison{Assumptions: []string{"a"}} })
	for range 10 {
		id, _ := NewID()
		l.Issue("client-b", id, func() *Comparison { return &Comparison{} })
	}
	if c, err := l.Open(refA); err != nil || c.Assumptions[0] != "a" {
		t.Fatalf("client A's link after 10 of client B's at size 2: %v", err)
	}
	// The same comparison id under two owners is two entries, each opened by its own link.
	refB := l.Issue("client-b", idA, func() *Comparison { return &Comparison{Assumptions: []string{"b"}} })
	if c, err := l.Open(refB); err != nil || c == nil {
		t.Fatalf("client B's link to the same id: %v", err)
	}
}

func TestNewLinksRefusesAShortSecret(t *testing.T) {
	if _, err := NewLinks([]byte("short"), time.Hour, 1, nil); err == nil {
		t.Error("a 5-byte secret must be refused")
	}
	if l, err := NewLinks(nil, time.Hour, 1, nil); err != nil || len(l.secret) != 32 {
		t.Errorf("no secret: want a random one: %v", err)
	}
}

// FuzzOpen: any string is refused cleanly (or opens a held comparison), never a panic.
func FuzzOpen(f *testing.F) {
	l, err := NewLinks([]byte("0123456789abcdef0123456789abcdef"), time.Hour, 4, nil)
	if err != nil {
		f.Fatal(err)
	}
	id, _ := NewID()
	f.Add(l.Issue("client-a", id, func() *Comparison { return &Comparison{} }))
	f.Add("")
	f.Add(strings.Repeat("A", 75))
	f.Fuzz(func(t *testing.T, ref string) {
		c, err := l.Open(ref)
		if (c == nil) == (err == nil) {
			t.Fatalf("Open(%q) = %v, %v", ref, c, err)
		}
	})
}
