package scoring

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"valuerx/internal/cputime"
)

func reportCPU(b *testing.B, start time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64(cputime.Now()-start)/float64(n), "cpu-ns/op")
	}
}

// The hot-path budgets of issue 6: a cached score in under 2 µs, a cold score of a group of ten
// products in under 50 µs (BenchmarkScoreColdTen; the catalog's largest real groups,
// trastuzumab and pegfilgrastim, have seven, BenchmarkScoreCold).
// Benchmarks report the figures; the allocation budgets below fail a regression that would
// multiply the garbage every hook produces.

func hotRequest(contract string) Request {
	return Request{ContractID: contract, ProductID: "herceptin", DoseMg: 420, Administrations: 17,
		Date: time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)}
}

// BenchmarkScoreCold is the pure, uncached score of the seven-product trastuzumab group under
// each sample contract.
func BenchmarkScoreCold(b *testing.B) {
	cat, reg := env(b)
	for _, k := range reg.Contracts() {
		b.Run(k.ID, func(b *testing.B) {
			req := hotRequest(k.ID)
			mustScore(b, cat, reg, req)
			b.ReportAllocs()
			start, n := cputime.Now(), 0
			for b.Loop() {
				if _, err := Score(cat, reg, req); err != nil {
					b.Fatal(err)
				}
				n++
			}
			reportCPU(b, start, n)
		})
	}
}

// BenchmarkScorerMiss is a cache miss through the Scorer: every iteration a new dose, so the
// figure includes the key, the score and the insertion (evictions once the cache is full).
func BenchmarkScorerMiss(b *testing.B) {
	cat, reg := env(b)
	s, err := NewScorer(cat, reg, 4096)
	if err != nil {
		b.Fatal(err)
	}
	req := hotRequest("mssp-aco")
	b.ReportAllocs()
	i := 0
	start := cputime.Now()
	for b.Loop() {
		i++
		req.DoseMg = 100 + float64(i)/100
		if _, err := s.Score(req); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start, i)
}

// BenchmarkScorerHit is a cached score, copied out for the caller.
func BenchmarkScorerHit(b *testing.B) {
	cat, reg := env(b)
	for _, k := range reg.Contracts() {
		b.Run(k.ID, func(b *testing.B) {
			s, err := NewScorer(cat, reg, 64)
			if err != nil {
				b.Fatal(err)
			}
			req := hotRequest(k.ID)
			if _, err := s.Score(req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start, n := cputime.Now(), 0
			for b.Loop() {
				if _, err := s.Score(req); err != nil {
					b.Fatal(err)
				}
				n++
			}
			reportCPU(b, start, n)
			if st := s.Stats(); st.Misses != 1 {
				b.Fatalf("cache missed %d times, want once", st.Misses)
			}
		})
	}
}

// TestScoreAllocBudget bounds the allocations of a cached and a cold score. The figures are a
// little above what the code does today, so a change that adds a per-option map or a per-call
// catalog copy fails here rather than in a load test.
func TestScoreAllocBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation budgets need a quiet runtime")
	}
	cat, reg := env(t)
	for _, k := range reg.Contracts() {
		t.Run(k.ID, func(t *testing.T) {
			req := hotRequest(k.ID)
			s, err := NewScorer(cat, reg, 64)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Score(req); err != nil {
				t.Fatal(err)
			}
			hit := testing.AllocsPerRun(200, func() {
				if _, err := s.Score(req); err != nil {
					t.Fatal(err)
				}
			})
			cold := testing.AllocsPerRun(50, func() {
				if _, err := Score(cat, reg, req); err != nil {
					t.Fatal(err)
				}
			})
			t.Logf("%s: cached %.0f allocs, cold %.0f allocs", k.ID, hit, cold)
			if lim := float64(scoreHitAllocBudget); hit > lim {
				t.Errorf("cached score: %.0f allocations, budget %d", hit, scoreHitAllocBudget)
			}
			if lim := float64(scoreColdAllocBudget); cold > lim {
				t.Errorf("cold score: %.0f allocations, budget %d", cold, scoreColdAllocBudget)
			}
		})
	}
}

// Allocation budgets (see TestScoreAllocBudget).
const (
	scoreHitAllocBudget  = 4
	scoreColdAllocBudget = 80
)

// widened returns a copy of cat in which group groupID has n products: the real ones plus
// copies of its last biosimilar under new ids, each priced a little differently in every book
// that prices the original (so every copy is a distinct option the ranking must weigh). The
// catalog's largest real group has seven products; the budget speaks of ten. The copies have
// no codes, so nothing but this benchmark can reach them.
func widened(t testing.TB, cat *Catalog, groupID string, n int) *Catalog {
	t.Helper()
	g, ok := cat.groups[groupID]
	if !ok || len(g.ProductIDs) < 2 || len(g.ProductIDs) >= n {
		t.Fatalf("group %s cannot be widened to %d products", groupID, n)
	}
	w := &Catalog{
		products: maps.Clone(cat.products),
		groups:   maps.Clone(cat.groups),
		byCode:   cat.byCode,
		strength: cat.strength,
	}
	src := cat.products[g.ProductIDs[len(g.ProductIDs)-1]]
	g.ProductIDs = slices.Clone(g.ProductIDs)
	var added []string
	for i := len(g.ProductIDs); i < n; i++ {
		p := src
		p.ID = fmt.Sprintf("%s-copy-%d", src.ID, i)
		p.Name = fmt.Sprintf("%s copy %d", src.Name, i)
		p.RxNorm, p.NDCs, p.HCPCS = nil, nil, ""
		w.products[p.ID] = p
		g.ProductIDs = append(g.ProductIDs, p.ID)
		added = append(added, p.ID)
	}
	w.groups[groupID] = g
	for _, b := range cat.books {
		nb := b
		nb.prices = maps.Clone(b.prices)
		if pr, ok := b.prices[src.ID]; ok {
			for i, id := range added {
				f := 1 + float64(i+1)/100
				cp := pr
				cp.PerUnit, cp.ASP = pr.PerUnit*f, pr.ASP*f
				nb.prices[id] = cp
			}
		}
		w.books = append(w.books, nb)
	}
	return w
}

// BenchmarkScoreColdTen is the budget's case: a cold score of a group of ten products
// (trastuzumab widened from seven, see widened), under each sample contract.
func BenchmarkScoreColdTen(b *testing.B) {
	base, _ := env(b)
	cat := widened(b, base, "trastuzumab", 10)
	reg, err := NewRegistry(DefaultConfig(), cat)
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range reg.Contracts() {
		b.Run(k.ID, func(b *testing.B) {
			req := hotRequest(k.ID)
			if r := mustScore(b, cat, reg, req); len(r.Options)+1 != 10 {
				b.Fatalf("scored %d options, want 10", len(r.Options)+1)
			}
			b.ReportAllocs()
			start, n := cputime.Now(), 0
			for b.Loop() {
				if _, err := Score(cat, reg, req); err != nil {
					b.Fatal(err)
				}
				n++
			}
			reportCPU(b, start, n)
		})
	}
}
