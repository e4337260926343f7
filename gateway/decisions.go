package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"valuerx/cdshooks"
	"valuerx/internal/jsonfast"
	"valuerx/scoring"
	"valuerx/store"
)

// commitTimeout bounds the wait for a hook's decisions to be committed. It is not the hook's
// data budget: a hook whose FHIR server used the whole budget still gets its answer recorded.
const commitTimeout = 2 * time.Second

// recorder gathers one hook's decisions and commits them before the hook answers (durable before
// acknowledged: every card an EHR received is in the store, so its feedback always counts). The
// store batches concurrent hooks into one group commit (store/commit.go), which keeps the
// throughput of the old background writer without its window in which a 200 had no decision.
type recorder struct {
	g       *Gateway
	ctx     context.Context
	client  string
	eng     *engine // the engine the hook scores on: its catalog version and configuration are recorded
	svc     *serviceDef
	req     *cdshooks.Request
	oc      *cdshooks.OrderContext
	ds      []store.Decision
	loc     string
	locRead bool
	// current finds the product of an order's family the patient is already on ("" = new start),
	// for orders recorded without a score (set by onRecord).
	current func(item orderedItem) string
	// keys are the order keys of the draft ids keyed so far (the batched order-state read keys
	// every draft, then each decision asks for its own again: an HMAC each time otherwise),
	// computed with one HMAC state for the hook (keyer).
	keys  map[string]string
	keyer *store.OrderKeys
	// drafts are the hook's draft order ids (set by onRecord); states is the order state of
	// each of them, read in one query on the first suppressed (store.OrderStatesReader), with
	// statesRead set then and statesOK when that read succeeded.
	drafts               map[string]bool
	states               map[string]store.OrderState
	statesRead, statesOK bool
	// fps and reqs remember the fingerprints and encoded scoring requests of the hook's scored
	// drafts: twenty drafts of a hook are mostly a few distinct orders, and suppressed and
	// scored each fingerprinted the same result (fmt, SHA-256, hex), scored encoded the same
	// request (encoding/json) per draft.
	fps  []fingerprintMemo
	reqs []scoreRequestMemo
}

type fingerprintMemo struct {
	product, contract string
	dose              uint64 // math.Float64bits: -0 is written "-0"
	admins            int
	fp                string
}

type scoreRequestMemo struct {
	req scoring.Request
	enc []byte // shared by the decisions of the same request, read-only (the store copies it)
}

// fingerprint is fingerprint(res), computed once per distinct input in the hook.
func (rc *recorder) fingerprint(res scoring.Result) string {
	m := fingerprintMemo{product: res.Ordered.Product.ID, contract: res.Contract.ID, dose: math.Float64bits(res.DoseMg), admins: res.Administrations}
	for _, f := range rc.fps {
		if f.product == m.product && f.contract == m.contract && f.dose == m.dose && f.admins == m.admins {
			return f.fp
		}
	}
	m.fp = fingerprint(res)
	rc.fps = append(rc.fps, m)
	return m.fp
}

// scoreRequest is encodeScoreRequest(r, the engine's configuration), encoded once per distinct
// request in the hook.
func (rc *recorder) scoreRequest(r scoring.Request) []byte {
	for _, m := range rc.reqs {
		if sameScoreRequest(m.req, r) {
			return m.enc
		}
	}
	enc := encodeScoreRequest(r, rc.eng.config)
	rc.reqs = append(rc.reqs, scoreRequestMemo{r, enc})
	return enc
}

// sameScoreRequest reports whether a and b encode alike: every field of scoring.Request
// (TestSameScoreRequestFields counts them), floats bit for bit, dates by their instant (the
// encoding writes the UTC day), indications element by element (nil and empty both omitted).
func sameScoreRequest(a, b scoring.Request) bool {
	return a.ContractID == b.ContractID && a.ProductID == b.ProductID && math.Float64bits(a.DoseMg) == math.Float64bits(b.DoseMg) &&
		a.Administrations == b.Administrations && a.Date.Equal(b.Date) && a.CurrentProductID == b.CurrentProductID &&
		math.Float64bits(a.ItemMg) == math.Float64bits(b.ItemMg) && a.Site == b.Site && slices.Equal(a.Indications, b.Indications) &&
		a.IndicationKnown == b.IndicationKnown && a.SecondaryID == b.SecondaryID && a.Device == b.Device &&
		a.DeductibleCounted == b.DeductibleCounted && a.LoadingDose == b.LoadingDose &&
		math.Float64bits(a.OOPCounted) == math.Float64bits(b.OOPCounted) && a.LoadingDosesBeside == b.LoadingDosesBeside &&
		math.Float64bits(a.DeductibleMet) == math.Float64bits(b.DeductibleMet) &&
		math.Float64bits(a.OOPCountedYear) == math.Float64bits(b.OOPCountedYear)
}

// orderKey is the order key of this hook's draft order id (g.orderKey), computed once per id;
// the adherence cards ask for the draft id with the measure appended.
func (rc *recorder) orderKey(id string) string {
	if k, ok := rc.keys[id]; ok {
		return k
	}
	k := rc.newKey(id)
	if rc.keys == nil {
		rc.keys = make(map[string]string, max(len(rc.drafts), 1))
	}
	rc.keys[id] = k
	return k
}

// newKey is g.orderKey of the hook's client and patient and the order id.
func (rc *recorder) newKey(orderID string) string {
	if rc.keyer == nil {
		rc.keyer = store.NewOrderKeys(rc.g.orderSecret)
	}
	return rc.keyer.Key(rc.client, rc.oc.PatientID, orderID) // the imports join on the same key (client.go)
}

// onRecord lets decisions of orders that were never scored (no coverage, no contract, unit-dosed,
// ...) still say whether they are a new start: the biosimilar share of new starts counts them.
// The history is decoded only if such an order is recorded.
func (rc *recorder) onRecord(history func() []therapyEntry, draftIDs map[string]bool, cat *scoring.Catalog, pol *scoring.Policy) {
	rc.drafts = draftIDs
	rc.current = func(item orderedItem) string {
		g, _ := cat.Group(item.product.GroupID)
		return currentProduct(history(), item.product.GroupID, draftIDs, item.date, time.Duration(pol.Group(g).HistoryDays)*24*time.Hour)
	}
}

// newRecorder starts the hook's decision record. orders is the number of draft orders, each
// recorded at most once: the decisions are sized for them up front (a Decision is about 500
// bytes, and growing the slice by doubling took 32 kB of a 20-draft hook's allocations).
func (g *Gateway) newRecorder(ctx context.Context, eng *engine, svc *serviceDef, req *cdshooks.Request, oc *cdshooks.OrderContext, orders int) *recorder {
	rc := &recorder{g: g, ctx: ctx, client: clientOf(ctx), eng: eng, svc: svc, req: req, oc: oc}
	if g.cfg.Store != nil {
		rc.ds = make([]store.Decision, 0, orders)
	}
	return rc
}

// suppressed reports whether the clinician already overrode valuerx's card for this same order
// (same client, patient and draft order id, at order-select or order-sign) and the advice has not
// changed since (ordered product, dose, course, contract: the fingerprint). Such an order gets no
// card again (issue 10 item 7). A store that cannot answer in time suppresses nothing: showing
// the card again is the safe failure.
func (rc *recorder) suppressed(ctx context.Context, item orderedItem, res scoring.Result) bool {
	st := rc.g.cfg.Store
	if st == nil || item.id == "" {
		return false
	}
	state, err := rc.orderState(ctx, st, item.id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			rc.g.log.Warn("order state unavailable", "service", rc.svc.ID, "hook", hookRef(rc.req.HookInstance), "error", err.Error())
		}
		return false
	}
	if state.Outcome == "overridden" && state.Fingerprint == rc.fingerprint(res) {
		rc.g.metrics.suppressed.WithLabelValues(rc.svc.ID).Inc()
		return true
	}
	return false
}

// orderState is st.OrderState of the draft order id. A store that reads several orders at once
// (store.OrderStatesReader) is asked once, on the first call, for every draft of the hook: a
// hook with twenty drafts made twenty reads. Should that read fail, each order is asked alone.
func (rc *recorder) orderState(ctx context.Context, st store.Store, id string) (store.OrderState, error) {
	r, many := st.(store.OrderStatesReader)
	if many && !rc.statesRead && len(rc.drafts) > 1 && rc.drafts[id] {
		rc.statesRead = true
		keys := make([]string, 0, len(rc.drafts))
		for d := range rc.drafts {
			keys = append(keys, rc.orderKey(d))
		}
		states, err := r.OrderStates(ctx, rc.client, keys)
		rc.states, rc.statesOK = states, err == nil
	}
	key := rc.orderKey(id)
	if !rc.statesOK || !rc.drafts[id] {
		return st.OrderState(ctx, rc.client, key)
	}
	state, ok := rc.states[key]
	if !ok {
		return store.OrderState{}, store.ErrNotFound
	}
	return state, nil
}

// commit writes the hook's decisions and returns once they are committed, with the hook's jti
// claim in the same transaction (authenticateHook): one commit per hook. A claim the store finds
// already held is a replay, answered 401, and nothing of the hook is recorded. The hook's own
// deadline does not bound it (see commitTimeout); a failure is a 503, since a card without its
// decision would take feedback that can never count.
func (rc *recorder) commit(ctx context.Context) error {
	pj := pendingOf(rc.ctx)
	if rc.g.cfg.Store == nil || len(rc.ds) == 0 {
		return rc.g.settleJTI(ctx, pj)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	var jti *store.JTI
	if pj != nil && !pj.done {
		jti = &store.JTI{Key: pj.claim.Key, Expires: pj.claim.Expires, Now: pj.claim.Now}
	}
	err := rc.g.cfg.Store.RecordHook(ctx, jti, rc.ds)
	switch {
	case err == nil:
		if pj != nil {
			pj.done = true
		}
	case jti != nil && errors.Is(err, store.ErrReplay):
		pj.done = true
		return pj.claim.Replay()
	case !rc.anyCard():
		// Only orders that needed no card: no feedback can come for them, so the EHR gets
		// its answer and the programme report misses these orders (logged, never PHI). The
		// jti claim did not commit with them: it is made alone, failing closed.
		rc.g.log.Warn("no-card decisions not recorded", "service", rc.svc.ID, "hook", hookRef(rc.req.HookInstance), "error", err.Error())
		return rc.g.settleJTI(ctx, pj)
	default:
		return errorf(KindUnavailable, "record", "could not record the decision", err)
	}
	rc.g.div.enqueue(rc.eng, rc.ds) // divergence.go: scored after the decision is durable, off this path
	return nil
}

// pendingJTI is a hook's jti claim that authenticateHook left to the hook: written with its
// decisions (recorder.commit), or alone (settleJTI) when the hook records nothing or fails first.
// Only the hook's goroutine touches it.
type pendingJTI struct {
	claim *cdshooks.JTIClaim
	done  bool // written, or refused as a replay
}

func pendingOf(ctx context.Context) *pendingJTI {
	pj, _ := ctx.Value(ctxJTI).(*pendingJTI)
	return pj
}

// settleJTI writes a hook's pending jti claim on its own (nil when there is none or it is
// written): a hook that records nothing or fails before its commit still spends its token. The
// hook's deadline does not bound it: a slow FHIR server must not turn a good token into a refusal.
func (g *Gateway) settleJTI(ctx context.Context, pj *pendingJTI) error {
	if pj == nil || pj.done {
		return nil
	}
	pj.done = true
	return g.cfg.Verifier.Claim(context.WithoutCancel(ctx), pj.claim)
}

// anyCard reports whether the hook recorded a card (rather than only orders without one).
func (rc *recorder) anyCard() bool {
	for i := range rc.ds {
		if rc.ds[i].NoCardReason == "" {
			return true
		}
	}
	return false
}

// inFlight limits concurrent hooks (Config.MaxInFlight). Beyond the limit a hook is refused at
// once with 503 and Retry-After: 1 rather than queued: a CDS client waits only a few hundred
// milliseconds for cards and goes on without them when a service fails (CDS Hooks: the EHR must
// not block the clinician on a service), so a prompt 503 costs the clinician nothing, while a
// queue would answer late for everyone and hold memory for each waiting body. An empty 200
// would hide the overload from operators as "nothing to suggest"; the 503 is counted in
// valuerx_hooks_overloaded_total (it never reaches handleHook and its per-service counters).
func (g *Gateway) inFlight(next http.Handler) http.Handler {
	return limitInFlight(g.cfg.MaxInFlight, g.metrics.overloaded, "hook", "too many hooks in flight; retry shortly", next)
}

// maxFeedbackInFlight caps the feedback requests served at once, apart from the hooks' cap: each
// item costs a store read, and four parallel 1 MB batches of invented card ids (9,203 items, 1.9 s
// each) took client A's hooks from 8 to 85 ms (security review, 2 December 2026). Feedback
// refused with 503 is sent again by the EHR; it never competes with a clinician's cards.
const maxFeedbackInFlight = 16

// feedbackInFlight limits concurrent feedback requests (maxFeedbackInFlight), as inFlight does hooks.
func (g *Gateway) feedbackInFlight(next http.Handler) http.Handler {
	return limitInFlight(maxFeedbackInFlight, g.metrics.feedbackOverloaded, "feedback", "too many feedback requests in flight; retry shortly", next)
}

// limitInFlight serves at most n requests at once (n <= 0: no limit) and answers the others at
// once with 503 and Retry-After: 1, counted in overloaded.
func limitInFlight(n int, overloaded prometheus.Counter, op, msg string, next http.Handler) http.Handler {
	if n <= 0 {
		return next
	}
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		default:
			overloaded.Inc()
			w.Header().Set("Retry-After", strconv.Itoa(1))
			writeError(w, errorf(KindUnavailable, op, msg, nil))
		}
	})
}

// base is the part of a decision every order of a tracked family has, card or not: who it was
// shown to (client, tenant), the order it is about (keyed, no patient id), the prescriber and
// the hook's location.
func (rc *recorder) base(item orderedItem) store.Decision {
	g := rc.g
	d := store.Decision{
		HookInstance: rc.req.HookInstance, ServiceID: rc.svc.ID, Hook: rc.svc.Hook, Client: rc.client, Tenant: tenantOf(rc.ctx),
		OrderKey: rc.orderKey(item.id), UserID: rc.oc.UserID, Location: rc.location(),
		GroupID: item.product.GroupID, OrderedProductID: item.product.ID, OrderedRelationship: string(item.product.Relationship),
		At: g.cfg.Now(),
	}
	return d
}

// location is the hook's first location candidate (Encounter location, service provider,
// PractitionerRole userId), read once per hook and only when a decision is recorded.
func (rc *recorder) location() string {
	if !rc.locRead {
		if cs := siteCandidates(rc.req, rc.oc); len(cs) > 0 {
			rc.loc = cs[0]
		}
		rc.locRead = true
	}
	return rc.loc
}

// scored fills what the score says: contract, figures of every option, price period, therapy,
// and the scoring request (for the divergence job).
func (rc *recorder) scored(d *store.Decision, sreq scoring.Request, res scoring.Result) {
	d.ContractID, d.Arrangement = res.Contract.ID, string(res.Contract.Arrangement)
	d.Fingerprint = rc.fingerprint(res)
	d.PricePeriod, d.CatalogVersion, d.AdministrationsPerYear = res.Book.ID, rc.eng.version, res.AdministrationsPerYear
	d.Therapy = store.TherapyContinuing
	if sreq.CurrentProductID == "" {
		d.Therapy = store.TherapyNewStart
	}
	d.Options = make([]store.Option, 0, len(res.Options))
	for _, o := range res.Options {
		if o.Exclusion == scoring.ExcludeNotPriced && o.PerCourse == (scoring.Figures{}) {
			d.Options = append(d.Options, store.Option{ProductID: o.Product.ID, Relationship: string(o.Product.Relationship), Exclusion: o.Exclusion})
			continue
		}
		c, y := optionSavings(res.Ordered, o)
		d.Options = append(d.Options, store.Option{ProductID: o.Product.ID, Relationship: string(o.Product.Relationship),
			Eligible: o.Eligible, Exclusion: o.Exclusion, PerCourse: c.Cents(), PerYear: y.Cents()})
	}
	d.ScoreRequest = rc.scoreRequest(sreq)
}

// none records an order of a tracked family that got no card, and why (store.NoCard* or the
// scorer's reason). res is nil when the order was not scored (no coverage, no contract, ...).
func (rc *recorder) none(item orderedItem, reason string, sreq scoring.Request, res *scoring.Result) {
	if rc.g.cfg.Store == nil {
		return
	}
	d := rc.base(item)
	d.CardUUID = cdshooks.NewCardUUID() // never sent: a no-card decision takes no feedback
	if res != nil {
		rc.scored(&d, sreq, *res)
		if res.Best == nil && reason == res.Reason {
			reason = noCardReason(*res)
		}
	} else if rc.current != nil {
		d.Therapy = store.TherapyContinuing
		if rc.current(item) == "" {
			d.Therapy = store.TherapyNewStart
		}
	}
	d.NoCardReason = reason
	rc.ds = append(rc.ds, d)
}

// noCardReason refines the scorer's "already-best": when a product that would have saved the
// payer money was held back by a clinical rule (not labelled for the indication, off formulary,
// another route or form), that rule is why there is no card, and the programme report says so.
func noCardReason(res scoring.Result) string {
	if res.Reason != scoring.ReasonAlreadyBest {
		return res.Reason
	}
	for _, o := range res.Options {
		if o.Delta.PayerAllowed >= 0 || o.Eligible {
			continue
		}
		switch o.Exclusion {
		case scoring.ExcludeNotLabelled:
			return "not-labelled-for-indication"
		case scoring.ExcludeOffFormulary:
			return "off-formulary"
		case scoring.ExcludeRouteForm:
			return "other-route-or-form"
		}
	}
	return res.Reason
}

// add turns a card into its decision: who it was shown to, the order it is about (keyed, no
// patient id), what was advised (fingerprint), and every option with its own figures.
func (rc *recorder) add(item orderedItem, sreq scoring.Request, card *cdshooks.Card, products []string, res scoring.Result) {
	if rc.g.cfg.Store == nil {
		return
	}
	best := res.Best
	d := rc.base(item)
	d.CardUUID = card.UUID
	rc.scored(&d, sreq, res)
	d.BestProductID = best.Product.ID
	d.PayerSaving, d.PatientSaving, d.OrgImpact = savings(res.Ordered, *best)
	d.Suggestions = make([]store.Suggestion, len(card.Suggestions))
	for i, s := range card.Suggestions {
		sg := store.Suggestion{UUID: s.UUID}
		if i < len(products) {
			sg.ProductID = products[i]
		}
		if o, ok := optionOf(res, sg.ProductID); ok {
			sg.PayerSaving, sg.PatientSaving, sg.OrgImpact = savings(res.Ordered, o)
			_, y := optionSavings(res.Ordered, o)
			sg.PerYear = y.Cents() // as the options are recorded: projected and realised agree to the cent
		}
		d.Suggestions[i] = sg
	}
	rc.ds = append(rc.ds, d)
}

// optionSavings are o's per-course and per-year figures against the ordered product
// (scoring.Saved: the payer's own payment, the patient's cost, the organisation's net impact).
func optionSavings(ordered, o scoring.Option) (course, year store.Saving) {
	return savingOf(ordered.PerCourse, o.PerCourse), savingOf(ordered.PerYear, o.PerYear)
}

func savingOf(ordered, o scoring.Figures) store.Saving {
	var s store.Saving
	s.Payer, s.Patient, s.Org = scoring.Saved(ordered, o)
	return s
}

// savings are o's per-course figures against the ordered product (positive = saved).
func savings(ordered, o scoring.Option) (payer, patient, org float64) {
	return scoring.Saved(ordered.PerCourse, o.PerCourse)
}

// optionOf finds the scored option for product id.
func optionOf(res scoring.Result, id string) (scoring.Option, bool) {
	if id == "" {
		return scoring.Option{}, false
	}
	if res.Best != nil && res.Best.Product.ID == id {
		return *res.Best, true
	}
	for _, o := range res.Options {
		if o.Product.ID == id {
			return o, true
		}
	}
	return scoring.Option{}, false
}

// fingerprint identifies what a card advised on: the ordered product, the dose and course scored,
// and the contract (so a change of coverage that changes the contract is a change). A card the
// clinician overrode is not shown again for the same order while this stays the same.
func fingerprint(res scoring.Result) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%g\x00%d\x00%s", res.Ordered.Product.ID, res.DoseMg, res.Administrations, res.Contract.ID)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// suggestionProducts reads, for each suggestion of a freshly built card, the catalog product its
// update action orders, recognised exactly as valuerx recognises a draft order. It runs once per
// built card (the card cache keeps the answer).
func suggestionProducts(cat *scoring.Catalog, card *cdshooks.Card) []string {
	out := make([]string, len(card.Suggestions))
	for i, s := range card.Suggestions {
		for _, a := range s.Actions {
			var mr medRequest
			if len(a.Resource) == 0 || jsonfast.Unmarshal(a.Resource, &mr) != nil {
				continue
			}
			if p, ok := productOf(cat, mr.MedicationCodeableConcept); ok {
				out[i] = p.ID
				break
			}
		}
	}
	return out
}
