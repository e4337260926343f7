package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"valuerx/cdshooks"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
	"valuerx/internal/medindex"
)

// hookData is what one hook has to work with, whichever way it arrived.
type hookData struct {
	patient       json.RawMessage
	coverages     []json.RawMessage
	coverageKnown bool // prefetched (even as null), fetched, or cached: the arrangement can be decided
	meds          []json.RawMessage
	medsKnown     bool
	conditions    []json.RawMessage // the problem list (prefetch or fetch), for the order's indication
	admins        []json.RawMessage // MedicationAdministrations: therapy given, for the mid-course rule
	adminsKnown   bool
	condsKnown    bool
	// patientFetched and coverageFetched say the value came from valuerx's own fetch (or from the
	// cache of such fetches): only those may be cached. Prefetched data is the client's word for
	// its own request and is never reused for another.
	patientFetched  bool
	coverageFetched bool
	truncated       []string // keys whose entries were cut at Config.MaxEntriesPerKey
	fetches         int64    // FHIR round trips this hook made
	missing         []string // prefetch keys that could not be obtained
	client          *fhir.Client
	guard           fhirGuard // client's transport: every request passes the breaker and the deadline (fhirguard.go)
	draftBundle     []json.RawMessage
	maxEntries      int        // Config.MaxEntriesPerKey
	plan            *fetchPlan // what advise planned from the drafts (fetchplan.go); nil for direct callers
	// vitals are the body weight and height Observations the client prefetched (bodyWeight,
	// bodyHeight; a key is present only when its prefetch was a value or null): a dose that
	// needs them reads these instead of searching the FHIR server. Set before any goroutine of
	// resolve starts, read-only after.
	vitals map[string][]json.RawMessage

	// mu guards what resolve's concurrent fetches write into the fields above while it runs, and
	// planned and reads, which the plan's background reads fill while the hook goes on.
	mu      sync.Mutex
	pages   []pendingPage       // prefetch searchsets whose next page resolve follows
	planned map[string]*pending // the fetchPlan's searches (dispenses, allergies, body weight and height), by key
	reads   map[string]*pending // Medication and Condition reads, by "Type/id": one round trip per resource per hook
	bg      sync.WaitGroup      // the plan's reads, which run on past resolve until the hook needs them
	bgCtx   context.Context     // theirs: the hook's one deadline
	stop    context.CancelFunc  // cancels bgCtx; close calls it

	// medsIndexed is meds classified once per hook (internal/medindex): the mid-course rule and
	// the adherence cards read the same list, and with hundreds of entries decoding it once per
	// reader was a fifth of a hook's CPU. Use medEntries.
	medsOnce    sync.Once
	medsIndexed []medindex.Entry
	// medsPre and adminsPre are meds and admins classified as DecodeRequest validated their
	// prefetch Bundles (cdshooks.Request.PrefetchClassified), one entry per element, with refs
	// (medindex.Bundle.Refs: which hold a medication reference); valid while their list is the
	// prefetched one (setList drops them).
	medsPre, adminsPre classifiedList
	// icd is the problem list decoded once for the adherence cards (icdConditions).
	icdOnce sync.Once
	icd     []icdCondition
}

// pending is one read or search of a hook, answered once: callers wait for it (or for their
// deadline) instead of asking the server again. err is a *fhir.Error, built PHI-free by the FHIR
// client, or a context error.
type pending struct {
	done chan struct{}
	raw  json.RawMessage   // a read's resource
	res  []json.RawMessage // a search's resources
	err  error
}

func newPending() *pending { return &pending{done: make(chan struct{})} }

// wait returns once p is answered or ctx ends (then with ctx's error).
func (p *pending) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// background returns the context of the hook's background reads (the hook's deadline, from
// parent), creating it on first use.
func (d *hookData) background(parent context.Context, budget time.Duration) context.Context {
	if d.bgCtx == nil {
		d.bgCtx, d.stop = context.WithTimeout(parent, budget)
	}
	return d.bgCtx
}

// close ends the hook's background reads (a search the plan started that the hook did not need:
// a palliative patient's dispenses) and waits for them, so none outlives its hook. Advise calls it
// when the hook is answered.
func (d *hookData) close() {
	if d == nil || d.stop == nil {
		return
	}
	d.stop()
	d.bg.Wait()
}

// pendingPage is a paginated prefetch value whose next page resolve fetches beside the other
// fetches, instead of before them.
type pendingPage struct {
	key, next string
	first     []json.RawMessage
}

// medEntries returns meds classified, one entry per element, computed on first use.
func (d *hookData) medEntries() []medindex.Entry {
	d.medsOnce.Do(func() {
		if d.medsPre.ok {
			d.medsIndexed = d.medsPre.entries
			return
		}
		d.medsIndexed = medindex.ClassifyResources(d.meds)
	})
	return d.medsIndexed
}

// adminEntries returns admins classified, one entry per element (medindex.ClassifyResources).
func (d *hookData) adminEntries() []medindex.Entry {
	if d.adminsPre.ok {
		return d.adminsPre.entries
	}
	return medindex.ClassifyResources(d.admins)
}

// classifiedList is a prefetched list classified as its Bundle was validated.
type classifiedList struct {
	ok      bool
	entries []medindex.Entry
	refs    []bool // nil: no entry references a Medication
}

// cut returns c for a list of n entries (the prefetched list, perhaps cut at
// maxEntries).
func (c classifiedList) cut(n int) classifiedList {
	if !c.ok || len(c.entries) < n {
		return classifiedList{}
	}
	c.entries = c.entries[:n:n]
	if c.refs != nil {
		c.refs = c.refs[:n:n]
	}
	return c
}

// referencing returns the entries of list that may reference a Medication (their text holds
// the member name), as referencesMedications and historyReads.scan pick them: all of list when
// c does not know (they look themselves), none (nil) when c knows none does.
func (c classifiedList) referencing(list []json.RawMessage) []json.RawMessage {
	if !c.ok {
		return list
	}
	if c.refs == nil {
		return nil
	}
	var out []json.RawMessage
	for i, r := range c.refs {
		if r {
			out = append(out, list[i])
		}
	}
	return out
}

// coverageEntry is what the coverage cache keeps per (client, FHIR server, patient, access
// token): the Coverage and Patient resources valuerx fetched itself, for a few minutes, so
// order-sign after order-select does not fetch again. Entries own their bytes (copied out of the
// response pages), so an entry pins kilobytes, not a page or a request body. patient is nil when
// the patient was prefetched rather than fetched.
//
// Expiry is checked on read against the gateway's clock (no janitor goroutine: golang-lru's
// expirable cache starts one that cannot be stopped).
type coverageEntry struct {
	patient   json.RawMessage
	coverages []json.RawMessage
	expires   time.Time
	size      int // bytes of patient and coverages
}

// The coverage cache is bounded in bytes as well as entries (issue 11 review: a server answering
// a 7 MB Coverage search pinned 9 MB per entry, 36 GB at 4,096 entries). A patient's Coverage
// and Patient resources are a few kilobytes; an answer larger than maxCoverageEntryBytes is used
// for its own hook and not kept, and the cache as a whole holds at most maxCoverageCacheBytes,
// dropping the least recently used entries beyond it.
const (
	coverageCacheEntries  = 4096
	maxCoverageEntryBytes = 32 << 10
	maxCoverageCacheBytes = 32 << 20
)

func mustLRU[K comparable, V any](size int) *lru.Cache[K, V] {
	c, err := lru.New[K, V](size)
	if err != nil {
		panic(err) // only a size <= 0 fails, and the sizes here are constants
	}
	return c
}

// resolver gathers a hook's data: prefetch first, then the EHR's FHIR server for what is absent,
// concurrently and under one deadline (CDS Hooks §Prefetch: the service fetches what it lacks).
type resolver struct {
	cfg      Config
	metrics  *metrics
	covCache *lru.Cache[string, coverageEntry]
	covMu    sync.Mutex   // serialises cacheCoverage, so covBytes stays exact
	covBytes atomic.Int64 // bytes held by covCache (its eviction callback subtracts)
	flight   singleflight.Group

	mu       sync.Mutex
	breakers *lru.Cache[string, *breaker] // keyed by breakerKey; bounded: fhirServer is the caller's string
}

// breakerCacheSize bounds the FHIR servers a breaker is kept for. A health system talks to a
// handful; a caller inventing URLs only evicts the oldest (perimeter limits fhirServer's length).
const breakerCacheSize = 1024

// breaker keeps valuerx from hammering a FHIR server that keeps failing: after three failures in
// a row it stops calling for a while (doubling up to 30 s) and answers from what is at hand.
type breaker struct {
	failures  int
	openUntil time.Time
}

func newResolver(cfg Config, m *metrics) *resolver {
	r := &resolver{
		cfg:      cfg,
		metrics:  m,
		breakers: mustLRU[string, *breaker](breakerCacheSize),
	}
	c, err := lru.NewWithEvict[string, coverageEntry](coverageCacheEntries, func(_ string, e coverageEntry) {
		r.covBytes.Add(-int64(e.size))
	})
	if err != nil {
		panic(err) // only a size <= 0 fails
	}
	r.covCache = c
	return r
}

// cacheCoverage keeps e under key unless it is too large, then trims the cache to its byte bound.
func (r *resolver) cacheCoverage(key string, e coverageEntry) {
	e.size = len(e.patient)
	for _, c := range e.coverages {
		e.size += len(c)
	}
	if e.size > maxCoverageEntryBytes {
		r.metrics.coverageCache.WithLabelValues("too-large").Inc()
		return
	}
	r.covMu.Lock()
	defer r.covMu.Unlock()
	if old, ok := r.covCache.Peek(key); ok {
		r.covBytes.Add(-int64(old.size)) // Add replaces without calling the eviction callback
	}
	r.covCache.Add(key, e)
	r.covBytes.Add(int64(e.size))
	for r.covBytes.Load() > maxCoverageCacheBytes {
		if _, _, ok := r.covCache.RemoveOldest(); !ok {
			break
		}
	}
}

func (r *resolver) close() {
	r.covCache.Purge()
	if a := r.cfg.fhirAccess; a != nil {
		a.closeIdle()
	}
}

// breakerKey is a breaker's key: the verified client and the server it named. Breakers are per
// client so that one client's hooks can neither open another's breaker (by naming its server and
// failing) nor close it (by naming its server and getting an answer) (issue 11: a refused address
// reset the breaker of the client whose server it was).
func breakerKey(client, server string) string { return client + "\x00" + server }

func (r *resolver) allow(client, server string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := r.breakers.Peek(breakerKey(client, server))
	return b == nil || !r.cfg.Now().Before(b.openUntil)
}

func (r *resolver) record(client, server string, err error) {
	if errors.Is(err, fhir.ErrAddressRefused) {
		return // the request never left: it says nothing of the server either way
	}
	key := breakerKey(client, server)
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := r.breakers.Get(key)
	// Only failures of the server count: a 404 or 401 is an answer, not an outage.
	if err == nil || !errors.Is(err, fhir.ErrUnavailable) {
		if b == nil {
			return // a healthy server needs no breaker
		}
		b.failures = 0
		b.openUntil = time.Time{}
		return
	}
	if b == nil {
		b = &breaker{}
		r.breakers.Add(key, b)
	}
	b.failures++
	if b.failures >= 3 {
		backoff := time.Second << min(b.failures-3, 5)
		if backoff > 30*time.Second {
			backoff = 30 * time.Second
		}
		b.openUntil = r.cfg.Now().Add(backoff)
	}
}

// cacheKey is the coverage cache's key: who asked (the verified client), which server, which
// patient, and which access token (by tag), so a client whose own token the server refused can
// never be answered with what another token fetched.
func cacheKey(client, server, patient, token string) string {
	return client + "\x00" + server + "\x00" + patient + "\x00" + tokenTag(token)
}

// tokenTag identifies a token in a singleflight key without keeping the token itself.
func tokenTag(tok string) string {
	if tok == "" {
		return ""
	}
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:8])
}

// resolvedKeys are the prefetch keys resolve gathers, from prefetch or the FHIR server.
var resolvedKeys = []string{keyPatient, keyCoverage, keyMedications, keyConditions, keyAdministrations}

// resolve gathers patient, coverage and medication history for a hook, and whatever plan says
// the hook's orders will read besides (nil: nothing). Every read whose inputs are known starts at
// once and runs beside the others (a paginated prefetch's next page, each missing prefetch key,
// the plan's searches, the Medications its drafts and its history reference, the Conditions its
// drafts give as reasons), so a hook costs one FHIR round trip of wall time, two where a read
// needs another's answer (a drafted Medication before the body weight its dose needs). It
// returns a KindPrecondition error only when the required coverage was neither prefetched nor
// obtainable.
func (r *resolver) resolve(ctx context.Context, req *cdshooks.Request, oc *cdshooks.OrderContext, plan *fetchPlan) (*hookData, error) {
	// Advise already holds the hook's one deadline; a derived timeout can only shorten it, and
	// bounds direct callers (benchmarks).
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, r.cfg.HookBudget)
	defer cancel()
	d := &hookData{maxEntries: r.cfg.MaxEntriesPerKey, plan: plan}
	if plan != nil {
		d.draftBundle = plan.draft
	}
	client := clientOf(ctx)
	token := ""
	if req.FHIRAuthorization != nil {
		token = req.FHIRAuthorization.AccessToken
	}
	if req.FHIRServer != "" {
		c, err := r.cfg.fhirAccess.client(ctx, req.FHIRServer, token) // allowlist.go: per-client allowlist, private-address guard
		if err == nil {
			dl, _ := ctx.Deadline()
			d.guard.wrap(r, c, client, req.FHIRServer, dl)
			if pj := pendingOf(ctx); pj != nil && !pj.done {
				if jr, ok := r.cfg.Store.(jtiReader); ok {
					d.guard.jti = jtiCheck{store: jr, claim: pj.claim} // fhirguard.go: early replay refusal
				}
			}
			d.client = c
		} else {
			r.cfg.Logger.Warn("fhirServer not usable", "hook", hookRef(req.HookInstance), "reason", err.Error())
		}
	}

	var need []string
	for _, key := range resolvedKeys {
		var state cdshooks.PrefetchState
		var raw json.RawMessage
		var list *prefetchList
		if key == keyPatient {
			state, raw = req.PrefetchValue(key)
		} else {
			// Classified and split in one walk of the Bundle.
			var l prefetchList
			state, raw, l.res, l.next, l.err = req.PrefetchResources(key)
			if key == keyMedications || key == keyAdministrations {
				l.classified.entries, l.classified.refs, l.classified.ok = req.PrefetchClassified(key)
			}
			list = &l
		}
		switch state {
		case cdshooks.PrefetchPresent:
			r.metrics.prefetch.WithLabelValues(key, "present").Inc()
			if err := d.takeList(ctx, key, raw, list); err != nil {
				need = append(need, key)
			}
		case cdshooks.PrefetchNull:
			r.metrics.prefetch.WithLabelValues(key, "null").Inc()
			d.take(ctx, key, nil) //nolint:errcheck // null is "no data", a valid answer
		case cdshooks.PrefetchOutcome:
			// The client tried and could not fetch; the server may still answer us.
			r.metrics.prefetch.WithLabelValues(key, "outcome").Inc()
			need = append(need, key)
		default:
			r.metrics.prefetch.WithLabelValues(key, "absent").Inc()
			need = append(need, key)
		}
	}

	d.takeVitals(req)

	ck := cacheKey(client, req.FHIRServer, oc.PatientID, token)
	// hit is the cache entry this hook's coverage came from: it is written back only to add a
	// Patient fetched now, and with its own expiry, so a cached Coverage is never served for
	// longer than CoverageTTL after valuerx fetched it, however often hooks come (a hit used to
	// re-cache with a fresh expiry: security review of 2 December 2026).
	var hit *coverageEntry
	if req.FHIRServer != "" && slices.Contains(need, keyCoverage) {
		if e, ok := r.covCache.Get(ck); ok && r.cfg.Now().Before(e.expires) {
			hit = &e
			r.metrics.coverageCache.WithLabelValues("hit").Inc()
			d.coverages, d.coverageKnown, d.coverageFetched = e.coverages, true, true
			if slices.Contains(need, keyPatient) && e.patient != nil {
				d.patient, d.patientFetched = e.patient, true
				need = slices.DeleteFunc(need, func(k string) bool { return k == keyPatient })
			}
			need = slices.DeleteFunc(need, func(k string) bool { return k == keyCoverage })
		} else {
			r.metrics.coverageCache.WithLabelValues("miss").Inc()
		}
	}

	if d.client != nil {
		var wg sync.WaitGroup
		// With every prefetch key present and no planned search, the plan has nothing to run
		// beside, and the hook's lookups read what they need in turn, as before (a full prefetch
		// hook costs no goroutine); a prefetched history that references Medications still gets
		// them read together.
		medRefs, adminRefs := d.medsPre.referencing(d.meds), d.adminsPre.referencing(d.admins)
		fetching := (len(need) > 0 || len(plan.lists()) > 0 || referencesMedications(medRefs) || referencesMedications(adminRefs)) &&
			r.allow(client, req.FHIRServer)
		// The plan's reads and the history's Medications run in the background, past resolve,
		// until the hook's loop needs them: resolve waits only for the prefetch keys, as it always
		// has, so a slow body weight search delays only the order that reads it.
		var hist *historyReads
		if fetching {
			hist = newHistoryReads(d.background(parent, r.cfg.HookBudget), plan, d)
		}
		// The references of a prefetched history's first pages are known now (read before the
		// page goroutines below change the lists).
		hist.scan(medRefs) // the entries of d.meds that may reference one, in order
		hist.scan(adminRefs)
		// Next pages of prefetched searchsets, beside the other fetches (while the breaker is
		// open the first page stands alone: its requests pass the breaker like every other).
		for _, p := range d.pages {
			wg.Go(func() {
				if more := d.followPage(ctx, p); p.key == keyMedications || p.key == keyAdministrations {
					hist.scan(more)
				}
			})
		}
		if fetching {
			r.runPlan(d.bgCtx, d, plan, oc.PatientID)
			for _, key := range need {
				query, err := cdshooks.ExpandTemplate(fetchTemplates[key], oc)
				if err != nil {
					continue
				}
				wg.Go(func() {
					got, err := r.fetch(ctx, d, client, req.FHIRServer, key, query) // its requests record themselves (fhirguard.go)
					if err != nil {
						r.metrics.fhirErrors.WithLabelValues(key).Inc()
						r.cfg.Logger.Warn("FHIR fetch failed", "key", key, "hook", hookRef(req.HookInstance), "reason", fhirReason(err))
						return
					}
					d.mu.Lock()
					d.takeFetched(key, got) //nolint:errcheck // errors leave the key missing
					d.mu.Unlock()
					if key == keyMedications || key == keyAdministrations {
						hist.scan(got.resources) // its Medications are read as soon as it arrives
					}
				})
			}
		}
		wg.Wait()
	}
	for _, key := range resolvedKeys {
		if !d.known(key) {
			d.missing = append(d.missing, key)
		}
	}
	if err := d.guard.refusal(); err != nil {
		d.close()
		return d, err // a replayed token: 401, as its commit would answer
	}
	if !d.coverageKnown {
		d.close() // no hook follows to use the background reads
		return d, errorf(KindPrecondition, "resolve", "required prefetch 'coverage' is missing and could not be obtained from the FHIR server", nil)
	}
	switch {
	case hit != nil:
		if hit.patient == nil && d.patientFetched {
			e := *hit
			e.patient = bytes.Clone(d.patient)
			r.cacheCoverage(ck, e)
		}
	case req.FHIRServer != "" && d.coverageFetched && !slices.Contains(d.truncated, keyCoverage):
		e := coverageEntry{coverages: cloneAll(d.coverages), expires: r.cfg.Now().Add(r.cfg.CoverageTTL)}
		if d.patientFetched {
			e.patient = bytes.Clone(d.patient)
		}
		r.cacheCoverage(ck, e)
	}
	return d, nil
}

// cloneAll copies resources out of whatever larger buffer they were sliced from.
func cloneAll(in []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, len(in))
	for i, r := range in {
		out[i] = bytes.Clone(r)
	}
	return out
}

// fetched is one fetch's answer: a read's resource, or a search's resources (decoded once, by
// the FHIR client, and never re-encoded into a Bundle).
type fetched struct {
	resource  json.RawMessage
	resources []json.RawMessage
	search    bool
}

// fetch runs one templated query. Identical concurrent fetches by the same client with the same
// token share one round trip. The round trip runs under the context of the hook that started it;
// a hook that joined waits only as long as its own context allows, and when the shared fetch
// failed because the hook that started it ran out of time (its deadline, or its caller gone)
// while this hook still has time, this hook fetches again under its own (attacker review, issue
// 11: one client's short deadline must not cost a concurrent hook its data).
func (r *resolver) fetch(ctx context.Context, d *hookData, client, server, key, query string) (fetched, error) {
	tok := ""
	if d.client != nil {
		tok = d.client.Token
	}
	flightKey := client + "\x00" + server + "\x00" + tokenTag(tok) + "\x00" + query
	for attempt := 0; ; attempt++ {
		var led atomic.Bool // this hook's function ran: its failure, if any, is its own context's
		ch := r.flight.DoChan(flightKey, func() (any, error) {
			led.Store(true)
			atomic.AddInt64(&d.fetches, 1)
			r.metrics.fhirFetches.WithLabelValues(key).Inc()
			if strings.Contains(query, "?") {
				res, err := d.client.Search(ctx, query)
				if err != nil {
					return fetched{}, err
				}
				return fetched{resources: res, search: true}, nil
			}
			raw, err := d.client.Get(ctx, query)
			return fetched{resource: raw}, err
		})
		var res singleflight.Result
		select {
		case res = <-ch:
		case <-ctx.Done():
			if !led.Load() {
				return fetched{}, fmt.Errorf("fetch %s: %w", key, ctx.Err())
			}
			res = <-ch // its own fetch, under ctx: ends now, with the FHIR client's own account of why
		}
		if res.Err != nil {
			if attempt == 0 && !led.Load() && ctx.Err() == nil &&
				(errors.Is(res.Err, context.DeadlineExceeded) || errors.Is(res.Err, context.Canceled)) {
				continue // the other hook's time ran out, not ours
			}
			return fetched{}, res.Err
		}
		return res.Val.(fetched), nil
	}
}

// takeFetched stores what valuerx fetched itself for key.
func (d *hookData) takeFetched(key string, f fetched) error {
	switch {
	case key == keyPatient:
		if f.search || fhir.ResourceType(f.resource) != "Patient" {
			return fmt.Errorf("fetched %s: not a Patient", key)
		}
		d.patient, d.patientFetched = f.resource, true
	case f.search:
		d.setList(key, f.resources)
		if key == keyCoverage {
			d.coverageFetched = true
		}
	default:
		return fmt.Errorf("fetched %s: not a search", key)
	}
	return nil
}

// setList stores coverage or medication entries, at most maxEntries of them: beyond the cap
// valuerx answers from what it has (the rest is noted in truncated, and the truncated coverage
// list is not cached).
func (d *hookData) setList(key string, all []json.RawMessage) {
	all = d.capEntries(key, all)
	switch key {
	case keyCoverage:
		d.coverages, d.coverageKnown = all, true
	case keyMedications:
		d.meds, d.medsKnown, d.medsPre = all, true, classifiedList{}
	case keyAdministrations:
		d.admins, d.adminsKnown, d.adminsPre = all, true, classifiedList{}
	default:
		d.conditions, d.condsKnown = all, true
	}
}

// capEntries returns at most maxEntries of key's entries, noting in truncated when it cut.
func (d *hookData) capEntries(key string, all []json.RawMessage) []json.RawMessage {
	if d.maxEntries > 0 && len(all) > d.maxEntries {
		d.truncated = append(d.truncated, key)
		return all[:d.maxEntries:d.maxEntries]
	}
	return all
}

// take stores one prefetch value (raw nil means "no data"). A paginated searchset is followed
// with the FHIR client while the budget lasts (CDS Hooks 2.0 allows paginated prefetch).
func (d *hookData) take(ctx context.Context, key string, raw json.RawMessage) error {
	return d.takeList(ctx, key, raw, nil)
}

// prefetchList is a prefetch value already split as fhir.ValidBundleResources splits it.
type prefetchList struct {
	res  []json.RawMessage
	next string
	err  error
	// classified is res classified (medications and administrations), when DecodeRequest did it
	classified classifiedList
}

// followPage fetches the rest of a paginated prefetch searchset (the pages Search follows from
// its next link), stores the first page with them and returns the rest. On failure the first
// page stands alone.
func (d *hookData) followPage(ctx context.Context, p pendingPage) []json.RawMessage {
	if ctx.Err() != nil {
		return nil
	}
	more, err := d.client.Search(ctx, p.next)
	atomic.AddInt64(&d.fetches, 1)
	if err != nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setList(p.key, append(p.first[:len(p.first):len(p.first)], more...))
	return more
}

// takeList is take with the value's split (list; nil: split here).
func (d *hookData) takeList(ctx context.Context, key string, raw json.RawMessage, list *prefetchList) error {
	switch key {
	case keyPatient:
		if raw != nil && fhir.ResourceType(raw) != "Patient" {
			return fmt.Errorf("prefetch %s: not a Patient", key)
		}
		d.patient = raw
	case keyCoverage, keyMedications, keyConditions, keyAdministrations:
		var all []json.RawMessage
		if raw != nil {
			var res []json.RawMessage
			var next string
			var err error
			if list != nil {
				res, next, err = list.res, list.next, list.err
			} else {
				res, next, err = fhir.ValidBundleResources(raw) // a prefetch value: part of the validated request
			}
			if err != nil {
				// A single resource instead of a Bundle is usable as is.
				if fhir.ResourceType(raw) == "" {
					return fmt.Errorf("prefetch %s: %w", key, err)
				}
				res = []json.RawMessage{raw}
			}
			all = res
			if next != "" && d.client != nil && (d.maxEntries <= 0 || len(all) < d.maxEntries) {
				d.pages = append(d.pages, pendingPage{key: key, next: next, first: all}) // resolve follows it beside the other fetches
			}
		}
		d.setList(key, all)
		if list != nil && list.err == nil && raw != nil {
			switch key { // classified with the Bundle's validation; a page followed drops it (setList)
			case keyMedications:
				d.medsPre = list.classified.cut(len(d.meds))
			case keyAdministrations:
				d.adminsPre = list.classified.cut(len(d.admins))
			}
		}
	}
	return nil
}

// vitalsKeys are the prefetch keys of the body measurements a weight- or BSA-based dose reads.
var vitalsKeys = [...]string{keyBodyWeight, keyBodyHeight}

// takeVitals keeps the body weight and height the client prefetched (null: none recorded). A
// value that is not a readable Bundle, or an OperationOutcome, leaves the key to a search of the
// FHIR server, as for the other keys. Only the first page is used: the template asks for the
// newest Observation first, and latest sorts what it has in case the server did not.
func (d *hookData) takeVitals(req *cdshooks.Request) {
	for _, key := range vitalsKeys {
		state, _, res, _, err := req.PrefetchResources(key)
		switch {
		case state == cdshooks.PrefetchPresent && err == nil:
		case state == cdshooks.PrefetchNull:
			res = nil
		default:
			continue
		}
		res = d.capEntries(key, res)
		if d.vitals == nil {
			d.vitals = make(map[string][]json.RawMessage, len(vitalsKeys))
		}
		d.vitals[key] = res
	}
}

// prefetchedVitals returns the prefetched Observations of key (ok: the client sent the key).
func (d *hookData) prefetchedVitals(key string) (res []json.RawMessage, ok bool) {
	res, ok = d.vitals[key]
	return res, ok
}

func (d *hookData) known(key string) bool {
	switch key {
	case keyPatient:
		return d.patient != nil
	case keyCoverage:
		return d.coverageKnown
	case keyMedications:
		return d.medsKnown
	case keyConditions:
		return d.condsKnown
	case keyAdministrations:
		return d.adminsKnown
	}
	return false
}

// medication finds a Medication by reference: in the draft orders bundle, else on the server
// (read once per hook, whoever asks first: a draft, the history, or resolve's plan).
func (d *hookData) medication(ctx context.Context, ref string) (json.RawMessage, bool) {
	typ, id := fhir.SplitReference(ref)
	if typ != "Medication" || id == "" {
		return nil, false
	}
	for _, raw := range d.draftBundle {
		var m medicationDoc
		if jsonfast.Unmarshal(raw, &m) == nil && m.ResourceType == "Medication" && m.ID == id {
			return raw, true
		}
	}
	if d.client == nil {
		return nil, false
	}
	raw, err := d.read(ctx, "Medication", id)
	if err != nil {
		return nil, false
	}
	return raw, true
}

// read reads typ/id from the hook's FHIR server once per hook: a second caller, concurrent or
// later, gets the first one's answer (an error too: one deadline per hook, no retries).
func (d *hookData) read(ctx context.Context, typ, id string) (json.RawMessage, error) {
	key := typ + "/" + id
	d.mu.Lock()
	if p, ok := d.reads[key]; ok {
		d.mu.Unlock()
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
		return p.raw, nil
	}
	p := newPending()
	if d.reads == nil {
		d.reads = map[string]*pending{}
	}
	d.reads[key] = p
	d.mu.Unlock()
	atomic.AddInt64(&d.fetches, 1)
	p.raw, p.err = d.client.Read(ctx, typ, id)
	close(p.done)
	return p.raw, p.err
}

// fhirReason is a log-safe description of a FHIR error: status and kind, never a body.
func fhirReason(err error) string {
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fmt.Sprintf("FHIR status %d %s", fe.Status, fe.Code)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "time budget exhausted"
	case errors.Is(err, fhir.ErrUnavailable):
		return "FHIR server unavailable"
	}
	return "FHIR request failed"
}
