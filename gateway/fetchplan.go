package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"valuerx/cdshooks"
	"valuerx/clinical"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
	"valuerx/measures"
	"valuerx/scoring"
)

// A hook's FHIR reads beyond the prefetch keys used to start one after another, after data
// resolution: the body weight (then the height) for a weight- or BSA-based dose, the dispenses
// of the adherence measures, the allergies before a statin is suggested, each Medication a
// history entry referenced. With a FHIR server 5 ms away a hook cost up to four round trips
// (issue 15: p99 39.5 ms against a budget of the delay plus 5 ms). What each of them depends on
// is known earlier: the draft orders say which doses need a weight and which adherence measures
// apply, the history says which Medications it references. So the hook works out a fetchPlan from
// its drafts before data resolution, and resolve starts every read as soon as its inputs are
// known, beside the prefetch keys' fetches, under the hook's one deadline and the client's
// breaker.

// Keys of the plan's searches besides the prefetch keys.
const (
	keyBodyWeight = "bodyWeight"
	keyBodyHeight = "bodyHeight"
)

// fetchPlan is what a hook will read beyond the prefetch keys, worked out from its draft orders.
type fetchPlan struct {
	draft []json.RawMessage
	cat   *scoring.Catalog
	// orders recognises the hook's draft orders (lookup finds a Medication a draft references,
	// reading it from the FHIR server if need be) and says what their doses and indications will
	// read. resolve runs it at most once, beside the prefetch fetches; nil: nothing to recognise.
	orders func(lookup medicationLookup) orderNeeds
	// searches are prefetch keys outside resolvedKeys (keyDispenses, keyAllergies) the hook will
	// search for, with their queries.
	searches []plannedList

	// What orders recognised, by draft index, for the hook's loop: valid once done is closed
	// (started: resolve ran orders in the background).
	items   []orderedItem
	itemOK  []bool
	started bool
	done    chan struct{}

	classes []draftClass // by draft index: the measured classes of adherenceReads (order-sign)
}

type plannedList struct{ key, query string }

// orderNeeds is what the recognised drafts will read.
type orderNeeds struct {
	weight, height bool
	conditions     []string // ids of Conditions drafts give as reasonReference, for the indication
}

// active reports whether the plan has anything for resolve to fetch.
func (p *fetchPlan) active() bool { return p != nil && (p.orders != nil || len(p.searches) > 0) }

// lists returns the plan's searches (nil plan: none).
func (p *fetchPlan) lists() []plannedList {
	if p == nil {
		return nil
	}
	return p.searches
}

// item returns draft i as the plan recognised it, waiting for the recognition resolve started
// (it reads the Medications drafts reference), or recognises it with recognise when the plan did
// not run (no FHIR server, an open breaker, a direct caller) or the deadline came first.
func (p *fetchPlan) item(ctx context.Context, i int, recognise func() (orderedItem, bool)) (orderedItem, bool) {
	if p != nil && p.started {
		select {
		case <-p.done:
			if i < len(p.items) {
				return p.items[i], p.itemOK[i]
			}
		case <-ctx.Done():
		}
	}
	return recognise()
}

// planFetches works out a hook's fetchPlan from its decoded drafts (decoded[i] nil: not a
// resource), mirroring what the hook's loop and its adherence cards will ask for: the vitals of
// clinical.Needs for every draft in focus, the Conditions of orderIndication for drafts of a group
// whose labels differ by indication, the dispenses when an order-sign draft is of a measured class
// and the allergies when one is a diabetes drug without a statin drafted beside it (adherence.go).
// The dispense and allergy searches are the service's declared prefetch, which the EHR would have
// sent anyway: fetched beside the rest even when the patient's problem list later turns out
// palliative (no card), rather than a round trip later when it does not.
func (g *Gateway) planFetches(eng *engine, svc *serviceDef, req *cdshooks.Request, oc *cdshooks.OrderContext, draft []json.RawMessage, decoded []*medRequest, focus map[string]bool, now time.Time) *fetchPlan {
	p := &fetchPlan{draft: draft, cat: eng.cat}
	if req.FHIRServer == "" {
		return p
	}
	pol := eng.scorer.Policy()
	p.orders = func(lookup medicationLookup) orderNeeds {
		var n orderNeeds
		ind := pol.Indications()
		p.items, p.itemOK = make([]orderedItem, len(draft)), make([]bool, len(draft))
		for i, mr := range decoded {
			if mr == nil || (svc.focusSelections && !focus[mr.ResourceType+"/"+mr.ID]) {
				continue
			}
			item, ok := recogniseDecoded(eng.cat, draft[i], mr, lookup, now)
			p.items[i], p.itemOK[i] = item, ok
			if !ok {
				continue
			}
			w, h := clinical.Needs(item.order, doseStrength(&item))
			n.weight, n.height = n.weight || w, n.height || h
			if ind.Covers(item.product.GroupID) {
				n.conditions = append(n.conditions, reasonConditions(mr, decoded)...)
			}
		}
		return n
	}
	if svc.Hook == "order-sign" && oc.PatientID != "" {
		missD, missA := prefetchMissing(req, keyDispenses), prefetchMissing(req, keyAllergies)
		if missD || missA {
			dispenses, allergies := p.adherenceReads(decoded)
			if dispenses && missD {
				p.searches = append(p.searches, plannedList{keyDispenses, strings.ReplaceAll(dispenseFetch, "{{context.patientId}}", oc.PatientID)})
			}
			if dispenses && allergies && missA {
				p.searches = append(p.searches, plannedList{keyAllergies, strings.ReplaceAll(allergyFetch, "{{context.patientId}}", oc.PatientID)})
			}
		}
	}
	return p
}

// prefetchMissing reports whether patientList would search for key: neither a value nor null
// was prefetched.
func prefetchMissing(req *cdshooks.Request, key string) bool {
	state, _ := req.PrefetchValue(key)
	return state != cdshooks.PrefetchPresent && state != cdshooks.PrefetchNull
}

// adherenceReads says what adherenceCards will search for, from the decoded drafts alone: the
// dispenses when a MedicationRequest is of a measured class, and the allergies as well when one is
// a diabetes drug (the SUPD statin gap) and no statin is drafted. The classes it finds per draft
// are kept for adherenceCards (draftClasses), which would classify the same concepts again. (A
// draft the hook could not decode is left to adherenceCards, which then searches itself, a round
// trip later.)
func (p *fetchPlan) adherenceReads(decoded []*medRequest) (dispenses, allergies bool) {
	vs := measures.DefaultValueSet()
	diabetes, statin := false, false
	p.classes = make([]draftClass, len(decoded))
	for i, mr := range decoded {
		if mr == nil || mr.ResourceType != "MedicationRequest" {
			continue
		}
		mc := conceptOf(mr.MedicationCodeableConcept)
		cls, known := classesOf(vs, &mc)
		p.classes[i] = draftClass{cls: cls, known: known, ok: true}
		dispenses = dispenses || len(cls) > 0
		for _, c := range cls {
			diabetes = diabetes || c.SUPDDiabetes()
		}
		statin = statin || containsClass(cls, measures.ClassStatin)
	}
	return dispenses, diabetes && !statin
}

// draftClass is classesOf for one decoded draft's medicationCodeableConcept.
type draftClass struct {
	cls       []measures.Class
	known, ok bool
}

// draftClasses returns classesOf(vs, c) for decoded draft i, from the plan when it classified the
// draft (the same function of the same concept) or computed now.
func (d *hookData) draftClasses(i int, vs *measures.ValueSet, c *medConcept) ([]measures.Class, bool) {
	if p := d.plan; p != nil && i < len(p.classes) && p.classes[i].ok {
		return p.classes[i].cls, p.classes[i].known
	}
	return classesOf(vs, c)
}

// reasonConditions are the ids of the Conditions a draft names as reasonReference that
// orderLookups.condition would read from the server: not contained, not in the draft bundle
// (decoded holds every bundle entry's resourceType and id, whatever its type).
func reasonConditions(mr *medRequest, decoded []*medRequest) []string {
	var out []string
	for _, ref := range mr.ReasonReference {
		if strings.HasPrefix(ref.Reference, "#") {
			continue
		}
		typ, id := fhir.SplitReference(ref.Reference)
		if typ != "Condition" || id == "" || slices.ContainsFunc(decoded, func(d *medRequest) bool {
			return d != nil && d.ResourceType == typ && d.ID == id
		}) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// runPlan starts the plan's reads in d's background (ctx: the hook's deadline): its searches at
// once, the drafts' recognition (and the Medications it reads) beside them, and the vitals and
// Conditions the recognised drafts need as soon as they are known. The hook's lookups wait for
// their answers where they need them. Their requests pass the client's breaker like every
// request of the hook (fhirguard.go), and the searches bypass resolve's singleflight: close
// cancels a search the hook did not need, which must not fail another hook that shared it.
func (r *resolver) runPlan(ctx context.Context, d *hookData, plan *fetchPlan, patientID string) {
	if !plan.active() {
		return
	}
	search := func(key, query string, pages int) {
		p := d.planSearch(key)
		d.bg.Go(func() {
			defer close(p.done)
			// Counted in the hook's round trips, not in valuerx_fhir_fetches_total, which counts
			// the prefetch keys resolve fetches (as before these searches moved here).
			atomic.AddInt64(&d.fetches, 1)
			c := *d.client
			c.MaxPages = pages
			p.res, p.err = c.Search(ctx, query)
		})
	}
	for _, l := range plan.searches {
		search(l.key, l.query, d.client.MaxPages)
	}
	if plan.orders == nil {
		return
	}
	plan.started, plan.done = true, make(chan struct{})
	d.bg.Go(func() {
		n := plan.orders(func(ref string) (json.RawMessage, bool) { return d.medication(ctx, ref) })
		// Registered before done is closed: the hook's loop looks for them only after.
		if patientID != "" {
			if _, pre := d.prefetchedVitals(keyBodyWeight); n.weight && !pre {
				search(keyBodyWeight, vitalsQuery(patientID, fhir.LOINCBodyWeight), 1)
			}
			if _, pre := d.prefetchedVitals(keyBodyHeight); n.height && !pre {
				search(keyBodyHeight, vitalsQuery(patientID, loincBodyHeight), 1)
			}
		}
		close(plan.done)
		for _, id := range n.conditions {
			d.read(ctx, "Condition", id) //nolint:errcheck // condition() sees the answer
		}
	})
}

// vitalsQuery is the search for the patient's latest Observation of a LOINC code (first page,
// newest first).
func vitalsQuery(patientID, code string) string {
	return "Observation?patient=" + url.QueryEscape("Patient/"+patientID) + "&code=" + url.QueryEscape("http://loinc.org|"+code) + "&_sort=-date&_count=1"
}

// planSearch registers the search of key, to be answered in the background.
func (d *hookData) planSearch(key string) *pending {
	p := newPending()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.planned == nil {
		d.planned = map[string]*pending{}
	}
	d.planned[key] = p
	return p
}

// hasPlannedSearch reports whether the hook's plan started the search of key, which
// plannedSearch then answers without a request of its own.
func (d *hookData) hasPlannedSearch(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.planned[key]
	return ok
}

// plannedSearch waits for the answer to the search of key resolve started, if it started one
// (ok false: it did not, the caller searches itself).
func (d *hookData) plannedSearch(ctx context.Context, key string) (res []json.RawMessage, err error, ok bool) {
	d.mu.Lock()
	p, ok := d.planned[key]
	d.mu.Unlock()
	if !ok {
		return nil, nil, false
	}
	if err := p.wait(ctx); err != nil {
		return nil, err, true
	}
	return p.res, nil, true
}

// historyReads reads the Medications a patient's history references while the rest of the hook's
// data arrives, so therapyHistory finds them in the hook's read cache instead of reading them one
// after another. At most maxHistoryReads distinct Medications per hook, historyReadsInFlight at a
// time; any beyond are read when therapyHistory asks, as before. A nil historyReads reads nothing.
type historyReads struct {
	ctx  context.Context
	d    *hookData
	cat  *scoring.Catalog
	sem  chan struct{}
	mu   sync.Mutex
	seen map[string]bool
}

const (
	maxHistoryReads      = 64
	historyReadsInFlight = 8
)

func newHistoryReads(ctx context.Context, plan *fetchPlan, d *hookData) *historyReads {
	if plan == nil || plan.cat == nil {
		return nil
	}
	return &historyReads{ctx: ctx, d: d, cat: plan.cat, sem: make(chan struct{}, historyReadsInFlight), seen: map[string]bool{}}
}

// referencesMedications reports whether any entry may reference a Medication (its text holds
// the member name), without decoding any.
func referencesMedications(entries []json.RawMessage) bool {
	for _, raw := range entries {
		if bytes.Contains(raw, medicationReferenceMember) {
			return true
		}
	}
	return false
}

// medicationReferenceMember is the member name a history entry with a referenced medication
// carries; entries without it (the common case: coded inline) are skipped without decoding.
var medicationReferenceMember = []byte(`"medicationReference"`)

// scan starts, in the hook's background, the reads of the Medications entries reference that
// therapyHistory would read: entries of a status it counts whose inline code (if any) is no
// catalog product, referencing a Medication that is neither contained nor in the draft bundle.
func (h *historyReads) scan(entries []json.RawMessage) {
	if h == nil {
		return
	}
	for _, raw := range entries {
		if !bytes.Contains(raw, medicationReferenceMember) {
			continue
		}
		var e historyDoc
		if jsonfast.Unmarshal(raw, &e) != nil || e.MedicationReference == nil || e.MedicationReference.Reference == nil {
			continue
		}
		switch {
		case e.ResourceType == "MedicationRequest" && (e.Status == "active" || e.Status == "on-hold" || e.Status == "completed"):
		case e.ResourceType == "MedicationAdministration" && (e.Status == "completed" || e.Status == "in-progress" || e.Status == "on-hold"):
		default:
			continue
		}
		if _, ok := productOf(h.cat, e.MedicationCodeableConcept); ok {
			continue
		}
		ref := *e.MedicationReference.Reference
		if strings.HasPrefix(ref, "#") {
			continue
		}
		if typ, id := fhir.SplitReference(ref); typ != "Medication" || id == "" {
			continue
		}
		h.mu.Lock()
		if h.seen[ref] || len(h.seen) >= maxHistoryReads {
			h.mu.Unlock()
			continue
		}
		h.seen[ref] = true
		h.mu.Unlock()
		h.d.bg.Go(func() {
			select {
			case h.sem <- struct{}{}:
			case <-h.ctx.Done():
				return
			}
			defer func() { <-h.sem }()
			h.d.medication(h.ctx, ref) //nolint:errcheck // therapyHistory sees the answer
		})
	}
}
