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
// Why asynchronously and from the store: the hook's latency budget (issue 15) has no room for
// five more scores per order, and the answer is needed only by the report. The job runs after
// the decisions are durable (the hook only wakes it, a non-blocking send), at most once a second,
// and reads what is pending from the store, so a restart, a full queue or a second instance
// sharing the store loses nothing: whatever is pending is computed on the next run, and a
// decision computed twice keeps its first answer. Computing at report time instead would score
// every decision of the period on each page view, which the 1,000,000-decision dashboard
// benchmark cannot afford.

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
		if k.ID != req.ContractID {
			// The patient's supplemental coverage belongs to the patient, not the contract; a
			// secondary the other contract does not know would refuse the score, so keep it only
			// where it scores.
			if _, err := sc.Score(r); err != nil {
				r.SecondaryID = ""
			}
		}
		res, err := sc.Score(r)
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
	answer := map[string]bool{}
	for _, s := range all {
		answer[s.a.BestProductID] = true
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
		a.Year = map[string]store.YearFigures{}
		add := func(o scoring.Option) {
			if answer[o.Product.ID] && o.PerYear != (scoring.Figures{}) {
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

// divergenceJob computes pending divergence in the background (see above).
type divergenceJob struct {
	g      *Gateway
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex // one run at a time (the loop and ComputeDivergence)
	period time.Duration
}

// divergenceBatch is how many pending decisions one store read takes.
const divergenceBatch = 256

func (g *Gateway) startDivergence() {
	if g.cfg.Store == nil {
		return
	}
	j := &divergenceJob{g: g, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), period: time.Second}
	g.div = j
	go j.loop()
}

// wake tells the job that decisions were committed; it never blocks the hook.
func (j *divergenceJob) wake() {
	if j == nil {
		return
	}
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

func (j *divergenceJob) loop() {
	defer close(j.done)
	sweep := time.NewTicker(time.Minute) // pending work left by a restart or another instance
	defer sweep.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-j.kick:
		case <-sweep.C:
		}
		if _, err := j.run(context.Background()); err != nil {
			j.g.log.Warn("divergence not computed", "error", err.Error())
		}
		select { // at most one run a second: a busy gateway batches its decisions
		case <-j.stop:
			return
		case <-time.After(j.period):
		}
	}
}

// run computes every pending divergence on the current engine.
func (j *divergenceJob) run(ctx context.Context) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	eng := j.g.current()
	n, failed, err := ComputePendingDivergence(ctx, j.g.cfg.Store, eng.scorer, eng.reg, eng.version, j.g.cfg.Now)
	j.g.metrics.divergenceFailed.Add(float64(failed))
	return n, err
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
		out := make([]store.Divergence, 0, len(pend))
		for _, d := range pend {
			div := store.Divergence{CardUUID: d.CardUUID, CatalogVersion: version, ComputedAt: now()}
			req, err := decodeScoreRequest(d.ScoreRequest)
			if err == nil {
				div.Answers, err = answersFor(sc, contracts, req)
			}
			if err != nil {
				failed++
			}
			out = append(out, div)
		}
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

// ComputeDivergence computes every pending divergence now and reports how many decisions it
// stored: for tests, and for `valuerx divergence` over a store filled before this existed.
func (g *Gateway) ComputeDivergence(ctx context.Context) (int, error) {
	if g.div == nil {
		return 0, nil
	}
	return g.div.run(ctx)
}
