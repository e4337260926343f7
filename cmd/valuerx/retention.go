package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// startRetention deletes what is older than the configured retention period, at once and then
// every retentionEvery (default 1h), until the returned stop is called. nil when retention is
// off. Every instance of a shared PostgreSQL store runs it; the store lets one run at a time.
func startRetention(st retainer, sc storeConfig, logger *slog.Logger) (stop func()) {
	if sc.RetentionDays <= 0 {
		return nil
	}
	period := time.Duration(sc.RetentionDays) * 24 * time.Hour
	every := sc.RetentionEvery.Duration
	if every <= 0 {
		every = time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			runRetention(ctx, st, period, time.Now(), logger)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// runRetention is one retention run at now. The cutoff is on a UTC day boundary, so rows go a
// day at a time (and the SQLite dashboard rollup, which starts over after a deletion, is
// refolded once a day rather than at every run).
func runRetention(ctx context.Context, st retainer, period time.Duration, now time.Time, logger *slog.Logger) {
	cutoff := now.Add(-period).UTC().Truncate(24 * time.Hour)
	d, err := st.DeleteBefore(ctx, cutoff, now)
	if err != nil {
		if ctx.Err() == nil {
			logger.Error("store retention failed", "err", err, "cutoff", cutoff.Format(time.RFC3339))
		}
		return
	}
	logger.Info("store retention", "cutoff", cutoff.Format(time.RFC3339), "decisions_deleted", d.Decisions,
		"feedback_deleted", d.Feedback, "divergence_deleted", d.Divergence, "administrations_deleted", d.Administrations,
		"claims_deleted", d.Claims, "jti_deleted", d.JTI)
}
