package gateway

import (
	"encoding/json"
	"slices"
	"testing"

	"valuerx/internal/medindex"
	"valuerx/measures"
)

// TestAdherenceMedReadersSkipOnlyWhatDecodingWouldSkip: the adherence readers of the medication
// list skip entries by their classification (medindex) before decoding; their answers must be
// those of decoding every entry, whatever the entry's shape. The oracle decodes every entry, as
// the readers did before.
func TestAdherenceMedReadersSkipOnlyWhatDecodingWouldSkip(t *testing.T) {
	rx := "http://www.nlm.nih.gov/research/umls/rxnorm"
	meds := []string{
		`{"resourceType":"MedicationRequest","status":"active","medicationCodeableConcept":{"text":"Unknown cream"}}`,
		`{"resourceType":"MedicationRequest","status":"completed","medicationCodeableConcept":{"text":"Old cream"}}`,
		`{"resourceType":"MedicationRequest","Status":"on-hold","medicationCodeableConcept":{"text":"Folded status member"}}`,
		`{"resourceType":"MedicationRequest","status":"active","authoredOn":5,"medicationCodeableConcept":{"text":"Bad date, still read"}}`,
		`{"resourceType":"MedicationRequest","status":"stopped","status":"active","medicationCodeableConcept":{"text":"Repeated status"}}`,
		`{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"text":"Not a request"}}`,
		`{"resourceType":"MedicationRequest","status":5,"medicationCodeableConcept":{"text":"Status a number"}}`,
		`{"resourceType":"MedicationRequest","status":"active","medicationCodeableConcept":{"coding":[{"system":"` + rx + `","code":"617312","display":"atorvastatin 10 MG Oral Tablet"}]}}`,
		`null`,
	}
	raws := make([]json.RawMessage, len(meds))
	for i, m := range meds {
		raws[i] = json.RawMessage(m)
	}
	vs := measures.DefaultValueSet()
	oracle := func() (unknown []string, statin string) {
		for _, raw := range raws {
			var mr struct {
				ResourceType              string     `json:"resourceType"`
				Status                    string     `json:"status"`
				MedicationCodeableConcept medConcept `json:"medicationCodeableConcept"`
			}
			if json.Unmarshal(raw, &mr) != nil || mr.ResourceType != "MedicationRequest" || (mr.Status != "active" && mr.Status != "on-hold") {
				continue
			}
			cls, known := classesOf(vs, &mr.MedicationCodeableConcept)
			if !known {
				unknown = append(unknown, mr.MedicationCodeableConcept.name())
			}
			if statin == "" && containsClass(cls, measures.ClassStatin) {
				statin = mr.MedicationCodeableConcept.name()
			}
		}
		return unknown, statin
	}
	entries := medindex.ClassifyResources(raws)
	wantUnknown, wantStatin := oracle()
	if got := unclassifiedMeds(vs, entries); !slices.Equal(got, wantUnknown) {
		t.Errorf("unclassifiedMeds = %q, decoding every entry gives %q", got, wantUnknown)
	}
	if len(wantUnknown) != 4 {
		t.Errorf("oracle found %d unknown medications (%q), the table expects 4: active, on-hold (folded key), bad date, repeated status (last wins)", len(wantUnknown), wantUnknown)
	}
	if got := activeStatin(entries); got != clipText(wantStatin, 60) || got == "" {
		t.Errorf("activeStatin = %q, decoding every entry gives %q", got, wantStatin)
	}
}
