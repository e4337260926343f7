package scoring

import (
	"math"
	"testing"
	"time"
)

// env builds the default catalog and registry (about 20 ms).
func env(t testing.TB) (*Catalog, *Registry) {
	t.Helper()
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatalf("DefaultCatalog: %v", err)
	}
	reg, err := NewRegistry(DefaultConfig(), cat)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	return cat, reg
}

// envWith builds a registry from the default config modified by edit.
func envWith(t testing.TB, edit func(*Config)) (*Catalog, *Registry) {
	t.Helper()
	cat, _ := env(t)
	cfg := DefaultConfig()
	edit(&cfg)
	reg, err := NewRegistry(cfg, cat)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	return cat, reg
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func mustScore(t testing.TB, cat *Catalog, reg *Registry, req Request) Result {
	t.Helper()
	r, err := Score(cat, reg, req)
	if err != nil {
		t.Fatalf("Score(%+v): %v", req, err)
	}
	return r
}

func option(t testing.TB, r Result, id string) Option {
	t.Helper()
	if r.Ordered.Product.ID == id {
		return r.Ordered
	}
	for _, o := range r.Options {
		if o.Product.ID == id {
			return o
		}
	}
	t.Fatalf("no option %s in result", id)
	return Option{}
}

func bestID(r Result) string {
	if r.Best == nil {
		return ""
	}
	return r.Best.Product.ID
}

// usd asserts a figure equals a hand-worked amount to the cent.
func usd(t testing.TB, what string, got, want float64) {
	t.Helper()
	if math.Abs(cents(got)-want) > 0.001 {
		t.Errorf("%s = %s, want %s (exact %.6f)", what, FormatUSD(got), FormatUSD(want), got)
	}
}

// contractByID returns a pointer into cfg.Contracts.
func contractByID(t testing.TB, cfg *Config, id string) *Contract {
	t.Helper()
	for i := range cfg.Contracts {
		if cfg.Contracts[i].ID == id {
			return &cfg.Contracts[i]
		}
	}
	t.Fatalf("no contract %s", id)
	return nil
}
