package gateway

import (
	"encoding/json"
	"reflect"
	"testing"

	"valuerx/demo"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
)

// jsonfastTargets are the types the hook decodes with jsonfast, each as a constructor of a fresh
// value to decode into.
var jsonfastTargets = []func() any{
	func() any { return new(medRequest) },
	func() any { return new(historyDoc) },
	func() any { return new(medicationDoc) },
	func() any { return new(coverageDoc) },
	func() any { return new(conditionDoc) },
	func() any { return new(dispenseDoc) },
	func() any { return new(map[string]json.RawMessage) },
	func() any { return new(any) },
	func() any { return new([]json.RawMessage) },
}

// jsonfast.Unmarshal stands in for encoding/json.Unmarshal in the hook (internal/jsonfast): on any
// input and for every type the hook decodes, both succeed or both fail, and on success they
// decode the same value. Seeds: every resource of the demo requests and patients.
func FuzzJSONFastMatchesEncodingJSON(f *testing.F) {
	for _, name := range demo.Requests() {
		b, _ := demo.Request(name)
		f.Add(b)
		var m struct {
			Context struct {
				DraftOrders json.RawMessage `json:"draftOrders"`
			} `json:"context"`
			Prefetch map[string]json.RawMessage `json:"prefetch"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		lists := []json.RawMessage{m.Context.DraftOrders}
		for _, v := range m.Prefetch {
			lists = append(lists, v)
		}
		for _, l := range lists {
			res, _, _ := fhir.ValidBundleResources(l)
			for _, r := range res {
				f.Add([]byte(r))
			}
		}
	}
	f.Add([]byte(`{"resourceType":"MedicationRequest","ResourceType":"X","id":1}`))
	f.Add([]byte(`{"resourcetype":"MedicationRequest","dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":6,"unit":"mg/kg"}}]}],"dosageInstruction":null}`))
	f.Add([]byte("{\"status\":\"act\xffive\",\"id\":\"\\ud800\"}"))
	f.Add([]byte(`{"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1"}]},"medicationCodeableConcept":{"text":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range jsonfastTargets {
			want, got := mk(), mk()
			errWant := json.Unmarshal(data, want)
			errGot := jsonfast.Unmarshal(data, got)
			if (errWant == nil) != (errGot == nil) {
				t.Fatalf("%T: encoding/json error %v, jsonfast error %v", want, errWant, errGot)
			}
			if errWant == nil && !reflect.DeepEqual(want, got) {
				t.Fatalf("%T: decoded differently:\nencoding/json: %#v\njsonfast:      %#v", want, want, got)
			}
		}
	})
}
