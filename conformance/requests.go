package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// HookRequest is one request body the suite posts to a service: a built-in one or one read from a
// user's file. Body is the CDS Hooks request JSON as given (hook, hookInstance, context, ...);
// Prefetch, when not nil, is the pool of prefetch values the suite may fill declared keys from.
type HookRequest struct {
	Name string // "built-in order-select" or the file name (with an index for arrays)
	Hook string
	Body json.RawMessage
	// User requests are sent as given; built-in ones get a fresh hookInstance and prefetch that
	// matches the templates the service declares.
	BuiltIn bool
}

// Synthetic identifiers of the built-in requests. Nothing in them identifies a real person.
const (
	builtinPatient   = "vrx-conf-patient-1"
	builtinUser      = "Practitioner/vrx-conf-practitioner-1"
	builtinEncounter = "vrx-conf-encounter-1"
	builtinOrder     = "vrx-conf-order-1"
)

// builtinDraftOrder is a draft order for Herceptin 420 mg IV (one dose every 3 weeks), coded with
// RxNorm SBD 1922509 (Trastuzumab 150 mg Vial [Herceptin]) and HCPCS J9355, so that a lower-cost
// biosimilar exists for a cost service to suggest.
const builtinDraftOrder = `{
 "resourceType": "MedicationRequest",
 "id": "` + builtinOrder + `",
 "status": "draft",
 "intent": "order",
 "medicationCodeableConcept": {
  "coding": [
   {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1922509", "display": "Trastuzumab 150 mg Vial [Herceptin]"},
   {"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J9355", "display": "Inj trastuzumab excl biosimi"}
  ],
  "text": "Herceptin (trastuzumab) 420 mg IV"
 },
 "subject": {"reference": "Patient/` + builtinPatient + `"},
 "encounter": {"reference": "Encounter/` + builtinEncounter + `"},
 "authoredOn": "2026-02-16",
 "requester": {"reference": "` + builtinUser + `"},
 "dosageInstruction": [{
  "text": "420 mg IV every 3 weeks",
  "timing": {"repeat": {"count": 6, "frequency": 1, "period": 3, "periodUnit": "wk"}},
  "route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008", "display": "Intravenous route"}]},
  "doseAndRate": [{"doseQuantity": {"value": 420, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}]
 }]
}`

// Prefetch pool for the built-in requests: a synthetic Medicare fee-for-service patient.
const (
	builtinPatientRes = `{"resourceType": "Patient", "id": "` + builtinPatient + `", "gender": "female", "birthDate": "1950-01-01",
 "identifier": [{"system": "http://hl7.org/fhir/sid/us-mbi", "value": "9ZZ9ZZ9ZZ99"}]}`
	builtinCoverage = `{"resourceType": "Coverage", "id": "vrx-conf-coverage-1", "status": "active",
 "type": {"coding": [{"system": "https://nahdo.org/sopt", "code": "121", "display": "Medicare Fee For Service"}]},
 "subscriberId": "9ZZ9ZZ9ZZ99",
 "beneficiary": {"reference": "Patient/` + builtinPatient + `"},
 "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}]},
 "period": {"start": "2020-01-01"},
 "payor": [{"display": "Centers for Medicare and Medicaid Services"}]}`
	builtinPractitioner = `{"resourceType": "Practitioner", "id": "vrx-conf-practitioner-1"}`
	builtinEncounterRes = `{"resourceType": "Encounter", "id": "` + builtinEncounter + `", "status": "in-progress",
 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}`
)

// BuiltinRequests returns the suite's own requests: one order-select and one order-sign, each for
// the Herceptin draft order. Their prefetch is filled per service from the declared templates.
func BuiltinRequests() []HookRequest {
	draft := `{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ` + builtinDraftOrder + `}]}`
	sel := `{"hook": "order-select", "hookInstance": "", "context": {"userId": "` + builtinUser + `", "patientId": "` + builtinPatient +
		`", "encounterId": "` + builtinEncounter + `", "selections": ["MedicationRequest/` + builtinOrder + `"], "draftOrders": ` + draft + `}}`
	sign := `{"hook": "order-sign", "hookInstance": "", "context": {"userId": "` + builtinUser + `", "patientId": "` + builtinPatient +
		`", "encounterId": "` + builtinEncounter + `", "draftOrders": ` + draft + `}}`
	return []HookRequest{
		{Name: "built-in order-select", Hook: "order-select", Body: compact(sel), BuiltIn: true},
		{Name: "built-in order-sign", Hook: "order-sign", Body: compact(sign), BuiltIn: true},
	}
}

func compact(s string) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		panic("conformance: built-in JSON does not parse: " + err.Error())
	}
	return b.Bytes()
}

// ParseRequests decodes a user's request file: one CDS Hooks request object, or an array of them
// (the form of Inferno's preset request bodies). Each must be an object with a string hook and an
// object context; the hook is taken from the file. name labels the requests in the report.
func ParseRequests(name string, data []byte) ([]HookRequest, error) {
	data = bytes.TrimSpace(data)
	var items []json.RawMessage
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("request file %s: not a JSON array of requests: %w", name, err)
		}
	} else {
		items = []json.RawMessage{data}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("request file %s: no requests", name)
	}
	out := make([]HookRequest, 0, len(items))
	for i, it := range items {
		var head struct {
			Hook    any `json:"hook"`
			Context any `json:"context"`
		}
		if err := json.Unmarshal(it, &head); err != nil {
			return nil, fmt.Errorf("request file %s[%d]: not a JSON object: %w", name, i, err)
		}
		hook, ok := head.Hook.(string)
		if !ok || hook == "" {
			return nil, fmt.Errorf("request file %s[%d]: hook must be a non-empty string", name, i)
		}
		if _, ok := head.Context.(map[string]any); !ok {
			return nil, fmt.Errorf("request file %s[%d]: context must be an object", name, i)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, it); err != nil {
			return nil, fmt.Errorf("request file %s[%d]: %w", name, i, err)
		}
		label := name
		if len(items) > 1 {
			label = fmt.Sprintf("%s[%d]", name, i)
		}
		out = append(out, HookRequest{Name: label, Hook: hook, Body: b.Bytes()})
	}
	return out, nil
}

// prepare returns the body to post: user requests unchanged; built-in requests with a fresh
// hookInstance and, unless withoutPrefetch, prefetch values for every template the service declares.
func (h HookRequest) prepare(templates map[string]string, withoutPrefetch bool) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(h.Body, &m); err != nil {
		return nil, fmt.Errorf("request %s: %w", h.Name, err)
	}
	if withoutPrefetch {
		delete(m, "prefetch")
		delete(m, "fhirServer")
		delete(m, "fhirAuthorization")
	}
	if h.BuiltIn || withoutPrefetch {
		m["hookInstance"], _ = json.Marshal(uuid.NewString())
	}
	if h.BuiltIn && !withoutPrefetch && len(templates) > 0 {
		pf := map[string]json.RawMessage{}
		for _, key := range sortedIDs(templates) {
			pf[key] = prefetchFor(templates[key])
		}
		m["prefetch"], _ = json.Marshal(pf)
	}
	return json.Marshal(m)
}

// prefetchFor answers a prefetch template from the built-in pool: a read gives the resource (or
// null when the pool has none of that type, which the spec allows), a search gives a searchset
// Bundle of the matching pool resources (possibly empty).
func prefetchFor(template string) json.RawMessage {
	typ, search := templateTarget(template)
	pool := map[string]string{
		"Patient":           builtinPatientRes,
		"Coverage":          builtinCoverage,
		"Practitioner":      builtinPractitioner,
		"Encounter":         builtinEncounterRes,
		"MedicationRequest": "", // active medications: none, so the order is a new start
	}
	res := pool[typ]
	if !search {
		if res == "" {
			return json.RawMessage("null")
		}
		return compact(res)
	}
	entries := "[]"
	if res != "" {
		entries = `[{"resource": ` + res + `}]`
	}
	return compact(`{"resourceType": "Bundle", "type": "searchset", "total": ` + map[bool]string{true: "0", false: "1"}[res == ""] + `, "entry": ` + entries + `}`)
}

// templateTarget returns the resource type a prefetch template reads or searches and whether it is
// a search. "Patient/{{context.patientId}}" is a read; "Coverage?patient=..." is a search.
func templateTarget(template string) (typ string, search bool) {
	t := strings.TrimPrefix(template, "/")
	if i := strings.IndexAny(t, "?/"); i >= 0 {
		return t[:i], t[i] == '?'
	}
	return t, true
}

// tokenRE finds prefetch tokens.
var tokenRE = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

// validToken reports whether a prefetch token is allowed by CDS Hooks 2.0 for the order hooks:
// a root-level primitive context field or one of the user identity tokens.
func validToken(hook, tok string) bool {
	tok = strings.TrimSpace(tok)
	switch tok {
	case "userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId":
		return true
	case "context.userId", "context.patientId", "context.encounterId":
		return true
	}
	if hook != "order-select" && hook != "order-sign" {
		// Other hooks have other context fields; accept any single context.<field>.
		f, ok := strings.CutPrefix(tok, "context.")
		return ok && f != "" && !strings.ContainsAny(f, ". ()[]")
	}
	return false
}

// draftOrderRefs returns "Type/id" for every entry of context.draftOrders in a request body.
func draftOrderRefs(body json.RawMessage) (map[string]bool, json.RawMessage, error) {
	var req struct {
		Context struct {
			DraftOrders json.RawMessage `json:"draftOrders"`
		} `json:"context"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, err
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if len(req.Context.DraftOrders) == 0 {
		return nil, nil, errors.New("no context.draftOrders")
	}
	if err := json.Unmarshal(req.Context.DraftOrders, &bundle); err != nil {
		return nil, nil, fmt.Errorf("context.draftOrders: %w", err)
	}
	refs := map[string]bool{}
	for _, e := range bundle.Entry {
		if e.Resource.ResourceType != "" && e.Resource.ID != "" {
			refs[e.Resource.ResourceType+"/"+e.Resource.ID] = true
		}
	}
	return refs, req.Context.DraftOrders, nil
}
