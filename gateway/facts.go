package gateway

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"valuerx/clinical"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
	"valuerx/internal/medindex"
	"valuerx/scoring"
)

// This file turns FHIR JSON into the plain facts scoring works on. It decodes only the members it
// needs, into small local structs over the r4 leaf types, so imperfect but usable data (no
// Bundle.type, no intent, unknown codes elsewhere in a resource) never stops a card.

type coverageDoc struct {
	ResourceType string                       `json:"resourceType"`
	Status       string                       `json:"status"`
	Type         *r4.CodeableConcept          `json:"type"`
	SubscriberID string                       `json:"subscriberId"`
	Beneficiary  *r4.Reference                `json:"beneficiary"`
	Period       *struct{ Start, End string } `json:"period"`
	Payor        []r4.Reference               `json:"payor"`
	Order        *int                         `json:"order"`
	Class        []struct {
		Type  r4.CodeableConcept `json:"type"`
		Value string             `json:"value"`
	} `json:"class"`
	Identifier []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
}

type patientDoc struct {
	ResourceType string `json:"resourceType"`
	Identifier   []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
}

const systemCoverageClass = "http://terminology.hl7.org/CodeSystem/coverage-class"

// coverageFacts picks the primary coverage in force on the order date and extracts what contract
// recognition needs. Several active Coverages: the lowest `order` wins (US Core guidance); a
// Coverage whose period has ended is skipped even when its status says active. Every other active
// Coverage in force goes, in its order, to Secondary: Medigap, a retiree plan or Medicaid change
// what the patient owes and what the organisation collects (Registry.ClassifySecondary).
func coverageFacts(coverages []json.RawMessage, patient json.RawMessage, on time.Time) (scoring.Coverage, bool) {
	var active []coverageDoc
	for _, raw := range coverages {
		var c coverageDoc
		if jsonfast.Unmarshal(raw, &c) != nil || c.ResourceType != "Coverage" {
			continue
		}
		if c.Status != "" && c.Status != "active" {
			continue
		}
		if c.Period != nil && !inPeriod(c.Period.Start, c.Period.End, on) {
			continue
		}
		active = append(active, c)
	}
	if len(active) == 0 {
		return scoring.Coverage{}, false
	}
	// Stable: Coverages without an order keep the order they came in, after the ordered ones.
	sort.SliceStable(active, func(i, j int) bool { return orderOf(&active[i]) < orderOf(&active[j]) })
	best := &active[0]
	cov := coverageOf(best)
	for i := range active[1:] {
		cov.Secondary = append(cov.Secondary, coverageOf(&active[1+i]))
	}
	cov.MBI = mbiOf(patient)
	cov.MemberID = strings.TrimSpace(best.SubscriberID) // rosters keyed by plan member id (issue 17 item 4)
	if mbi, ok := scoring.NormalizeMBI(best.SubscriberID); cov.MBI == "" && isMedicare(cov.SOPT) && ok {
		// For Medicare the subscriberId is the MBI (fhir-coverage-notes.md).
		cov.MBI = mbi
	}
	for _, id := range best.Identifier {
		if cov.MBI == "" && id.System == fhir.SystemMBI {
			cov.MBI, _ = scoring.NormalizeMBI(id.Value)
		}
	}
	return cov, true
}

// coverageOf extracts the recognition facts of one Coverage: SOPT codes, payer identifiers,
// plan and group classes.
func coverageOf(c *coverageDoc) scoring.Coverage {
	var cov scoring.Coverage
	if c.Type != nil {
		for _, cd := range c.Type.Coding {
			if cd.System != nil && cd.Code != nil && (*cd.System == fhir.SystemSOPT || *cd.System == fhir.SystemSOPTOID) {
				cov.SOPT = append(cov.SOPT, *cd.Code)
			}
		}
	}
	for _, p := range c.Payor {
		if p.Identifier != nil && p.Identifier.Value != nil {
			cov.PayerIDs = append(cov.PayerIDs, *p.Identifier.Value)
		}
		if p.Reference != nil {
			if _, id := fhir.SplitReference(*p.Reference); id != "" {
				cov.PayerIDs = append(cov.PayerIDs, id)
			}
		}
		if p.Display != nil {
			cov.PayerIDs = append(cov.PayerIDs, *p.Display)
		}
	}
	for _, cl := range c.Class {
		for _, cd := range cl.Type.Coding {
			if cd.Code == nil || (cd.System != nil && *cd.System != systemCoverageClass) {
				continue
			}
			switch *cd.Code {
			case "plan":
				cov.Plans = append(cov.Plans, cl.Value)
			case "group":
				cov.Groups = append(cov.Groups, cl.Value)
			}
		}
	}
	return cov
}

func orderOf(c *coverageDoc) int {
	if c.Order == nil {
		return 1 << 30
	}
	return *c.Order
}

func inPeriod(start, end string, on time.Time) bool {
	day := on.Format("2006-01-02")
	if start != "" && len(start) >= 10 && start[:10] > day {
		return false
	}
	if end != "" && len(end) >= 10 && end[:10] < day {
		return false
	}
	return true
}

func isMedicare(sopt []string) bool {
	for _, c := range sopt {
		if strings.HasPrefix(c, "1") {
			return true
		}
	}
	return false
}

func mbiOf(patient json.RawMessage) string {
	if len(patient) == 0 {
		return ""
	}
	var p patientDoc
	if jsonfast.Unmarshal(patient, &p) != nil || p.ResourceType != "Patient" {
		return ""
	}
	for _, id := range p.Identifier {
		if id.System == fhir.SystemMBI {
			mbi, _ := scoring.NormalizeMBI(id.Value)
			return mbi
		}
	}
	return ""
}

// medRequest is the subset of MedicationRequest valuerx reads: the medication, and (embedded)
// everything clinical.Dose reads of the dose, schedule, supply and indication, so one decode
// serves both.
type medRequest struct {
	ResourceType              string              `json:"resourceType"`
	ID                        string              `json:"id"`
	Status                    string              `json:"status"`
	MedicationCodeableConcept *r4.CodeableConcept `json:"medicationCodeableConcept"`
	MedicationReference       *r4.Reference       `json:"medicationReference"`
	Contained                 []json.RawMessage   `json:"contained"`
	clinical.Order
}

// historyDoc is the part of a history MedicationRequest, or of a MedicationAdministration, that
// decides therapy in progress.
type historyDoc struct {
	ResourceType              string                  `json:"resourceType"`
	ID                        string                  `json:"id"`
	Status                    string                  `json:"status"`
	AuthoredOn                string                  `json:"authoredOn"`
	EffectiveDateTime         string                  `json:"effectiveDateTime"`
	EffectivePeriod           *struct{ Start string } `json:"effectivePeriod"`
	MedicationCodeableConcept *r4.CodeableConcept     `json:"medicationCodeableConcept"`
	MedicationReference       *r4.Reference           `json:"medicationReference"`
	Contained                 []json.RawMessage       `json:"contained"`
}

type quantity struct {
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
	Code  string   `json:"code"`
}

type medicationDoc struct {
	ResourceType string              `json:"resourceType"`
	ID           string              `json:"id"`
	Code         *r4.CodeableConcept `json:"code"`
}

// orderedItem is one draft order valuerx recognised.
type orderedItem struct {
	raw     json.RawMessage // the draft order exactly as sent: suggestions clone it
	id      string
	product scoring.Product
	order   *clinical.Order // the decoded dose, schedule and supply (clinical.Dose reads it)
	doseMg  float64         // per administration (retail: per day); 0: the group's default
	admins  int             // per course (retail: days of supply); 0: the group's default
	// doseText says on the card where the dose and course came from; doseNotes what was
	// implausible, unreadable or needs a remark (PHI-free sentences from clinical.Dose).
	doseText  string
	doseNotes []string
	// noFigures: the dose is implausible for the group (more than twice the label maximum):
	// valuerx quotes no figures for it.
	noFigures bool
	// scheduleImplausible: the order's schedule is not one the label allows; the card is priced on
	// the labelled course and carries no suggestion (it would copy the schedule).
	scheduleImplausible bool
	// doseAboveLabel: the dose is above a label maximum but under twice it: priced as ordered,
	// the card a warning (doseNotes says why).
	doseAboveLabel bool
	// rounding is the whole-vial dose the P&T policy offers for the card's product (nil: none).
	rounding  *roundingOffer
	date      time.Time
	dateGiven bool
	// codeMg is the strength of one item the order's code names (a 40 mg tablet, a 150 mg vial),
	// 0 when the code names none; itemMg is the same for tablets only, where the suggestion must
	// keep the strength (scoring.Request.ItemMg).
	codeMg, itemMg float64
	// device is the kind of item the order's code names (scoring.Package.Device): a suggestion
	// keeps it (an on-body injector kit is not replaced by a prefilled syringe).
	device string
	// alsoDrafted names the products of the hook's other drafts of the same group (the card
	// says so: a loading and a maintenance dose, or a duplicate order).
	alsoDrafted []string
	// unlabelledReason: the order's own reason is known and is no labelled use of its group
	// (orderLookups.orderIndication); the card says so instead of "indication unknown".
	unlabelledReason bool
	// indicationLabels are the short labels of the indications the card names (the policy's
	// indication table, set by the card cache), in the order of the result's ids.
	indicationLabels []string
	// referenceName is the group's reference product ("Herceptin"), which the detail's FDA line
	// names (relationshipLine); set by the card cache.
	referenceName string
	// labelUnconfirmed are the options excluded as not labelled whose label the indication
	// table marks unknown, not "no", for the order's indication: the card says "label
	// unconfirmed", not "not labelled for it". Set by the card cache.
	labelUnconfirmed []string
}

// productOf maps a CodeableConcept to a catalog product: RxNorm first (SBD/SCD), then NDC, then
// HCPCS, which names a product family only for biologics billed under their own code.
func productOf(cat *scoring.Catalog, cc *r4.CodeableConcept) (scoring.Product, bool) {
	p, _, ok := productAndStrength(cat, cc)
	return p, ok
}

// productAndStrength also returns the strength in mg of one tablet when the matched code names a
// retail product strength (0 otherwise), so "1 tablet daily" becomes mg per day.
func productAndStrength(cat *scoring.Catalog, cc *r4.CodeableConcept) (scoring.Product, float64, bool) {
	if cc == nil {
		return scoring.Product{}, 0, false
	}
	codings := make([]medindex.Coding, 0, len(cc.Coding))
	for _, cd := range cc.Coding {
		var c medindex.Coding
		if cd.System != nil {
			c.System = *cd.System
		}
		if cd.Code != nil {
			c.Code = *cd.Code
		}
		codings = append(codings, c)
	}
	return lookupCodings(cat, codings)
}

// lookupCodings is the one place a medication's codings become a catalog product (and the
// strength in mg of one item when the matched code names one): RxNorm first, then NDC, then
// HCPCS; then a code filed under the wrong system. The CDS Hooks sandbox re-codes a suggestion
// that carries no RxNorm code (Hercessi) as RxNorm "Q5146": a code of the HCPCS Level II shape
// (a letter and four digits) can be no RXCUI (RXCUIs are digits), so it is looked up as the HCPCS
// code it is; likewise a dashed 10- or 11-digit NDC under another system.
func lookupCodings(cat *scoring.Catalog, codings []medindex.Coding) (scoring.Product, float64, bool) {
	for _, o := range []struct {
		system string
		kind   scoring.CodeSystem
	}{{fhir.SystemRxNorm, scoring.RxNorm}, {fhir.SystemNDC, scoring.NDC}, {fhir.SystemHCPCS, scoring.HCPCS}} {
		for _, c := range codings {
			if c.System == "" || c.Code == "" || !sameSystem(c.System, o.system) {
				continue
			}
			code := strings.TrimSpace(c.Code)
			if p, ok := cat.Lookup(o.kind, code); ok {
				mg, _ := cat.Strength(o.kind, code)
				return p, mg, true
			}
		}
	}
	for _, c := range codings {
		code := strings.TrimSpace(c.Code)
		switch {
		case hcpcsShape(code):
			if p, ok := cat.Lookup(scoring.HCPCS, code); ok {
				return p, 0, true
			}
		case strings.Count(code, "-") == 2:
			if p, ok := cat.Lookup(scoring.NDC, code); ok {
				mg, _ := cat.Strength(scoring.NDC, code)
				return p, mg, true
			}
		}
	}
	return scoring.Product{}, 0, false
}

// hcpcsShape reports whether code has the form of a HCPCS Level II code: one letter, four digits.
func hcpcsShape(code string) bool {
	if len(code) != 5 {
		return false
	}
	c0 := code[0] | 0x20
	if c0 < 'a' || c0 > 'z' {
		return false
	}
	for i := 1; i < 5; i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// sameSystem accepts the canonical code system URIs and the variants real EHRs send.
func sameSystem(got, want string) bool {
	got = strings.TrimRight(strings.TrimSpace(got), "/")
	if got == want {
		return true
	}
	switch want {
	case fhir.SystemRxNorm:
		return got == "urn:oid:2.16.840.1.113883.6.88" || strings.EqualFold(got, "https://www.nlm.nih.gov/research/umls/rxnorm")
	case fhir.SystemNDC:
		return got == "urn:oid:2.16.840.1.113883.6.69"
	case fhir.SystemHCPCS:
		return got == "urn:oid:2.16.840.1.113883.6.285" || got == "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets" ||
			got == "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets/Alpha-Numeric-HCPCS"
	}
	return false
}

// medicationLookup finds a Medication referenced by a MedicationRequest: contained, in the draft
// orders bundle, or (via fetch) on the FHIR server.
type medicationLookup func(ref string) (json.RawMessage, bool)

// recognise reads one draft order. ok is false for anything that is not a MedicationRequest
// valuerx knows; such orders get no card, and the response is still 200.
func recognise(cat *scoring.Catalog, raw json.RawMessage, lookup medicationLookup, now time.Time) (orderedItem, bool) {
	var mr medRequest
	if jsonfast.Unmarshal(raw, &mr) != nil {
		return orderedItem{}, false
	}
	return recogniseDecoded(cat, raw, &mr, lookup, now)
}

// recogniseDecoded is recognise for a draft order already decoded (the hook decodes each draft
// once and uses it for its id, its focus and its product).
func recogniseDecoded(cat *scoring.Catalog, raw json.RawMessage, mr *medRequest, lookup medicationLookup, now time.Time) (orderedItem, bool) {
	if mr.ResourceType != "MedicationRequest" {
		return orderedItem{}, false
	}
	// An undated order is dated today, as the calendar day scoring reads: kept as the instant, the
	// card cache keyed its UTC day while the scorer read its local one, and in New York an undated
	// order at 21:00 on 31 March (a Q1 book) and one the next morning (Q2) shared the first one's card.
	item := orderedItem{raw: raw, id: mr.ID, date: scoring.CalendarDay(now)}
	prod, strength, ok := productAndStrength(cat, mr.MedicationCodeableConcept)
	if !ok && mr.MedicationReference != nil && mr.MedicationReference.Reference != nil {
		if code, found := referencedCode(*mr.MedicationReference.Reference, mr.Contained, lookup); found {
			prod, strength, ok = productAndStrength(cat, code)
		}
	}
	if !ok {
		return orderedItem{}, false
	}
	item.product = prod
	item.codeMg = strength
	if prod.MgPerUnit > 0 {
		item.device = orderedDevice(cat, mr.MedicationCodeableConcept)
	} else {
		item.itemMg = strength
	}
	if d, ok := parseFHIRDate(mr.AuthoredOn); ok {
		item.date, item.dateGiven = d, true
	}
	item.order = &mr.Order
	return item, true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func parseFHIRDate(s string) (time.Time, bool) {
	if len(s) < 10 {
		return time.Time{}, false
	}
	if t, ok := plainDate(s[:10]); ok {
		return t, true
	}
	t, err := time.Parse("2006-01-02", s[:10])
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// plainDate is time.Parse("2006-01-02", s) for the dates it reads (digits and dashes in place, a
// day that exists): the same time, without the layout's interpretation (a fifth of the therapy
// history's cost with hundreds of entries). ok is false for anything else, which time.Parse then
// decides (TestPlainDateIsTimeParse).
func plainDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	n := 0
	for i, c := range []byte(s) {
		if i == 4 || i == 7 {
			continue
		}
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		n = n*10 + int(c-'0')
	}
	y, m, d := n/10000, time.Month(n/100%100), n%100
	if m < time.January || m > time.December || d < 1 || d > daysIn(m, y) {
		return time.Time{}, false
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), true
}

func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// therapyEntry is one history MedicationRequest of a catalog product: all currentProduct needs.
type therapyEntry struct {
	id, productID, groupID, status string
	date                           time.Time
	dated                          bool
}

// therapyHistory decodes the medication history once per hook (not once per draft order: twenty
// drafts over five hundred history entries were 83 % of such a hook's CPU), keeping only
// entries of catalog products that can mean therapy in progress: MedicationRequests active,
// on hold or completed, and MedicationAdministrations given (completed, in progress, on hold),
// which count like a completed request dated when given. The medication may be coded inline or
// referenced (a contained Medication, or lookup for one in the bundle or on the server).
//
// history is the record classified (medindex.ClassifyResources), shared with the other readers of
// the same list.
func therapyHistory(cat *scoring.Catalog, history []medindex.Entry, lookup medicationLookup) []therapyEntry {
	var out []therapyEntry
	var memo productMemo
	for _, e := range history {
		if !e.OK {
			continue
		}
		// The common case, classified without decoding the resource (internal/medindex): a
		// MedicationRequest with its medication coded inline.
		if e.ResourceType == "MedicationRequest" && len(e.Codings) > 0 {
			switch e.Status {
			case "active", "on-hold", "completed":
			default:
				continue
			}
			p, ok := memo.product(cat, e.Codings)
			if !ok {
				continue
			}
			d, dated := parseFHIRDate(e.AuthoredOn)
			out = append(out, therapyEntry{id: e.ID, productID: p.id, groupID: p.groupID, status: e.Status, date: d, dated: dated})
			continue
		}
		if e.ResourceType != "MedicationRequest" && e.ResourceType != "MedicationAdministration" {
			continue
		}
		var mr historyDoc
		if jsonfast.Unmarshal(e.Raw, &mr) != nil {
			continue
		}
		status, when := mr.Status, mr.AuthoredOn
		switch mr.ResourceType {
		case "MedicationRequest":
			switch status {
			case "active", "on-hold", "completed":
			default:
				continue
			}
		case "MedicationAdministration":
			switch status {
			case "completed", "in-progress", "on-hold":
			default:
				continue
			}
			status = "completed" // given: counts within the history window from its date
			when = mr.EffectiveDateTime
			if when == "" && mr.EffectivePeriod != nil {
				when = mr.EffectivePeriod.Start
			}
		}
		p, ok := productOf(cat, mr.MedicationCodeableConcept)
		if !ok && mr.MedicationReference != nil && mr.MedicationReference.Reference != nil {
			if code, found := referencedCode(*mr.MedicationReference.Reference, mr.Contained, lookup); found {
				p, ok = productOf(cat, code)
			}
		}
		if !ok {
			continue
		}
		d, dated := parseFHIRDate(when)
		out = append(out, therapyEntry{id: mr.ID, productID: p.ID, groupID: p.GroupID, status: status, date: d, dated: dated})
	}
	return out
}

// productMemo keeps productOfCodings' answers for the last few distinct codings of one history:
// a long history orders the same few medications again and again, and each is looked up once
// (the catalog does not change during a hook).
type productMemo struct {
	keys [8][]medindex.Coding
	vals [8]memoProduct
	n    int // slots used; the next one written is n % 8 after the first eight
}

type memoProduct struct {
	id, groupID string
	ok          bool
}

func (m *productMemo) product(cat *scoring.Catalog, codings []medindex.Coding) (memoProduct, bool) {
	for i := range min(m.n, len(m.keys)) {
		if sameCodings(m.keys[i], codings) {
			return m.vals[i], m.vals[i].ok
		}
	}
	p, ok := productOfCodings(cat, codings)
	v := memoProduct{id: p.ID, groupID: p.GroupID, ok: ok}
	m.keys[m.n%len(m.keys)], m.vals[m.n%len(m.keys)] = codings, v
	m.n++
	return v, ok
}

func sameCodings(a, b []medindex.Coding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Code != b[i].Code || a[i].System != b[i].System {
			return false
		}
	}
	return true
}

// productOfCodings is productOf over medindex's codings.
func productOfCodings(cat *scoring.Catalog, codings []medindex.Coding) (scoring.Product, bool) {
	p, _, ok := lookupCodings(cat, codings)
	return p, ok
}

// referencedCode resolves a medicationReference to the Medication's code: a contained
// Medication ("#id"), else lookup (the draft bundle, then the FHIR server). Draft orders and
// history entries both read it.
func referencedCode(ref string, contained []json.RawMessage, lookup medicationLookup) (*r4.CodeableConcept, bool) {
	var medRaw json.RawMessage
	if strings.HasPrefix(ref, "#") {
		for _, c := range contained {
			var m medicationDoc
			if jsonfast.Unmarshal(c, &m) == nil && m.ResourceType == "Medication" && m.ID == ref[1:] {
				medRaw = c
			}
		}
	} else if lookup != nil {
		medRaw, _ = lookup(ref)
	}
	var m medicationDoc
	if medRaw == nil || jsonfast.Unmarshal(medRaw, &m) != nil || m.ResourceType != "Medication" {
		return nil, false
	}
	return m.Code, true
}

// currentProduct finds a product of the same group the patient already receives: an active or
// on-hold MedicationRequest, or one authored within historyWindow (the P&T policy's historyDays,
// default 180: a course of an infused biologic runs for months), not one of this hook's drafts.
// The most recent one wins.
func currentProduct(history []therapyEntry, group string, draftIDs map[string]bool, on time.Time, historyWindow time.Duration) string {
	best := -1
	for i, e := range history {
		if e.groupID != group || draftIDs[e.id] {
			continue
		}
		if e.status == "completed" && (!e.dated || on.Sub(e.date) > historyWindow) {
			continue
		}
		if e.dated && on.Sub(e.date) > historyWindow && e.status != "active" {
			continue
		}
		if best < 0 || e.date.After(history[best].date) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return history[best].productID
}

// orderedDevice is the kind of item (kit, syringe, vial) the order's RxNorm or NDC code names;
// "" when it names none (HCPCS, an ingredient) or the catalog does not know the package.
func orderedDevice(cat *scoring.Catalog, cc *r4.CodeableConcept) string {
	if cc == nil {
		return ""
	}
	for _, o := range []struct {
		system string
		kind   scoring.CodeSystem
	}{{fhir.SystemRxNorm, scoring.RxNorm}, {fhir.SystemNDC, scoring.NDC}} {
		for _, cd := range cc.Coding {
			if cd.System == nil || cd.Code == nil || !sameSystem(*cd.System, o.system) {
				continue
			}
			if pk, ok := cat.PackageByCode(o.kind, strings.TrimSpace(*cd.Code)); ok {
				return pk.Device()
			}
		}
	}
	return ""
}
