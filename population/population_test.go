package population

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"valuerx/measures"
	"valuerx/measures/synth"
)

type files map[string]*bytes.Buffer

func (f files) inputs(extra ...string) []Input {
	var in []Input
	for _, name := range []string{"Encounter", "MedicationDispense", "Condition", "Coverage", "Patient"} { // dispenses before patients on purpose
		b := f[name].Bytes()
		in = append(in, Input{Name: name + ".ndjson", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }})
	}
	for i, e := range extra {
		in = append(in, Input{Name: "extra" + string(rune('0'+i)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(e)), nil }})
	}
	return in
}

func population(t testing.TB, cfg synth.Config) (files, []synth.Truth) {
	t.Helper()
	f := files{}
	for _, k := range []string{"Patient", "Coverage", "MedicationDispense", "Condition", "Encounter"} {
		f[k] = &bytes.Buffer{}
	}
	var truth []synth.Truth
	_, err := synth.Generate(cfg, synth.Writers{Patient: f["Patient"], Coverage: f["Coverage"], MedicationDispense: f["MedicationDispense"], Condition: f["Condition"], Encounter: f["Encounter"]},
		func(tr synth.Truth) { truth = append(truth, tr) })
	if err != nil {
		t.Fatal(err)
	}
	return f, truth
}

type key struct {
	contract string
	m        measures.Measure
}

// expected tallies each generated patient's own history with the engine directly, at asOf.
func expected(truth []synth.Truth, asOf measures.Day) map[key]Tally {
	out := map[key]Tally{}
	for i := range truth {
		tr := &truth[i]
		for _, m := range measures.Adherence {
			td := measures.PDCToDate(&tr.Patient, 2026, m, asOf)
			t := out[key{tr.Contract, m}]
			switch {
			case td.Excluded:
				t.Excluded++
			case td.InDenominator:
				t.Denominator++
				if td.PDC() >= 0.8-1e-12 && td.Covered*5 >= td.Days*4 {
					t.Numerator++
				} else if td.Redeemable {
					t.BelowRedeemable++
				} else {
					t.BelowLost++
				}
			}
			out[key{tr.Contract, m}] = t
		}
		s := measures.SUPDAt(&tr.Patient, 2026, asOf)
		t := out[key{tr.Contract, measures.SUPD}]
		switch {
		case s.Excluded:
			t.Excluded++
		case s.InDenominator:
			t.Denominator++
			if s.Met {
				t.Numerator++
			} else if asOf <= s.End {
				t.BelowRedeemable++
			} else {
				t.BelowLost++
			}
		}
		out[key{tr.Contract, measures.SUPD}] = t
	}
	return out
}

func compare(t *testing.T, rep *Report, want map[key]Tally) {
	t.Helper()
	got := map[key]Tally{}
	for _, tl := range rep.Tallies {
		k := key{tl.Contract, tl.Measure}
		tl.Contract, tl.Measure, tl.Weight = "", 0, 0
		got[k] = tl
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s %s: run %+v, sum of patients %+v", k.contract, k.m, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && g != (Tally{}) {
			t.Errorf("%s %s: run has %+v, no patient does", k.contract, k.m, g)
		}
	}
}

func TestRatesEqualSumOfPatients(t *testing.T) {
	f, truth := population(t, synth.Config{Year: 2026, Patients: 3000, Seed: 42, Through: measures.Date(2026, time.September, 30)})
	rep, err := Run(context.Background(), f.inputs(), Options{Year: 2026, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.AsOf != measures.Date(2026, time.October, 1) {
		t.Errorf("as of %s, want the day after the last dispense, 2026-10-01", rep.AsOf)
	}
	if rep.Patients != len(truth) || rep.Counts.Patients != len(truth) {
		t.Fatalf("patients %d (%d read), generated %d", rep.Patients, rep.Counts.Patients, len(truth))
	}
	want := expected(truth, rep.AsOf)
	compare(t, rep, want)
	den := 0
	for _, tl := range rep.Tallies {
		den += tl.Denominator
	}
	if den < 3000 {
		t.Errorf("only %d denominator places: the test proves little", den)
	}
	// The worklist is exactly the redeemable patients below threshold, ordered by value.
	below := 0
	for _, tl := range rep.Tallies {
		below += tl.BelowRedeemable
	}
	if len(rep.Worklist) != below || below == 0 {
		t.Fatalf("worklist %d rows, %d below and redeemable", len(rep.Worklist), below)
	}
	for i, it := range rep.Worklist {
		if it.Measure != measures.SUPD && (it.GapDaysLeft < 0 || it.Covered*5 >= it.Days*4) {
			t.Fatalf("row %d is not below 80 %% and redeemable: %+v", i, it)
		}
		if i > 0 && it.Value > rep.Worklist[i-1].Value {
			t.Fatalf("row %d value %.4f above row %d", i, it.Value, i-1)
		}
	}
}

func TestYearEndIsTheYearsMeasure(t *testing.T) {
	f, truth := population(t, synth.Config{Year: 2026, Patients: 1500, Seed: 5})
	rep, err := Run(context.Background(), f.inputs(), Options{Year: 2026, Workers: 2, AsOf: measures.Date(2027, time.January, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// At January 1 of the next year the PDC to date is the year's PDC: the rates equal what
	// measures.Evaluate says for the year.
	num := map[key]int{}
	for i := range truth {
		for m, r := range measures.Evaluate(&truth[i].Patient, 2026) {
			if r.InDenominator && r.Met {
				num[key{truth[i].Contract, measures.Measure(m)}]++
			}
		}
	}
	for _, tl := range rep.Tallies {
		if tl.Numerator != num[key{tl.Contract, tl.Measure}] {
			t.Errorf("%s %s: numerator %d, year's measure %d", tl.Contract, tl.Measure, tl.Numerator, num[key{tl.Contract, tl.Measure}])
		}
		if tl.BelowRedeemable != 0 {
			t.Errorf("%s %s: %d redeemable after the year", tl.Contract, tl.Measure, tl.BelowRedeemable)
		}
	}
}

func TestShardsAddUp(t *testing.T) {
	f, _ := population(t, synth.Config{Year: 2026, Patients: 1200, Seed: 9, Through: measures.Date(2026, time.August, 31)})
	full, err := Run(context.Background(), f.inputs(), Options{Year: 2026, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	sum := map[key]Tally{}
	patients := 0
	for s := range 3 {
		rep, err := Run(context.Background(), f.inputs(), Options{Year: 2026, Workers: 2, Shard: s, Shards: 3, AsOf: full.AsOf})
		if err != nil {
			t.Fatal(err)
		}
		patients += rep.Patients
		for _, tl := range rep.Tallies {
			k := key{tl.Contract, tl.Measure}
			x := sum[k]
			x.Denominator += tl.Denominator
			x.Numerator += tl.Numerator
			x.Excluded += tl.Excluded
			x.BelowRedeemable += tl.BelowRedeemable
			x.BelowLost += tl.BelowLost
			sum[k] = x
		}
	}
	if patients != full.Patients {
		t.Errorf("shards hold %d patients, the full run %d", patients, full.Patients)
	}
	compare(t, full, sum)
}

func TestBadInput(t *testing.T) {
	f, _ := population(t, synth.Config{Year: 2026, Patients: 50, Seed: 3})
	extra := strings.Join([]string{
		`{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/nobody"},"medicationCodeableConcept":{"text":"atorvastatin 10 MG Oral Tablet"},"daysSupply":{"value":30},"whenHandedOver":"2026-02-01"}`,
		`{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"text":"amoxicillin 500 MG"},"daysSupply":{"value":10},"whenHandedOver":"2026-02-01"}`,
		`{"resourceType":"MedicationDispense","status":"entered-in-error","subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"text":"atorvastatin"},"daysSupply":{"value":30},"whenHandedOver":"2026-02-01"}`,
		`{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"text":"atorvastatin"},"whenHandedOver":"2026-02-01"}`,
		`{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"text":"atorvastatin"},"daysSupply":{"value":30},"whenHandedOver":"2025-02-01"}`,
		`{"resourceType":"MedicationDispense", not json`,
		`[1,2,3]`,
		`{"resourceType":"Patient","id":"x"}`,
	}, "\n")
	rep, err := Run(context.Background(), f.inputs(extra, `{"resourceType":"Practitioner","id":"d1"}`), Options{Year: 2026, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Counts
	if c.UnknownPatient != 1 || c.NotMeasured < 1 || c.NotCompleted != 1 || c.NoSupply != 1 || c.OtherYear != 1 || c.BadLines != 3 || c.SkippedFiles != 1 {
		t.Errorf("counts %+v", c)
	}
	if _, err := Run(context.Background(), nil, Options{Year: 12}); err == nil {
		t.Error("year 12 accepted")
	}
	openFails := []Input{{Name: "x.ndjson", Open: func() (io.ReadCloser, error) { return nil, io.ErrUnexpectedEOF }}}
	if _, err := Run(context.Background(), openFails, Options{Year: 2026}); err == nil || !strings.Contains(err.Error(), "x.ndjson") {
		t.Errorf("open error: %v", err)
	}
}

func TestReportWriters(t *testing.T) {
	f, _ := population(t, synth.Config{Year: 2026, Patients: 300, Seed: 11, Through: measures.Date(2026, time.June, 30)})
	rep, err := Run(context.Background(), f.inputs(), Options{Year: 2026, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	var rates, js, work bytes.Buffer
	if err := rep.WriteRatesCSV(&rates); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteRatesJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteWorklistCSV(&work); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(rates.String()), "\n")
	if len(lines) != 1+len(rep.Tallies) || !strings.HasPrefix(lines[0], "contract,measure,") || !strings.Contains(lines[1], ",2026-07-01") {
		t.Errorf("rates csv:\n%s", rates.String())
	}
	if !strings.Contains(js.String(), `"asOf": "2026-07-01"`) {
		t.Errorf("rates json: %s", js.String())
	}
	wl := strings.Split(strings.TrimSpace(work.String()), "\n")
	if len(wl) != 1+len(rep.Worklist) || !strings.HasPrefix(wl[1], "1,") {
		t.Errorf("worklist csv: %d lines for %d rows", len(wl), len(rep.Worklist))
	}
}

// A CARIN Blue Button pharmacy claim is a fill like the dispense it stands for: a patient with
// the same history as claims and as dispenses has the same measures.
func TestPharmacyClaims(t *testing.T) {
	patient := `{"resourceType":"Patient","id":"a","birthDate":"1950-01-01"}` + "\n" + `{"resourceType":"Patient","id":"b","birthDate":"1950-01-01"}`
	cov := `{"resourceType":"Coverage","beneficiary":{"reference":"Patient/a"},"payor":[{"identifier":{"value":"H1"}}]}` + "\n" +
		`{"resourceType":"Coverage","beneficiary":{"reference":"Patient/b"},"payor":[{"identifier":{"value":"H1"}}]}`
	var disp, eob []string
	for _, day := range []string{"2026-01-05", "2026-02-04", "2026-04-20"} {
		disp = append(disp, `{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/a"},"medicationCodeableConcept":{"text":"atorvastatin 20 MG Oral Tablet"},"daysSupply":{"value":30},"whenHandedOver":"`+day+`"}`)
		eob = append(eob, `{"resourceType":"ExplanationOfBenefit","status":"active","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"pharmacy"}]},"patient":{"reference":"Patient/b"},`+
			`"supportingInfo":[{"sequence":1,"category":{"coding":[{"system":"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType","code":"dayssupply"}]},"valueQuantity":{"value":30}}],`+
			`"item":[{"sequence":1,"productOrService":{"coding":[{"system":"http://hl7.org/fhir/sid/ndc","code":"00071015523","display":"atorvastatin 20 MG Oral Tablet"}]},"servicedDate":"`+day+`"}]}`)
	}
	eob = append(eob, `{"resourceType":"ExplanationOfBenefit","status":"active","type":{"coding":[{"code":"professional"}]},"patient":{"reference":"Patient/b"}}`,
		`{"resourceType":"ExplanationOfBenefit","status":"active","type":{"coding":[{"code":"pharmacy"}]},"patient":{"reference":"Patient/b"},"item":[{"productOrService":{"coding":[{"system":"http://hl7.org/fhir/sid/ndc","code":"83367"}]},"servicedDate":"2026-05-01"}],"supportingInfo":[{"category":{"coding":[{"code":"dayssupply"}]},"valueQuantity":{"value":30}}]}`)
	in := []Input{}
	for i, body := range []string{patient, cov, strings.Join(disp, "\n"), strings.Join(eob, "\n")} {
		in = append(in, Input{Name: string(rune('a' + i)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }})
	}
	rep, err := Run(context.Background(), in, Options{Year: 2026, Workers: 2, AsOf: measures.Date(2027, time.January, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// Both patients: 90 of 361 days (Jan 5-Dec 31) covered, in the denominator, not adherent.
	for _, tl := range rep.Tallies {
		if tl.Measure == measures.PDCStatin && (tl.Denominator != 2 || tl.Numerator != 0) {
			t.Errorf("statin tally %+v, want both patients in the denominator", tl)
		}
	}
	// The NDC-only claim whose "code" happens to equal an RxCUI is not read as RxNorm; the medical
	// claim is not a fill.
	if rep.Counts.Dispenses != 7 || rep.Counts.NotMeasured != 1 || rep.Counts.Fills != 6 {
		t.Errorf("counts %+v", rep.Counts)
	}
}

// A dispense dated after the run's date has not happened: it is dropped and counted, and the
// default as-of date stays the day after the latest real dispense. A filled 90 days on 1 January,
// 1 April and 1 July (covered through 28 September); F's lisinopril is dated 20 December, the run
// is on 1 October. As of 2 July A is covered every day (met); as of 21 December, as the mistyped
// date made it, 270 of 354 days (76 %).
func TestFutureDispenseDoesNotMoveAsOf(t *testing.T) {
	var disp []string
	for _, d := range []string{"2026-01-01", "2026-04-01", "2026-07-01"} {
		disp = append(disp, `{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/A"},"medicationCodeableConcept":{"text":"atorvastatin 20 MG Oral Tablet"},"daysSupply":{"value":90},"whenHandedOver":"`+d+`"}`)
	}
	disp = append(disp, `{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/F"},"medicationCodeableConcept":{"text":"lisinopril 10 MG Oral Tablet"},"daysSupply":{"value":30},"whenHandedOver":"2026-12-20"}`)
	pat := `{"resourceType":"Patient","id":"A","birthDate":"1960-01-01"}` + "\n" + `{"resourceType":"Patient","id":"F","birthDate":"1960-01-01"}`
	var in []Input
	for i, body := range []string{pat, strings.Join(disp, "\n")} {
		in = append(in, Input{Name: string(rune('a' + i)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }})
	}
	rep, err := Run(context.Background(), in, Options{Year: 2026, Workers: 1, Today: measures.Date(2026, time.October, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if want := measures.Date(2026, time.July, 2); rep.AsOf != want || rep.Counts.Future != 1 {
		t.Errorf("as of %s with %d future dispenses, want %s and 1", rep.AsOf, rep.Counts.Future, want)
	}
	for _, tl := range rep.Tallies {
		if tl.Measure == measures.PDCStatin && (tl.Denominator != 1 || tl.Numerator != 1) {
			t.Errorf("PDC-STA den %d num %d, want 1 and 1 (A covered every day to the as-of date)", tl.Denominator, tl.Numerator)
		}
	}
}

// valuerx measures: P1 metformin Jan 5 x90, Apr 5 x90 and an atorvastatin dispense without
// daysSupply (quantity 30) on Feb 1: one statin fill in the year meets SUPD (PQA SUPD numerator);
// P2 metformin Jan 5 x30, Apr 1 x30 and an insulin glargine dispense without daysSupply: excluded
// from PDC-DR (CMS D08: one or more insulin fills).
func TestDispensesWithoutDaysSupplyAreFills(t *testing.T) {
	var pat, cov, disp []string
	fill := func(id, day, supply, text string) {
		disp = append(disp, fmt.Sprintf(`{"resourceType":"MedicationDispense","status":"completed","subject":{"reference":"Patient/%s"},"medicationCodeableConcept":{"text":%q}%s,"whenHandedOver":"%s"}`, id, text, supply, day))
	}
	for _, id := range []string{"P1", "P2"} {
		pat = append(pat, `{"resourceType":"Patient","id":"`+id+`","birthDate":"1960-01-01"}`)
		cov = append(cov, `{"resourceType":"Coverage","beneficiary":{"reference":"Patient/`+id+`"},"payor":[{"identifier":{"value":"`+id+`"}}]}`)
	}
	met := "metformin hydrochloride 500 MG Oral Tablet"
	fill("P1", "2026-01-05", `,"daysSupply":{"value":90}`, met)
	fill("P1", "2026-04-05", `,"daysSupply":{"value":90}`, met)
	fill("P1", "2026-02-01", `,"quantity":{"value":30,"unit":"tablet"}`, "atorvastatin 20 MG Oral Tablet")
	fill("P2", "2026-01-05", `,"daysSupply":{"value":30}`, met)
	fill("P2", "2026-04-01", `,"daysSupply":{"value":30}`, met)
	fill("P2", "2026-05-01", `,"quantity":{"value":10,"unit":"mL"}`, "insulin glargine 100 UNT/ML Injectable Solution")
	var in []Input
	for i, body := range []string{strings.Join(pat, "\n"), strings.Join(cov, "\n"), strings.Join(disp, "\n")} {
		in = append(in, Input{Name: string(rune('a' + i)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }})
	}
	rep, err := Run(context.Background(), in, Options{Year: 2026, Workers: 1, AsOf: measures.Date(2027, time.January, 1)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tl := range rep.Tallies {
		got[tl.Contract+" "+tl.Measure.String()] = fmt.Sprintf("den %d num %d excl %d", tl.Denominator, tl.Numerator, tl.Excluded)
	}
	for k, w := range map[string]string{"P1 SUPD": "den 1 num 1 excl 0", "P2 PDC-DR": "den 0 num 0 excl 1"} {
		if got[k] != w {
			t.Errorf("%s: %s, want %s", k, got[k], w)
		}
	}
}
