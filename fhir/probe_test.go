package fhir

import (
	"bytes"
	"encoding/json"
	"testing"
)

// referenceResourceType is ResourceType as it was before resourceTypeValid: a full decode.
func referenceResourceType(raw json.RawMessage) string {
	var probe struct {
		ResourceType json.RawMessage `json:"resourceType"`
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return ""
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(probe.ResourceType, &s); err != nil {
		return ""
	}
	return s
}

var probeSeeds = []string{
	`{"resourceType":"Patient","id":"p"}`,
	` {"id":"p", "resourceType" : "Coverage" } `,
	`{"a":{"resourceType":"Nested"},"b":[1,"]",{"c":"}"}],"resourceType":"Bundle"}`,
	`{"resourceType":"A","resourceType":"B"}`,
	`{"resourceType":"A","RESOURCETYPE":7}`,
	`{"ResourceType":"Folded"}`,
	`{"resourc\u0065Type":"Escaped"}`,
	`{"resourceType":"Pat\u0069ent"}`,
	`{"resourceType":"with \" quote"}`,
	`{"resourceType":null}`,
	`{"resourceType":12}`,
	`{"reſourceType":"LongS"}`,
	`{"resourceType":"x"`,
	`{"resourceType":"x"} trailing`,
	`[{"resourceType":"Patient"}]`,
	`{}`,
	``,
	`"resourceType"`,
	`{"x":"\\","resourceType":"AfterBackslash"}`,
	`{"x":-1.5e3,"y":true,"z":null,"resourceType":"Numbers"}`,
}

func TestResourceTypeValidMatchesDecode(t *testing.T) {
	for _, s := range probeSeeds {
		want := referenceResourceType(json.RawMessage(s))
		if got := ResourceType(json.RawMessage(s)); got != want {
			t.Errorf("ResourceType(%s) = %q, want %q", s, got, want)
		}
	}
}

func FuzzResourceTypeValid(f *testing.F) {
	for _, s := range probeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := referenceResourceType(b)
		if got := ResourceType(b); got != want {
			t.Fatalf("ResourceType(%q) = %q, want %q", b, got, want)
		}
	})
}

func BenchmarkResourceType(b *testing.B) {
	raw := json.RawMessage(`{"resourceType":"MedicationRequest","id":"m","status":"draft","intent":"order",` +
		`"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1922509"}]},` +
		`"subject":{"reference":"Patient/p"},"dosageInstruction":[{"text":"420 mg IV every 3 weeks","doseAndRate":[{"doseQuantity":{"value":420,"unit":"mg"}}]}]}`)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = referenceResourceType(raw)
		}
	})
	b.Run("probe", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = ResourceType(raw)
		}
	})
}
