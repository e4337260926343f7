package gateway

import (
	"errors"
	"time"

	"valuerx/scoring"
	"valuerx/tracking"
)

// engine is one catalog with everything built on it: the contracts registry and P&T policy
// checked against it, the scorer (whose LRU cache is therefore keyed by this catalog version)
// and the built-card cache. A hook loads the engine once when it starts and uses that one to the
// end, so a reload (Swap) never mixes two catalogs within one answer: hooks in flight finish on
// the old engine, the next hook starts on the new one.
type engine struct {
	cat     *scoring.Catalog
	reg     *scoring.Registry
	scorer  *scoring.Scorer
	cards   *cardCache
	version string
	// config is scoring.ConfigFingerprint of the registry and the policy, computed here once:
	// every decision's scoring request names it, so the divergence answers of a request are
	// keyed by the configuration they were scored under as well as by the catalog version
	// (divergence.go).
	config string
	// newestEnd is the last day of the newest CMS price book (zero without one).
	newestEnd time.Time
}

func newEngine(cat *scoring.Catalog, reg *scoring.Registry, sc *scoring.Scorer, version string) *engine {
	e := &engine{cat: cat, reg: reg, scorer: sc, cards: newCardCache(cat, sc.Policy().Indications()), version: version, config: scoring.ConfigFingerprint(reg, sc.Policy())}
	for _, b := range cat.Books() {
		if b.Source == scoring.SourceCMSASP && b.End.After(e.newestEnd) {
			e.newestEnd = b.End
		}
	}
	return e
}

func (g *Gateway) current() *engine { return g.eng.Load() }

// Swap replaces the catalog, registry and scorer the gateway scores with, atomically: hooks
// already running finish on the previous ones. The three must belong together (the registry and
// the scorer built on this catalog); version names the catalog snapshot in logs and metrics.
func (g *Gateway) Swap(cat *scoring.Catalog, reg *scoring.Registry, sc *scoring.Scorer, version string) error {
	if cat == nil || reg == nil || sc == nil {
		return errors.New("gateway: Swap: catalog, registry and scorer are required")
	}
	prev := g.eng.Swap(newEngine(cat, reg, sc, version))
	g.metrics.catalogInfo.DeleteLabelValues(prev.version)
	g.metrics.catalogInfo.WithLabelValues(version).Set(1)
	g.metrics.catalogReloads.Inc()
	return nil
}

// CatalogVersion names the catalog snapshot the next hook will be scored on.
func (g *Gateway) CatalogVersion() string { return g.current().version }

// ConfigFingerprint is scoring.ConfigFingerprint of the registry and policy the next hook will
// be scored with: a reload whose catalog version and fingerprint are both unchanged changes no
// answer.
func (g *Gateway) ConfigFingerprint() string { return g.current().config }

// NewestBookEnd is the last day of the newest CMS price book of the current catalog.
func (g *Gateway) NewestBookEnd() time.Time { return g.current().newestEnd }

// tooStale says whether an order dated on day is so far past the newest price book that its
// card must not quote figures (Config.MaxBookAge; zero: never).
func (g *Gateway) tooStale(e *engine, day time.Time) bool {
	return g.cfg.MaxBookAge > 0 && !e.newestEnd.IsZero() && day.Sub(e.newestEnd) > g.cfg.MaxBookAge
}

// Targets are the configured targets, each with its contract's arrangement in service
// (tracking.Target.Arrangement): the row of a contract with no order in the period needs it to
// read a capitated contract's payer-savings target as not measured, and so does serve's warning
// of targets set on the allowed amount.
func (g *Gateway) Targets() []tracking.Target { return g.targets() }

func (g *Gateway) targets() []tracking.Target {
	var reg *scoring.Registry
	if e := g.current(); e != nil {
		reg = e.reg
	}
	return tracking.WithArrangements(g.cfg.Targets, func(id string) string {
		if reg == nil {
			return ""
		}
		if k, ok := reg.Contract(id); ok {
			return string(k.Arrangement)
		}
		return ""
	})
}
