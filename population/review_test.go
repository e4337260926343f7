package population

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"valuerx/measures"
)

// TestReviewPopulation: the pharmacist review's population patients (review/pop), each its own
// contract, measured at the end of 2026, so the worklist and the order-sign cards agree.
//   - K1 atorvastatin 40 mg and 10 mg, both x90, on Jan 5, Apr 5 and Jul 4: one per date counts
//     (H3), Jan 5-Oct 1 = 270 of 361 days (Jan 5-Dec 31): 0.748, not met (shifting the second of
//     each pair forward gave 361 of 361, met).
//   - K2 metformin Jan 5 x30, Apr 1 x30 and an "Insulin Syringe": in PDC-DR, not excluded (H1).
//   - K4 Wegovy fills only: in neither PDC-DR nor SUPD (Critical 2).
//   - K5 metformin Jan 5, Apr 5 and CRESTOR 10MG TAB by NDC on Feb 1: SUPD met (Critical 1).
//   - K6 losartan Jan 5, Apr 1 and ENTRESTO by NDC: excluded from PDC-RASA (H2).
//   - K7 metformin Jan 5, Apr 5 and Z51.5 palliative care: excluded from SUPD (M2).
func TestReviewPopulation(t *testing.T) {
	var pat, cov, disp []string
	fill := func(id, day string, supply int, concept string) {
		disp = append(disp, fmt.Sprintf(`{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/%s"},"medicationCodeableConcept":%s,"daysSupply":{"value":%d},"whenHandedOver":"%s"}`, id, concept, supply, day))
	}
	text := func(s string) string { return `{"text":"` + s + `"}` }
	ndc := func(code, display string) string {
		return `{"coding":[{"system":"http://hl7.org/fhir/sid/ndc","code":"` + code + `","display":"` + display + `"}]}`
	}
	for _, id := range []string{"K1", "K2", "K4", "K5", "K6", "K7"} {
		pat = append(pat, `{"resourceType":"Patient","id":"`+id+`","birthDate":"1960-01-01"}`)
		cov = append(cov, `{"resourceType":"Coverage","beneficiary":{"reference":"Patient/`+id+`"},"payor":[{"identifier":{"value":"`+id+`"}}]}`)
	}
	for _, d := range []string{"2026-01-05", "2026-04-05", "2026-07-04"} {
		fill("K1", d, 90, text("atorvastatin 40 MG Oral Tablet"))
		fill("K1", d, 90, text("atorvastatin 10 MG Oral Tablet"))
	}
	fill("K2", "2026-01-05", 30, text("metformin hydrochloride 500 MG Oral Tablet"))
	fill("K2", "2026-04-01", 30, text("metformin hydrochloride 500 MG Oral Tablet"))
	fill("K2", "2026-05-01", 30, text("Insulin Syringe 1 mL 31G x 5/16in"))
	fill("K4", "2026-01-05", 28, `{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"2553506","display":"semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]"}]}`)
	fill("K4", "2026-02-05", 28, `{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"2553506","display":"semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]"}]}`)
	fill("K5", "2026-01-05", 90, text("metformin hydrochloride 500 MG Oral Tablet"))
	fill("K5", "2026-04-05", 90, text("metformin hydrochloride 500 MG Oral Tablet"))
	fill("K5", "2026-02-01", 90, ndc("00310075190", "CRESTOR 10MG TAB"))
	fill("K6", "2026-01-05", 30, text("losartan potassium 50 MG Oral Tablet"))
	fill("K6", "2026-04-01", 30, text("losartan potassium 50 MG Oral Tablet"))
	fill("K6", "2026-06-01", 30, ndc("00078065920", "ENTRESTO 49-51 MG TABLET"))
	fill("K7", "2026-01-05", 90, text("metformin hydrochloride 500 MG Oral Tablet"))
	fill("K7", "2026-04-05", 90, text("metformin hydrochloride 500 MG Oral Tablet"))
	cond := `{"resourceType":"Condition","subject":{"reference":"Patient/K7"},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"Z51.5"}]},"onsetDateTime":"2026-03-01"}`
	var in []Input
	for i, body := range []string{strings.Join(pat, "\n"), strings.Join(cov, "\n"), strings.Join(disp, "\n"), cond} {
		in = append(in, Input{Name: string(rune('a' + i)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }})
	}
	rep, err := Run(context.Background(), in, Options{Year: 2026, Workers: 2, AsOf: measures.Date(2027, time.January, 1)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tl := range rep.Tallies {
		got[tl.Contract+" "+tl.Measure.String()] = fmt.Sprintf("den %d num %d excl %d", tl.Denominator, tl.Numerator, tl.Excluded)
	}
	want := map[string]string{
		"K1 PDC-STA":  "den 1 num 0 excl 0",
		"K2 PDC-DR":   "den 1 num 0 excl 0",
		"K2 SUPD":     "den 1 num 0 excl 0",
		"K4 PDC-DR":   "den 0 num 0 excl 0",
		"K4 SUPD":     "den 0 num 0 excl 0",
		"K5 SUPD":     "den 1 num 1 excl 0",
		"K6 PDC-RASA": "den 0 num 0 excl 1",
		"K7 SUPD":     "den 0 num 0 excl 1",
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			g = "den 0 num 0 excl 0" // no tally row: nobody counted
		}
		if g != w {
			t.Errorf("%s: %s, want %s", k, g, w)
		}
	}
}
