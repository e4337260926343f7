package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"valuerx/cdshooks"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
	"valuerx/scoring"
)

// This file reads the order's clinical context that the P&T policy needs: the indication
// (MedicationRequest.reasonCode and reasonReference, else the patient's problem list) and the
// formulary site (the encounter's location, the user's PractitionerRole).

// keyConditions is the declared prefetch of the patient's conditions (services.go); keyEncounter
// an optional one, used when the EHR sends it (not declared, so EHRs are not asked for more): the
// hook's Encounter, whose location names the formulary site.
const (
	keyEncounter  = "encounter"
	keyConditions = "conditions"
)

// Code systems of diagnoses.
const (
	systemICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
	systemSNOMED  = "http://snomed.info/sct"
)

type conditionDoc struct {
	ResourceType   string                      `json:"resourceType"`
	ID             string                      `json:"id"`
	Code           *codeableConcept            `json:"code"`
	ClinicalStatus *codeableConcept            `json:"clinicalStatus"`
	Verification   *codeableConcept            `json:"verificationStatus"`
	Category       []codeableConcept           `json:"category"`
	Subject        *struct{ Reference string } `json:"subject"`
}

type codeableConcept struct {
	Coding []struct {
		System string `json:"system"`
		Code   string `json:"code"`
	} `json:"coding"`
}

// diagnosesOf turns codeable concepts into the diagnoses the indication table matches.
func diagnosesOf(ccs ...*codeableConcept) []scoring.Diagnosis {
	var out []scoring.Diagnosis
	for _, cc := range ccs {
		if cc == nil {
			continue
		}
		for _, c := range cc.Coding {
			code := strings.TrimSpace(c.Code)
			if code == "" {
				continue
			}
			switch strings.TrimRight(strings.TrimSpace(c.System), "/") {
			case systemICD10CM, "urn:oid:2.16.840.1.113883.6.90",
				// ICD-10 (WHO): the same three-character categories and the subcategories the
				// table's prefixes use (C16, C50, M31.3, D59.5, ...).
				"http://hl7.org/fhir/sid/icd-10", "urn:oid:2.16.840.1.113883.6.3":
				out = append(out, scoring.Diagnosis{System: "icd10cm", Code: code})
			case systemSNOMED, "urn:oid:2.16.840.1.113883.6.96":
				out = append(out, scoring.Diagnosis{System: "snomed", Code: code})
			}
		}
	}
	return out
}

// usableCondition: not refuted or entered in error, and not resolved or inactive. A condition in
// remission still counts: maintenance therapy (rituximab for GPA in remission) is a labelled use.
func usableCondition(c *conditionDoc) bool {
	for _, cc := range []*codeableConcept{c.Verification, c.ClinicalStatus} {
		if cc == nil {
			continue
		}
		for _, cd := range cc.Coding {
			switch cd.Code {
			case "refuted", "entered-in-error", "resolved", "inactive":
				return false
			}
		}
	}
	return true
}

// orderIndication returns the ids of the group's indications (the policy's table) that the
// order's diagnoses denote: its reasonCode and the Conditions its reasonReference names
// (contained, in the draft bundle or on the FHIR server); when those match none of the group's
// indications (none given, only SNOMED CT or free text, or a diagnosis that is no labelled use of
// the group), the patient's problem list. Nothing matched means the indication is unknown: the
// table lists every labelled indication of the reference, so a diagnosis outside it is no known
// indication, and the card must say so rather than pass the order as checked. unlabelledReason
// says the order gave an ICD-10 reason (reasonCode or a Condition it references) that no label
// names and the problem list matched nothing either: the diagnosis is known, it is no labelled use.
func (lk *orderLookups) orderIndication(ctx context.Context, mr *medRequest, t *scoring.IndicationTable, group string, age int) (ids []string, unlabelledReason bool) {
	var dx []scoring.Diagnosis
	for _, rc := range mr.ReasonCode {
		cc := codeableConcept{}
		for _, c := range rc.Coding {
			cc.Coding = append(cc.Coding, struct {
				System string `json:"system"`
				Code   string `json:"code"`
			}{c.System, c.Code})
		}
		dx = append(dx, diagnosesOf(&cc)...)
	}
	for _, ref := range mr.ReasonReference {
		if c, ok := lk.condition(ctx, ref.Reference, mr.Contained); ok && usableCondition(c) {
			dx = append(dx, diagnosesOf(c.Code)...)
		}
	}
	if ids := t.Match(group, dx, age); len(ids) > 0 {
		return ids, false
	}
	// The order gave its reason and no label of the group names it: the problem list may match
	// another indication, but the card must not then call the indication unknown.
	// Only an ICD-10 reason says so: the table reads no SNOMED CT (a SNOMED reason is unread).
	unlabelledReason = slices.ContainsFunc(dx, func(d scoring.Diagnosis) bool { return d.System == "icd10cm" })
	dx = dx[:0]
	for _, c := range lk.problemList(ctx) {
		if usableCondition(&c) {
			dx = append(dx, diagnosesOf(c.Code)...)
		}
	}
	ids = t.Match(group, dx, age)
	return ids, unlabelledReason && len(ids) == 0
}

// orderLookups holds what one hook looked up for its orders' clinical context.
type orderLookups struct {
	data           *hookData
	conditions     []conditionDoc
	conditionsDone bool
	weight, height measurement // the latest body weight and height, looked up once per hook
}

// measurement is one body measurement a dose reads, once looked up.
type measurement struct {
	value float64
	date  time.Time
	done  bool
}

// condition resolves a reasonReference to a Condition.
func (lk *orderLookups) condition(ctx context.Context, ref string, contained []json.RawMessage) (*conditionDoc, bool) {
	decode := func(raw json.RawMessage, id string) (*conditionDoc, bool) {
		var c conditionDoc
		if jsonfast.Unmarshal(raw, &c) == nil && c.ResourceType == "Condition" && (id == "" || c.ID == id) {
			return &c, true
		}
		return nil, false
	}
	if strings.HasPrefix(ref, "#") {
		for _, raw := range contained {
			if c, ok := decode(raw, ref[1:]); ok {
				return c, true
			}
		}
		return nil, false
	}
	typ, id := fhir.SplitReference(ref)
	if typ != "Condition" || id == "" {
		return nil, false
	}
	d := lk.data
	for _, raw := range d.draftBundle {
		if c, ok := decode(raw, id); ok {
			return c, true
		}
	}
	if d.client == nil || ctx.Err() != nil {
		return nil, false
	}
	raw, err := d.read(ctx, "Condition", id) // once per hook; resolve may have read it already (fetchplan.go)
	if err != nil {
		return nil, false
	}
	return decode(raw, "")
}

// problemList returns the patient's conditions (prefetch "conditions", else what resolve fetched
// from the FHIR server), decoded once per hook.
func (lk *orderLookups) problemList(context.Context) []conditionDoc {
	if lk.conditionsDone {
		return lk.conditions
	}
	lk.conditionsDone = true
	for _, raw := range lk.data.conditions {
		var c conditionDoc
		if jsonfast.Unmarshal(raw, &c) == nil && c.ResourceType == "Condition" {
			lk.conditions = append(lk.conditions, c)
		}
	}
	return lk.conditions
}

// siteCandidates lists, most specific first, the references a site formulary may be configured
// for: the Locations of the hook's encounter (prefetch "encounter"), its service provider
// Organization, and the user's PractitionerRole.
func siteCandidates(req *cdshooks.Request, oc *cdshooks.OrderContext) []string {
	var out []string
	if state, raw := req.PrefetchValue(keyEncounter); state == cdshooks.PrefetchPresent {
		var enc struct {
			ResourceType string `json:"resourceType"`
			Location     []struct {
				Location struct{ Reference string } `json:"location"`
			} `json:"location"`
			ServiceProvider *struct{ Reference string } `json:"serviceProvider"`
		}
		if jsonfast.Unmarshal(raw, &enc) == nil && enc.ResourceType == "Encounter" {
			for _, l := range enc.Location {
				if ref, ok := siteRef(l.Location.Reference, "Location"); ok {
					out = append(out, ref)
				}
			}
			if enc.ServiceProvider != nil {
				if ref, ok := siteRef(enc.ServiceProvider.Reference, "Organization"); ok {
					out = append(out, ref)
				}
			}
		}
	}
	if ref, ok := siteRef(oc.UserID, "PractitionerRole"); ok {
		out = append(out, ref)
	}
	return out
}

// siteRef is ref as "Type/id" when it is a relative reference to a resource of type typ with a
// FHIR id of at most 64 characters (R4's limit). The site is the caller's text and is kept in
// the decision record and the dashboard: the issue 11/16 review stored a megabyte of name, MBI
// and birth date from Encounter.location, fifteen times over in the rollups.
func siteRef(ref, typ string) (string, bool) {
	r := fhir.ParseReference(ref)
	if r.Base != "" || r.Version != "" || r.Type != typ || r.ID == "" || len(r.ID) > 64 {
		return "", false
	}
	return typ + "/" + r.ID, true
}

// ageOn is the patient's age in whole years on day, from Patient.birthDate; -1 when unknown.
// Only the age reaches the indication match, never the birth date.
func ageOn(patient json.RawMessage, day time.Time) int {
	if len(patient) == 0 {
		return -1
	}
	var p struct {
		ResourceType string `json:"resourceType"`
		BirthDate    string `json:"birthDate"`
	}
	if jsonfast.Unmarshal(patient, &p) != nil || p.ResourceType != "Patient" || len(p.BirthDate) < 4 {
		return -1
	}
	b, err := time.Parse("2006-01-02", p.BirthDate)
	if err != nil {
		// A partial date (YYYY or YYYY-MM) gives the age within a year: take the younger age,
		// which keeps a paediatric indication in play.
		y, err := strconv.Atoi(p.BirthDate[:4])
		if err != nil {
			return -1
		}
		b = time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	age := day.Year() - b.Year()
	if day.Month() < b.Month() || (day.Month() == b.Month() && day.Day() < b.Day()) {
		age-- // birthday not yet reached this year
	}
	if age < 0 {
		return -1
	}
	return age
}
