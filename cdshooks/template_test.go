package cdshooks

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestExpandTemplate(t *testing.T) {
	pract := &OrderContext{UserID: "Practitioner/pra1", PatientID: "pat 15&x", EncounterID: "enc1"}
	role := &OrderContext{UserID: "PractitionerRole/r1", PatientID: "p1"}
	patientUser := &OrderContext{UserID: "Patient/p1", PatientID: "p1"}
	relUser := &OrderContext{UserID: "RelatedPerson/rp1", PatientID: "p1"}
	tests := []struct {
		name    string
		tmpl    string
		ctx     *OrderContext
		want    string
		wantErr string // substring of the error; "" for success
	}{
		{"patient read", "Patient/{{context.patientId}}", role, "Patient/p1", ""},
		{"coverage search", "Coverage?patient={{context.patientId}}&status=active", role, "Coverage?patient=p1&status=active", ""},
		{"values are query-escaped", "Coverage?patient={{context.patientId}}", pract, "Coverage?patient=pat+15%26x", ""},
		{"whitespace inside braces", "Encounter/{{ context.encounterId }}", pract, "Encounter/enc1", ""},
		{"tab inside braces", "Encounter/{{\tcontext.encounterId\t}}", pract, "Encounter/enc1", ""},
		{"userId is escaped as a whole", "PractitionerRole?practitioner={{context.userId}}", pract, "PractitionerRole?practitioner=Practitioner%2Fpra1", ""},
		{"userPractitionerId", "Practitioner/{{userPractitionerId}}", pract, "Practitioner/pra1", ""},
		{"userPractitionerRoleId", "PractitionerRole/{{userPractitionerRoleId}}", role, "PractitionerRole/r1", ""},
		{"userPatientId", "Patient/{{userPatientId}}", patientUser, "Patient/p1", ""},
		{"userRelatedPersonId", "RelatedPerson/{{userRelatedPersonId}}", relUser, "RelatedPerson/rp1", ""},
		{"two tokens", "MedicationRequest?patient={{context.patientId}}&encounter={{context.encounterId}}", pract, "MedicationRequest?patient=pat+15%26x&encounter=enc1", ""},
		{"no tokens", "Metadata", pract, "Metadata", ""},
		{"single braces are literal", "Basic?code={x}", pract, "Basic?code={x}", ""},
		{"userPractitionerId for a role", "Practitioner/{{userPractitionerId}}", role, "", "no value"},
		{"userPractitionerRoleId for a practitioner", "PractitionerRole/{{userPractitionerRoleId}}", pract, "", "no value"},
		{"no encounter", "Encounter/{{context.encounterId}}", role, "", "no value"},
		{"nil context", "Patient/{{context.patientId}}", nil, "", "no value"},
		{"nested context path", "Medication/{{context.medication.id}}", pract, "", "first-level"},
		{"3.0 FHIRPath token", "Medication?_id={{context.draftOrders.entry.resource.ofType(MedicationRequest).medication.resolve().id}}", pract, "", "first-level"},
		{"selections are no token", "X?_id={{context.selections}}", pract, "", "not a CDS Hooks 2.0 token"},
		{"today() is 3.0", "Observation?date=gt{{today()}}", pract, "", "not a CDS Hooks 2.0 token"},
		{"unknown token", "Patient/{{patientId}}", pract, "", "not a CDS Hooks 2.0 token"},
		{"empty token", "Patient/{{ }}", pract, "", "empty"},
		{"unterminated", "Patient/{{context.patientId", pract, "", "unterminated"},
		{"case matters", "Patient/{{Context.PatientId}}", pract, "", "not a CDS Hooks 2.0 token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandTemplate(tt.tmpl, tt.ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q (got %q)", err, tt.wantErr, got)
				}
				if tt.ctx != nil && tt.ctx.PatientID != "" && strings.Contains(err.Error(), tt.ctx.PatientID) {
					t.Errorf("error echoes a context value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateTemplate(t *testing.T) {
	tests := []struct {
		tmpl string
		ok   bool
	}{
		{"Patient/{{context.patientId}}", true},
		{"Coverage?patient={{context.patientId}}&status=active", true},
		{"MedicationRequest?patient={{ context.patientId }}&status=active&_count=50", true},
		{"PractitionerRole/{{userPractitionerRoleId}}", true},
		{"", false},
		{"  ", false},
		{"Patient/{{context.patient.id}}", false},
		{"Coverage?patient={{context.patientId}} &status=active", false},
		{"https://ehr.example.org/fhir/Patient/{{context.patientId}}", false},
		{"/Patient/{{context.patientId}}", false},
		{"Patient/{{context.patientId", false},
	}
	for _, tt := range tests {
		if err := ValidateTemplate(tt.tmpl); (err == nil) != tt.ok {
			t.Errorf("ValidateTemplate(%q) = %v, want ok=%v", tt.tmpl, err, tt.ok)
		}
	}
}

func TestDiscoveryValidate(t *testing.T) {
	var spec Discovery
	if err := json.Unmarshal(exampleFile(t, "discovery__cds-hooks-2.0.1-spec.json"), &spec); err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(); err != nil {
		t.Errorf("spec discovery: %v", err)
	}
	if s, ok := spec.Service("order-echo", HookOrderSelect); !ok || s.Prefetch["medications"] == "" {
		t.Errorf("Service lookup = %+v, %v", s, ok)
	}
	if _, ok := spec.Service("order-echo", HookOrderSign); ok {
		t.Error("Service matched the wrong hook")
	}

	var crd Discovery
	if err := json.Unmarshal(exampleFile(t, "discovery__HL7-davinci-crd__CRDServices.json"), &crd); err != nil {
		t.Fatal(err)
	}
	err := crd.Validate()
	if err == nil || !strings.Contains(err.Error(), "first-level") {
		t.Errorf("CRD discovery uses 3.0 FHIRPath tokens; Validate = %v", err)
	}

	ours := Discovery{Services: []Service{
		{Hook: HookOrderSelect, ID: "rx-value", Title: "t", Description: "d", Prefetch: map[string]string{
			"patient": "Patient/{{context.patientId}}", "coverage": "Coverage?patient={{context.patientId}}&status=active"}},
		{Hook: HookOrderSign, ID: "rx-value", Description: "d"}, // same id, other hook: allowed
	}}
	if err := ours.Validate(); err != nil {
		t.Errorf("valid discovery: %v", err)
	}
	bad := []struct {
		name string
		s    Service
	}{
		{"no hook", Service{ID: "a", Description: "d"}},
		{"no id", Service{Hook: HookOrderSelect, Description: "d"}},
		{"id with slash", Service{Hook: HookOrderSelect, ID: "a/b", Description: "d"}},
		{"no description", Service{Hook: HookOrderSelect, ID: "a"}},
		{"duplicate", Service{Hook: HookOrderSelect, ID: "rx-value", Description: "d"}},
		{"empty prefetch key", Service{Hook: HookOrderSign, ID: "b", Description: "d", Prefetch: map[string]string{"": "Patient/{{context.patientId}}"}}},
		{"bad template", Service{Hook: HookOrderSign, ID: "b", Description: "d", Prefetch: map[string]string{"x": "Patient/{{context.x.y}}"}}},
	}
	for _, tt := range bad {
		d := Discovery{Services: append(append([]Service(nil), ours.Services...), tt.s)}
		if err := d.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", tt.name)
		}
	}
}

func TestEmptyListsSerialiseAsArrays(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{Response{}, `{"cards":[]}`},
		{&Response{}, `{"cards":[]}`},
		{Discovery{}, `{"services":[]}`},
		{Response{Cards: []Card{}, SystemActions: []Action{}}, `{"cards":[]}`},
		{Service{Hook: "order-sign", ID: "x", Description: "d"}, `{"hook":"order-sign","description":"d","id":"x"}`},
		{Suggestion{Label: "l"}, `{"label":"l"}`},
		{Link{Label: "l", URL: "https://x", Type: LinkAbsolute}, `{"label":"l","url":"https://x","type":"absolute"}`},
		{Feedback{Card: "c", Outcome: OutcomeOverridden, OutcomeTimestamp: "2020-12-11T00:00:00Z"}, `{"card":"c","outcome":"overridden","outcomeTimestamp":"2020-12-11T00:00:00Z"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%T: got %s, want %s", tt.v, b, tt.want)
		}
	}
}
