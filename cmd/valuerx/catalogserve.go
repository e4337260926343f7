package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"valuerx/catalog"
	"valuerx/scoring"
)

// scoringSet is a catalog with the registry, policy and scorer built and checked against it:
// what the gateway serves, replaced whole on reload.
type scoringSet struct {
	snap    *scoring.Snapshot
	cat     *scoring.Catalog
	reg     *scoring.Registry
	scorer  *scoring.Scorer
	version string
	source  string   // the file, or "embedded"
	rosters []string // the payer rosters read: file name and version
}

// loadScoring builds the scoring set the configuration names: the snapshot file of the catalog
// key, else the embedded default. Contracts, policy and indications are read again and checked
// against the new catalog (a snapshot that drops a product a contract prefers is refused).
func loadScoring(cfg fileConfig) (*scoringSet, error) {
	set := &scoringSet{}
	var err error
	switch {
	case cfg.Catalog != "":
		set.snap, set.cat, err = catalog.Load(cfg.Catalog)
		if err != nil {
			return nil, err
		}
		set.version, set.source = set.snap.Version, cfg.Catalog
	default:
		// The snapshot `make catalog` imported from the agency files shipped in catalog/data.
		if set.snap, err = catalog.Embedded(); err != nil {
			return nil, err
		}
		if set.cat, err = scoring.NewCatalog(set.snap); err != nil {
			return nil, fmt.Errorf("embedded catalog: %w", err)
		}
		set.version, set.source = set.snap.Version, "embedded (catalog/data)"
	}
	scfg := scoring.DefaultConfig()
	if cfg.Contracts != "" {
		b, err := os.ReadFile(cfg.Contracts)
		if err != nil {
			return nil, fmt.Errorf("contracts: %w", err)
		}
		if scfg, err = scoring.ParseConfig(b); err != nil {
			return nil, fmt.Errorf("contracts %s: %w", cfg.Contracts, err)
		}
	}
	for _, rf := range cfg.Rosters {
		ro, err := readRoster(rf.File, rf.Contract, time.Now())
		if err != nil {
			return nil, fmt.Errorf("rosters: %w", err)
		}
		for _, e := range ro.Entries {
			re := scoring.RosterEntry{MBI: e.MBI, PlanMemberID: e.PlanMemberID, Contract: e.Contract, Start: scoring.Date{Time: e.Start}}
			if !e.End.IsZero() {
				re.End = scoring.Date{Time: e.End}
			}
			scfg.Roster = append(scfg.Roster, re)
		}
		set.rosters = append(set.rosters, filepath.Base(rf.File)+" "+ro.Version)
	}
	if set.snap != nil {
		// The organisation's acquisition costs imported with the agency files come after the
		// configured ones: a configured cost for the same product and day wins.
		scfg.AcquisitionCosts = append(scfg.AcquisitionCosts, set.snap.ConfigAcquisitionCosts()...)
	}
	set.reg, err = scoring.NewRegistry(scfg, set.cat)
	if err != nil {
		return nil, fmt.Errorf("contracts on catalog %s: %w", set.version, err)
	}
	pol, err := loadPolicy(set.cat, cfg)
	if err != nil {
		return nil, fmt.Errorf("policy on catalog %s: %w", set.version, err)
	}
	set.scorer, err = scoring.NewScorerWithPolicy(set.cat, set.reg, pol, cfg.ScoreCache)
	if err != nil {
		return nil, fmt.Errorf("scorer: %w", err)
	}
	return set, nil
}

// logCatalog says which catalog is in service and how old its newest price book is: an operator
// sees at start (and at every reload) that April's files have not been imported yet.
func logCatalog(logger *slog.Logger, set *scoringSet, now time.Time, msg string) {
	var newest scoring.PriceBook
	for _, b := range set.cat.Books() {
		if b.Source == scoring.SourceCMSASP && b.End.After(newest.End) {
			newest = b
		}
	}
	attrs := []any{"version", set.version, "source", set.source, "groups", len(set.cat.Groups()), "books", len(set.cat.Books())}
	if len(set.rosters) > 0 {
		attrs = append(attrs, "rosters", strings.Join(set.rosters, ", "))
	}
	if !newest.End.IsZero() {
		age := now.Sub(newest.End.Add(24 * time.Hour)) // the book is in effect through its End day
		attrs = append(attrs, "newest_book", newest.ID, "newest_book_end", newest.End.Format("2006-01-02"),
			"days_past_newest_book", int(age.Hours()/24))
		if age > 0 {
			logger.Warn(msg+": orders dated after the newest CMS price book are priced on it and marked stale; import the new quarter's files", attrs...)
			return
		}
	}
	logger.Info(msg, attrs...)
}

// catalogReloader swaps a new snapshot into the running gateway on SIGHUP and when the snapshot
// file changes (polled: size and modification time). A snapshot that fails to read or check is
// refused with an error logged, and the one in service stays.
type catalogReloader struct {
	cfg    fileConfig
	app    *app
	logger *slog.Logger
	poll   time.Duration
	now    func() time.Time
	// reloaded is signalled after every attempt (tests); nil: not signalled.
	reloaded chan error
}

func (r *catalogReloader) run(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	var last fileStamp
	if r.cfg.Catalog != "" && r.poll > 0 {
		t := time.NewTicker(r.poll)
		defer t.Stop()
		tick = t.C
		last, _ = stampOf(r.cfg.Catalog)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("SIGHUP")
			if s, err := stampOf(r.cfg.Catalog); err == nil {
				last = s
			}
		case <-tick:
			s, err := stampOf(r.cfg.Catalog)
			if err != nil || s == last {
				continue
			}
			last = s
			r.reload("file changed")
		}
	}
}

func (r *catalogReloader) reload(why string) {
	err := r.reloadNow()
	if err != nil {
		r.logger.Error("catalog reload refused; the catalog in service stays", "trigger", why,
			"version", r.app.gw.CatalogVersion(), "error", err.Error())
	}
	if r.reloaded != nil {
		select {
		case r.reloaded <- err:
		default:
		}
	}
}

func (r *catalogReloader) reloadNow() error {
	if r.cfg.Catalog == "" {
		return errors.New("no catalog file configured (catalog key): the embedded catalog cannot be reloaded")
	}
	set, err := loadScoring(r.cfg)
	if err != nil {
		return err
	}
	// The same catalog with other contracts or another policy (SIGHUP after editing them) is
	// swapped in too: its answers differ, and the divergence answers are keyed by both.
	if set.version == r.app.gw.CatalogVersion() && scoring.ConfigFingerprint(set.reg, set.scorer.Policy()) == r.app.gw.ConfigFingerprint() {
		r.logger.Info("catalog unchanged", "version", set.version)
		return nil
	}
	if err := r.app.gw.Swap(set.cat, set.reg, set.scorer, set.version); err != nil {
		return err
	}
	logCatalog(r.logger, set, r.now(), "catalog reloaded")
	return nil
}

type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.Size(), fi.ModTime()}, nil
}
