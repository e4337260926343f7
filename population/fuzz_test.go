package population

import (
	"bytes"
	"context"
	"io"
	"testing"

	"valuerx/measures"
)

// FuzzRun feeds arbitrary NDJSON as each resource type's file. A run never panics or fails on bad
// lines: it counts them; every fill it keeps belongs to a patient, and the tallies are
// consistent (numerator <= denominator, below counts within the denominator).
func FuzzRun(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","id":"a","birthDate":"1950-01-01"}`),
		[]byte(`{"resourceType":"Coverage","beneficiary":{"reference":"Patient/a"},"payor":[{"identifier":{"value":"H1"}}],"period":{"start":"2026-01-01","end":"2026-06-30"}}`),
		[]byte(`{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/a"},"medicationCodeableConcept":{"text":"atorvastatin"},"daysSupply":{"value":30},"whenHandedOver":"2026-01-05"}
{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/a"},"medicationCodeableConcept":{"coding":[{"code":"83367"}]},"daysSupply":{"value":90.4},"whenHandedOver":"2026-02-05T10:00:00Z"}`),
		[]byte(`{"resourceType":"Condition","subject":{"reference":"Patient/a"},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"N18.6"}]}}`),
		[]byte(`{"resourceType":"Encounter","status":"finished","class":{"code":"IMP"},"subject":{"reference":"Patient/a"},"period":{"start":"2026-03-01"}}`))
	f.Fuzz(func(t *testing.T, pat, cov, disp, cond, enc []byte) {
		var in []Input
		for i, b := range [][]byte{pat, cov, disp, cond, enc} {
			name := []string{"Patient", "Coverage", "MedicationDispense", "Condition", "Encounter"}[i]
			in = append(in, Input{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }})
		}
		rep, err := Run(context.Background(), in, Options{Year: 2026, Workers: 2, MaxLine: 1 << 12})
		if err != nil {
			t.Fatalf("run failed on bad input: %v", err)
		}
		if rep.AsOf < measures.YearStart(2026)+1 || rep.AsOf > measures.YearEnd(2026)+1 {
			t.Fatalf("as of %s", rep.AsOf)
		}
		for _, tl := range rep.Tallies {
			if tl.Numerator > tl.Denominator || tl.Numerator+tl.BelowRedeemable+tl.BelowLost != tl.Denominator {
				t.Fatalf("inconsistent tally %+v", tl)
			}
		}
		if len(rep.Worklist) > rep.Patients*int(measures.NumMeasures) {
			t.Fatalf("worklist %d rows for %d patients", len(rep.Worklist), rep.Patients)
		}
	})
}
