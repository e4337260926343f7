package population

import (
	"bytes"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"valuerx/measures"
)

// viewOfJSON is what json.Unmarshal makes of a dispense line, as a view (the oracle).
func viewOfJSON(line []byte) (dispenseView, bool) {
	var d dispenseJSON
	if jsonv2.Unmarshal(line, &d) != nil {
		return dispenseView{}, false
	}
	med := viewOf(&d.MedicationCodeableConcept)
	v := dispenseView{resourceType: []byte(d.ResourceType), status: []byte(d.Status), subject: []byte(d.Subject.Reference),
		whenHandedOver: []byte(d.WhenHandedOver), whenPrepared: []byte(d.WhenPrepared), med: med}
	if d.DaysSupply.Value != nil {
		v.supply, v.hasSupply = *d.DaysSupply.Value, true
	}
	return v, true
}

func sameView(a, b *dispenseView) bool {
	eq := bytes.Equal
	if !eq(a.resourceType, b.resourceType) || !eq(a.status, b.status) || !eq(a.subject, b.subject) ||
		!eq(a.whenHandedOver, b.whenHandedOver) || !eq(a.whenPrepared, b.whenPrepared) ||
		a.hasSupply != b.hasSupply || a.supply != b.supply || a.med.n != b.med.n || !eq(a.med.text, b.med.text) {
		return false
	}
	var xs, ys []codingView
	a.med.each(func(cd *codingView) { xs = append(xs, *cd) })
	b.med.each(func(cd *codingView) { ys = append(ys, *cd) })
	if len(xs) != len(ys) {
		return false
	}
	for i := range xs {
		x, y := xs[i], ys[i]
		if !eq(x.system, y.system) || !eq(x.code, y.code) || !eq(x.display, y.display) {
			return false
		}
	}
	return true
}

var dispenseSeeds = []string{
	`{"resourceType":"MedicationDispense","id":"p1-1","status":"completed","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"301542","display":"rosuvastatin 10 MG Oral Tablet"}]},"subject":{"reference":"Patient/p1"},"daysSupply":{"value":90,"unit":"day","system":"http://unitsofmeasure.org","code":"d"},"whenHandedOver":"2026-01-08"}`,
	` { "resourceType" : "MedicationDispense" , "status":null, "daysSupply":{"value":30.5e0}, "extension":[{"url":"x","valueBoolean":true},null,false,-0.5E+3,{}], "medicationCodeableConcept":{"coding":[null,{"code":"83367"}],"text":"atorvastatin"}} `,
	`{"resourceType":"MedicationDispense","status":"completed","daysSupply":{"value":null},"whenPrepared":"2026-02-01T10:00:00Z","subject":null,"medicationCodeableConcept":null}`,
	`{"resourceType":"MedicationDispense","status":"completed","status":"completed"}`,              // duplicate: jsonv2 refuses
	`{"resourceType":"MedicationDispense","note":[{"text":"a","text":"b"}]}`,                       // duplicate deep down
	`{"resourceType":"MedicationDispense","subject":{"reference":"Patient/\u0070"}}`,               // escape: the slow path
	`{"resourceType":"MedicationDispense","medicationCodeableConcept":{"text":"Glucophage® 500"}}`, // not ASCII: the slow path
	`{"resourceType":"MedicationDispense","daysSupply":{"value":1e999}}`,                           // out of range
	`{"resourceType":"MedicationDispense","daysSupply":{"value":"30"}}`,                            // wrong type
	`{"ResourceType":"MedicationDispense"}`,                                                        // names match case-sensitively
	`{"resourceType":"MedicationDispense"} {}`,                                                     // two values
	`{"resourceType":"MedicationDispense","x":01}`,                                                 // bad number
	`{"resourceType":"MedicationDispense","x":[1,]}`,                                               // trailing comma
	`{"resourceType":"MedicationDispense","medicationCodeableConcept":{"coding":[{},{},{},{},{"code":"6809"}]}}`,
}

// TestScanDispenseMatchesUnmarshal: on the seeds, the fast path (when it answers) and
// decodeDispense agree with json.Unmarshal, and the plain export line takes the fast path.
func TestScanDispenseMatchesUnmarshal(t *testing.T) {
	for _, s := range dispenseSeeds {
		checkDispense(t, []byte(s))
	}
	var v dispenseView
	if !scanDispense([]byte(dispenseSeeds[0]), &v) || !scanDispense([]byte(dispenseSeeds[1]), &v) {
		t.Error("a plain export line did not take the fast path")
	}
	if string(v.med.codings[1].code) != "83367" || v.supply != 30.5 || !v.hasSupply || v.med.n != 2 {
		t.Errorf("decoded %+v", v)
	}
	// Five codings: the fifth (metformin) is kept on the slow path, and classified.
	if !decodeDispense([]byte(dispenseSeeds[len(dispenseSeeds)-1]), &v) || len(v.med.extra) != 1 || string(v.med.extra[0].code) != "6809" {
		t.Errorf("five codings: %+v", v.med)
	}
	for _, s := range dispenseSeeds[3:5] {
		if decodeDispense([]byte(s), &v) {
			t.Errorf("accepted a duplicate member name: %s", s)
		}
	}
}

func checkDispense(t *testing.T, line []byte) {
	want, ok := viewOfJSON(line)
	var fast dispenseView
	if scanDispense(line, &fast) {
		if !ok {
			t.Fatalf("fast path accepted what json.Unmarshal refuses: %q", line)
		}
		if !sameView(&fast, &want) {
			t.Fatalf("fast path decoded %q as %+v, json.Unmarshal as %+v", line, fast, want)
		}
	}
	var got dispenseView
	if decodeDispense(line, &got) != ok || (ok && !sameView(&got, &want)) {
		t.Fatalf("decodeDispense(%q) = %+v, want %+v (%v)", line, got, want, ok)
	}
}

// FuzzScanDispense holds the hand-written dispense scanner to json.Unmarshal's answers.
func FuzzScanDispense(f *testing.F) {
	for _, s := range dispenseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDispense)
}

// TestPlainASCII: the eight-bytes-at-a-time check agrees with a byte loop for every byte value at
// every position of a 17-byte line of otherwise plain text.
func TestPlainASCII(t *testing.T) {
	for pos := 0; pos < 17; pos++ {
		for c := 0; c < 256; c++ {
			b := []byte("abcdefgh ijklmnop")
			b[pos] = byte(c)
			want := c >= 0x20 && c < 0x7f && c != '\\'
			if got := plainASCII(b); got != want {
				t.Fatalf("plainASCII with %#x at %d = %v", c, pos, got)
			}
		}
	}
}

// BenchmarkDecodeDispense: one export line through the fast path and through json.Unmarshal.
func BenchmarkDecodeDispense(b *testing.B) {
	line := []byte(dispenseSeeds[0])
	b.Run("scanner", func(b *testing.B) {
		var v dispenseView
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			if !decodeDispense(line, &v) {
				b.Fatal("not decoded")
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := viewOfJSON(line); !ok {
				b.Fatal("not decoded")
			}
		}
	})
}

// TestClassifyCachedNoAllocs: a concept seen before is classified without allocating (the cache
// key is built in the worker's buffer and looked up without a string).
func TestClassifyCachedNoAllocs(t *testing.T) {
	r := &run{opt: Options{ValueSet: measures.DefaultValueSet()}}
	w := &worker2{cache: map[string][]uint8{}}
	var v dispenseView
	if !decodeDispense([]byte(dispenseSeeds[0]), &v) {
		t.Fatal("seed not decoded")
	}
	if ings := r.classify(w, &v.med); len(ings) != 1 || r.opt.ValueSet.Ingredient(int(ings[0])).Name != "rosuvastatin" {
		t.Fatalf("classified as %v", ings)
	}
	if n := testing.AllocsPerRun(100, func() { r.classify(w, &v.med) }); n != 0 {
		t.Errorf("%v allocations per cached classification", n)
	}
}

func conditionOfJSON(line []byte) (conditionView, bool) {
	var c conditionJSON
	if jsonv2.Unmarshal(line, &c) != nil {
		return conditionView{}, false
	}
	return conditionView{resourceType: []byte(c.ResourceType), subject: []byte(c.Subject.Reference), code: viewOf(&c.Code),
		verification: viewOf(&c.VerificationStatus), onsetDateTime: []byte(c.OnsetDateTime), onsetStart: []byte(c.OnsetPeriod.Start),
		recordedDate: []byte(c.RecordedDate), abatementDateTime: []byte(c.AbatementDateTime)}, true
}

func sameConcept(a, b *conceptView) bool {
	x := dispenseView{med: *a}
	y := dispenseView{med: *b}
	return sameView(&x, &y)
}

func sameCondition(a, b *conditionView) bool {
	eq := bytes.Equal
	return eq(a.resourceType, b.resourceType) && eq(a.subject, b.subject) && eq(a.onsetDateTime, b.onsetDateTime) &&
		eq(a.onsetStart, b.onsetStart) && eq(a.recordedDate, b.recordedDate) && eq(a.abatementDateTime, b.abatementDateTime) &&
		sameConcept(&a.code, &b.code) && sameConcept(&a.verification, &b.verification)
}

func checkCondition(t *testing.T, line []byte) {
	want, ok := conditionOfJSON(line)
	var fast conditionView
	if scanCondition(line, &fast) {
		if !ok {
			t.Fatalf("fast path accepted what json.Unmarshal refuses: %q", line)
		}
		if !sameCondition(&fast, &want) {
			t.Fatalf("fast path decoded %q as %+v, json.Unmarshal as %+v", line, fast, want)
		}
	}
	var got conditionView
	if decodeCondition(line, &got) != ok || (ok && !sameCondition(&got, &want)) {
		t.Fatalf("decodeCondition(%q) = %+v, want %+v (%v)", line, got, want, ok)
	}
}

var conditionSeeds = []string{
	`{"resourceType":"Condition","id":"cond-p1-1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"N18.6","display":"End stage renal disease"}]},"subject":{"reference":"Patient/p1"},"onsetDateTime":"2026-02-01"}`,
	`{"resourceType":"Condition","verificationStatus":{"coding":[{"code":"refuted"}]},"onsetPeriod":{"start":"2025-01-01","end":null},"recordedDate":"2026-01-01T00:00:00Z","abatementDateTime":"2026-05-01","subject":null,"code":null}`,
	`{"resourceType":"Condition","onsetPeriod":{"end":5}}`,
	`{"resourceType":"Condition","code":{"text":"x","text":"y"}}`,
}

// FuzzScanCondition holds the Condition scanner to json.Unmarshal's answers.
func FuzzScanCondition(f *testing.F) {
	for _, s := range append(conditionSeeds, dispenseSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(checkCondition)
}

func TestScanConditionMatchesUnmarshal(t *testing.T) {
	for _, s := range append(conditionSeeds, dispenseSeeds...) {
		checkCondition(t, []byte(s))
	}
	var v conditionView
	if !scanCondition([]byte(conditionSeeds[0]), &v) || string(v.code.codings[0].code) != "N18.6" || string(v.subject) != "Patient/p1" {
		t.Errorf("export line: %+v", v)
	}
	if !hasPrefixFold([]byte("n18.6"), esrdCodes) || hasPrefixFold([]byte("N18.4"), esrdCodes) || hasPrefixFold([]byte("N1"), esrdCodes) {
		t.Error("hasPrefixFold")
	}
}

var coverageSeeds = []string{
	`{"resourceType":"Coverage","id":"cov-p1","status":"active","subscriberId":"6CA7PP3DM09","beneficiary":{"reference":"Patient/p1"},"period":{"start":"2026-01-01","end":"2026-12-31"},"payor":[{"identifier":{"value":"H1001"}}],"class":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"plan"}]},"value":"H1001-001"}]}`,
	`{"resourceType":"Coverage","status":"active","payor":[null,{"display":"B"}],"class":[{"value":"G1","type":{"coding":[{"code":"group"}]}},{"value":"P1","type":{"coding":[{"code":"plan"}]}},{"type":{"coding":[{"code":"plan"}]},"value":"P2"}],"identifier":[{"system":"x","value":"y"},null]}`,
	`{"resourceType":"Coverage","payor":[{"reference":"Organization/o","display":"Demo MA"}],"identifier":[{"value":5}]}`,
	`{"resourceType":"Coverage","class":[{"value":"P","value":"Q"}]}`,
}

func coverageOfJSON(line []byte) (coverageView, bool) {
	var c coverageJSON
	if jsonv2.Unmarshal(line, &c) != nil {
		return coverageView{}, false
	}
	return coverageViewOf(&c), true
}

func sameCoverage(a, b *coverageView) bool {
	eq := bytes.Equal
	return eq(a.resourceType, b.resourceType) && eq(a.status, b.status) && eq(a.subscriberID, b.subscriberID) && eq(a.beneficiary, b.beneficiary) &&
		eq(a.periodStart, b.periodStart) && eq(a.periodEnd, b.periodEnd) && eq(a.payorValue, b.payorValue) && eq(a.payorDisplay, b.payorDisplay) &&
		eq(a.planValue, b.planValue)
}

func checkCoverage(t *testing.T, line []byte) {
	want, ok := coverageOfJSON(line)
	var fast coverageView
	if scanCoverage(line, &fast) {
		if !ok {
			t.Fatalf("fast path accepted what json.Unmarshal refuses: %q", line)
		}
		if !sameCoverage(&fast, &want) {
			t.Fatalf("fast path decoded %q as %+v, json.Unmarshal as %+v", line, fast, want)
		}
	}
	var got coverageView
	if decodeCoverage(line, &got) != ok || (ok && !sameCoverage(&got, &want)) {
		t.Fatalf("decodeCoverage(%q) = %+v, want %+v (%v)", line, got, want, ok)
	}
}

// FuzzScanCoverage holds the Coverage scanner to json.Unmarshal's answers.
func FuzzScanCoverage(f *testing.F) {
	for _, s := range append(coverageSeeds, conditionSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(checkCoverage)
}

func TestScanCoverageMatchesUnmarshal(t *testing.T) {
	for _, s := range append(append(coverageSeeds, conditionSeeds...), dispenseSeeds...) {
		checkCoverage(t, []byte(s))
	}
	var v coverageView
	if !scanCoverage([]byte(coverageSeeds[0]), &v) || string(v.payorValue) != "H1001" || string(v.planValue) != "H1001-001" || string(v.beneficiary) != "Patient/p1" {
		t.Errorf("export line: %+v", v)
	}
	v = coverageView{}
	if !scanCoverage([]byte(coverageSeeds[1]), &v) || len(v.payorValue) != 0 || len(v.payorDisplay) != 0 || string(v.planValue) != "P1" {
		t.Errorf("first payor null, first plan class: %+v", v)
	}
}
