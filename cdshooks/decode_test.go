package cdshooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleFile reads a file copied verbatim from /work/shared/cdshooks-examples.
func exampleFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exampleRequests splits an Inferno preset (a JSON array of request bodies).
func exampleRequests(t testing.TB, name string) [][]byte {
	t.Helper()
	var list []json.RawMessage
	if err := json.Unmarshal(exampleFile(t, name), &list); err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(list))
	for i, r := range list {
		out[i] = r
	}
	return out
}

// wrapContext turns a hook-library context example into a full request.
func wrapContext(t testing.TB, name, hook string) []byte {
	t.Helper()
	var ex struct {
		Context json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(exampleFile(t, name), &ex); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"hook": hook, "hookInstance": "0b3a5f8e-0000-4000-8000-000000000001", "context": ex.Context})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deleteMember is the value that makes editJSON delete a member.
var deleteMember = &struct{ del bool }{true}

// editJSON sets (or, with deleteMember, deletes) the member at a dotted path
// ("context.selections.0") of a JSON document and re-encodes it.
func editJSON(t testing.TB, body []byte, path string, val any) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, ".")
	cur := doc
	for i, k := range keys {
		last := i == len(keys)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if val == deleteMember {
					delete(c, k)
				} else {
					c[k] = val
				}
				break
			}
			cur = c[k]
		case []any:
			var n int
			if _, err := fmt.Sscan(k, &n); err != nil || n >= len(c) {
				t.Fatalf("editJSON: bad index %q in %s", k, path)
			}
			if last {
				c[n] = val
				break
			}
			cur = c[n]
		default:
			t.Fatalf("editJSON: %s: cannot descend into %T at %q", path, cur, k)
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }

func TestDecodeRequestExamples(t *testing.T) {
	sel := exampleRequests(t, "order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json")
	sign := exampleRequests(t, "order-sign-requests__inferno-crd-test-kit__ri_crd_server-preset.json")
	tests := []struct {
		name          string
		body          []byte
		hook          string
		wantPatient   string
		wantUser      string
		wantSel       []string
		wantPrefetch  map[string]PrefetchState
		wantAuth      bool
		wantExtension bool
	}{
		{"inferno order-select 1", sel[0], HookOrderSelect, "pat015", "Practitioner/pra1234",
			[]string{"MedicationRequest/pat015-mr-azathioprine"}, map[string]PrefetchState{"coverage": PrefetchPresent, "patient": PrefetchAbsent}, true, true},
		{"inferno order-select 2", sel[1], HookOrderSelect, "pat015", "Practitioner/pra1234",
			[]string{"MedicationRequest/pat015-mr-methotrexate"}, map[string]PrefetchState{"coverage": PrefetchPresent}, true, true},
		{"inferno order-sign 1", sign[0], HookOrderSign, "", "Practitioner/pra1234", nil,
			map[string]PrefetchState{"patient": PrefetchPresent, "coverage": PrefetchPresent, "user": PrefetchPresent}, true, true},
		{"inferno order-sign 2", sign[1], HookOrderSign, "", "Practitioner/pra1234", nil,
			map[string]PrefetchState{"patient": PrefetchPresent, "user": PrefetchAbsent}, true, true},
		{"CRD order-sign with null prefetch", exampleFile(t, "order-sign-request__HL7-davinci-crd__CRDServiceRequest.json"), HookOrderSign,
			"123", "Practitioner/ABC", nil, map[string]PrefetchState{"device": PrefetchNull, "medication": PrefetchNull, "coverage": PrefetchPresent, "patient": PrefetchPresent}, true, true},
		{"3.0 paginated prefetch, U+2011 ids", exampleFile(t, "order-sign-request-paginated-prefetch__cds-hooks-3.0.0-ballot-main.json"), HookOrderSign,
			"1288992", "PractitionerRole/123", nil, map[string]PrefetchState{"orders": PrefetchPresent}, false, false},
		{"library order-select context", wrapContext(t, "order-select-context-R4__HL7-cds-hooks-library__order-select.md.json", HookOrderSelect), HookOrderSelect,
			"1288992", "PractitionerRole/123", []string{"NutritionOrder/pureeddiet-simple", "MedicationRequest/smart-MedicationRequest-103"}, nil, false, false},
		{"library order-sign context", wrapContext(t, "order-sign-context-R4__HL7-cds-hooks-library__order-sign.md.json", HookOrderSign), HookOrderSign,
			"1288992", "PractitionerRole/123", nil, nil, false, false},
		{"any hook accepted when the service names none", sel[0], "", "pat015", "Practitioner/pra1234",
			[]string{"MedicationRequest/pat015-mr-azathioprine"}, nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, oc, err := DecodeRequest(tt.body, tt.hook)
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if tt.wantPatient != "" && oc.PatientID != tt.wantPatient {
				t.Errorf("PatientID = %q, want %q", oc.PatientID, tt.wantPatient)
			}
			if oc.UserID != tt.wantUser {
				t.Errorf("UserID = %q, want %q", oc.UserID, tt.wantUser)
			}
			if fmt.Sprint(oc.Selections) != fmt.Sprint(tt.wantSel) {
				t.Errorf("Selections = %v, want %v", oc.Selections, tt.wantSel)
			}
			if len(oc.DraftOrders) == 0 || !strings.Contains(string(oc.DraftOrders), `"Bundle"`) {
				t.Errorf("DraftOrders not kept")
			}
			if !LooksLikeUUID(req.HookInstance) {
				t.Errorf("hookInstance %q should look like a UUID", req.HookInstance)
			}
			for k, want := range tt.wantPrefetch {
				if got, _ := req.PrefetchValue(k); got != want {
					t.Errorf("PrefetchValue(%q) = %v, want %v", k, got, want)
				}
			}
			if (req.FHIRAuthorization != nil) != tt.wantAuth {
				t.Errorf("FHIRAuthorization = %v, want present=%v", req.FHIRAuthorization, tt.wantAuth)
			}
			if tt.wantAuth && (req.FHIRServer == "" || req.FHIRAuthorization.AccessToken == "" || req.FHIRAuthorization.ExpiresIn != 300) {
				t.Errorf("fhirServer/fhirAuthorization not decoded: %q %v", req.FHIRServer, req.FHIRAuthorization)
			}
			if (len(req.Extension) > 0) != tt.wantExtension {
				t.Errorf("Extension present = %v, want %v", len(req.Extension) > 0, tt.wantExtension)
			}
		})
	}
}

func TestDecodeRequestCRDAuthorizationPatient(t *testing.T) {
	req, _, err := DecodeRequest(exampleFile(t, "order-sign-request__HL7-davinci-crd__CRDServiceRequest.json"), HookOrderSign)
	if err != nil {
		t.Fatal(err)
	}
	if req.FHIRAuthorization.Patient != "123" || req.FHIRAuthorization.TokenType != "Bearer" || req.FHIRAuthorization.Subject != "cds-service4" {
		t.Errorf("fhirAuthorization = %+v", *req.FHIRAuthorization)
	}
}

// TestDecodeRequestLenient covers imperfect but usable bodies that must be
// accepted, with what the decoder makes of them.
func TestDecodeRequestLenient(t *testing.T) {
	base := exampleRequests(t, "order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json")[0]
	tests := []struct {
		name  string
		body  []byte
		hook  string
		check func(t *testing.T, req *Request, oc *OrderContext)
	}{
		{"Patient/ prefix stripped", editJSON(t, base, "context.patientId", "Patient/pat015"), HookOrderSelect,
			func(t *testing.T, _ *Request, oc *OrderContext) {
				if oc.PatientID != "pat015" {
					t.Errorf("PatientID = %q", oc.PatientID)
				}
			}},
		{"Encounter/ prefix stripped", editJSON(t, base, "context.encounterId", "Encounter/e1"), HookOrderSelect,
			func(t *testing.T, _ *Request, oc *OrderContext) {
				if oc.EncounterID != "e1" {
					t.Errorf("EncounterID = %q", oc.EncounterID)
				}
			}},
		{"no Bundle.type", editJSON(t, base, "context.draftOrders.type", deleteMember), HookOrderSelect, nil},
		{"no intent", editJSON(t, base, "context.draftOrders.entry.0.resource.intent", deleteMember), HookOrderSelect, nil},
		{"fhirServer of exactly 2048 characters", editJSON(t, base, "fhirServer", "https://ehr.example/"+strings.Repeat("a", 2048-len("https://ehr.example/"))), HookOrderSelect,
			func(t *testing.T, req *Request, _ *OrderContext) {
				if len(req.FHIRServer) != 2048 {
					t.Errorf("fhirServer has %d characters", len(req.FHIRServer))
				}
			}},
		{"hookInstance a UUID in upper case", editJSON(t, base, "hookInstance", "D1577C69-DFBE-44AD-BA6D-3E05E953B2EA"), HookOrderSelect,
			func(t *testing.T, req *Request, _ *OrderContext) {
				if req.HookInstance != "D1577C69-DFBE-44AD-BA6D-3E05E953B2EA" {
					t.Errorf("HookInstance = %q", req.HookInstance)
				}
			}},
		{"encounterId null", editJSON(t, base, "context.encounterId", nil), HookOrderSelect,
			func(t *testing.T, _ *Request, oc *OrderContext) {
				if oc.EncounterID != "" {
					t.Errorf("EncounterID = %q", oc.EncounterID)
				}
			}},
		{"unknown extension members", editJSON(t, base, "extension", map[string]any{"org.example.whatever": []any{1, "x"}}), HookOrderSelect,
			func(t *testing.T, req *Request, _ *OrderContext) {
				if !strings.Contains(string(req.Extension), "org.example.whatever") {
					t.Errorf("Extension = %s", req.Extension)
				}
			}},
		{"unknown top-level and context members", editJSON(t, editJSON(t, base, "future", true), "context.future", 1), HookOrderSelect, nil},
		{"PractitionerRole user", editJSON(t, base, "context.userId", "PractitionerRole/r9"), HookOrderSelect,
			func(t *testing.T, _ *Request, oc *OrderContext) {
				if oc.UserType() != "PractitionerRole" {
					t.Errorf("UserType = %q", oc.UserType())
				}
			}},
		{"order-sign needs no selections", editJSON(t, editJSON(t, base, "hook", HookOrderSign), "context.selections", deleteMember), HookOrderSign, nil},
		{"order-sign ignores ill-typed selections", editJSON(t, editJSON(t, base, "hook", HookOrderSign), "context.selections", 7), HookOrderSign,
			func(t *testing.T, _ *Request, oc *OrderContext) {
				if oc.Selections != nil {
					t.Errorf("Selections = %v", oc.Selections)
				}
			}},
		{"selection by fullUrl", editJSON(t, editJSON(t, base, "context.draftOrders.entry.0.fullUrl", "https://ehr.example/fhir/MedicationRequest/abs1"), "context.selections.0", "https://ehr.example/fhir/MedicationRequest/abs1"), HookOrderSelect, nil},
		{"prefetch null", editJSON(t, base, "prefetch", nil), HookOrderSelect,
			func(t *testing.T, req *Request, _ *OrderContext) {
				if s, _ := req.PrefetchValue("coverage"); s != PrefetchAbsent {
					t.Errorf("PrefetchValue = %v", s)
				}
			}},
		{"entry without resource", editJSON(t, base, "context.draftOrders.entry", []any{map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": "pat015-mr-azathioprine"}}, map[string]any{"fullUrl": "urn:uuid:x"}}), HookOrderSelect, nil},
		{"draftOrders without entries (order-sign)", editJSON(t, editJSON(t, base, "hook", HookOrderSign), "context.draftOrders", map[string]any{"resourceType": "Bundle"}), HookOrderSign, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, oc, err := DecodeRequest(tt.body, tt.hook)
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if tt.check != nil {
				tt.check(t, req, oc)
			}
		})
	}
}

// TestDecodeRequestRejects covers bodies that must be refused, with the
// status and the path of the first issue.
func TestDecodeRequestRejects(t *testing.T) {
	base := exampleRequests(t, "order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json")[0]
	tests := []struct {
		name     string
		body     []byte
		hook     string
		status   int
		code     string
		wantPath string
	}{
		{"not JSON", []byte(`{"hook": "order-select",`), HookOrderSelect, 400, IssueStructure, ""},
		{"empty body", nil, HookOrderSelect, 400, IssueStructure, ""},
		{"JSON array", []byte(`[1,2]`), HookOrderSelect, 400, IssueStructure, ""},
		{"JSON string", []byte(`"order-select"`), HookOrderSelect, 400, IssueStructure, ""},
		{"missing hook", editJSON(t, base, "hook", deleteMember), HookOrderSelect, 422, IssueRequired, "hook"},
		{"hook not a string", editJSON(t, base, "hook", 3), HookOrderSelect, 422, IssueStructure, "hook"},
		{"hook mismatch", base, HookOrderSign, 422, IssueInvalid, "hook"},
		{"missing hookInstance", editJSON(t, base, "hookInstance", deleteMember), HookOrderSelect, 422, IssueRequired, "hookInstance"},
		{"empty hookInstance", editJSON(t, base, "hookInstance", ""), HookOrderSelect, 422, IssueRequired, "hookInstance"},
		{"hookInstance array", editJSON(t, base, "hookInstance", []any{"a"}), HookOrderSelect, 422, IssueStructure, "hookInstance"},
		// CDS Hooks 2.0: hookInstance is "a universally unique identifier (UUID) for this
		// particular hook call"; anything else is a bad request, PHI or 320,000 characters alike.
		{"hookInstance not a UUID", editJSON(t, base, "hookInstance", "run-42"), HookOrderSelect, 400, IssueInvalid, "hookInstance"},
		{"hookInstance a UUID with braces", editJSON(t, base, "hookInstance", "{d1577c69-dfbe-44ad-ba6d-3e05e953b2ea}"), HookOrderSelect, 400, IssueInvalid, "hookInstance"},
		{"hookInstance a UUID without dashes", editJSON(t, base, "hookInstance", "d1577c69dfbe44adba6d3e05e953b2ea"), HookOrderSelect, 400, IssueInvalid, "hookInstance"},
		{"hookInstance a name and birth date", editJSON(t, base, "hookInstance", "SMITH JOHN 1957-03-04"), HookOrderSelect, 400, IssueInvalid, "hookInstance"},
		{"hookInstance 320,000 characters", editJSON(t, base, "hookInstance", strings.Repeat("a", 320_000)), HookOrderSelect, 400, IssueInvalid, "hookInstance"},
		{"hookInstance not a UUID and patientId missing", editJSON(t, editJSON(t, base, "hookInstance", "x"), "context.patientId", deleteMember), HookOrderSelect, 400, IssueRequired, "context.patientId"},
		{"fhirServer longer than 2048", editJSON(t, base, "fhirServer", "https://ehr.example/"+strings.Repeat("a", 2048)), HookOrderSelect, 422, IssueInvalid, "fhirServer"},
		{"missing context", editJSON(t, base, "context", deleteMember), HookOrderSelect, 422, IssueRequired, "context"},
		{"context null", editJSON(t, base, "context", nil), HookOrderSelect, 422, IssueRequired, "context"},
		{"context string", editJSON(t, base, "context", "x"), HookOrderSelect, 422, IssueStructure, "context"},
		{"missing userId", editJSON(t, base, "context.userId", deleteMember), HookOrderSelect, 422, IssueRequired, "context.userId"},
		{"bare userId", editJSON(t, base, "context.userId", "pra1234"), HookOrderSelect, 422, IssueInvalid, "context.userId"},
		{"Patient userId", editJSON(t, base, "context.userId", "Patient/1"), HookOrderSelect, 422, IssueInvalid, "context.userId"},
		{"absolute userId", editJSON(t, base, "context.userId", "https://x/Practitioner/1"), HookOrderSelect, 422, IssueInvalid, "context.userId"},
		{"missing patientId", editJSON(t, base, "context.patientId", deleteMember), HookOrderSelect, 422, IssueRequired, "context.patientId"},
		{"numeric patientId", editJSON(t, base, "context.patientId", 15), HookOrderSelect, 422, IssueStructure, "context.patientId"},
		{"patientId of another type", editJSON(t, base, "context.patientId", "Group/7"), HookOrderSelect, 422, IssueInvalid, "context.patientId"},
		{"encounterId with a slash", editJSON(t, base, "context.encounterId", "a/b/c"), HookOrderSelect, 422, IssueInvalid, "context.encounterId"},
		{"missing draftOrders", editJSON(t, base, "context.draftOrders", deleteMember), HookOrderSelect, 422, IssueRequired, "context.draftOrders"},
		{"draftOrders array", editJSON(t, base, "context.draftOrders", []any{}), HookOrderSelect, 422, IssueStructure, "context.draftOrders"},
		{"draftOrders not a Bundle", editJSON(t, base, "context.draftOrders.resourceType", "Parameters"), HookOrderSelect, 422, IssueInvalid, "context.draftOrders.resourceType"},
		{"Bundle.entry not an array", editJSON(t, base, "context.draftOrders.entry", map[string]any{}), HookOrderSelect, 422, IssueStructure, "context.draftOrders.entry"},
		{"entry resource without resourceType", editJSON(t, base, "context.draftOrders.entry.0.resource.resourceType", deleteMember), HookOrderSelect, 422, IssueStructure, "context.draftOrders.entry[0].resource"},
		{"missing selections", editJSON(t, base, "context.selections", deleteMember), HookOrderSelect, 422, IssueRequired, "context.selections"},
		{"selections string", editJSON(t, base, "context.selections", "MedicationRequest/pat015-mr-azathioprine"), HookOrderSelect, 422, IssueStructure, "context.selections"},
		{"selections empty", editJSON(t, base, "context.selections", []any{}), HookOrderSelect, 422, IssueRequired, "context.selections"},
		{"selection not a string", editJSON(t, base, "context.selections", []any{5}), HookOrderSelect, 422, IssueStructure, "context.selections[0]"},
		{"selection not in draftOrders", editJSON(t, base, "context.selections.0", "MedicationRequest/other"), HookOrderSelect, 422, IssueInvalid, "context.selections[0]"},
		{"fhirAuthorization without fhirServer", editJSON(t, base, "fhirServer", deleteMember), HookOrderSelect, 422, IssueRequired, "fhirServer"},
		{"fhirServer not a URL", editJSON(t, base, "fhirServer", "ehr.example.org/fhir"), HookOrderSelect, 422, IssueInvalid, "fhirServer"},
		{"fhirAuthorization string", editJSON(t, base, "fhirAuthorization", "Bearer x"), HookOrderSelect, 422, IssueStructure, "fhirAuthorization"},
		{"no access_token", editJSON(t, base, "fhirAuthorization.access_token", deleteMember), HookOrderSelect, 422, IssueRequired, "fhirAuthorization.access_token"},
		{"token_type MAC", editJSON(t, base, "fhirAuthorization.token_type", "MAC"), HookOrderSelect, 422, IssueInvalid, "fhirAuthorization.token_type"},
		{"expires_in string", editJSON(t, base, "fhirAuthorization.expires_in", "300"), HookOrderSelect, 422, IssueStructure, "fhirAuthorization.expires_in"},
		{"expires_in fraction", editJSON(t, base, "fhirAuthorization.expires_in", 1.5), HookOrderSelect, 422, IssueInvalid, "fhirAuthorization.expires_in"},
		{"prefetch array", editJSON(t, base, "prefetch", []any{}), HookOrderSelect, 422, IssueStructure, "prefetch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeRequest(tt.body, tt.hook)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Status != tt.status {
				t.Errorf("Status = %d, want %d (%v)", e.Status, tt.status, e)
			}
			if len(e.Issues) == 0 {
				t.Fatal("no issues")
			}
			found := false
			for _, is := range e.Issues {
				if is.Expression == tt.wantPath && is.Code == tt.code {
					found = true
				}
			}
			if !found {
				t.Errorf("issues %+v lack {%s %q}", e.Issues, tt.code, tt.wantPath)
			}
			checkOperationOutcome(t, e)
		})
	}
}

// checkOperationOutcome asserts the rendered OperationOutcome is a FHIR R4
// OperationOutcome with one error issue per Issue.
func checkOperationOutcome(t *testing.T, e *Error) {
	t.Helper()
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity   string   `json:"severity"`
			Code       string   `json:"code"`
			Expression []string `json:"expression"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(e.OperationOutcome(), &oo); err != nil {
		t.Fatalf("OperationOutcome is not JSON: %v", err)
	}
	if oo.ResourceType != "OperationOutcome" || len(oo.Issue) != len(e.Issues) {
		t.Fatalf("OperationOutcome = %s", e.OperationOutcome())
	}
	for i, is := range oo.Issue {
		if is.Severity != "error" || is.Code == "" {
			t.Errorf("issue %d = %+v", i, is)
		}
		if e.Issues[i].Expression != "" && (len(is.Expression) != 1 || is.Expression[0] != e.Issues[i].Expression) {
			t.Errorf("issue %d expression = %v, want %q", i, is.Expression, e.Issues[i].Expression)
		}
	}
}

// TestDecodeRequestNoPHI checks that neither the error string nor the
// OperationOutcome echoes values from the body.
func TestDecodeRequestNoPHI(t *testing.T) {
	const phi = "SMITH-JOHN-1957"
	base := exampleRequests(t, "order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json")[0]
	bodies := [][]byte{
		editJSON(t, base, "context.patientId", "Group/"+phi),
		editJSON(t, base, "context.userId", phi),
		editJSON(t, base, "context.selections.0", "MedicationRequest/"+phi),
		editJSON(t, base, "hook", phi),
		editJSON(t, base, "fhirAuthorization.token_type", phi),
		editJSON(t, base, "fhirServer", phi),
		editJSON(t, base, "hookInstance", phi),
		editJSON(t, base, "fhirServer", "https://ehr.example/"+phi+strings.Repeat("a", 2048)),
		[]byte(`{"hook":"` + phi + `", `),
	}
	for i, b := range bodies {
		_, _, err := DecodeRequest(b, HookOrderSelect)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("body %d: err = %v", i, err)
		}
		if strings.Contains(e.Error(), phi) || strings.Contains(string(e.OperationOutcome()), phi) {
			t.Errorf("body %d: error echoes a value: %v", i, e)
		}
	}
}

// The 400 for a hookInstance that is not a UUID says what the spec requires, so an integrator can
// fix the client from the OperationOutcome alone.
func TestDecodeRequestHookInstanceOutcome(t *testing.T) {
	base := exampleRequests(t, "order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json")[0]
	_, _, err := DecodeRequest(editJSON(t, base, "hookInstance", "42"), HookOrderSelect)
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 {
		t.Fatalf("err = %v", err)
	}
	oo := string(e.OperationOutcome())
	if !strings.Contains(oo, `"expression":["hookInstance"]`) || !strings.Contains(oo, "must be a UUID") || !strings.Contains(oo, "universally unique identifier") {
		t.Fatalf("OperationOutcome = %s", oo)
	}
}

func TestDecodeRequestReportsEveryIssue(t *testing.T) {
	base := exampleRequests(t, "order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json")[0]
	body := editJSON(t, editJSON(t, base, "hookInstance", deleteMember), "context.patientId", deleteMember)
	_, _, err := DecodeRequest(body, HookOrderSelect)
	var e *Error
	if !errors.As(err, &e) || len(e.Issues) != 2 {
		t.Fatalf("err = %v, want 2 issues", err)
	}
	if !strings.Contains(e.Error(), "hookInstance") || !strings.Contains(e.Error(), "context.patientId") || !strings.Contains(e.Error(), "422") {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestPatientViewRequestIsNotAnOrderRequest(t *testing.T) {
	_, _, err := DecodeRequest(exampleFile(t, "request-patient-view__cds-hooks-2.0.1-spec.json"), HookOrderSelect)
	var e *Error
	if !errors.As(err, &e) || e.Status != 422 {
		t.Fatalf("err = %v, want 422", err)
	}
	want := map[string]bool{"hook": true, "context.draftOrders": true}
	for _, is := range e.Issues {
		delete(want, is.Expression)
	}
	if len(want) != 0 {
		t.Errorf("missing issues at %v in %v", want, e.Issues)
	}
}

func TestPrefetchValue(t *testing.T) {
	req := &Request{Prefetch: map[string]json.RawMessage{
		"null":        rawJSON(` null `),
		"patient":     rawJSON(`{"resourceType":"Patient","id":"p"}`),
		"oo":          rawJSON(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing"}]}`),
		"ooBundle":    rawJSON(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"OperationOutcome"}}]}`),
		"mixed":       rawJSON(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Coverage"}},{"resource":{"resourceType":"OperationOutcome"}}]}`),
		"emptyBundle": rawJSON(`{"resourceType":"Bundle","type":"searchset","total":0}`),
		"string":      rawJSON(`"Coverage/1"`),
		"noType":      rawJSON(`{"id":"x"}`),
		"empty":       rawJSON(``),
	}}
	tests := []struct {
		key  string
		want PrefetchState
		raw  bool
	}{
		{"absent", PrefetchAbsent, false},
		{"null", PrefetchNull, false},
		{"patient", PrefetchPresent, true},
		{"oo", PrefetchOutcome, true},
		{"ooBundle", PrefetchOutcome, true},
		{"mixed", PrefetchPresent, true},
		{"emptyBundle", PrefetchPresent, true},
		{"string", PrefetchAbsent, false},
		{"noType", PrefetchAbsent, false},
		{"empty", PrefetchAbsent, false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, raw := req.PrefetchValue(tt.key)
			if got != tt.want {
				t.Errorf("state = %v, want %v", got, tt.want)
			}
			if (raw != nil) != tt.raw {
				t.Errorf("raw = %s, want present=%v", raw, tt.raw)
			}
		})
	}
	var nilReq *Request
	if s, _ := nilReq.PrefetchValue("x"); s != PrefetchAbsent {
		t.Errorf("nil request: %v", s)
	}
	if PrefetchOutcome.String() != "outcome" || PrefetchState(9).String() != "unknown" {
		t.Error("PrefetchState.String")
	}
}

func TestFHIRAuthorizationRedacted(t *testing.T) {
	a := &FHIRAuthorization{AccessToken: "sekrit-token-value", TokenType: "Bearer", ExpiresIn: 30, Patient: "p-123"}
	for _, s := range []string{fmt.Sprintf("%v", a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a), fmt.Sprint(a.LogValue())} {
		if strings.Contains(s, "sekrit") || strings.Contains(s, "p-123") {
			t.Errorf("token or patient leaked: %s", s)
		}
		if !strings.Contains(s, "redacted") {
			t.Errorf("no redaction marker: %s", s)
		}
	}
}

func TestLooksLikeUUID(t *testing.T) {
	tests := map[string]bool{
		"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea":          true,
		"D1577C69-DFBE-44AD-BA6D-3E05E953B2EA":          true,
		"d1577c69dfbe44adba6d3e05e953b2ea":              false,
		"urn:uuid:d1577c69-dfbe-44ad-ba6d-3e05e953b2ea": false,
		"d1577c69-dfbe-44ad-ba6d-3e05e953b2eg":          false,
		"":                                              false,
	}
	for s, want := range tests {
		if got := LooksLikeUUID(s); got != want {
			t.Errorf("LooksLikeUUID(%q) = %v", s, got)
		}
	}
}

func TestDecodeFeedbackExamples(t *testing.T) {
	tests := []struct {
		file        string
		outcome     string
		accepted    []string
		reasonCode  string
		userComment bool
	}{
		{"feedback-accepted__cds-hooks-2.0.1-spec.json", OutcomeAccepted, []string{"e56e1945-20b3-4393-8503-a1a20fd73152"}, "", false},
		{"feedback-overridden-no-reason__cds-hooks-2.0.1-spec.json", OutcomeOverridden, nil, "", false},
		{"feedback-overridden-with-reason__cds-hooks-2.0.1-spec.json", OutcomeOverridden, nil, "d7ecf885", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fr, err := DecodeFeedback(exampleFile(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(fr.Feedback) != 1 {
				t.Fatalf("%d items", len(fr.Feedback))
			}
			f := fr.Feedback[0]
			if !LooksLikeUUID(f.Card) || f.Outcome != tt.outcome || f.OutcomeTime().IsZero() {
				t.Errorf("feedback = %+v", f)
			}
			var ids []string
			for _, a := range f.AcceptedSuggestions {
				ids = append(ids, a.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.accepted) {
				t.Errorf("accepted = %v, want %v", ids, tt.accepted)
			}
			code := ""
			if f.OverrideReason != nil && f.OverrideReason.Reason != nil {
				code = f.OverrideReason.Reason.Code
				if f.OverrideReason.Reason.Display != "" {
					t.Errorf("display invented: %+v", f.OverrideReason.Reason)
				}
			}
			if code != tt.reasonCode {
				t.Errorf("reason code = %q, want %q", code, tt.reasonCode)
			}
			if (f.OverrideReason != nil && f.OverrideReason.UserComment != "") != tt.userComment {
				t.Errorf("userComment presence wrong: %+v", f.OverrideReason)
			}
		})
	}
}

func TestDecodeFeedbackRules(t *testing.T) {
	good := exampleFile(t, "feedback-accepted__cds-hooks-2.0.1-spec.json")
	over := exampleFile(t, "feedback-overridden-with-reason__cds-hooks-2.0.1-spec.json")
	tests := []struct {
		name     string
		body     []byte
		status   int // 0: accepted
		wantPath string
	}{
		{"not JSON", []byte(`{"feedback":[`), 400, ""},
		{"array body", []byte(`[]`), 400, ""},
		{"no feedback member", []byte(`{}`), 422, "feedback"},
		{"feedback object", []byte(`{"feedback":{}}`), 422, "feedback"},
		{"empty batch", []byte(`{"feedback":[]}`), 0, ""},
		{"item not an object", []byte(`{"feedback":["x"]}`), 422, "feedback[0]"},
		{"F-3 card missing", editJSON(t, good, "feedback.0.card", deleteMember), 422, "feedback[0].card"},
		{"F-3 card number", editJSON(t, good, "feedback.0.card", 4), 422, "feedback[0].card"},
		{"F-4 outcome ignored", editJSON(t, good, "feedback.0.outcome", "ignored"), 422, "feedback[0].outcome"},
		{"F-4 outcome missing", editJSON(t, good, "feedback.0.outcome", deleteMember), 422, "feedback[0].outcome"},
		{"F-5 accepted without suggestions", editJSON(t, good, "feedback.0.acceptedSuggestions", deleteMember), 422, "feedback[0].acceptedSuggestions"},
		{"F-5 accepted with empty suggestions", editJSON(t, good, "feedback.0.acceptedSuggestions", []any{}), 422, "feedback[0].acceptedSuggestions"},
		{"F-5 suggestion without id", editJSON(t, good, "feedback.0.acceptedSuggestions.0", map[string]any{}), 422, "feedback[0].acceptedSuggestions[0].id"},
		{"F-5 suggestions not an array", editJSON(t, good, "feedback.0.acceptedSuggestions", "e56e"), 422, "feedback[0].acceptedSuggestions"},
		{"F-6 reason without display accepted", over, 0, ""},
		{"F-6 reason without system accepted", editJSON(t, over, "feedback.0.overrideReason.reason.system", deleteMember), 0, ""},
		{"F-6 reason without code", editJSON(t, over, "feedback.0.overrideReason.reason.code", deleteMember), 422, "feedback[0].overrideReason.reason.code"},
		{"F-6 reason a string", editJSON(t, over, "feedback.0.overrideReason.reason", "d7ecf885"), 422, "feedback[0].overrideReason.reason"},
		{"F-6 overrideReason a string", editJSON(t, over, "feedback.0.overrideReason", "busy"), 422, "feedback[0].overrideReason"},
		{"F-7 timestamp missing", editJSON(t, good, "feedback.0.outcomeTimestamp", deleteMember), 422, "feedback[0].outcomeTimestamp"},
		{"F-7 timestamp not RFC 3339", editJSON(t, good, "feedback.0.outcomeTimestamp", "2021-12-11 10:05:31"), 422, "feedback[0].outcomeTimestamp"},
		{"F-7 timestamp fractional", editJSON(t, good, "feedback.0.outcomeTimestamp", "1985-04-12T23:20:50.52Z"), 0, ""},
		{"F-7 timestamp offset", editJSON(t, good, "feedback.0.outcomeTimestamp", "2021-12-11T10:05:31+01:00"), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr, err := DecodeFeedback(tt.body)
			if tt.status == 0 {
				if err != nil || fr == nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Status != tt.status {
				t.Errorf("Status = %d, want %d", e.Status, tt.status)
			}
			found := false
			for _, is := range e.Issues {
				found = found || is.Expression == tt.wantPath
			}
			if !found {
				t.Errorf("issues %+v lack path %q", e.Issues, tt.wantPath)
			}
			checkOperationOutcome(t, e)
		})
	}
}

func TestDecodeFeedbackBatch(t *testing.T) {
	body := []byte(`{"feedback":[
	 {"card":"c1","outcome":"accepted","acceptedSuggestions":[{"id":"s1"},{"id":"s2"}],"outcomeTimestamp":"2026-01-02T03:04:05Z"},
	 {"card":"c1","outcome":"accepted","acceptedSuggestions":[{"id":"s1"}],"outcomeTimestamp":"2026-01-02T03:04:05Z"},
	 {"card":"c2","outcome":"overridden","overrideReason":{"userComment":"n/a"},"outcomeTimestamp":"2026-01-02T03:04:06Z"}]}`)
	fr, err := DecodeFeedback(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Feedback) != 3 || len(fr.Feedback[0].AcceptedSuggestions) != 2 || fr.Feedback[2].OverrideReason.UserComment != "n/a" {
		t.Errorf("decoded %+v", fr)
	}
}
