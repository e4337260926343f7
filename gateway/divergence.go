package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"valuerx/scoring"
	"valuerx/store"
)

// How often the right choice differed by arrangement (issue 16 item 4). Every recorded decision
// that was scored carries its scoring request (no patient data); a background job scores the
// same request under each contract of the registry and stores, per contract, the product the
// card would have suggested (or "stay" on the ordered product) and the per-year figures of every
// product that is an answer under any contract.
//
// Why asynchronously: the hook's latency budget (issue 15) has no room for five more scores per
// order, and the answer is needed only by the report. The hook hands its committed decisions to
// a bounded queue (a non-blocking send) and answers; the job scores them in batches at most once
// a second with a scorer of its own (its own cache: the hooks' cached scores are never evicted by
// it). Nothing is lost for good: a decision the queue had no room for, or recorded
// before a restart or by another instance, carries its request in the store and is computed by
// the sweep at start or `valuerx divergence`; a decision computed twice keeps its first answer.
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
}

func encodeScoreRequest(r scoring.Request) []byte {
	b, err := json.Marshal(scoreRequestJSON{Contract: r.ContractID, Product: r.ProductID, DoseMg: r.DoseMg, Administrations: r.Administrations,
		Date: r.Date.UTC().Format(time.DateOnly), Current: r.CurrentProductID, ItemMg: r.ItemMg, Site: r.Site, Indications: r.Indications,
		IndicationKnown: r.IndicationKnown, Secondary: r.SecondaryID, Device: r.Device})
	if err != nil {
		return nil // cannot happen for these field types; the decision is then never re-scored
	}
	return b
}

func decodeScoreRequest(b []byte) (scoring.Request, error) {
	var j scoreRequestJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return scoring.Request{}, fmt.Errorf("gateway: stored scoring request: %w", err)
	}
	day, err := time.Parse(time.DateOnly, j.Date)
	if err != nil {
		return scoring.Request{}, fmt.Errorf("gateway: stored scoring request date: %w", err)
	}
	return scoring.Request{ContractID: j.Contract, ProductID: j.Product, DoseMg: j.DoseMg, Administrations: j.Administrations, Date: day,
		CurrentProductID: j.Current, ItemMg: j.ItemMg, Site: j.Site, Indications: j.Indications, IndicationKnown: j.IndicationKnown,
		SecondaryID: j.Secondary, Device: j.Device}, nil
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
				a.Year[o.Product.ID] = store.YearFigures{PayerAllowed: o.PerYear.PayerAllowed, PatientOOP: o.PerYear.PatientOOP, NetImpact: o.PerYear.NetImpact}
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
// of the store at start, and by `valuerx divergence`: the sweep reads every decision, which is
// fine once per start and not once a second on a record of a million decisions.
type divergenceJob struct {
	g      *Gateway
	queue  chan store.Decision
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex // one computation at a time (the loop and ComputeDivergence)
	period time.Duration
	// eng and sc are the engine last scored on and the job's own scorer for it: its own cache,
	// so that scoring every order under five contracts never evicts the hooks' cached scores
	// (nor shows in their cache hit ratio). Guarded by mu.
	eng *engine
	sc  *scoring.Scorer
}

// divergenceCache is the size of the job's own score cache.
const divergenceCache = 2048

// scorer returns the job's scorer for the current engine, building it after a catalog swap.
// Called with mu held.
func (j *divergenceJob) scorer() (*engine, *scoring.Scorer) {
	eng := j.g.current()
	if eng != j.eng {
		sc, err := scoring.NewScorerWithPolicy(eng.cat, eng.reg, eng.scorer.Policy(), divergenceCache)
		if err != nil {
			sc = eng.scorer // cannot happen for an engine the gateway already scores on; share its cache then
		}
		j.eng, j.sc = eng, sc
	}
	return j.eng, j.sc
}

// divergenceBatch is how many decisions one computation (and one store read) takes.
const divergenceBatch = 256

// divergenceQueue bounds the decisions waiting to be scored.
const divergenceQueue = 4096

func (g *Gateway) startDivergence() {
	if g.cfg.Store == nil {
		return
	}
	j := &divergenceJob{g: g, queue: make(chan store.Decision, divergenceQueue), stop: make(chan struct{}), done: make(chan struct{}), period: time.Second}
	g.div = j
	go j.loop()
}

// enqueue hands committed decisions to the job; it never blocks the hook.
func (j *divergenceJob) enqueue(ds []store.Decision) {
	if j == nil {
		return
	}
	for i := range ds {
		if len(ds[i].ScoreRequest) == 0 {
			continue
		}
		select {
		case j.queue <- store.Decision{CardUUID: ds[i].CardUUID, ScoreRequest: ds[i].ScoreRequest}:
		default:
			j.g.metrics.divergenceDropped.Inc()
		}
	}
}

func (j *divergenceJob) loop() {
	defer close(j.done)
	if _, err := j.sweep(context.Background()); err != nil {
		j.g.log.Warn("divergence sweep failed", "error", err.Error())
	}
	tick := time.NewTicker(j.period)
	defer tick.Stop()
	var batch []store.Decision
	for {
		select {
		case <-j.stop:
			return
		case d := <-j.queue:
			batch = append(batch, d)
			if len(batch) < divergenceBatch {
				continue
			}
		case <-tick.C:
			if len(batch) == 0 {
				continue
			}
		}
		if err := j.compute(context.Background(), batch); err != nil {
			j.g.log.Warn("divergence not computed", "error", err.Error())
		}
		batch = batch[:0]
	}
}

// compute scores ds on the current engine and stores their divergence.
func (j *divergenceJob) compute(ctx context.Context, ds []store.Decision) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	eng, sc := j.scorer()
	out, failed := divergences(ds, sc, eng.reg.Contracts(), eng.version, j.g.cfg.Now)
	j.g.metrics.divergenceFailed.Add(float64(failed))
	return j.g.cfg.Store.RecordDivergence(ctx, out)
}

// sweep computes every decision of the store still without a divergence.
func (j *divergenceJob) sweep(ctx context.Context) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	eng, sc := j.scorer()
	n, failed, err := ComputePendingDivergence(ctx, j.g.cfg.Store, sc, eng.reg, eng.version, j.g.cfg.Now)
	j.g.metrics.divergenceFailed.Add(float64(failed))
	return n, err
}

// divergences scores each decision's stored request under every contract.
func divergences(ds []store.Decision, sc *scoring.Scorer, contracts []scoring.Contract, version string, now func() time.Time) ([]store.Divergence, int) {
	out := make([]store.Divergence, 0, len(ds))
	failed := 0
	// Orders of one day, drug, dose and contract have the same request: scored once per batch.
	type answered struct {
		as  []store.Answer
		err error
	}
	seen := map[string]answered{}
	for _, d := range ds {
		div := store.Divergence{CardUUID: d.CardUUID, CatalogVersion: version, ComputedAt: now()}
		a, ok := seen[string(d.ScoreRequest)]
		if !ok {
			req, err := decodeScoreRequest(d.ScoreRequest)
			if err == nil {
				a.as, a.err = answersFor(sc, contracts, req)
			} else {
				a.err = err
			}
			seen[string(d.ScoreRequest)] = a
		}
		div.Answers = a.as
		if err := a.err; err != nil {
			// Stored without answers, so it is not retried forever; the report leaves it out.
			failed++
		}
		out = append(out, div)
	}
	return out, failed
}

// ComputePendingDivergence scores every decision the store holds without a divergence under each
// contract of reg and stores the answers; it reports how many decisions it stored and how many of
// them could not be scored under their own contract any more (stored without answers, so they
// are not retried forever; the report leaves them out). The background job and `valuerx
// divergence` (a store filled before this existed) both use it.
func ComputePendingDivergence(ctx context.Context, st store.Store, sc *scoring.Scorer, reg *scoring.Registry, version string,
	now func() time.Time) (stored, failed int, err error) {
	contracts := reg.Contracts()
	for {
		pend, err := st.PendingDivergence(ctx, divergenceBatch)
		if err != nil {
			return stored, failed, fmt.Errorf("gateway: pending divergence: %w", err)
		}
		if len(pend) == 0 {
			return stored, failed, nil
		}
		out, f := divergences(pend, sc, contracts, version, now)
		failed += f
		if err := st.RecordDivergence(ctx, out); err != nil {
			return stored, failed, fmt.Errorf("gateway: record divergence: %w", err)
		}
		stored += len(out)
		if len(pend) < divergenceBatch {
			return stored, failed, nil
		}
	}
}

func (j *divergenceJob) close() {
	if j == nil {
		return
	}
	j.once.Do(func() { close(j.stop) })
	<-j.done
}

// ComputeDivergence computes every divergence not computed yet, now: what the queue holds and
// whatever the store has pending; it reports how many decisions it stored. For tests, and the
// same work `valuerx divergence` does for a store filled before this existed.
func (g *Gateway) ComputeDivergence(ctx context.Context) (int, error) {
	j := g.div
	if j == nil {
		return 0, nil
	}
	var queued []store.Decision
	for len(queued) < divergenceQueue {
		select {
		case d := <-j.queue:
			queued = append(queued, d)
			continue
		default:
		}
		break
	}
	if len(queued) > 0 {
		if err := j.compute(ctx, queued); err != nil {
			return 0, err
		}
	}
	n, err := j.sweep(ctx)
	return len(queued) + n, err
}
