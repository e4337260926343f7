package conformance

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// validCard is a card that breaks no rule; the table below breaks one thing at a time.
const validCard = `{
  "uuid": "a1c2d18b-bc29-4ce9-be70-f6c26e1d78d8",
  "summary": "Switch to the biosimilar",
  "detail": "text",
  "indicator": "info",
  "source": {"label": "L", "url": "https://example.org", "topic": {"system": "http://s", "code": "c"}},
  "suggestions": [{"label": "S", "uuid": "e56e1945-20b3-4393-8503-a1a20fd73152", "isRecommended": true, "actions": [
    {"type": "update", "description": "d", "resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "x"}}}
  ]}],
  "selectionBehavior": "at-most-one",
  "overrideReasons": [{"code": "c", "system": "http://s", "display": "D"}],
  "links": [{"label": "l", "url": "https://example.org/a", "type": "absolute"}, {"label": "s", "url": "https://example.org/b", "type": "smart", "appContext": "x"}],
  "extension": {"org.example": {"a": 1}}
}`

func violations(t *testing.T, body string, draft map[string]bool) []string {
	t.Helper()
	fv, err := newFHIRValidator()
	if err != nil {
		t.Fatal(err)
	}
	r := &rules{validate: fv.Validate}
	r.checkResponse([]byte(body), draft)
	var ids []string
	for _, f := range r.out {
		if f.Msg != "" && !slices.Contains(ids, f.ID) {
			ids = append(ids, f.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestCheckResponseRules(t *testing.T) {
	draft := map[string]bool{"MedicationRequest/m1": true}
	card := func(old, new string) string {
		if !strings.Contains(validCard, old) {
			t.Fatalf("test case edits text that is not in the card: %s", old)
		}
		return `{"cards": [` + strings.Replace(validCard, old, new, 1) + `]}`
	}
	deleteCreate := `"actions": [{"type": "delete", "description": "d", "resourceId": "MedicationRequest/m1"},
	  {"type": "create", "description": "d", "resource": {"resourceType": "MedicationRequest", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "y"}}}]`
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"valid", `{"cards": [` + validCard + `]}`, nil},
		{"empty cards", `{"cards": []}`, nil},
		{"not JSON", `{"cards": [`, []string{CheckResponseCards}},
		{"array body", `[]`, []string{CheckResponseCards}},
		{"no cards", `{"systemActions": [{"type": "delete", "resourceId": "MedicationRequest/m1"}]}`, []string{CheckResponseCards}},
		{"cards null", `{"cards": null}`, []string{CheckJSONNoNull, CheckResponseCards}},
		{"card not object", `{"cards": ["x"]}`, []string{CheckResponseCards}},
		{"summary 140", card(`"Switch to the biosimilar"`, `"`+strings.Repeat("é", 140)+`"`), []string{CheckCardSummary}},
		{"summary 139 runes", card(`"Switch to the biosimilar"`, `"`+strings.Repeat("é", 139)+`"`), nil},
		{"summary missing", card(`"summary": "Switch to the biosimilar",`, ``), []string{CheckCardSummary}},
		{"detail number", card(`"detail": "text"`, `"detail": 1`), []string{CheckCardDetail}},
		{"detail null", card(`"detail": "text"`, `"detail": null`), []string{CheckJSONNoNull}},
		{"detail empty", card(`"detail": "text"`, `"detail": ""`), []string{CheckJSONNoNull}},
		{"indicator", card(`"indicator": "info"`, `"indicator": "hard-stop"`), []string{CheckCardIndicator}},
		{"source label", card(`"label": "L", `, ``), []string{CheckCardSource}},
		{"source url relative", card(`"url": "https://example.org", `, `"url": "/x", `), []string{CheckCardSource}},
		{"no topic", card(`, "topic": {"system": "http://s", "code": "c"}`, ``), []string{CheckCRDTopic}},
		{"topic without system", card(`"topic": {"system": "http://s", "code": "c"}`, `"topic": {"code": "c"}`), []string{CheckCardTopic}},
		{"no selectionBehavior", card(`"selectionBehavior": "at-most-one",`, ``), []string{CheckCardSelection}},
		{"selectionBehavior all", card(`"selectionBehavior": "at-most-one"`, `"selectionBehavior": "all"`), []string{CheckCardSelection}},
		{"suggestions empty", card(`"suggestions": [{"label": "S"`, `"suggestions": [], "x": [{"label": "S"`), []string{CheckCardSuggest, CheckJSONNoNull}},
		{"no card uuid", card(`"uuid": "a1c2d18b-bc29-4ce9-be70-f6c26e1d78d8",`, ``), []string{CheckUUIDsSet}},
		{"card uuid number", card(`"uuid": "a1c2d18b-bc29-4ce9-be70-f6c26e1d78d8"`, `"uuid": 7`), []string{CheckCardUUID}},
		{"suggestion label", card(`{"label": "S", `, `{`), []string{CheckSugLabel}},
		{"isRecommended string", card(`"isRecommended": true`, `"isRecommended": "true"`), []string{CheckSugRecommended}},
		{"actions empty", card(`"actions": [`, `"actions": [], "more": [`), []string{CheckJSONNoNull, CheckSugActions}},
		{"action type", card(`{"type": "update"`, `{"type": "replace"`), []string{CheckActionType}},
		{"action description", card(`"description": "d", `, ``), []string{CheckActionDesc}},
		{"update without resource", card(`, "resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "x"}}`, ``), []string{CheckActionResource}},
		{"update not draft", card(`"id": "m1"`, `"id": "m2"`), []string{CheckActionTarget}},
		{"resource not R4", card(`"intent": "order", `, ``), []string{CheckActionFHIR}},
		{"resource unknown field", card(`"status": "draft",`, `"status": "draft", "colour": "red",`), []string{CheckActionFHIR}},
		{"delete and create", card(`"actions": [
    {"type": "update", "description": "d", "resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "x"}}}
  ]`, deleteCreate), nil},
		{"resourceId array", card(`"actions": [
    {"type": "update", "description": "d", "resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "x"}}}
  ]`, strings.Replace(deleteCreate, `"resourceId": "MedicationRequest/m1"`, `"resourceId": ["MedicationRequest/m1"]`, 1)), []string{CheckActionResID}},
		{"delete without create", card(`"actions": [
    {"type": "update", "description": "d", "resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "x"}}}
  ]`, `"actions": [{"type": "delete", "description": "d", "resourceId": "MedicationRequest/m1"}]`), []string{CheckActionDelCreate}},
		{"delete with resource string", card(`"actions": [
    {"type": "update", "description": "d", "resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "x"}}}
  ]`, `"actions": [{"type": "delete", "description": "d", "resource": "m1"}]`), []string{CheckActionResID, CheckActionResource}},
		{"override without display", card(`, "display": "D"}`, `}`), []string{CheckCardOverride}},
		{"link relative", card(`"url": "https://example.org/a"`, `"url": "/a"`), []string{CheckCardLinks}},
		{"link type", card(`"type": "absolute"}`, `"type": "external"}`), []string{CheckCardLinks}},
		{"appContext on absolute", card(`"type": "absolute"}`, `"type": "absolute", "appContext": "x"}`), []string{CheckLinkAppContext}},
		{"two recommended at-most-one", card(`"suggestions": [{"label": "S"`, `"suggestions": [{"label": "T", "uuid": "u2", "isRecommended": true}, {"label": "S"`), []string{CheckSugAtMostOne}},
		{"extension array", card(`"extension": {"org.example": {"a": 1}}`, `"extension": [1]`), []string{CheckExtension}},
		{"systemActions object", `{"cards": [], "systemActions": {}}`, []string{CheckJSONNoNull, CheckSystemActions}},
		{"systemAction without description", `{"cards": [], "systemActions": [{"type": "delete", "resourceId": "MedicationRequest/m1"}]}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := violations(t, tc.body, draft)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violated checks = %v, want %v", got, want)
			}
		})
	}
}

// TestPublicExamples pins what the rules say about the spec's and CRD's own example responses.
func TestPublicExamples(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		// The spec's example: its second card has no uuid and neither card has a topic (SHOULDs).
		{"response-cards__cds-hooks-2.0.1-spec.json", []string{CheckUUIDsSet, CheckCRDTopic}},
		// "...": "<snipped for brevity" is not an R4 element.
		{"response-systemActions__cds-hooks-2.0.1-spec.json", []string{CheckActionFHIR}},
		// CRD's example suggestions carry no uuid; its draft orders are not ours (no target check).
		{"order-sign-response-alternative-generic__HL7-davinci-crd__CRDServiceResponse2.json", []string{CheckUUIDsSet}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "responses", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := violations(t, string(body), nil); !slices.Equal(got, tc.want) {
				t.Errorf("violated checks = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzCheckResponse: the rules never panic, name only catalog checks and report JSON paths.
func FuzzCheckResponse(f *testing.F) {
	for _, name := range []string{"response-cards__cds-hooks-2.0.1-spec.json", "response-systemActions__cds-hooks-2.0.1-spec.json",
		"order-sign-response-alternative-generic__HL7-davinci-crd__CRDServiceResponse2.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "responses", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"cards": [` + validCard + `]}`))
	f.Add([]byte(`{"cards": [{"suggestions": [{"actions": [{"type": "delete", "resourceId": ["x"]}]}]}]}`))
	f.Add([]byte(`null`))
	catalog := map[string]bool{}
	for _, c := range Catalog() {
		catalog[c.ID] = true
	}
	fv, err := newFHIRValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &rules{validate: fv.Validate}
		r.checkResponse(body, map[string]bool{"MedicationRequest/m1": true})
		for _, c := range collectCards(body) {
			if c.uuid == "" {
				t.Fatal("collected a card without uuid")
			}
		}
		for _, fd := range r.out {
			if !catalog[fd.ID] {
				t.Fatalf("finding for unknown check %q", fd.ID)
			}
			if fd.Msg != "" && !strings.HasPrefix(fd.Path, "$") {
				t.Fatalf("violation of %s without a JSON path: %+v", fd.ID, fd)
			}
		}
	})
}

// FuzzParseRequests: request files either parse into requests with a hook and a JSON object body,
// or fail with an error; never a panic.
func FuzzParseRequests(f *testing.F) {
	for _, name := range []string{"order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json", "order-sign-request__HL7-davinci-crd__CRDServiceRequest.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "requests", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"hook": "order-sign", "context": {}}`))
	f.Add([]byte(`[{"hook": 1}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRequests("f.json", data)
		if err != nil {
			return
		}
		for _, r := range rs {
			_, _, _ = draftOrderRefs(r.Body) // must not panic on any context
			var m map[string]json.RawMessage
			if r.Hook == "" || json.Unmarshal(r.Body, &m) != nil {
				t.Fatalf("bad request %+v", r)
			}
			if _, err := r.prepare(map[string]string{"p": "Patient/{{context.patientId}}"}, true); err != nil {
				t.Fatalf("prepare: %v", err)
			}
		}
	})
}

func TestParseRequests(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "requests", "order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRequests("inferno.json", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Hook != "order-select" || rs[1].Name != "inferno.json[1]" {
		t.Errorf("got %d requests, first hook %q, second name %q", len(rs), rs[0].Hook, rs[len(rs)-1].Name)
	}
	for _, bad := range []string{``, `{}`, `{"hook": "order-sign"}`, `{"hook": "", "context": {}}`, `[]`, `[1]`, `{"hook": "x", "context": []}`} {
		if _, err := ParseRequests("bad.json", []byte(bad)); err == nil {
			t.Errorf("ParseRequests(%q) = nil error", bad)
		}
	}
}

func TestBuiltinRequestsPrepare(t *testing.T) {
	templates := map[string]string{
		"patient":    "Patient/{{context.patientId}}",
		"coverage":   "Coverage?patient={{context.patientId}}&status=active",
		"meds":       "MedicationRequest?patient={{context.patientId}}",
		"user":       "Practitioner/{{userPractitionerId}}",
		"condition":  "Condition?patient={{context.patientId}}",
		"encounterR": "Encounter/{{context.encounterId}}",
		"device":     "Device/{{context.patientId}}",
	}
	for _, req := range BuiltinRequests() {
		body, err := req.prepare(templates, false)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Hook         string                     `json:"hook"`
			HookInstance string                     `json:"hookInstance"`
			Prefetch     map[string]json.RawMessage `json:"prefetch"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Hook != req.Hook || len(got.HookInstance) != 36 {
			t.Errorf("%s: hook %q hookInstance %q", req.Name, got.Hook, got.HookInstance)
		}
		wantType := map[string]string{"patient": "Patient", "coverage": "Bundle", "meds": "Bundle", "user": "Practitioner",
			"condition": "Bundle", "encounterR": "Encounter", "device": ""}
		for key, typ := range wantType {
			var head struct {
				ResourceType string `json:"resourceType"`
				Total        *int   `json:"total"`
			}
			v := got.Prefetch[key]
			if typ == "" {
				if string(v) != "null" {
					t.Errorf("%s: prefetch %s = %s, want null (no such resource)", req.Name, key, v)
				}
				continue
			}
			if err := json.Unmarshal(v, &head); err != nil || head.ResourceType != typ {
				t.Errorf("%s: prefetch %s is %q, want %s", req.Name, key, head.ResourceType, typ)
			}
		}
		refs, _, err := draftOrderRefs(body)
		if err != nil || !refs["MedicationRequest/"+builtinOrder] {
			t.Errorf("%s: draft orders %v, %v", req.Name, refs, err)
		}
		bare, err := req.prepare(templates, true)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(bare), `"prefetch"`) || strings.Contains(string(bare), `"fhirServer"`) {
			t.Errorf("%s: prepared without prefetch still has prefetch or fhirServer", req.Name)
		}
	}
	// The built-in draft order itself must pass the strict validation the suite applies to others.
	fv, err := newFHIRValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []string{builtinDraftOrder, builtinPatientRes, builtinCoverage, builtinPractitioner, builtinEncounterRes} {
		if err := fv.Validate(compact(res)); err != nil {
			t.Errorf("built-in resource is not valid R4: %v", err)
		}
	}
}

func TestValidToken(t *testing.T) {
	tests := []struct {
		hook, tok string
		want      bool
	}{
		{"order-sign", "context.patientId", true},
		{"order-select", " context.userId ", true},
		{"order-select", "context.encounterId", true},
		{"order-select", "userPractitionerRoleId", true},
		{"order-select", "context.draftOrders", false},
		{"order-select", "context.selections", false},
		{"order-sign", "context.medication.id", false},
		{"order-sign", "today()", false},
		{"patient-view", "context.anything", true},
		{"patient-view", "context.a.b", false},
	}
	for _, tc := range tests {
		if got := validToken(tc.hook, tc.tok); got != tc.want {
			t.Errorf("validToken(%q, %q) = %v, want %v", tc.hook, tc.tok, got, tc.want)
		}
	}
}

func TestTemplateTarget(t *testing.T) {
	tests := []struct {
		tmpl   string
		typ    string
		search bool
	}{
		{"Patient/{{context.patientId}}", "Patient", false},
		{"/Coverage?patient={{context.patientId}}", "Coverage", true},
		{"MedicationRequest", "MedicationRequest", true},
	}
	for _, tc := range tests {
		typ, search := templateTarget(tc.tmpl)
		if typ != tc.typ || search != tc.search {
			t.Errorf("templateTarget(%q) = %q, %v", tc.tmpl, typ, search)
		}
	}
}

func TestNormalizeBase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://cds.example.org/", "https://cds.example.org"},
		{"https://cds.example.org/r4/cds-services", "https://cds.example.org/r4"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"ftp://x", ""},
		{"cds.example.org", ""},
		{"https://x/?a=1", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := normalizeBase(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("normalizeBase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestHeaderListHas(t *testing.T) {
	if !headerListHas([]string{"Content-Type, Authorization"}, "authorization") {
		t.Error("comma list not split")
	}
	if !headerListHas([]string{"content-type", "AUTHORIZATION"}, "authorization") {
		t.Error("repeated header values not read")
	}
	if headerListHas([]string{"*"}, "authorization") || headerListHas(nil, "authorization") {
		t.Error("wildcard or nothing taken for Authorization")
	}
}

func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Catalog() {
		if seen[c.ID] {
			t.Errorf("duplicate check %s", c.ID)
		}
		seen[c.ID] = true
		if c.Level != Shall && c.Level != Should && c.Level != May {
			t.Errorf("%s: level %q", c.ID, c.Level)
		}
		if c.Title == "" || c.Section == "" {
			t.Errorf("%s: no title or section", c.ID)
		}
	}
}

func TestRecorder(t *testing.T) {
	rec := newRecorder([]Check{{ID: "a", Level: Shall}, {ID: "b", Level: Should}, {ID: "c", Level: Shall}, {ID: "d", Level: May}})
	rec.pass("a", Evidence{})
	rec.violate("a", Evidence{Message: "broken"})
	rec.pass("a", Evidence{})
	rec.violate("b", Evidence{Message: "advice"})
	rec.skip("c", Evidence{Message: "n/a"})
	for i := 0; i < maxEvidence+3; i++ {
		rec.violate("d", Evidence{Message: "x"})
	}
	got := rec.finish()
	want := []struct {
		status  Status
		evals   int
		ev      int
		omitted int
	}{{Fail, 3, 1, 0}, {Warning, 1, 1, 0}, {Skipped, 0, 1, 0}, {Warning, maxEvidence + 3, maxEvidence, 3}}
	for i, w := range want {
		g := got[i]
		if g.Status != w.status || g.Evaluations != w.evals || len(g.Evidence) != w.ev || g.Omitted != w.omitted {
			t.Errorf("%s: status %s evals %d evidence %d omitted %d; want %+v", g.ID, g.Status, g.Evaluations, len(g.Evidence), g.Omitted, w)
		}
	}
}

// FuzzDiscovery: any discovery body yields findings for catalog checks and services with an order
// hook, a non-empty id and a URL under the base; never a panic.
func FuzzDiscovery(f *testing.F) {
	f.Add([]byte(`{"services": [{"hook": "order-select", "id": "a", "description": "d", "title": "t", "prefetch": {"p": "Patient/{{context.patientId}}"}}]}`))
	f.Add([]byte(`{"services": [{"hook": "order-sign", "id": "a b/c", "description": 1, "prefetch": {"p": 2, "q": "X?a={{context.draftOrders}}"}}]}`))
	f.Add([]byte(`{"services": []}`))
	f.Add([]byte(`{"services": null, "extension": {}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &suite{rec: newRecorder(Catalog()), base: "https://cds.example.org", report: &Report{}, opts: Options{Origin: DefaultOrigin}}
		s.discoveryBody(&exchange{label: "GET /cds-services", status: 200, header: http.Header{}, body: body})
		for _, svc := range s.svcs {
			if svc.ID == "" || (svc.Hook != "order-select" && svc.Hook != "order-sign") || !strings.HasPrefix(svc.url, s.base+"/cds-services/") {
				t.Fatalf("bad service %+v", svc)
			}
		}
		_ = s.rec.finish()
	})
}

func TestDiscoverySharedID(t *testing.T) {
	s := &suite{rec: newRecorder(Catalog()), base: "https://cds.example.org", report: &Report{}, opts: Options{Origin: DefaultOrigin}}
	s.discoveryBody(&exchange{status: 200, header: http.Header{"Access-Control-Allow-Origin": {"*"}}, body: []byte(`{"services": [
	  {"hook": "order-select", "id": "rx", "title": "t", "description": "d", "prefetch": {"c": "Coverage?patient={{context.patientId}}"}},
	  {"hook": "order-sign", "id": "rx", "title": "t", "description": "d"},
	  {"hook": "patient-view", "id": "pv", "title": "t", "description": "d", "prefetch": {"p": "Patient/{{context.patientId}}"}}]}`)})
	if len(s.svcs) != 2 {
		t.Fatalf("order services = %d, want 2", len(s.svcs))
	}
	if s.svcs[0].key() == s.svcs[1].key() || s.svcs[0].label() != "rx (order-select)" || s.svcs[1].url != "https://cds.example.org/cds-services/rx" {
		t.Errorf("services %+v", s.svcs)
	}
	if !s.svcs[0].Prefetch || s.svcs[1].Prefetch {
		t.Errorf("prefetch flags %v %v", s.svcs[0].Prefetch, s.svcs[1].Prefetch)
	}
	for _, r := range s.rec.finish() {
		if r.Status == Fail || r.Status == Warning {
			t.Errorf("%s: %s %v", r.ID, r.Status, r.Evidence)
		}
	}
}

func TestFHIRValidatorMessagesCarryNoValues(t *testing.T) {
	fv, err := newFHIRValidator()
	if err != nil {
		t.Fatal(err)
	}
	const secret = "Zebediah-1931"
	tests := []struct{ res, want string }{
		{`{"resourceType": "MedicationRequest", "id": "a", "status": "draft", "subject": {"reference": "Patient/1"}, "medicationCodeableConcept": {"text": "x"}}`,
			`error at "MedicationRequest": missing required field "intent"`},
		{`{"resourceType": "MedicationRequest", "id": "a", "status": "draft", "intent": "order", "subject": {"reference": "Patient/1"}, "medicationCodeableConcept": {"text": "x"}, "authoredOn": "` + secret + `"}`,
			`error at "MedicationRequest.authoredOn"`},
		{`{"resourceType": "MedicationRequest", "id": "a", "status": "` + secret + `", "intent": "order", "subject": {"reference": "Patient/1"}, "medicationCodeableConcept": {"text": "x"}}`,
			`error at "MedicationRequest.status"`},
		{`{"resourceType": "Patient", "id": "p", "birthDate": "` + secret + `", "name": [{"family": "` + secret + `"}], "gender": "` + secret + `"}`,
			`error at "Patient`},
		{`"` + secret + `"`, `strict FHIR R4 validation`},
	}
	for _, tc := range tests {
		err := fv.Validate(json.RawMessage(tc.res))
		if err == nil {
			t.Errorf("no error for %s", tc.res)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "Zebediah") {
			t.Errorf("message quotes a value: %v", err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("message %q lacks %q", err, tc.want)
		}
	}
}
