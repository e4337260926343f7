package scoring

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// CacheStats reports the Scorer's cache effectiveness.
type CacheStats struct {
	Hits, Misses uint64
	Len          int
}

// cacheKey is the validated request with its date as a day: every input a
// score depends on, nothing identifying a patient. The catalog and
// registry are fixed for a Scorer's lifetime, so they need no place in it.
type cacheKey struct {
	contractID, productID, currentID string
	doseMg                           float64
	administrations                  int
	day                              int64 // Unix seconds of UTC midnight
	itemMg                           float64
	site, indications                string // indications: the sorted ids joined with "\x00"
	indicationKnown                  bool
	secondaryID                      string
	device                           string
	deductibleCounted                bool
	loadingDose                      bool
	oopCounted                       float64 // whole cents (normalize)
	loadingBeside                    int
	deductibleMet                    float64 // whole cents
	oopCountedYear                   float64 // whole cents
}

// Scorer puts an LRU cache (hashicorp/golang-lru/v2) in front of the pure
// Score. It is safe for concurrent use. Errors are not cached.
type Scorer struct {
	cat          *Catalog
	reg          *Registry
	policy       *Policy
	cache        *lru.Cache[cacheKey, Result]
	hits, misses atomic.Uint64
}

// NewScorer builds a Scorer holding up to size results.
func NewScorer(cat *Catalog, reg *Registry, size int) (*Scorer, error) {
	return NewScorerWithPolicy(cat, reg, nil, size)
}

// NewScorerWithPolicy builds a Scorer that applies a P&T policy (nil: the default policy).
func NewScorerWithPolicy(cat *Catalog, reg *Registry, pol *Policy, size int) (*Scorer, error) {
	if cat == nil || reg == nil {
		return nil, errors.New("scoring: NewScorer: nil catalog or registry")
	}
	c, err := lru.New[cacheKey, Result](size)
	if err != nil {
		return nil, fmt.Errorf("scoring: NewScorer: %w", err)
	}
	return &Scorer{cat: cat, reg: reg, policy: pol, cache: c}, nil
}

// Score returns the cached result for an equivalent request or computes it.
// The Result is shared with the cache and with every other caller of the same
// request: it is read-only, Options and everything reachable through it
// included. A caller that wants to reorder or edit it takes Result.Clone first.
// (Sharing is what keeps a hit at a map lookup: copying the ~3 KiB of options
// per hit cost more than the rest of the hit together.)
func (s *Scorer) Score(req Request) (Result, error) {
	norm, k, g, defaulted, err := normalize(s.cat, s.reg, req)
	if err != nil {
		return Result{}, err
	}
	// The dose and course are keyed as requested (0 = default), because a
	// defaulted result says so (Result.Defaulted, Sources["dose"]).
	key := cacheKey{norm.ContractID, norm.ProductID, norm.CurrentProductID, req.DoseMg, req.Administrations, norm.Date.Unix(),
		norm.ItemMg, norm.Site, joinIDs(norm.Indications), norm.IndicationKnown, norm.SecondaryID, norm.Device, norm.DeductibleCounted,
		norm.LoadingDose, norm.OOPCounted, norm.LoadingDosesBeside, norm.DeductibleMet, norm.OOPCountedYear}
	if r, ok := s.cache.Get(key); ok {
		s.hits.Add(1)
		return r, nil
	}
	s.misses.Add(1)
	r, err := score(s.cat, s.reg, s.policy, norm, k, g, defaulted)
	if err != nil {
		return Result{}, err
	}
	s.cache.Add(key, r)
	return r, nil
}

// Stats reports hits, misses and the number of cached results.
func (s *Scorer) Stats() CacheStats {
	return CacheStats{Hits: s.hits.Load(), Misses: s.misses.Load(), Len: s.cache.Len()}
}

// Clone gives a caller its own Options slice (and Best pointing into it), so
// that reordering, truncating or editing the options' figures cannot reach
// the cache. The Sources maps, Packages, Products, Contract and Book stay
// shared with the cache and the Catalog and remain read-only.
func (r Result) Clone() Result {
	c := r
	c.Options = slices.Clone(r.Options)
	c.Best = nil
	if r.Best != nil {
		for i := range r.Options {
			if &r.Options[i] == r.Best {
				c.Best = &c.Options[i]
			}
		}
	}
	return c
}

// Policy returns the P&T policy the Scorer applies (nil: the default).
func (s *Scorer) Policy() *Policy { return s.policy }

// joinIDs keys a short sorted list without allocating for the common cases.
func joinIDs(ids []string) string {
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return ids[0]
	}
	return strings.Join(ids, "\x00")
}
