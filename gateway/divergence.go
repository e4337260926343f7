package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"valuerx/internal/jsonfast"
	"valuerx/scoring"
	"valuerx/store"
)

// How often the right choice differed by arrangement (issue 16 item 4). Every recorded decision
// that was scored carries its scoring request (no patient data); a background job scores the
// same request under each contract of the registry and stores, per contract, the product the
// card would have suggested (or "stay" on the ordered product) and the per-year figures of every
// product that is an answer under any contract.
//
// Once per distinct request (issue 15): the answers depend only on the request, the catalog
// version and the configuration scored with (the contracts, supplemental coverages, acquisition
// costs and P&T policy: scoring.ConfigFingerprint, computed once per engine), so they are stored
// once per store.DivergenceKey and every decision with that request, version and configuration
// has them (store/divergence.go). The stored request names the configuration's fingerprint
// (scoreRequestJSON.Config), which is how the key covers it: a reload or a restart with other
// contracts or another policy, on the same catalog, is a new key and the requests are scored
// again under the configuration now in force, while the decisions recorded before keep the
// answers of theirs. The job remembers the keys it has stored and
// scores only requests it has not seen: orders of one day, drug, dose and contract repeat the
// same request, so with 20 draft orders per hook it stores a few rows a minute where it stored
// 20 a hook (one per decision, each re-assembling its order in the dashboard rollup). A
// catalog swap changes the key: requests are scored again under the new version.
//
// A queued decision is scored on the engine its hook scored on (a swap between the hook and the
// job does not score it under the next configuration). The sweep scores on the engine in
// service, and never under inputs other than the decision's own: a pending decision whose
// request names another configuration (scoring.ConfigFingerprint), or whose catalog version is
// not the one loaded, is stored as not scored with its reason (store.DivNotScoredConfig,
// DivNotScoredCatalog), so the report counts it as such instead of it staying pending for ever
// or being scored under the wrong contracts or prices (answers shared by every decision of its
// key). Only once it is divergenceGrace old: another instance still running its configuration
// (a rolling deploy on PostgreSQL) scores its own hooks' decisions within a second; a sweep that
// left younger ones pending runs once more when they are that old. Every stored row names the
// configuration its answers were computed under (store.Divergence.Config).
//
// Why asynchronously: the hook's latency budget (issue 15) has no room for five more scores per
// order, and the answer is needed only by the report. The hook hands its committed decisions to
// a bounded queue (a non-blocking send) and answers; the job scores them in batches at most once
// a second with a scorer of its own (its own cache: the hooks' cached scores are never evicted by
// it). Nothing is lost for good: a decision the queue had no room for, or recorded before a
// restart or by another instance, carries its request in the store and is computed by the sweep
// at start or `valuerx divergence`; a request computed twice keeps its first answers.
// Computing at report time instead would score every decision of the period on each page view,
// which the 1,000,000-decision dashboard benchmark cannot afford.

// scoreRequestJSON is the stored form of a scoring.Request (Decision.ScoreRequest).
type scoreRequestJSON struct {
	Contract        string   `json:"contract"`
	Product         string   `json:"product"`
	DoseMg          float64  `json:"doseMg,omitempty"`
	Administrations int      `json:"administrations,omitempty"`
	Date            string   `json:"date"`
	Current         string   `json:"current,omitempty"`
	ItemMg          float64  `json:"itemMg,omitempty"`
	Site            string   `json:"site,omitempty"`
	Indications     []string `json:"indications,omitempty"`
	IndicationKnown bool     `json:"indicationKnown,omitempty"`
	Secondary       string   `json:"secondary,omitempty"`
	Device          string   `json:"device,omitempty"`
	// DeductibleCounted: another draft of the hook bore the plan year's deductible
	// (scoring.Request.DeductibleCounted); the figures were scored with it met.
	DeductibleCounted bool `json:"deductibleCounted,omitempty"`
	// LoadingDose: a single dose signed beside another order of its group (scoring.Request.LoadingDose).
	LoadingDose bool `json:"loadingDose,omitempty"`
	// OOPCounted: the maximum out-of-pocket other drafts of the hook count (scoring.Request.OOPCounted).
	OOPCounted float64 `json:"oopCounted,omitempty"`
	// LoadingBeside: loading doses of the group signed beside (scoring.Request.LoadingDosesBeside).
	LoadingBeside int `json:"loadingBeside,omitempty"`
	// DeductibleMet: the part of the deductible other drafts of the hook meet (scoring.Request.DeductibleMet).
	DeductibleMet float64 `json:"deductibleMet,omitempty"`
	// OOPCountedYear: the maximum other drafts' years of therapy count (scoring.Request.OOPCountedYear).
	OOPCountedYear float64 `json:"oopCountedYear,omitempty"`
	// Config is the scoring.ConfigFingerprint of the engine the request was scored on ("" in
	// requests stored before it was recorded, and from EncodeScoreRequest): part of the request's
	// divergence key, since the answers depend on it.
	Config string `json:"config,omitempty"`
}

func encodeScoreRequest(r scoring.Request, config string) []byte {
	b, err := json.Marshal(scoreRequestJSON{Contract: r.ContractID, Product: r.ProductID, DoseMg: r.DoseMg, Administrations: r.Administrations,
		Date: r.Date.UTC().Format(time.DateOnly), Current: r.CurrentProductID, ItemMg: r.ItemMg, Site: r.Site, Indications: r.Indications,
		IndicationKnown: r.IndicationKnown, Secondary: r.SecondaryID, Device: r.Device, DeductibleCounted: r.DeductibleCounted, LoadingDose: r.LoadingDose, OOPCounted: r.OOPCounted, LoadingBeside: r.LoadingDosesBeside, DeductibleMet: r.DeductibleMet, OOPCountedYear: r.OOPCountedYear, Config: config})
	if err != nil {
		return nil // cannot happen for these field types; the decision is then never re-scored
	}
	return b
}

// decodeScoreRequest returns a stored request and the configuration fingerprint it names.
func decodeScoreRequest(b []byte) (scoring.Request, string, error) {
	var j scoreRequestJSON
	if err := jsonfast.Unmarshal(b, &j); err != nil {
		return scoring.Request{}, "", fmt.Errorf("gateway: stored scoring request: %w", err)
	}
	day, err := time.Parse(time.DateOnly, j.Date)
	if err != nil {
		return scoring.Request{}, "", fmt.Errorf("gateway: stored scoring request date: %w", err)
	}
	return scoring.Request{ContractID: j.Contract, ProductID: j.Product, DoseMg: j.DoseMg, Administrations: j.Administrations, Date: day,
		CurrentProductID: j.Current, ItemMg: j.ItemMg, Site: j.Site, Indications: j.Indications, IndicationKnown: j.IndicationKnown,
		SecondaryID: j.Secondary, Device: j.Device, DeductibleCounted: j.DeductibleCounted, LoadingDose: j.LoadingDose, OOPCounted: j.OOPCounted, LoadingDosesBeside: j.LoadingBeside, DeductibleMet: j.DeductibleMet, OOPCountedYear: j.OOPCountedYear}, j.Config, nil
}

// answersFor scores req under every contract of reg; own is the decision's contract.
func answersFor(sc *scoring.Scorer, contracts []scoring.Contract, req scoring.Request) ([]store.Answer, error) {
	type scored struct {
		a   store.Answer
		res scoring.Result
	}
	var all []scored
	for _, k := range contracts {
		r := req
		r.ContractID = k.ID
		res, err := sc.Score(r)
		if err != nil && k.ID != req.ContractID && r.SecondaryID != "" {
			// The patient's supplemental coverage belongs to the patient, not the contract; one
			// the other contract's registry entry cannot score is left out there.
			r.SecondaryID = ""
			res, err = sc.Score(r)
		}
		if err != nil {
			continue // this contract cannot price the order (another benefit, another fee schedule)
		}
		a := store.Answer{ContractID: k.ID, Arrangement: string(k.Arrangement), BestProductID: res.Ordered.Product.ID, Reason: res.Reason}
		if res.Best != nil {
			a.BestProductID, a.Card, a.Reason = res.Best.Product.ID, true, ""
		}
		all = append(all, scored{a, res})
	}
	ownBest, haveOwn := "", false
	ffsAnswer := map[string]bool{}
	for _, s := range all {
		if s.a.Arrangement == string(scoring.FFS) {
			ffsAnswer[s.a.BestProductID] = true
		}
		if s.a.ContractID == req.ContractID {
			ownBest, haveOwn = s.a.BestProductID, true
		}
	}
	if !haveOwn {
		return nil, fmt.Errorf("gateway: divergence: the decision's own contract %q no longer scores the order", req.ContractID)
	}
	out := make([]store.Answer, len(all))
	for i, s := range all {
		a := s.a
		a.Differs = a.BestProductID != ownBest
		out[i] = a
		if a.Arrangement == string(scoring.FFS) {
			continue // the worth of an answer is counted under the value-based contract's figures
		}
		// Under a value-based contract: the figures of its own answer and of every FFS answer,
		// what following one rather than the other is worth (tracking/divergence.go). Only
		// those: the record keeps what the report reads.
		a.Year = map[string]store.YearFigures{}
		add := func(o scoring.Option) {
			if (ffsAnswer[o.Product.ID] || o.Product.ID == a.BestProductID) && o.PerYear != (scoring.Figures{}) {
				a.Year[o.Product.ID] = store.YearFigures{PayerAllowed: o.PerYear.PayerAllowed, PayerPaid: o.PerYear.PayerPaid, HasPaid: true,
					PatientOOP: o.PerYear.PatientOOP, NetImpact: o.PerYear.NetImpact}
			}
		}
		add(s.res.Ordered)
		for _, o := range s.res.Options {
			add(o)
		}
		out[i] = a
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContractID < out[j].ContractID })
	return out, nil
}

// divergenceJob computes divergence in the background (see above). The hook hands it the
// decisions it has just committed through a bounded queue (a non-blocking send: a full queue
// drops, counted in valuerx_divergence_dropped_total); the job scores them in batches, at most
// once a second. What it never saw (dropped, or recorded before a restart) is found by one sweep
// of the store at start, and by `valuerx divergence`.
type divergenceJob struct {
	g *Gateway
	// pending are the committed decisions waiting to be scored, appended by the hooks under pmu
	// (at most divergenceQueue; more are dropped and counted). A channel of decisions woke the
	// loop's goroutine once per hook, and at c=4 the scheduler latency of those wake-ups was a
	// third of the hooks' (issue 15, an execution trace of 2 December 2026): the loop now takes
	// the whole list each period, or when kick says a batch is full.
	pmu     sync.Mutex
	pending []queuedDecision
	kick    chan struct{}     // buffered (1): a full batch is waiting
	flush   chan chan flushed // ComputeDivergence asks the loop to compute its batch now
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex // one computation at a time (the loop and ComputeDivergence)
	period  time.Duration
	// eng and sc are the engine in service last scored on and the job's own scorer for it: its
	// own cache, so that scoring every order under five contracts never evicts the hooks' cached
	// scores (nor shows in their cache hit ratio). Guarded by mu.
	eng *engine
	sc  *scoring.Scorer
	// stored holds the keys whose answers are in the store (stored by this job or found there):
	// a decision with one of them needs nothing. Guarded by mu; emptied when it reaches
	// divergenceKnown keys (a key forgotten is merely stored again, which keeps the first).
	stored map[string]struct{}
	// grace is divergenceGrace (tests shorten it).
	grace time.Duration
}

// queuedDecision is what the job needs of a committed decision (its card, catalog version and
// scoring request) and the engine its hook scored on. Not a whole store.Decision: the queue took
// about 22 kB of a 20-draft hook's 420 kB of allocations holding copies of that struct.
type queuedDecision struct {
	cardUUID, catalogVersion string
	scoreRequest             []byte
	eng                      *engine
}

// divergenceKnown bounds the keys the job remembers (about 100 bytes each).
const divergenceKnown = 1 << 16

// divergenceCache is the size of the job's own score cache.
const divergenceCache = 2048

// scorer returns the current engine and the job's scorer for it. Called with mu held.
func (j *divergenceJob) scorer() (*engine, *scoring.Scorer) {
	eng := j.g.current()
	return eng, j.scorerFor(eng)
}

// scorerFor returns the job's scorer for eng, building it after a swap. The engine in service's
// is kept; one already replaced (decisions queued before a swap) gets a scorer for this call
// only, so the job never holds a replaced catalog. Called with mu held.
func (j *divergenceJob) scorerFor(eng *engine) *scoring.Scorer {
	if eng == j.eng {
		return j.sc
	}
	sc, err := scoring.NewScorerWithPolicy(eng.cat, eng.reg, eng.scorer.Policy(), divergenceCache)
	if err != nil {
		sc = eng.scorer // cannot happen for an engine the gateway already scores on; share its cache then
	}
	if eng == j.g.current() {
		j.eng, j.sc = eng, sc
	}
	return sc
}

// divergenceGrace is how old a decision recorded under a configuration or catalog no longer
// loaded must be before the sweep stores it as not scored (see the top of this file).
const divergenceGrace = 10 * time.Minute

// DivergenceRun is what one computation of pending divergence did.
type DivergenceRun struct {
	// Scored are the distinct requests scored (every decision with one now has its answers).
	Scored int
	// NotScored are the requests stored without answers, by reason (store.DivNotScored*).
	NotScored map[string]int
	// LeftPending are the decisions left pending: recorded under a configuration or catalog
	// other than the one in service less than divergenceGrace ago.
	LeftPending int
}

// Requests are the requests stored, scored or not.
func (r DivergenceRun) Requests() int {
	n := r.Scored
	for _, k := range r.NotScored {
		n += k
	}
	return n
}

func (r *DivergenceRun) add(o DivergenceRun) {
	r.Scored += o.Scored
	r.LeftPending += o.LeftPending
	for k, n := range o.NotScored {
		if r.NotScored == nil {
			r.NotScored = map[string]int{}
		}
		r.NotScored[k] += n
	}
}

// divergenceBatch is how many decisions one computation (and one store read) takes.
const divergenceBatch = 256

// divergenceQueue bounds the decisions waiting to be scored.
const divergenceQueue = 4096

func (g *Gateway) startDivergence() {
	if g.cfg.Store == nil {
		return
	}
	j := &divergenceJob{g: g, kick: make(chan struct{}, 1), flush: make(chan chan flushed), stop: make(chan struct{}), done: make(chan struct{}), period: time.Second,
		stored: map[string]struct{}{}, grace: divergenceGrace}
	g.div = j
	go j.loop()
}

// enqueue hands committed decisions, scored on eng, to the job; it never blocks the hook.
func (j *divergenceJob) enqueue(eng *engine, ds []store.Decision) {
	if j == nil {
		return
	}
	dropped := 0
	j.pmu.Lock()
	for i := range ds {
		if len(ds[i].ScoreRequest) == 0 {
			continue
		}
		if len(j.pending) >= divergenceQueue {
			dropped++
			continue
		}
		j.pending = append(j.pending, queuedDecision{ds[i].CardUUID, ds[i].CatalogVersion, ds[i].ScoreRequest, eng})
	}
	full := len(j.pending) >= divergenceBatch
	j.pmu.Unlock()
	if dropped > 0 {
		j.g.metrics.divergenceDropped.Add(float64(dropped))
	}
	if full {
		select {
		case j.kick <- struct{}{}:
		default: // the loop has been told already
		}
	}
}

// take returns the pending decisions and empties the list.
func (j *divergenceJob) take() []queuedDecision {
	j.pmu.Lock()
	defer j.pmu.Unlock()
	qs := j.pending
	j.pending = nil
	return qs
}

func (j *divergenceJob) loop() {
	defer close(j.done)
	// again fires when decisions the sweep left pending (too young to be marked not scored) are
	// old enough: one more sweep then.
	var again <-chan time.Time
	sweep := func() {
		run, err := j.sweep(context.Background())
		if err != nil {
			j.g.log.Warn("divergence sweep failed", "error", err.Error())
		}
		again = nil
		if run.LeftPending > 0 {
			again = time.After(j.grace)
		}
	}
	sweep()
	tick := time.NewTicker(j.period)
	defer tick.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-again:
			sweep()
			continue
		case <-j.kick:
		case <-tick.C:
		case reply := <-j.flush:
			// ComputeDivergence: the pending decisions now, on their hooks' engines (the sweep
			// would leave a decision of a replaced configuration pending).
			batch := j.take()
			var err error
			if len(batch) > 0 {
				err = j.compute(context.Background(), batch)
			}
			reply <- flushed{len(batch), err}
			continue
		}
		if batch := j.take(); len(batch) > 0 {
			if err := j.compute(context.Background(), batch); err != nil {
				j.g.log.Warn("divergence not computed", "error", err.Error())
			}
		}
	}
}

// flushed is the loop's answer to a flush: how many decisions its batch held, and the error
// computing them.
type flushed struct {
	n   int
	err error
}

// compute scores the requests of qs the job has not stored yet, each on the engine its hook
// scored on, and stores their answers.
func (j *divergenceJob) compute(ctx context.Context, qs []queuedDecision) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var engines []*engine
	fresh := map[*engine][]store.Decision{}
	for _, q := range qs {
		if _, ok := j.stored[store.DivergenceKey(q.catalogVersion, q.scoreRequest)]; ok {
			continue
		}
		if _, ok := fresh[q.eng]; !ok {
			engines = append(engines, q.eng)
		}
		fresh[q.eng] = append(fresh[q.eng], store.Decision{CardUUID: q.cardUUID, CatalogVersion: q.catalogVersion, ScoreRequest: q.scoreRequest})
	}
	var out []store.Divergence
	for _, eng := range engines { // one, but for a batch across a swap
		// On its hook's engine: its own configuration and catalog, so never "not scored" for them.
		o, run := divergences(fresh[eng], j.scorerFor(eng), eng.reg.Contracts(), eng.version, eng.config, j.g.cfg.Now, j.g.cfg.Now())
		j.g.metrics.divergenceFailed.Add(float64(run.NotScored[store.DivNotScoredFailed]))
		out = append(out, o...)
	}
	if len(out) == 0 {
		return nil
	}
	if err := j.g.cfg.Store.RecordDivergence(ctx, out); err != nil {
		return err
	}
	j.remember(out)
	return nil
}

// remember notes the keys of out as stored. Called with mu held.
func (j *divergenceJob) remember(out []store.Divergence) {
	if len(j.stored)+len(out) > divergenceKnown {
		clear(j.stored)
	}
	for _, d := range out {
		j.stored[d.Key] = struct{}{}
	}
}

// sweep computes every decision of the store still without answers.
func (j *divergenceJob) sweep(ctx context.Context) (DivergenceRun, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	eng, sc := j.scorer()
	now := j.g.cfg.Now
	run, err := computePending(ctx, j.g.cfg.Store, sc, eng.reg, eng.version, eng.config, now, now().Add(-j.grace), j.remember)
	j.g.metrics.divergenceFailed.Add(float64(run.NotScored[store.DivNotScoredFailed]))
	if n := run.NotScored[store.DivNotScoredConfig] + run.NotScored[store.DivNotScoredCatalog]; n > 0 {
		j.g.log.Info("divergence: requests recorded under a configuration or catalog no longer loaded stored as not scored",
			"configuration_replaced", run.NotScored[store.DivNotScoredConfig], "catalog_replaced", run.NotScored[store.DivNotScoredCatalog])
	}
	if run.LeftPending > 0 {
		j.g.log.Info("divergence: recent decisions of another configuration or catalog left pending until they are old enough to be marked",
			"decisions", run.LeftPending, "grace", j.grace.String())
	}
	return run, err
}

// divergences scores each distinct request of ds (by key) under every contract of the
// configuration config on catalog version, and returns one store.Divergence per key: its
// answers, or why it was not scored (store.DivNotScored*). A request is never scored under
// inputs other than its own: one naming another configuration, or whose decision was scored on
// another catalog version, is stored as not scored when its decision was recorded before
// markBefore, and otherwise left pending (LeftPending). Requests of before that name no
// configuration, and decisions that name no catalog version, are scored on what is loaded.
func divergences(ds []store.Decision, sc *scoring.Scorer, contracts []scoring.Contract, version, config string,
	now func() time.Time, markBefore time.Time) (out []store.Divergence, run DivergenceRun) {
	out = make([]store.Divergence, 0, len(ds))
	run.NotScored = map[string]int{}
	seen := map[string]bool{}
	for _, d := range ds {
		key := d.DivergenceKey()
		if key == "" || seen[key] {
			continue
		}
		req, reqConfig, err := decodeScoreRequest(d.ScoreRequest)
		notScored := ""
		switch {
		case err != nil:
			notScored = store.DivNotScoredFailed
		case reqConfig != "" && reqConfig != config:
			notScored = store.DivNotScoredConfig
		case d.CatalogVersion != "" && d.CatalogVersion != version:
			notScored = store.DivNotScoredCatalog
		}
		if (notScored == store.DivNotScoredConfig || notScored == store.DivNotScoredCatalog) && !d.At.Before(markBefore) {
			run.LeftPending++
			continue
		}
		seen[key] = true
		div := store.Divergence{Key: key, CatalogVersion: version, ComputedAt: now()}
		if notScored == "" {
			if div.Answers, err = answersFor(sc, contracts, req); err != nil {
				div.Answers, notScored = nil, store.DivNotScoredFailed
			} else {
				div.Config = config
			}
		}
		if notScored != "" {
			// Stored without answers, so it is not retried for ever; the report counts it.
			div.CatalogVersion, div.NotScored = d.CatalogVersion, notScored
			run.NotScored[notScored]++
		} else {
			run.Scored++
		}
		out = append(out, div)
	}
	return out, run
}

// ComputePendingDivergence scores every scoring request of the store's decisions that has no
// answers yet under each contract of reg and stores the answers, once per distinct request, and
// reports what it did. A request it must not score here is stored as not scored with its reason
// (store.DivNotScored*; the report counts those orders): one whose own contract no longer scores
// the order, and, once its decision is divergenceGrace old, one naming a contracts and policy
// configuration other than reg's and sc's (scoring.ConfigFingerprint) or recorded on a catalog
// version other than version; younger ones are left pending (LeftPending). The background job
// and `valuerx divergence` (a store filled before this existed) both use it.
func ComputePendingDivergence(ctx context.Context, st store.Store, sc *scoring.Scorer, reg *scoring.Registry, version string,
	now func() time.Time) (DivergenceRun, error) {
	return computePending(ctx, st, sc, reg, version, scoring.ConfigFingerprint(reg, sc.Policy()), now, now().Add(-divergenceGrace), nil)
}

func computePending(ctx context.Context, st store.Store, sc *scoring.Scorer, reg *scoring.Registry, version, config string,
	now func() time.Time, markBefore time.Time, stored func([]store.Divergence)) (run DivergenceRun, err error) {
	contracts := reg.Contracts()
	cursor := ""
	for {
		pend, next, err := st.PendingDivergence(ctx, cursor, divergenceBatch)
		if err != nil {
			return run, fmt.Errorf("gateway: pending divergence: %w", err)
		}
		out, r := divergences(pend, sc, contracts, version, config, now, markBefore)
		if err := st.RecordDivergence(ctx, out); err != nil {
			return run, fmt.Errorf("gateway: record divergence: %w", err)
		}
		run.add(r)
		if stored != nil {
			stored(out)
		}
		if next == "" {
			return run, nil
		}
		cursor = next
	}
}

func (j *divergenceJob) close() {
	if j == nil {
		return
	}
	j.once.Do(func() { close(j.stop) })
	<-j.done
}

// ComputeDivergence computes every divergence not computed yet, now: what the job's batch and
// queue hold (each on its hook's engine) and whatever the store has pending; it reports how many
// queued decisions and pending requests it handled. For tests, and the same work `valuerx
// divergence` does for a store filled before this existed.
func (g *Gateway) ComputeDivergence(ctx context.Context) (int, error) {
	j := g.div
	if j == nil {
		return 0, nil
	}
	// What the hooks queued, computed by the loop (after its sweep at start); a closed job
	// leaves its pending decisions to the computation below.
	handled := 0
	reply := make(chan flushed, 1)
	select {
	case j.flush <- reply:
		r := <-reply
		if r.err != nil {
			return 0, r.err
		}
		handled = r.n
	case <-j.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	queued := j.take() // queued after the loop's turn, or left by a closed loop
	if len(queued) > 0 {
		if err := j.compute(ctx, queued); err != nil {
			return handled, err
		}
	}
	run, err := j.sweep(ctx)
	return handled + len(queued) + run.Requests(), err
}
