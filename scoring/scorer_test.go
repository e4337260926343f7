package scoring

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestScorerCache(t *testing.T) {
	cat, reg := env(t)
	s, err := NewScorer(cat, reg, 2)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{ContractID: "mssp-aco", ProductID: "herceptin", Date: day("2026-02-15")}
	a, err := s.Score(req)
	if err != nil {
		t.Fatal(err)
	}
	// Same day at another time: a hit.
	req2 := req
	req2.Date = req.Date.Add(15 * 3600e9)
	b, err := s.Score(req2)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Hits != 1 || st.Misses != 1 || st.Len != 1 {
		t.Fatalf("stats %+v, want 1 hit, 1 miss, 1 entry", st)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("cached result differs")
	}
	pure := mustScore(t, cat, reg, req)
	if !reflect.DeepEqual(a, pure) {
		t.Fatal("Scorer and Score disagree")
	}

	// Hits share the cached Result (read-only); a caller that edits takes a
	// Clone, and its edits, reordering and truncation do not reach the cache.
	if &b.Options[0] != &a.Options[0] {
		t.Fatal("a hit copied the options instead of sharing the cached result")
	}
	own := b.Clone()
	own.Best.PerCourse.NetImpact = -1
	own.Options[0], own.Options[1] = own.Options[1], own.Options[0]
	own.Options = own.Options[:1]
	c, _ := s.Score(req)
	if !reflect.DeepEqual(pure, c) {
		t.Fatal("an edit of a Clone reached the cache")
	}
	if c.Best != &c.Options[0] {
		t.Fatal("Best does not point into the Options")
	}
	if cl := c.Clone(); cl.Best != &cl.Options[0] || &cl.Options[0] == &c.Options[0] {
		t.Fatal("Clone must own its Options with Best pointing into them")
	}

	// An explicit dose equal to the default is a different key: its result does
	// not say "defaulted".
	req3 := req
	req3.DoseMg, req3.Administrations = 420, 17
	d, _ := s.Score(req3)
	if len(d.Defaulted) != 0 || d.Best.Delta.NetImpact != a.Best.Delta.NetImpact {
		t.Errorf("explicit dose: defaulted %v, delta %v vs %v", d.Defaulted, d.Best.Delta.NetImpact, a.Best.Delta.NetImpact)
	}
	// A third key evicts the least recently used (size 2).
	req4 := req
	req4.ContractID = "medicare-ffs"
	if _, err := s.Score(req4); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Len != 2 || st.Misses != 3 || st.Hits != 2 {
		t.Errorf("stats %+v, want 2 entries, 3 misses, 2 hits", st)
	}
	// Errors are returned, not cached.
	bad := req
	bad.ProductID = "nope"
	for range 2 {
		if _, err := s.Score(bad); err == nil {
			t.Fatal("unknown product accepted")
		}
	}
	if st := s.Stats(); st.Misses != 3 {
		t.Errorf("errors counted as misses: %+v", st)
	}
	if _, err := NewScorer(cat, reg, 0); err == nil {
		t.Error("size 0 accepted")
	}
}

func TestScorerConcurrent(t *testing.T) {
	cat, reg := env(t)
	s, err := NewScorer(cat, reg, 64)
	if err != nil {
		t.Fatal(err)
	}
	contracts := []string{"medicare-ffs", "mssp-aco", "ma-capitation", "commercial-ppo"}
	dates := []string{"2024-02-15", "2025-08-01", "2026-02-15"}
	want := map[string]string{}
	for _, k := range contracts {
		for _, d := range dates {
			r := mustScore(t, cat, reg, Request{ContractID: k, ProductID: "herceptin", Date: day(d)})
			want[k+d] = bestID(r)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 60 {
				k, d := contracts[(w+i)%len(contracts)], dates[i%len(dates)]
				r, err := s.Score(Request{ContractID: k, ProductID: "herceptin", Date: day(d)})
				if err != nil {
					errs <- err
					return
				}
				if bestID(r) != want[k+d] {
					errs <- fmt.Errorf("%s %s: best %q, want %q", k, d, bestID(r), want[k+d])
					return
				}
				if own := r.Clone(); len(own.Options) > 1 {
					own.Options[0], own.Options[1] = own.Options[1], own.Options[0] // a Clone is the caller's own
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := s.Stats(); st.Hits+st.Misses != 480 || st.Misses < 12 || st.Len != 12 {
		t.Errorf("stats %+v, want 480 lookups over 12 keys", st)
	}
}

// BenchmarkScoreCached: a request through the Scorer's LRU (a hit shares the
// cached, read-only Result). BenchmarkScoreCold (the uncached score
// of the seven-product trastuzumab group, per contract) is in bench_hot_test.go.
func BenchmarkScoreCached(b *testing.B) {
	cat, reg := env(b)
	s, err := NewScorer(cat, reg, 128)
	if err != nil {
		b.Fatal(err)
	}
	req := Request{ContractID: "mssp-aco", ProductID: "herceptin", Date: day("2026-02-15")}
	if _, err := s.Score(req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Score(req); err != nil {
			b.Fatal(err)
		}
	}
}
