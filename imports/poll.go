package imports

import (
	"context"
	"fmt"
	"time"

	"valuerx/fhir"
	"valuerx/scoring"
	"valuerx/store"
)

// Poller reads MedicationAdministration from the EHR's FHIR server on a schedule, as an
// alternative to importing Bulk Data exports: a search for what changed since the last poll
// (`MedicationAdministration?_lastUpdated=ge<since>&_count=N`, following next links on the
// server's own origin and path only, so the token never leaves it), recorded like an import.
//
// The window starts at Since (the command sets it to now minus a lookback at start: the watermark
// is not persisted, and a re-read is harmless because records are keyed) and moves to the start
// of each poll, or to the newest meta.lastUpdated seen when the poll stopped at the page limit
// (the rest comes next time). `ge`, not `gt`: resources updated in the same instant as the
// watermark are read again rather than missed.
type Poller struct {
	Client  *fhir.Client // the EHR's FHIR base and a bearer token for a system (backend) client
	Joiner  Joiner
	Catalog *scoring.Catalog
	Store   store.Store
	// Every is the time between polls (default 15 min); Count the page size asked for (100).
	Every time.Duration
	Count int
	Since time.Time
	Now   func() time.Time
	// Log receives one line per poll (counts only: never a resource or an id); nil: silent.
	Log func(msg string, args ...any)
}

// Poll runs one poll and moves the window on.
func (p *Poller) Poll(ctx context.Context) (Result, error) {
	var res Result
	start := now(p.Now)
	count := p.Count
	if count <= 0 {
		count = 100
	}
	q := fmt.Sprintf("MedicationAdministration?_lastUpdated=ge%s&_count=%d", p.Since.UTC().Format(time.RFC3339), count)
	found, err := p.Client.Search(ctx, q)
	if err != nil {
		return res, fmt.Errorf("imports: poll administrations: %w", err)
	}
	maxPages := p.Client.MaxPages
	if maxPages <= 0 {
		maxPages = fhir.DefaultMaxPages
	}
	var newest time.Time
	batch := make([]store.Administration, 0, Batch)
	for i, raw := range found {
		res.Read++
		a, err := DecodeAdministration(raw)
		if err != nil {
			res.skip(err.Error(), i+1) // the entry's position in the search, not a file line
			continue
		}
		if a.LastUpdated.After(newest) {
			newest = a.LastUpdated
		}
		if err := plausibleTime(a.At, start); err != nil {
			res.skip(err.Error(), i+1) // still seen: the poll goes on past it
			continue
		}
		batch = append(batch, store.Administration{Client: p.Joiner.Client, OrderKey: p.Joiner.order(a.PatientID, a.RequestID),
			Key: p.Joiner.own("MedicationAdministration", a.ID), ProductID: productOf(p.Catalog, a.Codings), Status: a.Status,
			At: a.At, ImportedAt: start})
		if len(batch) == Batch {
			if err := flushAdmins(ctx, p.Store, batch, &res); err != nil {
				return res, err
			}
			batch = batch[:0]
		}
	}
	if err := flushAdmins(ctx, p.Store, batch, &res); err != nil {
		return res, err
	}
	if len(found) >= maxPages*count && newest.After(p.Since) {
		p.Since = newest // the page limit stopped the search: go on from the newest seen
	} else {
		p.Since = start
	}
	return res, nil
}

// Run polls every p.Every until ctx ends. A failed poll is logged and retried at the next tick
// with the same window.
func (p *Poller) Run(ctx context.Context) {
	every := p.Every
	if every <= 0 {
		every = 15 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := p.Poll(ctx)
		if p.Log != nil {
			if err != nil {
				p.Log("administrations poll failed", "error", err.Error())
			} else {
				p.Log("administrations polled", "read", res.Read, "recorded", res.Recorded, "repeated", res.Repeated, "skipped", len(res.Skipped))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
