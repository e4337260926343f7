package gateway

// Adherence and SUPD cards at order-sign (issue 17 items 2): the PQA measures of package measures
// computed from the patient's MedicationDispenses at the moment a physician signs an order of a
// measured class.
//
//   - A statin, RAS antagonist or non-insulin diabetes order for a patient whose PDC to date for
//     that class is below 80 %, or who is at risk (at most atRiskGapDays days without medication
//     left before the year is lost), gets a card: the PDC to date, whether 80 % is still reachable
//     and how many days of gap the patient can still afford, and a suggestion that updates the
//     draft order's dispenseRequest to a 90-day supply with three refills, everything else kept.
//     Adherent patients, patients without a fill of the class this year, and patients the measure
//     excludes (ESRD, insulin for the diabetes measure, sacubitril/valsartan for RAS) get none.
//   - A diabetes medication order for a patient aged 40-75 on January 1 with diabetes (a Condition
//     coded E10/E11, or a diabetes medication in the fills) and no statin fill this year, nor a
//     statin among the draft orders, gets a SUPD card suggesting a moderate-intensity statin
//     (atorvastatin 20 mg daily, ACC/AHA 2013) as a create.
//
// The dispenses come from the "dispenses" prefetch key, else from the FHIR server, fetched only
// when a draft order is of a measured class. The card's extension carries the measure, the PDC to
// date (0-1) and redeemable for machines.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"valuerx/cdshooks"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
	"valuerx/internal/medindex"
	"valuerx/measures"
	"valuerx/scoring"
	"valuerx/store"
)

const (
	keyDispenses = "dispenses"
	// keyAllergies: the patient's AllergyIntolerances, read before a statin is offered as a create.
	keyAllergies = "allergies"
	// atRiskGapDays: an adherent patient with this many or fewer affordable gap days left is at risk.
	atRiskGapDays = 14
	// ninetyDays and refills90: the suggested dispenseRequest.
	ninetyDays, refills90 = 90, 3
	// supdDays and supdRefills: the new statin start the SUPD card suggests.
	supdDays, supdRefills = 30, 3
	extAdherence          = "com.valuerx.adherence"
)

var (
	dispensePrefetch = "MedicationDispense?patient={{context.patientId}}"
	dispenseFetch    = "MedicationDispense?patient=Patient/{{context.patientId}}"
	allergyPrefetch  = "AllergyIntolerance?patient={{context.patientId}}"
	allergyFetch     = "AllergyIntolerance?patient=Patient/{{context.patientId}}"
)

// adherenceSource is the card source: the measure's steward and how CMS uses it. The topic is
// the cost cards' (both cards suggest optional changes to the therapy ordered).
var adherenceSource = cdshooks.Source{Label: "valuerx adherence (PQA measures, CMS Part D Star Ratings)",
	Topic: &cdshooks.Coding{System: topicSystem, Code: topicCode, Display: topicDisplay}}

type medConcept struct {
	Coding []struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display"`
	} `json:"coding"`
	Text string `json:"text"`
}

// conceptOf is c (as the draft's full decode holds it) as a medConcept: the same codings and text
// a decode into medConcept would read, an absent member being "".
func conceptOf(c *r4.CodeableConcept) medConcept {
	var out medConcept
	if c == nil {
		return out
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	out.Text = str(c.Text)
	if c.Coding != nil {
		out.Coding = make([]struct {
			System  string `json:"system"`
			Code    string `json:"code"`
			Display string `json:"display"`
		}, len(c.Coding))
		for i, cd := range c.Coding {
			out.Coding[i].System, out.Coding[i].Code, out.Coding[i].Display = str(cd.System), str(cd.Code), str(cd.Display)
		}
	}
	return out
}

// codings is the concept as the value set reads it.
func (c *medConcept) codings() []measures.Coding {
	out := make([]measures.Coding, 0, len(c.Coding))
	for _, cd := range c.Coding {
		out = append(out, measures.Coding{System: cd.System, Code: cd.Code, Display: cd.Display})
	}
	return out
}

// name is the concept as a prescriber reads it: its text, else its first display, else its
// first code.
func (c *medConcept) name() string {
	if c.Text != "" {
		return c.Text
	}
	for _, cd := range c.Coding {
		if cd.Display != "" {
			return cd.Display
		}
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return "a medication without a name"
}

// classesOf returns the measured classes of a medication concept, and whether the value set
// could classify it at all (measures.ValueSet.Classify): an unknown concept may be of any class.
func classesOf(vs *measures.ValueSet, c *medConcept) ([]measures.Class, bool) {
	idx, known := vs.Classify(nil, c.codings(), c.Text)
	var out []measures.Class
	for _, i := range idx {
		if cl := vs.Ingredient(i).Class; !containsClass(out, cl) {
			out = append(out, cl)
		}
	}
	return out, known
}

func containsClass(cs []measures.Class, c measures.Class) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// genericSwitch is an Orange Book AB-rated generic that the scorer found for a draft order and
// that costs the patient less than the product ordered: the adherence card offers it with a
// 90-day supply, since what a patient pays is among the commonest reasons for gaps (issue 17
// item 2: "or to the AB-rated generic when it lowers the patient's cost").
type genericSwitch struct {
	draft             json.RawMessage // the draft order with the generic swapped in, everything else kept
	label             string          // "atorvastatin 40 mg tablet (generic)"
	ordered, generic  float64         // the patient's cost per course of each
	per               string          // the course: "90 days"
	orderedName, name string
}

// adherenceNotes carries, from the scoring loop of an order-sign hook to the adherence cards,
// what the scorer found for each draft order (by id). Nil for other hooks: noting is then free.
// The swapped draft is built only when an adherence card asks for it, so a hook without one pays
// for a few comparisons per scored order and nothing else.
type adherenceNotes struct {
	scored map[string]scoredOrder
}

type scoredOrder struct {
	item orderedItem
	res  scoring.Result
	best int // index in res.Options of the cheapest eligible AB-rated generic for the patient
}

// noteScored keeps, for a draft order, the cheapest eligible AB-rated generic for the patient
// when it costs the patient less than the order.
func (n *adherenceNotes) noteScored(id string, item orderedItem, res scoring.Result) {
	if n == nil || id == "" || res.Ordered.Product.Relationship == scoring.RelABGeneric {
		return
	}
	best := -1
	for i := range res.Options {
		o := &res.Options[i]
		if !o.Eligible || o.Product.Relationship != scoring.RelABGeneric || !(o.PerCourse.PatientOOP < res.Ordered.PerCourse.PatientOOP) {
			continue
		}
		if best < 0 || o.PerCourse.PatientOOP < res.Options[best].PerCourse.PatientOOP {
			best = i
		}
	}
	if best < 0 {
		return
	}
	if n.scored == nil {
		n.scored = map[string]scoredOrder{}
	}
	n.scored[id] = scoredOrder{item, res, best}
}

// generic builds the switch to the noted generic, coded at the order's strength; false when
// there is none or it cannot be coded.
func (n *adherenceNotes) generic(id string) (genericSwitch, bool) {
	if n == nil || id == "" {
		return genericSwitch{}, false
	}
	so, ok := n.scored[id]
	if !ok {
		return genericSwitch{}, false
	}
	o := so.res.Options[so.best]
	med, ok := suggestedMedication(o, so.item, so.res)
	if !ok {
		return genericSwitch{}, false
	}
	draft, err := parseDraft(so.item.raw)
	if err != nil {
		return genericSwitch{}, false
	}
	swapped, err := swapMedication(draft, med)
	if err != nil {
		return genericSwitch{}, false
	}
	return genericSwitch{draft: swapped, label: med.label, ordered: so.res.Ordered.PerCourse.PatientOOP, generic: o.PerCourse.PatientOOP,
		per: coursePer(so.res), orderedName: so.res.Ordered.Product.Name, name: o.Product.Name}, true
}

// adherenceCards builds the adherence and SUPD cards of an order-sign hook and hands each to the
// recorder (a card without its decision could take no feedback). The patient's contract, from
// the Coverage as for the cost cards, prices the gap with its quality terms.
//
// decoded holds advise's decode of each draft (nil where it failed): the drafts are not decoded
// again here (a hook of twenty drafts spent 3.7 % of its CPU doing so).
func (g *Gateway) adherenceCards(ctx context.Context, eng *engine, svc *serviceDef, req *cdshooks.Request, oc *cdshooks.OrderContext, data *hookData, draft []json.RawMessage, decoded []*medRequest, now time.Time, rec *recorder, notes *adherenceNotes) []cdshooks.Card {
	if svc.Hook != "order-sign" {
		return nil
	}
	vs := measures.DefaultValueSet()
	type order struct {
		raw     json.RawMessage
		id      string
		classes []measures.Class
		med     medConcept
	}
	var orders []order
	draftStatin := false
	var unknown []string // drafts, list medications and fills the value set cannot classify
	for i, raw := range draft {
		var mr struct {
			ResourceType              string     `json:"resourceType"`
			ID                        string     `json:"id"`
			MedicationCodeableConcept medConcept `json:"medicationCodeableConcept"`
		}
		if i < len(decoded) && decoded[i] != nil {
			d := decoded[i]
			mr.ResourceType, mr.ID, mr.MedicationCodeableConcept = d.ResourceType, d.ID, conceptOf(d.MedicationCodeableConcept)
		} else if jsonfast.Unmarshal(raw, &mr) != nil {
			// A draft the full decode refused (a dosage of the wrong shape, say) may still name
			// its medication: read only what this needs, as before.
			continue
		}
		if mr.ResourceType != "MedicationRequest" {
			continue
		}
		cls, known := data.draftClasses(i, vs, &mr.MedicationCodeableConcept) // classified once, when the fetches were planned (fetchplan.go)
		if len(cls) > 0 {
			orders = append(orders, order{raw, mr.ID, cls, mr.MedicationCodeableConcept})
		}
		if !known {
			unknown = append(unknown, mr.MedicationCodeableConcept.name())
		}
		draftStatin = draftStatin || containsClass(cls, measures.ClassStatin)
	}
	if len(orders) == 0 || palliative(data.icdConditions(), now.Year()) {
		return nil
	}
	dispenses, ok := g.dispenses(ctx, req, oc, data)
	if !ok {
		return nil // no fills known: nothing to measure
	}
	today := measures.Date(now.Year(), now.Month(), now.Day())
	year := now.Year()
	p, unknownFills := patientFacts(vs, data, dispenses, measures.YearStart(year))
	unknown = append(unknown, unknownFills...)
	// The list medications the value set cannot classify matter only to the SUPD card: the
	// history is decoded for them only when that card is built (with 500 history entries
	// decoding it for every order-sign of a measured class was 94,000 of a hook's 190,000
	// allocations).
	var contract *scoring.Contract
	if cov, ok := coverageFacts(data.coverages, data.patient, now); ok {
		if k, ok := eng.reg.Classify(cov, now); ok {
			contract = &k
		}
	}
	monthsLeft := 12 - int(now.Month()) + 1
	pregnancy := pregnant(data.icdConditions(), year)
	var cards []cdshooks.Card
	supdDone := false
	for _, o := range orders {
		for _, m := range measures.Adherence {
			if !containsClass(o.classes, m.Class()) {
				continue
			}
			if m == measures.PDCRASA && containsClass(o.classes, measures.ClassSacubitril) {
				continue // sacubitril/valsartan: the order itself excludes the patient from PDC-RASA (CMS D09)
			}
			if (m == measures.PDCRASA || m == measures.PDCStatin) && pregnancy != "" {
				continue // no adherence push nor 90-day supply in pregnancy (pregnant)
			}
			td := measures.PDCToDate(p, year, m, today+1) // fills through today count
			if !adherenceShown(td) {
				// Most measured orders need no card: neither the generic switch (a decode and
				// an encode of the draft) nor the store read of the suppression is made for them
				// (with twenty drafts both were 6 % of the hook's CPU, for no card).
				continue
			}
			var gs *genericSwitch
			if sw, ok := notes.generic(o.id); ok {
				gs = &sw
			}
			if rec.qualitySuppressed(ctx, o.id, m, contract) {
				continue // overridden for this order before (same measure and contract)
			}
			own := ownSupply(vs, p, year, m, &o.med, td)
			if card := adherenceCard(o.raw, td, gs, own); card != nil {
				reachable := td.Redeemable && !tooLateThisYear(td)
				gv := priceGap(card, contract, m, reachable, td.Covered*5 >= td.Days*4, monthsLeft)
				rec.addQuality(card, o.id, m, contract, gv)
				cards = append(cards, *card)
			}
		}
		diabetesOrder := false
		for _, c := range o.classes {
			diabetesOrder = diabetesOrder || c.SUPDDiabetes()
		}
		if diabetesOrder && !supdDone && !draftStatin {
			supdDone = true
			if rec.qualitySuppressed(ctx, o.id, measures.SUPD, contract) {
				continue
			}
			als, alsKnown := g.allergies(ctx, req, oc, data)
			cautions := findStatinCautions(vs, data, als, alsKnown, year)
			unknown = append(unknown, unclassifiedMeds(vs, data.medEntries())...)
			if card := supdCard(p, data, oc.PatientID, year, today, unknown, cautions); card != nil {
				gv := priceGap(card, contract, measures.SUPD, true, false, monthsLeft)
				rec.addQuality(card, o.id, measures.SUPD, contract, gv)
				cards = append(cards, *card)
			}
		}
	}
	return cards
}

// extQuality is the card extension member with the organisation's figures of a quality gap, the
// quality counterpart of valuerx-economics: every amount with where it comes from.
const extQuality = "valuerx-quality"

type qualityPart struct {
	Kind        string  `json:"kind"`
	Amount      float64 `json:"amount"`
	Conditional bool    `json:"conditional"` // paid only if the gap closes (weighted by closeProbability)
	Source      string  `json:"source"`
}

type qualityEconomics struct {
	Contract     string `json:"contract"`
	ContractName string `json:"contractName"`
	Arrangement  string `json:"arrangement"`
	Measure      string `json:"measure"`
	Currency     string `json:"currency"`
	// Organisation is the organisation's expected net impact of closing this gap:
	// closeProbability x ifClosed + programme.
	Organisation struct {
		Expected         float64 `json:"expected"`
		IfClosed         float64 `json:"ifClosed"`
		CloseProbability float64 `json:"closeProbability"`
		Programme        float64 `json:"programme"`
	} `json:"organisation"`
	Parts       []qualityPart `json:"parts"`
	Assumptions []string      `json:"assumptions"`
}

var partLabel = map[string]string{
	scoring.GapBonusClosed:   "per gap closed",
	scoring.GapBonusAdherent: "per adherent patient",
	scoring.GapTierShare:     "share of the next rate tier's fee",
	scoring.GapStarRating:    "Star Ratings value",
}

// priceGap adds to the card what closing the gap is worth to the organisation under the patient's
// contract's quality terms, in the detail (shown as the organisation's net impact, apart from the
// clinical figures) and in the valuerx-quality extension. A patient without a contract, or a
// contract without terms for the measure, gets neither: the card stays clinical.
//
// adherent: the patient is at 80 % or more today (an at-risk card): there is no gap to close, so
// the per-gap-closed bonus is left out; what is at stake is keeping the patient adherent
// (pharmacist review M7).
func priceGap(card *cdshooks.Card, k *scoring.Contract, m measures.Measure, reachable, adherent bool, monthsLeft int) *scoring.GapValue {
	if k == nil {
		return nil
	}
	gv, ok := k.GapValue(m.String(), reachable, monthsLeft)
	if !ok {
		return nil
	}
	if len(gv.Parts) == 0 {
		return nil // terms for the measure, but nothing they pay for this patient now: no "$0.00 expected" line (review, low)
	}
	outcome := "if the patient ends the year at 80 % or more"
	if adherent {
		outcome = "if the patient stays at 80 % or more to the end of the year"
		parts := gv.Parts[:0:0]
		gv.IfClosed = 0
		for _, p := range gv.Parts {
			if p.Kind == scoring.GapBonusClosed {
				continue
			}
			parts = append(parts, p)
			if p.Conditional {
				gv.IfClosed += p.Amount
			}
		}
		gv.Parts = parts
		gv.IfClosed = math.Round(gv.IfClosed*100) / 100
		gv.Expected = math.Round((gv.Probability*gv.IfClosed+gv.Programme)*100) / 100
	}
	if m == measures.SUPD {
		outcome = "if the patient fills a statin this year"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n\n**Organisation: %s expected** under the quality terms of %s", signedCardUSD(gv.Expected), k.Name)
	var conditional []string
	for _, p := range gv.Parts {
		if p.Conditional {
			conditional = append(conditional, cardUSD(p.Amount)+" "+partLabel[p.Kind])
		}
	}
	switch {
	case len(conditional) > 0:
		fmt.Fprintf(&b, ": %s, %s", outcome, strings.Join(conditional, " + "))
		if len(conditional) > 1 {
			fmt.Fprintf(&b, " = %s", cardUSD(gv.IfClosed))
		}
		if gv.Probability < 1 {
			fmt.Fprintf(&b, ", × %s of such gaps closing", sharePct(gv.Probability))
		}
	case !reachable && m == measures.SUPD:
		b.WriteString(": the gap cannot close this year, so no bonus, tier or Star value")
	case !reachable && strings.Contains(card.Detail, notCountedThisYear):
		b.WriteString(": the patient does not count in the measure this year, so no bonus, tier or Star value")
	case !reachable:
		b.WriteString(": 80 % cannot be reached this year, so no bonus, tier or Star value")
	}
	if gv.Programme > 0 {
		months := fmt.Sprintf("%d months", monthsLeft)
		if monthsLeft == 1 {
			months = "December"
		}
		fmt.Fprintf(&b, "; plus %s programme fees (%s)", cardUSD(gv.Programme), months)
	}
	b.WriteString(". A quality payment, not a drug cost: sources in the card's valuerx-quality extension.")
	card.Detail += b.String()

	q := qualityEconomics{Contract: k.ID, ContractName: k.Name, Arrangement: string(k.Arrangement), Measure: m.String(), Currency: "USD", Parts: []qualityPart{}}
	q.Organisation.Expected, q.Organisation.IfClosed, q.Organisation.CloseProbability, q.Organisation.Programme = gv.Expected, gv.IfClosed, gv.Probability, gv.Programme
	for _, p := range gv.Parts {
		q.Parts = append(q.Parts, qualityPart{p.Kind, p.Amount, p.Conditional, p.Source})
	}
	q.Assumptions = []string{"expected = closeProbability x ifClosed + programme; closeProbability is the contract's configured share of gaps acted on at order-sign that close (1 when not configured)"}
	if !reachable {
		q.Assumptions = append(q.Assumptions, "80 % cannot be reached this measurement year: the outcome payments are 0")
	}
	var ext map[string]json.RawMessage
	if jsonfast.Unmarshal(card.Extension, &ext) == nil && ext != nil {
		if raw, err := json.Marshal(q); err == nil {
			ext[extQuality] = raw
			if b, err := json.Marshal(ext); err == nil {
				card.Extension = b
			}
		}
	}
	return &gv
}

func sharePct(f float64) string { return fmt.Sprintf("%g %%", math.Round(f*1000)/10) }

// qualityFingerprint identifies what an adherence or SUPD card advised on: the measure and the
// contract.
func qualityFingerprint(m measures.Measure, contractID string) string {
	h := sha256.Sum256([]byte("quality\x00" + m.String() + "\x00" + contractID))
	return hex.EncodeToString(h[:16])
}

// qualitySuppressed reports whether the clinician overrode this measure's card for this same
// draft order (same client and patient) under the same contract: the card is not shown again,
// as the cost cards are not (issue 10 item 7). A store that cannot answer suppresses nothing.
func (rc *recorder) qualitySuppressed(ctx context.Context, draftID string, m measures.Measure, k *scoring.Contract) bool {
	st := rc.g.cfg.Store
	if st == nil || draftID == "" {
		return false
	}
	contractID := ""
	if k != nil {
		contractID = k.ID
	}
	state, err := st.OrderState(ctx, rc.client, rc.orderKey(draftID+"#"+m.String()))
	if err != nil {
		return false
	}
	if state.Outcome == "overridden" && state.Fingerprint == qualityFingerprint(m, contractID) {
		rc.g.metrics.suppressed.WithLabelValues(rc.svc.ID).Inc()
		return true
	}
	return false
}

// addQuality records an adherence or SUPD card as a decision in the fields the cost cards use:
// the measure stands where a drug family would (GroupID), the expected value of closing the gap
// is the organisation's figure of the card and of its suggestion, and the order key is the draft
// order's with the measure appended, so that the tracking report counts it as its own order and
// not as a second card on the same drug order.
func (rc *recorder) addQuality(card *cdshooks.Card, draftID string, m measures.Measure, k *scoring.Contract, gv *scoring.GapValue) {
	g := rc.g
	if g.cfg.Store == nil {
		return
	}
	d := store.Decision{
		CardUUID: card.UUID, HookInstance: rc.req.HookInstance, ServiceID: rc.svc.ID, Hook: rc.svc.Hook, Client: rc.client,
		UserID: rc.oc.UserID, GroupID: m.String(), At: g.cfg.Now(),
	}
	if draftID != "" {
		d.OrderKey = rc.orderKey(draftID + "#" + m.String())
	}
	if k != nil {
		d.ContractID, d.Arrangement = k.ID, string(k.Arrangement)
	}
	if gv != nil {
		d.OrgImpact = gv.Expected
	}
	d.Fingerprint = qualityFingerprint(m, d.ContractID)
	for _, s := range card.Suggestions {
		d.Suggestions = append(d.Suggestions, store.Suggestion{UUID: s.UUID, OrgImpact: d.OrgImpact})
	}
	rc.ds = append(rc.ds, d)
}

// dispenses returns the patient's MedicationDispenses: the prefetch value when the client sent
// one (null: none), else a search of the FHIR server when there is one.
func (g *Gateway) dispenses(ctx context.Context, req *cdshooks.Request, oc *cdshooks.OrderContext, data *hookData) ([]json.RawMessage, bool) {
	return g.patientList(ctx, req, oc, data, keyDispenses, dispenseFetch)
}

// allergies returns the patient's AllergyIntolerances, as dispenses its fills; false when they
// are not known (no prefetch, no server, or the search failed).
func (g *Gateway) allergies(ctx context.Context, req *cdshooks.Request, oc *cdshooks.OrderContext, data *hookData) ([]json.RawMessage, bool) {
	return g.patientList(ctx, req, oc, data, keyAllergies, allergyFetch)
}

// patientList reads a prefetch key of resources, else searches the FHIR server with fetch.
func (g *Gateway) patientList(ctx context.Context, req *cdshooks.Request, oc *cdshooks.OrderContext, data *hookData, key, fetch string) ([]json.RawMessage, bool) {
	state, _, res, _, err := req.PrefetchResources(key) // classified and split in one walk
	switch state {
	case cdshooks.PrefetchPresent:
		if err != nil {
			return nil, false
		}
		return res, true
	case cdshooks.PrefetchNull:
		return nil, true
	}
	if data.client == nil || oc.PatientID == "" {
		return nil, false
	}
	if pres, perr, ok := data.plannedSearch(ctx, key); ok {
		res, err = pres, perr // resolve started the search beside the other fetches (fetchplan.go)
	} else {
		q := strings.ReplaceAll(fetch, "{{context.patientId}}", oc.PatientID)
		res, err = data.client.Search(ctx, q)
		atomic.AddInt64(&data.fetches, 1)
	}
	if err != nil {
		g.log.Warn(key+" not fetched", "hook", hookRef(req.HookInstance), "error", err.Error())
		return nil, false
	}
	return res, true
}

type dispenseDoc struct {
	ResourceType              string     `json:"resourceType"`
	Status                    string     `json:"status"`
	MedicationCodeableConcept medConcept `json:"medicationCodeableConcept"`
	DaysSupply                *struct {
		Value *float64 `json:"value"`
	} `json:"daysSupply"`
	WhenHandedOver string `json:"whenHandedOver"`
	WhenPrepared   string `json:"whenPrepared"`
}

// patientFacts is the measures' view of the hook's patient: birth date, fills from the completed
// dispenses, ESRD and the SUPD exclusions from the problem list. Hospice and inpatient stays are
// not in a hook's data; the population run (valuerx measures) reads them from Encounters.
func patientFacts(vs *measures.ValueSet, data *hookData, dispenses []json.RawMessage, jan1 measures.Day) (*measures.Patient, []string) {
	p := &measures.Patient{BirthDate: measures.NoDay, DeathDate: measures.NoDay, EnrolledThrough: measures.NoDay}
	var pat struct {
		BirthDate string `json:"birthDate"`
	}
	if data.patient != nil && jsonfast.Unmarshal(data.patient, &pat) == nil {
		if d, err := measures.ParseDay(pat.BirthDate); err == nil {
			p.BirthDate = d
		}
	}
	var unknown []string
	var idx []int
	for _, raw := range dispenses {
		var d dispenseDoc
		if jsonfast.Unmarshal(raw, &d) != nil || d.ResourceType != "MedicationDispense" || d.Status != "completed" {
			continue
		}
		date := d.WhenHandedOver
		if date == "" {
			date = d.WhenPrepared
		}
		day, err := measures.ParseDay(date)
		if err != nil {
			continue
		}
		// Without a days' supply the dispense is still a fill (measures.Fill: the SUPD statin, the
		// insulin exclusion); dropping it read "no statin filled this year" and created a second
		// statin (pharmacist review, 3 December 2026). An impossible supply is bad data.
		supply := 0
		if d.DaysSupply != nil && d.DaysSupply.Value != nil {
			v := *d.DaysSupply.Value
			if v < 0 || v > 10000 {
				continue
			}
			supply = int(math.Round(v))
		}
		var known bool
		idx, known = vs.Classify(idx[:0], d.MedicationCodeableConcept.codings(), d.MedicationCodeableConcept.Text)
		if !known && day >= jan1 {
			unknown = append(unknown, d.MedicationCodeableConcept.name())
		}
		for _, i := range idx {
			ing := vs.Ingredient(i)
			p.Fills = append(p.Fills, measures.Fill{Date: day, DaysSupply: supply, Ingredient: ing.Name, Class: ing.Class})
		}
	}
	for _, code := range conditionCodesIn(data.icdConditions(), jan1, measures.YearEnd(jan1.Time().Year())) {
		switch {
		case hasAnyPrefix(code, "N18.5", "N18.6", "Z99.2", "Z91.15", "I12.0", "I13.11", "I13.2", "N19"):
			p.ESRD = true
		case hasAnyPrefix(code, "G72.0", "G72.89", "G72.9", "M60.8", "M60.9", "M62.82", "K70.3", "K71.7", "K74.3", "K74.4", "K74.5", "K74.6", "E28.2", "R73.03", "R73.09", "O", "Z33.1", "Z34", "Z39.1", "N97", "Z51.5"):
			p.SUPDExclusion = true
		}
	}
	return p, unknown
}

// activeMedConcepts returns the medication of each of the patient's active (or on-hold)
// MedicationRequests, in order: what unclassifiedMeds and activeStatin read.
func activeMedConcepts(meds []medindex.Entry) []medConcept {
	var out []medConcept
	for _, e := range meds {
		if !maybeMedRequest(e, "active", "on-hold") {
			continue
		}
		var mr struct {
			ResourceType              string     `json:"resourceType"`
			Status                    string     `json:"status"`
			MedicationCodeableConcept medConcept `json:"medicationCodeableConcept"`
		}
		if jsonfast.Unmarshal(e.Raw, &mr) != nil || mr.ResourceType != "MedicationRequest" || (mr.Status != "active" && mr.Status != "on-hold") {
			continue
		}
		out = append(out, mr.MedicationCodeableConcept)
	}
	return out
}

// unclassifiedMeds names the patient's active (or on-hold) MedicationRequests that the value set
// cannot classify: any of them may be a statin (a brand or NDC the value set does not list).
func unclassifiedMeds(vs *measures.ValueSet, meds []medindex.Entry) []string {
	var out []string
	for _, c := range activeMedConcepts(meds) {
		if _, known := classesOf(vs, &c); !known {
			out = append(out, c.name())
		}
	}
	return out
}

// maybeMedRequest is false for an entry the classifier read as anything but a MedicationRequest
// in one of statuses: only the others need decoding further. An entry it could not read (OK
// false: a member of the wrong type, which the decoder below may not even look at) is decoded as
// before, so the answers are those of decoding every entry.
func maybeMedRequest(e medindex.Entry, statuses ...string) bool {
	if !e.OK {
		return true
	}
	return e.ResourceType == "MedicationRequest" && slices.Contains(statuses, e.Status)
}

// activeStatin names a statin among the patient's active (or on-hold) MedicationRequests, "" when
// none.
func activeStatin(meds []medindex.Entry) string {
	vs := measures.DefaultValueSet()
	for _, c := range activeMedConcepts(meds) {
		if cls, _ := classesOf(vs, &c); !containsClass(cls, measures.ClassStatin) {
			continue
		}
		switch {
		case c.Text != "":
			return clipText(c.Text, 60)
		case len(c.Coding) > 0 && c.Coding[0].Display != "":
			return clipText(c.Coding[0].Display, 60)
		}
		return "A statin"
	}
	return ""
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n])) + "…"
}

func hasAnyPrefix(code string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(code, p) {
			return true
		}
	}
	return false
}

// conditionCodes lists the ICD-10(-CM) codes of the problem list's conditions, not refuted or
// entered in error.
func conditionCodes(conds []icdCondition) []string {
	return conditionCodesIn(conds, measures.NoDay, measures.NoDay)
}

// conditionCodesIn is conditionCodes of the conditions that fall in [from, to] as the population
// run reads them (population/registry.go): a condition whose onset (onsetDateTime, else
// onsetPeriod.start, else recordedDate) is after to, or whose abatementDateTime is before from, is
// left out; NoDay bounds are open. The measure exclusions use the measurement year, so that the
// card and the worklist agree (pharmacist review M3, dates part).
func conditionCodesIn(conds []icdCondition, from, to measures.Day) []string {
	var out []string
	for _, c := range conds {
		if to != measures.NoDay && c.start != measures.NoDay && c.start > to || from != measures.NoDay && c.end != measures.NoDay && c.end < from {
			continue
		}
		out = append(out, c.codes...)
	}
	return out
}

// icdCondition is one problem-list Condition as conditionCodesIn reads it: its ICD-10(-CM) codes
// (upper case) and the days it spans (NoDay: open).
type icdCondition struct {
	codes      []string
	start, end measures.Day
}

// icdConditions decodes the problem list once per hook for conditionCodesIn, which the adherence
// cards call several times per draft (the SUPD and ESRD exclusions, palliative care, pregnancy, the
// statin intolerance): decoding it each time was a few percent of a 20-draft hook. Refuted and
// entered-in-error Conditions are left out.
func (d *hookData) icdConditions() []icdCondition {
	d.icdOnce.Do(func() { d.icd = decodeICDConditions(d.conditions) })
	return d.icd
}

func decodeICDConditions(conds []json.RawMessage) []icdCondition {
	var out []icdCondition
	for _, raw := range conds {
		var c struct {
			Code               medConcept `json:"code"`
			VerificationStatus medConcept `json:"verificationStatus"`
			OnsetDateTime      string     `json:"onsetDateTime"`
			OnsetPeriod        struct {
				Start string `json:"start"`
			} `json:"onsetPeriod"`
			RecordedDate      string `json:"recordedDate"`
			AbatementDateTime string `json:"abatementDateTime"`
		}
		if jsonfast.Unmarshal(raw, &c) != nil {
			continue
		}
		bad := false
		for _, v := range c.VerificationStatus.Coding {
			bad = bad || v.Code == "refuted" || v.Code == "entered-in-error"
		}
		if bad {
			continue
		}
		day := func(s string) measures.Day {
			if d, err := measures.ParseDay(s); err == nil && s != "" {
				return d
			}
			return measures.NoDay
		}
		ic := icdCondition{start: day(c.OnsetDateTime), end: day(c.AbatementDateTime)}
		if ic.start == measures.NoDay {
			ic.start = day(c.OnsetPeriod.Start)
		}
		if ic.start == measures.NoDay {
			ic.start = day(c.RecordedDate)
		}
		for _, cd := range c.Code.Coding {
			if cd.System == "http://hl7.org/fhir/sid/icd-10-cm" || cd.System == "http://hl7.org/fhir/sid/icd-10" {
				ic.codes = append(ic.codes, strings.ToUpper(cd.Code))
			}
		}
		out = append(out, ic)
	}
	return out
}

type adherenceExt struct {
	Measure    string  `json:"measure"`
	PDCToDate  float64 `json:"pdcToDate"`
	Redeemable bool    `json:"redeemable"`
	// InDenominator: counted in the measure's denominator as the data stand (two fills on
	// different dates, the first 91 days before the end, the SUPD ages and fills).
	InDenominator *bool `json:"inDenominator,omitempty"`
	GapDaysLeft   *int  `json:"gapDaysLeft,omitempty"`
	DaysCovered   *int  `json:"daysCovered,omitempty"`
	Days          *int  `json:"days,omitempty"`
}

func extension(e adherenceExt) json.RawMessage {
	b, _ := json.Marshal(map[string]adherenceExt{extAdherence: e})
	return b
}

// classNoun names a measure's drug class as a prescriber says it. PDC-RASA counts ACE inhibitors,
// ARBs and the direct renin inhibitor aliskiren (PQA); PDC-DR every non-insulin diabetes class.
var classNoun = map[measures.Measure]string{
	measures.PDCDiabetes: "Diabetes medication",
	measures.PDCRASA:     "ACE inhibitor/ARB",
	measures.PDCStatin:   "Statin",
}

// adherenceShown reports whether the patient's proportion of days covered to date calls for an
// adherence card: the patient is in the measure's population and either below 80 % or within
// atRiskGapDays of falling below it.
//
// No card either for a patient an age or exclusion rule takes out of the measure whatever the
// fills (td.Ineligible: a child or an ESRD patient with one statin fill was shown one), or for a
// new start still adherent on the first fill of the year: nothing has been missed yet, and late in
// the year the at-risk arithmetic of a first fill (47 days left, 38 needed) suggested a 90-day
// supply of a drug the patient had not yet taken (pharmacist review, 3 December 2026).
func adherenceShown(td measures.ToDate) bool {
	if td.Index == measures.NoDay || td.Excluded || td.Ineligible || td.Days == 0 || td.Reason == measures.ReasonUnder18 {
		return false
	}
	adherent := td.Covered*5 >= td.Days*4
	if adherent && td.Reason == measures.ReasonOneFill {
		return false
	}
	return !adherent || td.GapDaysLeft <= atRiskGapDays
}

// adherenceCard: nil for an adherent patient, one with no fills of the class this year, one the
// measure excludes, or one under 18 (the PQA measures count adults only).
//
// The wording is for a prescriber reading it in a few seconds (pharmacist review, issue 17 item
// 6): the summary says how much of the year the fills covered against the 80 % goal and how many
// more days may be missed; the detail gives the PQA figures, whether the patient is counted in
// the measure yet, when the supply runs out, and what lowers the chance of gaps.
func adherenceCard(draft json.RawMessage, td measures.ToDate, gs *genericSwitch, own *drugSupply) *cdshooks.Card {
	if !adherenceShown(td) {
		return nil
	}
	adherent := td.Covered*5 >= td.Days*4
	pct := int(math.Floor(100*td.PDC() + 0.5))
	noun := classNoun[td.Measure]
	var summary, indicator string
	switch {
	case tooLateThisYear(td):
		summary = fmt.Sprintf("%s fills cover %d %% of days since the first fill (goal 80 %%); not counted in the measure until next year", noun, pct)
		indicator = cdshooks.IndicatorInfo
	case adherent:
		summary = fmt.Sprintf("%s fills cover %d %% of days this year (goal 80 %%): at risk, only %s without it", noun, pct, moreDays(td.GapDaysLeft))
		indicator = cdshooks.IndicatorInfo
	case td.Redeemable:
		summary = fmt.Sprintf("%s fills cover %d %% of days this year (goal 80 %%): reachable if at most %s are missed", noun, pct, moreDays(td.GapDaysLeft))
		indicator = cdshooks.IndicatorWarning
	default:
		summary = fmt.Sprintf("%s fills cover %d %% of days this year (goal 80 %%, no longer reachable this year)", noun, pct)
		indicator = cdshooks.IndicatorWarning
	}
	card := cdshooks.NewCard(summary, indicator, adherenceSource)
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** (PQA %s, a CMS Part D Star Ratings measure): %d of %d days covered since the first fill this year (%s), proportion of days covered %.2f.",
		td.Measure.Name(), td.Measure, td.Covered, td.Days, td.Index, td.PDC())
	switch {
	case tooLateThisYear(td):
		fmt.Fprintf(&b, " %s: the first fill (%s) is less than 91 days before the treatment period ends (%s), so the patient enters the measure next year at the earliest.", notCountedThisYear, td.Index, td.End)
	case !td.InDenominator:
		b.WriteString(" Not yet counted in the measure: it needs two fills on different dates this year, the first at least 91 days before the year ends.")
	}
	b.WriteString("\n\n")
	if td.Redeemable {
		fmt.Fprintf(&b, "Taking it every day from today, the patient reaches 80 %% by %s with at most %s without medication this year. ", td.End, moreDays(td.GapDaysLeft))
	} else {
		fmt.Fprintf(&b, "Even taking it every day from today, the patient cannot reach 80 %% by %s; adherence still matters clinically and for next year. ", td.End)
	}
	// A supply running past the end of the year: the measure counts it to December 31, the
	// patient has it until it runs out (pharmacist review M1; on December 31 the card said the
	// patient was out of medication).
	due := td.RefillDue()
	onHand := int(due - td.At)
	switch {
	case own != nil && own.end > td.At:
		fmt.Fprintf(&b, "About %s of %s left from its last fill (refill due %s).", days(int(own.end-td.At)), own.name, own.end)
	case own != nil:
		fmt.Fprintf(&b, "No %s left from its last fill: none since %s.", own.name, own.end)
	case onHand > 0:
		fmt.Fprintf(&b, "About %s of supply left from the last fill (refill due %s).", days(onHand), due)
	default:
		b.WriteString("No supply left from the last fill: the patient is out of medication now.")
	}
	b.WriteString("\n\nA 90-day supply with refills (suggested), refill synchronisation or mail order lower the chance of gaps; ask about cost, side effects and how the patient takes it.")
	if gs != nil {
		fmt.Fprintf(&b, " Cost: the Orange Book AB-rated generic (%s) costs the patient %s per %s, %s costs %s (suggested below with a 90-day supply).",
			strings.TrimSuffix(gs.label, " (generic)"), usd(gs.generic), gs.per, gs.orderedName, usd(gs.ordered))
	}
	card.Detail = b.String()
	gap, cov, ndays := td.GapDaysLeft, td.Covered, td.Days
	inDen := td.InDenominator
	card.Extension = extension(adherenceExt{Measure: td.Measure.String(), PDCToDate: round4(td.PDC()), Redeemable: td.Redeemable, InDenominator: &inDen, GapDaysLeft: &gap, DaysCovered: &cov, Days: &ndays})
	if gs != nil {
		if upd, n, ok := extendedSupply(gs.draft); ok {
			card.AddSuggestion(fmt.Sprintf("Switch to %s, %d days with %d refills (patient cost %s vs %s per %s)", gs.label, n, refills90, cardUSD(gs.generic), cardUSD(gs.ordered), gs.per), true,
				cdshooks.UpdateAction(fmt.Sprintf("Replace %s with %s and dispense a 90-day supply with refills; dose and schedule unchanged", gs.orderedName, gs.label), upd))
		}
	}
	if upd, n, ok := extendedSupply(draft); ok && !alreadyExtended(draft, n) {
		card.AddSuggestion(fmt.Sprintf("Dispense a %d-day supply with %d refills", n, refills90), len(card.Suggestions) == 0,
			cdshooks.UpdateAction(fmt.Sprintf("Change the dispense request to a %d-day supply with refills; everything else in the order unchanged", n), upd))
	}
	return card
}

// drugSupply is the supply of the drug ordered alone, where another drug of the measure's class
// also has fills this year: end is the first day its fills no longer cover.
type drugSupply struct {
	name string // the ingredients, as the value set names them ("metformin")
	end  measures.Day
}

// ownSupply returns the supply of the ordered drug (med) alone when the class's fills this year
// include other ingredients, else nil (the class's supply is the drug's). An all-class measure
// (PDC-DR) covers a day with any drug of the class, but a refill is of the drug ordered: the card
// told a patient out of metformin for eleven days that the refill was due when the glipizide ran
// out (pharmacist review, 3 December 2026). nil too when the drug has no fill this year.
func ownSupply(vs *measures.ValueSet, p *measures.Patient, year int, m measures.Measure, med *medConcept, td measures.ToDate) *drugSupply {
	idx, _ := vs.Classify(nil, med.codings(), med.Text)
	var ings []string
	for _, i := range idx {
		if in := vs.Ingredient(i); in.Class == m.Class() && !slices.Contains(ings, in.Name) {
			ings = append(ings, in.Name)
		}
	}
	if len(ings) == 0 {
		return nil
	}
	jan1 := measures.YearStart(year)
	if !slices.ContainsFunc(p.Fills, func(f measures.Fill) bool {
		return f.Class == m.Class() && f.Date >= jan1 && f.Date < td.At && f.DaysSupply > 0 && !slices.Contains(ings, f.Ingredient)
	}) {
		return nil // no other drug of the class: its supply is the drug's
	}
	end := measures.SupplyEndOf(p, year, m.Class(), ings, td.At)
	if end == measures.NoDay {
		return nil
	}
	return &drugSupply{name: strings.Join(ings, "/"), end: end}
}

// notCountedThisYear opens the detail sentence of a patient whose treatment period is too short.
const notCountedThisYear = "Not counted in the measure this year"

// tooLateThisYear: the first fill of the year is less than 91 days before the end of the
// treatment period, so the patient cannot enter this year's denominator whatever happens next
// (PQA: the index date at least 91 days before the end): closing the gap earns no outcome
// payment this year (pharmacist review H7).
func tooLateThisYear(td measures.ToDate) bool {
	return td.Index != measures.NoDay && int(td.End-td.Index)+1 < measures.MinTreatmentDays
}

// moreDays is "1 more day", "6 more days".
func moreDays(n int) string {
	if n == 1 {
		return "1 more day"
	}
	return fmt.Sprintf("%d more days", n)
}

// days is "1 day", "6 days".
func days(n int) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d day", n)
	}
	return fmt.Sprintf("%d days", n)
}

func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

// ninetyDaySupply returns the draft with dispenseRequest set to a 90-day supply and three
// refills: expectedSupplyDuration 90 d; quantity scaled from the draft's own quantity and
// duration when it has both (30 tablets for 30 days -> 90 tablets), else left out for the
// pharmacy to compute from the dosage. Every other member of the draft is kept byte for byte.
func ninetyDaySupply(draft json.RawMessage) (json.RawMessage, bool) {
	out, _, ok := extendedSupply(draft)
	return out, ok
}

// dailyDose reads the units taken per day from the first dosage instruction: doseQuantity x
// frequency / period, the period in days (d) or weeks (wk). False when any of it is missing, the
// dose is a range or rate, or there is more than one instruction (a taper: left to the pharmacy).
func dailyDose(raw json.RawMessage) (float64, string, bool) {
	var ds []struct {
		Timing struct {
			Repeat struct {
				Frequency  *float64 `json:"frequency"`
				Period     *float64 `json:"period"`
				PeriodUnit string   `json:"periodUnit"`
			} `json:"repeat"`
		} `json:"timing"`
		AsNeeded    *bool `json:"asNeededBoolean"`
		DoseAndRate []struct {
			DoseQuantity *struct {
				Value *float64 `json:"value"`
				Unit  string   `json:"unit"`
			} `json:"doseQuantity"`
		} `json:"doseAndRate"`
	}
	if jsonfast.Unmarshal(raw, &ds) != nil || len(ds) != 1 || len(ds[0].DoseAndRate) != 1 || (ds[0].AsNeeded != nil && *ds[0].AsNeeded) {
		return 0, "", false
	}
	d, r := ds[0], ds[0].Timing.Repeat
	q := d.DoseAndRate[0].DoseQuantity
	if q == nil || q.Value == nil || *q.Value <= 0 || q.Unit == "" || r.Frequency == nil || *r.Frequency <= 0 || r.Period == nil || *r.Period <= 0 {
		return 0, "", false
	}
	days := *r.Period
	switch r.PeriodUnit {
	case "d":
	case "wk":
		days *= 7
	default:
		return 0, "", false
	}
	return *q.Value * *r.Frequency / days, q.Unit, true
}

// alreadyExtended: the draft already asks for at least days of supply with at least the
// suggested refills, so the update would change nothing a prescriber cares about (review c19).
func alreadyExtended(draft json.RawMessage, days int) bool {
	var m struct {
		DispenseRequest struct {
			Duration struct {
				Value *float64 `json:"value"`
				Code  string   `json:"code"`
			} `json:"expectedSupplyDuration"`
			Refills *int `json:"numberOfRepeatsAllowed"`
		} `json:"dispenseRequest"`
	}
	if jsonfast.Unmarshal(draft, &m) != nil {
		return false
	}
	d := m.DispenseRequest
	return d.Duration.Value != nil && (d.Duration.Code == "d" || d.Duration.Code == "") && *d.Duration.Value >= float64(days) && d.Refills != nil && *d.Refills >= refills90
}

// packageUnits are dispensing units that cannot be split at the pharmacy: a 90-day supply of
// them is the whole packages that fit in 90 days, and the duration is what they last (Ozempic, 1
// pen per 28 days: 3 pens, 84 days, not 4 pens for 112; pharmacist review M4).
var packageUnits = map[string]bool{"pen": true, "pens": true, "package": true, "packages": true, "pack": true, "box": true, "boxes": true,
	"kit": true, "kits": true, "carton": true, "cartons": true, "inhaler": true, "inhalers": true, "vial": true, "vials": true,
	"device": true, "devices": true, "injector": true, "injectors": true, "syringe": true, "syringes": true, "patch": true, "patches": true,
	"bottle": true, "bottles": true, "canister": true, "canisters": true}

// extendedSupply is ninetyDaySupply with the days it supplies: 90, or for a draft in whole
// packages (packageUnits) the days of the packages that fit in 90 days.
func extendedSupply(draft json.RawMessage) (json.RawMessage, int, bool) {
	var m map[string]json.RawMessage
	if jsonfast.Unmarshal(draft, &m) != nil {
		return nil, 0, false
	}
	var dr map[string]json.RawMessage
	if raw, ok := m["dispenseRequest"]; ok && jsonfast.Unmarshal(raw, &dr) != nil {
		return nil, 0, false
	}
	if dr == nil {
		dr = map[string]json.RawMessage{}
	}
	var dur struct {
		Value *float64 `json:"value"`
		Code  string   `json:"code"`
	}
	var qty map[string]json.RawMessage
	scaled := false
	supplied := ninetyDays
	if jsonfast.Unmarshal(dr["expectedSupplyDuration"], &dur) == nil && dur.Value != nil && *dur.Value > 0 && (dur.Code == "d" || dur.Code == "") {
		if jsonfast.Unmarshal(dr["quantity"], &qty) == nil && qty != nil {
			var v float64
			var unit string
			jsonfast.Unmarshal(qty["unit"], &unit)
			if jsonfast.Unmarshal(qty["value"], &v) == nil && v > 0 {
				n := math.Ceil(v * ninetyDays / *dur.Value)
				if packageUnits[strings.ToLower(strings.TrimSpace(unit))] {
					perUnit := *dur.Value / v                   // days one package lasts
					k := max(1, math.Floor(ninetyDays/perUnit)) // one package at least, however long it lasts
					n, supplied = k, int(math.Floor(k*perUnit))
				}
				qty["value"], _ = json.Marshal(n)
				dr["quantity"], _ = json.Marshal(qty)
				scaled = true
			}
		}
	}
	if !scaled {
		if perDay, unit, ok := dailyDose(m["dosageInstruction"]); ok && !packageUnits[strings.ToLower(unit)] {
			// No duration to scale from: 90 days of the sig's daily dose (1 tablet twice daily:
			// 180 tablets; pharmacist review M5).
			dr["quantity"], _ = json.Marshal(map[string]any{"value": math.Ceil(perDay*ninetyDays - 1e-9), "unit": unit})
		} else {
			delete(dr, "quantity")
		}
	}
	dr["expectedSupplyDuration"] = json.RawMessage(fmt.Sprintf(`{"value":%d,"unit":"days","system":"http://unitsofmeasure.org","code":"d"}`, supplied))
	dr["numberOfRepeatsAllowed"] = json.RawMessage(fmt.Sprint(refills90))
	var err error
	if m["dispenseRequest"], err = json.Marshal(dr); err != nil {
		return nil, 0, false
	}
	out, err := json.Marshal(m)
	return out, supplied, err == nil
}

// supdCard: the SUPD gap of a patient with diabetes aged 40-75 on January 1 and no statin fill
// this year; nil otherwise. The suggestion is a new start: 30 days with three refills, so that
// tolerance and the lipid response are checked (ACC/AHA 2018: lipid panel 4-12 weeks after
// starting) before a 90-day supply; one fill is all SUPD counts.
//
// unknown names the drafts, list medications and this year's fills the value set cannot classify
// (a brand or NDC it does not list): any may be a statin, so the card then neither says "no
// statin" nor offers the create; it asks.
//
// cautions (an allergy or intolerance to a statin, pregnancy, established ASCVD) keep the card
// but replace the create by a question, or, for ASCVD, by the high-intensity choice.
func supdCard(p *measures.Patient, data *hookData, patientID string, year int, today measures.Day, unknown []string, cautions statinCautions) *cdshooks.Card {
	if p.BirthDate == measures.NoDay || p.ESRD || p.SUPDExclusion {
		return nil
	}
	age := measures.AgeOn(p.BirthDate, measures.YearStart(year))
	if age < 40 || age > 75 {
		return nil
	}
	jan1 := measures.YearStart(year)
	diabetesFill, statin := false, false
	for _, f := range p.Fills {
		if f.Date < jan1 || f.Date > today {
			continue
		}
		switch f.Class {
		case measures.ClassDiabetes, measures.ClassInsulin, measures.ClassAmylin, measures.ClassSUPDOnly:
			diabetesFill = true
		case measures.ClassStatin:
			statin = true
		}
	}
	diagnosis := ""
	for _, c := range conditionCodes(data.icdConditions()) {
		if diagnosis == "" && (strings.HasPrefix(c, "E10") || strings.HasPrefix(c, "E11")) {
			diagnosis = c
		}
	}
	if (!diabetesFill && diagnosis == "") || statin {
		return nil
	}
	// A statin already on the medication list without a fill this year: the patient may pay cash
	// (a discount-card or $4 list price), which the pharmacy claims SUPD counts never see, or not
	// be taking it. A second statin order would be duplicate therapy: the card asks instead of
	// suggesting one (pharmacist review).
	listed := activeStatin(data.medEntries())
	var evidence string
	switch {
	case diagnosis != "" && diabetesFill:
		evidence = "diabetes (" + diagnosis + " on the problem list, diabetes medication fills this year)"
	case diagnosis != "":
		evidence = "diabetes (" + diagnosis + " on the problem list)"
	default:
		evidence = "diabetes medication fills this year"
	}
	summary := fmt.Sprintf("Diabetes, age %d, no statin filled this year: guidelines recommend a moderate-intensity statin", age)
	switch {
	case listed != "":
		summary = fmt.Sprintf("Diabetes, age %d: %s is on the medication list but not filled this year", age, listed)
	case len(unknown) > 0:
		summary = fmt.Sprintf("Diabetes, age %d: no statin recognised this year; check whether %s is a statin", age, clipText(unknown[0], 40))
	case cautions.allergy != "":
		summary = fmt.Sprintf("Diabetes, age %d, no statin filled this year; statin allergy documented: review before any statin", age)
	case cautions.intolerance != "":
		summary = fmt.Sprintf("Diabetes, age %d, no statin filled this year; statin intolerance documented: review before any statin", age)
	case cautions.pregnancy != "":
		summary = fmt.Sprintf("Diabetes, age %d, no statin filled this year; pregnancy documented: statins are not started in pregnancy", age)
	case cautions.ascvd != "":
		summary = fmt.Sprintf("Diabetes and established ASCVD, age %d, no statin filled this year: guidelines recommend a high-intensity statin", age)
	}
	card := cdshooks.NewCard(summary, cdshooks.IndicatorInfo, adherenceSource)
	counted := measures.SUPDAt(p, year, today+1).InDenominator
	var b strings.Builder
	if len(unknown) > 0 {
		fmt.Fprintf(&b, "The patient has %s and is %d on January 1. No fill or medication this year is recognised as a statin, but %s could not be classified: ", evidence, age, plural(len(unknown), "medication", "medications"))
		for i, u := range unknown {
			if i == 3 {
				fmt.Fprintf(&b, " and %d more", len(unknown)-3)
				break
			}
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(clipText(u, 60))
		}
		b.WriteString(". One of them may be a statin: check before adding one (no new statin is suggested while this is open).")
	} else {
		fmt.Fprintf(&b, "The patient has %s, is %d on January 1 and has no statin fill in %d.", evidence, age, year)
	}
	b.WriteString(" The ACC/AHA 2018 cholesterol guideline (LDL-C 70-189 mg/dL) and the ADA Standards of Care recommend at least a moderate-intensity statin for adults with diabetes aged 40-75, without calculating the 10-year risk.\n\n")
	if listed != "" {
		fmt.Fprintf(&b, "%s is on the medication list: ask whether the patient takes it and where it is filled. A fill paid in cash or through a discount card reaches no pharmacy claim, so the measure does not see it; filling it through the plan does. No new statin is suggested: that would duplicate therapy.\n\n", listed)
	}
	switch {
	case cautions.allergy != "":
		fmt.Fprintf(&b, "A statin allergy or intolerance is documented: %s. No statin is suggested: confirm the reaction, and if a statin is still indicated choose the agent and dose (another statin, a low dose or alternate-day dosing), or a non-statin therapy.\n\n", cautions.allergy)
	case cautions.intolerance != "":
		fmt.Fprintf(&b, "A statin intolerance is documented: %s. No statin is suggested: confirm the history, and if a statin is still indicated choose the agent and dose (another statin, a low dose or alternate-day dosing), or a non-statin therapy. A documented statin-associated myopathy also removes the patient from the measure once coded (G72.0, M62.82).\n\n", cautions.intolerance)
	case cautions.pregnancy != "":
		fmt.Fprintf(&b, "Pregnancy is documented (%s). Statins are not started in pregnancy; no statin is suggested. Pregnancy (O00-O9A, Z33.1) removes the patient from the measure once coded.\n\n", cautions.pregnancy)
	}
	if cautions.ascvd != "" {
		fmt.Fprintf(&b, "Established ASCVD is documented (%s): the ACC/AHA 2018 guideline and the ADA Standards of Care recommend a high-intensity statin (atorvastatin 40-80 mg or rosuvastatin 20-40 mg daily), not a moderate-intensity one. No order is suggested: choose the statin and dose.\n\n", cautions.ascvd)
	}
	if cautions.allergiesUnknown {
		b.WriteString("The patient's allergies were not available to valuerx (no allergies prefetch, no FHIR server).\n\n")
	}
	b.WriteString("Before ordering, check the chart for statin intolerance or allergy, pregnancy or planned pregnancy, breastfeeding, active liver disease, rhabdomyolysis or myopathy, dialysis, hospice or palliative care: most are reasons not to start, and they remove the patient from the measure.\n\n")
	b.WriteString("**Statin Use in Persons with Diabetes** (PQA SUPD, a CMS Part D Star Ratings measure) counts one statin fill in the year")
	if !counted {
		b.WriteString("; the patient enters the measure with a second diabetes medication fill on another date")
	}
	b.WriteString(". Moderate intensity: atorvastatin 10-20 mg, rosuvastatin 5-10 mg, simvastatin 20-40 mg, pravastatin 40-80 mg daily.")
	card.Detail = b.String()
	card.Extension = extension(adherenceExt{Measure: measures.SUPD.String(), Redeemable: true, InDenominator: &counted})
	if patientID != "" && listed == "" && len(unknown) == 0 && !cautions.ask() {
		// RxNorm 617310: atorvastatin 20 MG Oral Tablet (scoring/data/rxnorm_statins_glargine_seed.csv).
		mr := map[string]any{
			"resourceType": "MedicationRequest",
			"status":       "draft",
			"intent":       "order",
			"subject":      map[string]string{"reference": "Patient/" + patientID},
			"medicationCodeableConcept": map[string]any{
				"coding": []map[string]string{{"system": fhir.SystemRxNorm, "code": "617310", "display": "atorvastatin 20 MG Oral Tablet"}},
				"text":   "atorvastatin 20 MG Oral Tablet",
			},
			"dosageInstruction": []map[string]any{{
				"text":   "1 tablet by mouth once daily",
				"timing": map[string]any{"repeat": map[string]any{"frequency": 1, "period": 1, "periodUnit": "d"}},
				"route":  map[string]any{"text": "oral"},
				"doseAndRate": []map[string]any{{"doseQuantity": map[string]any{"value": 1, "unit": "tablet",
					"system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm", "code": "TAB"}}},
			}},
			"dispenseRequest": map[string]any{
				"quantity":               map[string]any{"value": supdDays, "unit": "tablet"},
				"expectedSupplyDuration": map[string]any{"value": supdDays, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"},
				"numberOfRepeatsAllowed": supdRefills,
			},
		}
		raw, err := json.Marshal(mr)
		if err == nil {
			card.AddSuggestion(fmt.Sprintf("Add atorvastatin 20 mg daily (moderate intensity), %d days with %d refills", supdDays, supdRefills), true,
				cdshooks.CreateAction("Create a draft order for a moderate-intensity statin", raw))
		}
	}
	return card
}

// plural is "1 medication", "3 medications".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// statinCautions are what the chart shows against a one-click statin start: each non-empty field
// names the finding. The SUPD card still shows (the gap is real) but asks instead of creating.
type statinCautions struct {
	allergy          string // an active AllergyIntolerance to a statin: "atorvastatin (myalgia, CK 10x ULN)"
	intolerance      string // T46.6X5- on the problem list, or a statin stopped for a muscle or other adverse reason
	pregnancy        string // a pregnancy code this year (pregnant); only Z3A and Z32.01 reach the card, O codes, Z33.1 and Z34 exclude from SUPD
	ascvd            string // established atherosclerotic cardiovascular disease: high intensity is indicated
	allergiesUnknown bool   // no allergies prefetch and none fetched
}

func (c statinCautions) ask() bool {
	return c.allergy != "" || c.intolerance != "" || c.pregnancy != "" || c.ascvd != ""
}

// ascvdCodes: ICD-10-CM prefixes of clinical ASCVD (ACC/AHA 2018: acute coronary syndromes, history
// of myocardial infarction, stable or unstable angina, coronary or other arterial
// revascularisation, stroke, TIA, peripheral artery disease of atherosclerotic origin).
var ascvdCodes = []string{"I20", "I21", "I22", "I23", "I24", "I25", "I63", "I65", "I66", "I69.3", "I70", "I73.9", "G45", "Z86.73", "Z95.1", "Z95.5", "Z98.61"}

// stopReasonWords: a statin MedicationRequest stopped with a reason of these words is a
// documented intolerance (statin-associated muscle symptoms, liver enzymes, allergy).
var stopReasonWords = map[string]bool{"myalgia": true, "myalgias": true, "myopathy": true, "myositis": true, "rhabdomyolysis": true, "muscle": true,
	"cramps": true, "ck": true, "cpk": true, "intolerance": true, "intolerant": true, "adverse": true, "allergy": true, "allergic": true,
	"rash": true, "transaminases": true, "transaminitis": true, "hepatotoxicity": true, "side": true, "reaction": true}

// findStatinCautions reads the allergies, problem list and medication history for reasons not to
// start a statin with one click (pharmacist review Critical 3, H4, H5, H6).
//
// An intolerance or ASCVD documented in any year counts; a pregnancy code only when it falls in
// the measurement year (year).
func findStatinCautions(vs *measures.ValueSet, data *hookData, allergies []json.RawMessage, allergiesKnown bool, year int) statinCautions {
	c := statinCautions{allergiesUnknown: !allergiesKnown}
	for _, raw := range allergies {
		var a struct {
			ResourceType       string     `json:"resourceType"`
			ClinicalStatus     medConcept `json:"clinicalStatus"`
			VerificationStatus medConcept `json:"verificationStatus"`
			Code               medConcept `json:"code"`
			Reaction           []struct {
				Manifestation []medConcept `json:"manifestation"`
			} `json:"reaction"`
		}
		if jsonfast.Unmarshal(raw, &a) != nil || a.ResourceType != "AllergyIntolerance" {
			continue
		}
		skip := false
		for _, s := range a.ClinicalStatus.Coding {
			skip = skip || s.Code == "inactive" || s.Code == "resolved"
		}
		for _, s := range a.VerificationStatus.Coding {
			skip = skip || s.Code == "refuted" || s.Code == "entered-in-error"
		}
		if skip {
			continue
		}
		cls, _ := classesOf(vs, &a.Code)
		statin := containsClass(cls, measures.ClassStatin)
		for _, w := range splitLower(a.Code.name()) {
			statin = statin || w == "statin" || w == "statins" || strings.HasPrefix(w, "hmg")
		}
		if !statin || c.allergy != "" {
			continue
		}
		c.allergy = a.Code.name()
		var mans []string
		for _, r := range a.Reaction {
			for _, m := range r.Manifestation {
				mans = append(mans, m.name())
			}
		}
		if len(mans) > 0 {
			c.allergy += " (" + clipText(strings.Join(mans, ", "), 60) + ")"
		}
	}
	for _, code := range conditionCodes(data.icdConditions()) {
		switch {
		case c.intolerance == "" && strings.HasPrefix(code, "T46.6X5"):
			c.intolerance = code + " (adverse effect of an antihyperlipidemic drug) on the problem list"
		case c.ascvd == "" && hasAnyPrefix(code, ascvdCodes...):
			c.ascvd = code
		}
	}
	if code := pregnant(data.icdConditions(), year); code != "" {
		c.pregnancy = code + " on the problem list"
	}
	for _, e := range data.medEntries() {
		if !maybeMedRequest(e, "stopped", "cancelled") {
			continue
		}
		var mr struct {
			ResourceType              string     `json:"resourceType"`
			Status                    string     `json:"status"`
			StatusReason              medConcept `json:"statusReason"`
			MedicationCodeableConcept medConcept `json:"medicationCodeableConcept"`
		}
		if c.intolerance != "" || jsonfast.Unmarshal(e.Raw, &mr) != nil || mr.ResourceType != "MedicationRequest" || (mr.Status != "stopped" && mr.Status != "cancelled") {
			continue
		}
		if cls, _ := classesOf(vs, &mr.MedicationCodeableConcept); !containsClass(cls, measures.ClassStatin) {
			continue
		}
		reason := mr.StatusReason.Text
		for _, cd := range mr.StatusReason.Coding {
			reason += " " + cd.Display
		}
		for _, w := range splitLower(reason) {
			if stopReasonWords[w] {
				c.intolerance = clipText(mr.MedicationCodeableConcept.name(), 50) + " stopped (" + clipText(strings.TrimSpace(reason), 40) + ")"
				break
			}
		}
	}
	return c
}

func splitLower(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r < 'a' || r > 'z' })
}

// pregnant returns the first pregnancy code dated in the measurement year ("" if none): O00-O9A
// (pregnancy, childbirth and the puerperium), Z33.1 (pregnant state), Z34 (supervision of a normal
// pregnancy), Z3A (weeks of gestation), Z32.01 (positive pregnancy test). ACE inhibitors and ARBs
// carry a boxed warning for fetal toxicity (stop when pregnancy is detected), and statins are
// stopped in most pregnancies (FDA, 2021): an adherence card urging the refill and a one-click
// 90-day supply with refills of either is not shown then. The order itself is the prescriber's
// and the EHR's drug-disease checks'; valuerx does not add to or question it.
func pregnant(conds []icdCondition, year int) string {
	for _, c := range conditionCodesIn(conds, measures.YearStart(year), measures.YearEnd(year)) {
		if (len(c) >= 3 && c[0] == 'O' && c[1] >= '0' && c[1] <= '9') || hasAnyPrefix(c, "Z33.1", "Z34", "Z3A", "Z32.01") {
			return c
		}
	}
	return ""
}

// palliative: Z51.5 (encounter for palliative care) on the problem list. Adherence pushes and new
// statin starts are not offered: goals of care come first, and stopping statins near the end of
// life is evidence-based (Kutner et al., JAMA Intern Med 2015). Palliative care is a SUPD exclusion
// (population/registry.go supdExcl, with its source); for the PDC measures the population run does
// not exclude it, so the worklist may still list such a patient (pharmacist review M2).
func palliative(conds []icdCondition, year int) bool {
	for _, c := range conditionCodesIn(conds, measures.YearStart(year), measures.YearEnd(year)) {
		if strings.HasPrefix(c, "Z51.5") {
			return true
		}
	}
	return false
}
