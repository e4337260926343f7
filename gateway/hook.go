package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"valuerx/cdshooks"
	"valuerx/clinical"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
	"valuerx/scoring"
	"valuerx/store"
)

// readBody reads a request body under the configured limit, telling "too large" apart.
func readBody(r *http.Request) ([]byte, error) {
	body, err := readAllSized(r.Body, r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(KindTooLarge, "read", "request body too large", err)
		}
		return nil, errorf(KindInvalid, "read", "could not read the request body", err)
	}
	return body, nil
}

// readAllSized is io.ReadAll with the buffer sized once from the request's Content-Length (when
// it is given and below the body limit, which the MaxBytesReader in front of r enforces anyway):
// io.ReadAll grows from 512 bytes by doubling, allocating about twice the body.
func readAllSized(r io.Reader, contentLength int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > maxSizedRead {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, contentLength+1) // +1: room for the read that sees EOF
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) { // longer than announced: grow as io.ReadAll does
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// maxSizedRead bounds the buffer readAllSized allocates up front on a client's word.
const maxSizedRead = 4 << 20

// handleHook runs one CDS Hooks service call: decode, gather data, score every recognised order,
// answer with cards.
func (g *Gateway) handleHook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := mux.Vars(r)["id"]
	svc, ok := g.byID[id]
	if !ok {
		writeError(w, errorf(KindNotFound, "hook", "no such CDS service", nil))
		return
	}
	status := http.StatusOK
	defer func() {
		g.metrics.hooks.WithLabelValues(id, http.StatusText(status)).Inc()
		g.metrics.hookSeconds.WithLabelValues(id).Observe(time.Since(start).Seconds())
	}()
	body, err := readBody(r)
	if err != nil {
		status = g.failHook(w, r, err)
		return
	}
	resp, pre, err := g.advise(r.Context(), svc, body, true)
	if err != nil {
		status = g.failHook(w, r, err)
		return
	}
	buf := responseBuffers.Get().(*[]byte)
	b, err := appendResponse((*buf)[:0], resp, pre)
	if err != nil {
		responseBuffers.Put(buf)
		status = g.fail(w, r, errorf(KindInternal, "encode", "could not encode the response", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledResponse {
		*buf = b
		responseBuffers.Put(buf)
	}
}

// failHook answers a hook that failed. Its token is spent all the same: a jti claim the hook did
// not write yet is written now (settleJTI), so a replay of a refused hook is refused too. A
// replay found by the hook's own commit is answered as authentication refuses one.
func (g *Gateway) failHook(w http.ResponseWriter, r *http.Request, err error) int {
	if errors.Is(err, cdshooks.ErrUnauthorized) {
		g.unauthorized(w, r, err)
		return http.StatusUnauthorized
	}
	if cerr := g.settleJTI(r.Context(), pendingOf(r.Context())); cerr != nil {
		g.log.Warn("jti of a failed hook not claimed", "route", g.routeLabel(r), "request_id", requestID(r.Context()), "reason", cerr.Error())
	}
	return g.fail(w, r, err)
}

// fail logs err (without PHI) and writes it; it returns the status written.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, err error) int {
	ge := asGatewayError(err)
	level := g.log.Info
	if ge.Kind == KindInternal {
		level = g.log.Error
	}
	// The cause of a cdshooks or fhir error is built PHI-free by those packages.
	level("hook failed", "route", g.routeLabel(r), "request_id", requestID(r.Context()), "kind", int(ge.Kind), "error", ge.Error())
	writeError(w, ge)
	return kindTable[ge.Kind].status
}

// Advise answers one hook request body for a service. It is the whole flow of a hook without
// HTTP, so tests and benchmarks can drive it directly.
func (g *Gateway) Advise(ctx context.Context, svc *serviceDef, body []byte) (*cdshooks.Response, error) {
	resp, _, err := g.advise(ctx, svc, body, false)
	return resp, err
}

// advise is Advise that also returns, per card of the response, the card cache's template and
// the comparison URL of its copy (no template where there is none): encodeResponse writes the
// card from them instead of encoding it again.
//
// owned says body is the hook's own buffer (handleHook's), which the request may keep instead of
// a copy.
func (g *Gateway) advise(ctx context.Context, svc *serviceDef, body []byte, owned bool) (*cdshooks.Response, []preCard, error) {
	// One deadline for the whole hook: every fetch and every loop over fetched data (issue 11).
	ctx, cancel := context.WithTimeout(ctx, g.cfg.HookBudget)
	defer cancel()
	decode := cdshooks.DecodeRequest
	if owned {
		decode = cdshooks.DecodeRequestOwned
	}
	req, oc, err := decode(body, svc.Hook)
	if err != nil {
		return nil, nil, err
	}
	draft, _, err := fhir.ValidBundleResources(oc.DraftOrders) // part of the validated request
	if err != nil {
		return nil, nil, errorf(KindUnprocessable, "decode", "context.draftOrders is not a FHIR Bundle", err)
	}
	now := g.cfg.Now()
	// One catalog for the whole hook, even if a reload swaps it meanwhile.
	eng := g.current()

	focus := map[string]bool{}
	if svc.focusSelections {
		for _, s := range oc.Selections {
			focus[s] = true
		}
	}
	// Each draft order is decoded once: its id (history must not count this hook's own drafts),
	// whether it is selected, and its medication all come from the same decode.
	decoded := make([]*medRequest, len(draft))
	draftIDs := map[string]bool{}
	for i, raw := range draft {
		var mr medRequest
		if jsonfast.Unmarshal(raw, &mr) == nil {
			decoded[i] = &mr
			draftIDs[mr.ID] = true
		}
	}
	// What the drafts will read besides the prefetch keys, so resolve starts it beside them.
	plan := g.planFetches(eng, svc, req, oc, draft, decoded, focus, now) // fetchplan.go
	data, err := g.resolver.resolve(ctx, req, oc, plan)
	if err != nil {
		return nil, nil, err
	}
	defer data.close() // ends the plan's background reads the hook did not use

	resp := &cdshooks.Response{Cards: []cdshooks.Card{}}
	pre := make([]preCard, 0, len(draft))                    // per card: its template and comparison URL, if it has a template
	rec := g.newRecorder(ctx, eng, svc, req, oc, len(draft)) // decisions.go
	pol := eng.scorer.Policy()
	site := ""
	for _, c := range siteCandidates(req, oc) {
		if pol.HasSite(c) {
			site = c
			break
		}
	}
	lookups := &orderLookups{data: data}
	var notes *adherenceNotes // what scoring found that the adherence cards use (adherence.go)
	if svc.Hook == "order-sign" {
		notes = &adherenceNotes{}
	}
	// The coverage in force, the contract it falls under and the patient's age depend only on the
	// order's day, which the drafts of one hook nearly always share: worked out once per day, not
	// once per draft.
	var coverageOn dayMemo[scoring.Coverage]
	var contractOn dayMemo[scoring.Contract]
	var ages dayMemo[int]
	ageMemo := func(on time.Time) int {
		age, _ := ages.get(on, func(on time.Time) (int, bool) { return ageOn(data.patient, on), true })
		return age
	}
	var history []therapyEntry
	historyRead := false
	therapy := func() []therapyEntry { // decoded once per hook, on first need
		if !historyRead {
			all := data.medEntries() // read only: shared with the adherence checks
			if admins := data.adminEntries(); len(admins) > 0 {
				all = append(all[:len(all):len(all)], admins...)
			}
			history, historyRead = therapyHistory(eng.cat, all, func(ref string) (json.RawMessage, bool) {
				return data.medication(ctx, ref)
			}), true
		}
		return history
	}
	rec.onRecord(therapy, draftIDs, eng.cat, pol) // new start or not, for orders that get no score (decisions.go)
	// Every draft of the hook is recognised first, in focus or not: a card names the other drafts
	// of its molecule (two trastuzumab orders in one signing are a loading and a maintenance dose, or
	// a duplicate, and a switch suggested on one must not go unnoticed beside the other).
	items := make([]orderedItem, len(draft))
	itemOK := make([]bool, len(draft))
	byMolecule := map[string][]int{}
	mol := make([]string, len(draft)) // each recognised draft's molecule (byMolecule's key)
	for i, raw := range draft {
		mr := decoded[i]
		if mr == nil {
			continue
		}
		lookup := func(ref string) (json.RawMessage, bool) { return data.medication(ctx, ref) }
		if svc.focusSelections && !focus[mr.ResourceType+"/"+mr.ID] {
			lookup = func(string) (json.RawMessage, bool) { return nil, false } // by its code only: no fetch for a draft not in focus
		}
		items[i], itemOK[i] = plan.item(ctx, i, func() (orderedItem, bool) { // recognised while resolve fetched, if it could
			return recogniseDecoded(eng.cat, raw, mr, lookup, now)
		})
		if itemOK[i] {
			// By molecule, not catalog group: one molecule can be two groups (ustekinumab IV
			// induction and SC maintenance; denosumab as Prolia and as Xgeva).
			mol[i] = molecule(items[i].product)
			byMolecule[mol[i]] = append(byMolecule[mol[i]], i)
		}
	}
	// A single dose beside another draft of its molecule is a loading (or induction) dose: given
	// first (scoreOrder), and the year of therapy of a maintenance of its group beside it is the
	// shorter for it (scoring.Request.LoadingDosesBeside).
	loading := make([]bool, len(draft))
	for i := range draft {
		loading[i] = itemOK[i] && singleDose(items[i].order) && len(byMolecule[mol[i]]) > 1
	}
	// The plan year's deductible is the patient's once, however many drafts a signing holds: the
	// first scored draft under a contract bears it, the others are scored with it met
	// (scoring.Request.DeductibleCounted). Keyed by contract and plan year.
	deductibleBorne := map[string]bool{}
	// A draft whose course is below the deductible meets only that much of it: the next draft
	// bears the rest (scoring.Request.DeductibleMet), same key.
	deductibleMet := map[string]float64{}
	// So is the yearly maximum out-of-pocket: each scored draft's ordered patient cost counts
	// toward it for the drafts after it (scoring.Request.OOPCounted), same key.
	oopCounted := map[string]float64{}
	oopCountedYear := map[string]float64{} // the same over their years of therapy (Request.OOPCountedYear)
	// Both are met in the order the drafts are given, not the order the EHR lists them: by the
	// order's day, and a loading dose before the other drafts of its molecule on the same day.
	// Listed after its maintenance, a Herceptin loading dose under the MA maximum read "Patient
	// $0" (the maintenance had taken the whole 9,250), where the patient pays 881.80 for it.
	// A draft not recognised is not scored: left out.
	scoreOrder := make([]int, 0, len(draft))
	for i := range draft {
		if itemOK[i] {
			scoreOrder = append(scoreOrder, i)
		}
	}
	loadingFirst := func(i int) int {
		if loading[i] {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(scoreOrder, func(a, b int) int {
		if c := scoring.CalendarDay(items[a].date).Compare(scoring.CalendarDay(items[b].date)); c != 0 {
			return c
		}
		return loadingFirst(a) - loadingFirst(b)
	})
	// The cards still come in the bundle's order: each draft's cards are a span of resp.Cards,
	// put back in draft order after the loop.
	type cardSpan struct{ draft, start, end int }
	var spans []cardSpan
	for _, i := range scoreOrder {
		if ctx.Err() != nil {
			break // the budget is spent: answer with the cards so far
		}
		if n := len(spans); n > 0 {
			spans[n-1].end = len(resp.Cards)
		}
		spans = append(spans, cardSpan{draft: i, start: len(resp.Cards)})
		mr := decoded[i]
		if mr == nil {
			continue
		}
		if svc.focusSelections && !focus[mr.ResourceType+"/"+mr.ID] {
			continue
		}
		item, ok := items[i], itemOK[i]
		if !ok {
			continue
		}
		for _, j := range byMolecule[mol[i]] {
			if j == i {
				continue
			}
			name := items[j].product.Name
			if items[j].product.GroupID != item.product.GroupID {
				name += routeAbbrev(items[j].product.Route) // "Stelara SC" beside Stelara IV
			}
			item.alsoDrafted = append(item.alsoDrafted, name)
		}
		group, _ := eng.cat.Group(item.product.GroupID)
		var pat clinical.Patient
		if w, h := clinical.Needs(item.order, doseStrength(&item)); w || h {
			pat = lookups.vitals(ctx, oc.PatientID, w, h)
		} else if group.Label.MaxMgPerKg > 0 {
			pat = lookups.weightOnHand(ctx, oc.PatientID) // an mg dose checked against the label's mg/kg
		}
		if unitDosed(item.product) {
			// Epoetin alfa and the like are billed per 1,000 units, not per mg: every dose line,
			// label and table of a card is written in mg today, so such an order gets no card
			// rather than one in the wrong unit (a safety rule, not an omission: see README).
			rec.none(item, store.NoCardUnitDosed, scoring.Request{}, nil)
			continue
		}
		applyDose(&item, group, pat)
		if item.noFigures {
			if card := implausibleCard(item, group); card != nil {
				resp.Cards = append(resp.Cards, *card)
			}
			rec.none(item, store.NoCardImplausible, scoring.Request{}, nil)
			continue
		}
		cov, ok := coverageOn.get(item.date, func(on time.Time) (scoring.Coverage, bool) {
			return coverageFacts(data.coverages, data.patient, on)
		})
		if !ok {
			rec.none(item, store.NoCardNoCoverage, scoring.Request{}, nil)
			continue // no coverage in force: no arrangement, no advice
		}
		contract, ok := contractOn.get(item.date, func(on time.Time) (scoring.Contract, bool) {
			return eng.reg.Classify(cov, on) // the coverage of the same day: the same contract
		})
		if !ok {
			g.metrics.unclassified.Inc()
			rec.none(item, store.NoCardNoContract, scoring.Request{}, nil)
			continue
		}
		gp := pol.Group(group)
		var indications []string
		if t := pol.Indications(); t.Covers(group.ID) {
			// Only groups whose labels differ by indication need the diagnosis looked up.
			indications, item.unlabelledReason = lookups.orderIndication(ctx, mr, t, group.ID, ageMemo(item.date))
		}
		indicationKnown := len(indications) > 0
		sreq := scoring.Request{
			ContractID:      contract.ID,
			ProductID:       item.product.ID,
			DoseMg:          item.doseMg,
			Administrations: item.admins,
			Date:            item.date,
			CurrentProductID: currentProduct(therapy(), item.product.GroupID, draftIDs, item.date,
				time.Duration(gp.HistoryDays)*24*time.Hour),
			ItemMg:          item.itemMg,
			Device:          item.device,
			Site:            site,
			Indications:     indications,
			IndicationKnown: indicationKnown,
		}
		// By benefit too: Medicare's Part B deductible and the MA maximum out-of-pocket are
		// Parts A and B cost sharing; a Part D (pharmacy-benefit) copay counts toward neither.
		dedKey := contract.ID + "|" + strconv.Itoa(item.date.Year()) + "|" + string(group.Benefit)
		sreq.DeductibleCounted = deductibleBorne[dedKey]
		if !sreq.DeductibleCounted {
			sreq.DeductibleMet = deductibleMet[dedKey]
		}
		sreq.OOPCounted = oopCounted[dedKey]
		sreq.OOPCountedYear = oopCountedYear[dedKey]
		// One administration beside another draft of its molecule is a loading (or induction)
		// dose: the other draft's course is the year of therapy (scoring.Request.LoadingDose).
		sreq.LoadingDose = item.admins == 1 && len(byMolecule[mol[i]]) > 1
		if item.admins != 1 {
			for _, j := range byMolecule[mol[i]] {
				if j != i && loading[j] && items[j].product.GroupID == item.product.GroupID {
					sreq.LoadingDosesBeside++ // the group's year holds that loading dose: this order's is shorter
				}
			}
		}
		if sc, ok := eng.reg.ClassifySecondary(cov.Secondary); ok {
			sreq.SecondaryID = sc.ID // supplemental coverage changes the patient's and the organisation's figures
		}
		res, err := eng.scorer.Score(sreq)
		if err != nil {
			g.log.Warn("scoring failed", "service", svc.ID, "hook", hookRef(req.HookInstance), "group", item.product.GroupID, "error", err.Error())
			rec.none(item, store.NoCardScoreFailed, scoring.Request{}, nil)
			continue
		}
		if res.Deductible > 0 {
			// The first plan year's part of the course meets the deductible up to its allowed amount.
			first := res.Ordered.PerCourse.PayerAllowed
			if n := res.AdministrationsPerYear; n > 0 && res.Administrations > n {
				first *= float64(n) / float64(res.Administrations)
			}
			if first >= res.Deductible {
				deductibleBorne[dedKey] = true
			} else {
				deductibleMet[dedKey] = math.Round((sreq.DeductibleMet+first)*100) / 100
			}
		}
		if res.Contract.OOPMaxPerYear > 0 {
			// The plan's cost sharing counts toward its maximum whoever pays it: the patient, a
			// supplemental plan, Medicaid, or nobody (a QMB's that cannot be billed).
			o := res.Ordered.PerCourse
			oopCounted[dedKey] = math.Round((oopCounted[dedKey]+o.PatientOOP+o.Secondary+o.Uncollected)*100) / 100
			y := res.Ordered.PerYear
			oopCountedYear[dedKey] = math.Round((oopCountedYear[dedKey]+y.PatientOOP+y.Secondary+y.Uncollected)*100) / 100
		}
		if res.Stale {
			g.metrics.stalePriced.Inc()
			if g.tooStale(eng, item.date) {
				// Past maxBookAge the nearest book's figures are too old to quote at all.
				g.metrics.staleSuppressed.Inc()
				rec.none(item, store.NoCardStale, sreq, &res)
				continue
			}
		}
		notes.noteScored(mr.ID, item, res)
		if gp.DoseRoundingPct > 0 {
			target := res.Ordered.Product
			if res.Best != nil {
				target = res.Best.Product
			}
			item.rounding = g.roundingFor(eng.scorer, sreq, res, target, gp.DoseRoundingPct)
		}
		if res.Best == nil {
			if ro := item.rounding; ro != nil && ro.payerCut > res.Contract.Threshold {
				if card, err := roundingCard(item, res, ro); err == nil && card != nil {
					resp.Cards = append(resp.Cards, *card)
				}
			}
			rec.none(item, res.Reason, sreq, &res)
			continue
		}
		if rec.suppressed(ctx, item, res) {
			rec.none(item, store.NoCardSuppressed, sreq, &res)
			continue // overridden for this order with the same advice (decisions.go)
		}
		view := cardView{showOrganisation: g.cfg.Disclosure.showsOrganisation(res.Contract.ID, oc.UserID), compareLink: true}
		card, products, page, tmpl, err := eng.cards.card(item, sreq, res, group, data.medsKnown, view)
		if err != nil {
			return nil, nil, errorf(KindInternal, "card", "could not build a card", err)
		}
		if card == nil {
			rec.none(item, store.NoCardNoStrength, sreq, &res)
			continue // no suggestion could keep the order's strength
		}
		url := g.linkComparison(rec.client, card, page, eng, item, res, group, pol, products, data.medsKnown)
		for len(pre) < len(resp.Cards) {
			pre = append(pre, preCard{})
		}
		resp.Cards = append(resp.Cards, *card)
		pre = append(pre, preCard{tmpl, url})
		rec.add(item, sreq, card, products, res)
	}
	if n := len(spans); n > 0 {
		spans[n-1].end = len(resp.Cards)
		if !slices.IsSortedFunc(spans, func(a, b cardSpan) int { return a.draft - b.draft }) {
			for len(pre) < len(resp.Cards) {
				pre = append(pre, preCard{})
			}
			slices.SortStableFunc(spans, func(a, b cardSpan) int { return a.draft - b.draft })
			cards := make([]cdshooks.Card, 0, len(resp.Cards))
			pres := make([]preCard, 0, len(pre))
			for _, sp := range spans {
				cards = append(cards, resp.Cards[sp.start:sp.end]...)
				pres = append(pres, pre[sp.start:sp.end]...)
			}
			resp.Cards, pre = cards, pres
		}
	}
	// Adherence and SUPD cards (issue 17; gateway/adherence.go): order-sign of a measured class
	// only; recorded with the others.
	resp.Cards = append(resp.Cards, g.adherenceCards(ctx, eng, svc, req, oc, data, draft, decoded, now, rec, notes)...)
	if err := data.guard.refusal(); err != nil {
		return nil, nil, err // the early replay check refused a lazy read's request (fhirguard.go)
	}
	if err := rec.commit(ctx); err != nil {
		return nil, nil, err
	}
	for len(pre) < len(resp.Cards) {
		pre = append(pre, preCard{}) // the adherence cards and any card without a template
	}
	g.metrics.cards.WithLabelValues(svc.ID).Add(float64(len(resp.Cards)))
	// One line per hook for the integrator chasing "no card": the hook by its hash (never the
	// hookInstance itself, which a client may fill with anything) and the number of cards.
	g.log.Info("hook answered", "service", svc.ID, "hook", hookRef(req.HookInstance), "cards", len(resp.Cards))
	g.metrics.fhirRoundTrips.Observe(float64(atomic.LoadInt64(&data.fetches))) // the plan's background reads may still count
	return resp, pre, nil
}

// dayMemo remembers one answer per calendar day for the facts of a hook that depend only on the
// order's day (coverage in force, the patient's age), so twenty drafts decode them once. The
// first day is kept inline: nearly every hook has one.
type dayMemo[T any] struct {
	n    int
	day0 int
	val0 T
	ok0  bool
	more []int
	vals []T
	oks  []bool
}

func (m *dayMemo[T]) get(on time.Time, compute func(time.Time) (T, bool)) (T, bool) {
	day := on.Year()*400 + on.YearDay()
	if m.n > 0 && m.day0 == day {
		return m.val0, m.ok0
	}
	for i, d := range m.more {
		if d == day {
			return m.vals[i], m.oks[i]
		}
	}
	v, ok := compute(on)
	if m.n == 0 {
		m.day0, m.val0, m.ok0 = day, v, ok
	} else {
		m.more, m.vals, m.oks = append(m.more, day), append(m.vals, v), append(m.oks, ok)
	}
	m.n++
	return v, ok
}
