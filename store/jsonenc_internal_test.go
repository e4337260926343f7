package store

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"
)

// marshalSuggestions and marshalOptions are the encoders the hand-rolled appenders replaced:
// json.Marshal of the stored* structs. The appenders must write exactly their bytes.
func marshalSuggestions(ss []Suggestion) (string, error) {
	out := make([]storedSuggestion, len(ss))
	for i, sg := range ss {
		out[i] = storedSuggestion{UUID: sg.UUID, Product: sg.ProductID, Payer: sg.PayerSaving, Patient: sg.PatientSaving, Org: sg.OrgImpact}
		if sg.PerYear != (Saving{}) {
			if yearIsCourse(sg) {
				out[i].YearIsCourse = true
				continue
			}
			y := sg.PerYear
			out[i].Year = &y
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// storedOptionRef is the form of a storedOption that names a suggestion (json.Marshal of
// storedOption would write its empty product and zero figures too).
type storedOptionRef struct {
	Sugg      int    `json:"s"`
	Rel       string `json:"r,omitempty"`
	Eligible  bool   `json:"e,omitempty"`
	Exclusion string `json:"x,omitempty"`
}

func marshalOptions(os []Option, ss []Suggestion) (string, error) {
	if len(os) == 0 {
		return "[]", nil
	}
	out := make([]any, len(os))
	for i, o := range os {
		if ref := optionSuggestion(o, ss); ref >= 0 {
			out[i] = storedOptionRef{Sugg: ref, Rel: o.Relationship, Eligible: o.Eligible, Exclusion: o.Exclusion}
			continue
		}
		so := storedOption{Product: o.ProductID, Rel: o.Relationship, Eligible: o.Eligible, Exclusion: o.Exclusion, Course: o.PerCourse}
		if o.PerYear != o.PerCourse {
			y := o.PerYear
			so.Year = &y
		}
		out[i] = so
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// sameSuggestions and sameOptions compare figures bit for bit (a negative zero is not a zero),
// except a suggestion's zero per-year figures, which are not recorded at all (decisions before
// schema version 5), negative zeros or not.
func sameSuggestions(a, b []Suggestion) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.UUID != y.UUID || x.ProductID != y.ProductID || !sameSaving(Saving{x.PayerSaving, x.PatientSaving, x.OrgImpact}, Saving{y.PayerSaving, y.PatientSaving, y.OrgImpact}) ||
			!(sameSaving(x.PerYear, y.PerYear) || x.PerYear == (Saving{}) && y.PerYear == (Saving{})) {
			return false
		}
	}
	return true
}

func sameOptions(a, b []Option) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ProductID != y.ProductID || x.Relationship != y.Relationship || x.Eligible != y.Eligible || x.Exclusion != y.Exclusion ||
			!sameSaving(x.PerCourse, y.PerCourse) || !sameSaving(x.PerYear, y.PerYear) {
			return false
		}
	}
	return true
}

// validUTF8 reports whether every id survives a JSON round trip unchanged (encoding/json writes
// invalid UTF-8 as U+FFFD).
func validUTF8(ss []Suggestion, os []Option) bool {
	for _, sg := range ss {
		if !utf8.ValidString(sg.UUID) || !utf8.ValidString(sg.ProductID) {
			return false
		}
	}
	for _, o := range os {
		if !utf8.ValidString(o.ProductID) || !utf8.ValidString(o.Relationship) || !utf8.ValidString(o.Exclusion) {
			return false
		}
	}
	return true
}

func checkJSONColumns(t *testing.T, ss []Suggestion, os []Option) {
	t.Helper()
	want, werr := marshalSuggestions(ss)
	got, gerr := encodeSuggestions(ss)
	if (werr != nil) != (gerr != nil) || (werr == nil && got != want) {
		t.Fatalf("suggestions %+v:\n got %s (%v)\nwant %s (%v)", ss, got, gerr, want, werr)
	}
	suggs := got
	want, werr = marshalOptions(os, ss)
	got, gerr = encodeOptions(os, ss)
	if (werr != nil) != (gerr != nil) || (werr == nil && got != want) {
		t.Fatalf("options %+v:\n got %s (%v)\nwant %s (%v)", os, got, gerr, want, werr)
	}
	if werr == nil {
		// Both columns decode back to the very figures recorded (restored where one column
		// leaves out what the other holds).
		sback, err := decodeSuggestions(suggs)
		if err != nil || len(sback) != len(ss) || (validUTF8(ss, os) && !sameSuggestions(sback, ss)) {
			t.Fatalf("suggestions %s do not decode back: %v\n got %+v\nwant %+v", suggs, err, sback, ss)
		}
		back, err := decodeOptions(got, sback)
		if err != nil || len(back) != len(os) || (validUTF8(ss, os) && !sameOptions(back, os)) {
			t.Fatalf("options %s do not decode back: %v\n got %+v\nwant %+v", got, err, back, os)
		}
	}
}

// The figures a card records (cents, a year of therapy), the float edges of encoding/json's
// format switch (1e-6, 1e21, negative zero, one-digit exponents), and ids that need escaping.
func TestJSONColumnsAsMarshal(t *testing.T) {
	floats := []float64{0, math.Copysign(0, -1), 50356.13, -36742.29, 0.01, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e300, -2e-9, 123456789.125}
	strs := []string{"", "trazimera", "5f0c6a4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f", `quote " back \ slash`, "<script>&", "tab\there", "é ü", "\u2028", "bad \xff utf8"}
	for i, f := range floats {
		s := strs[i%len(strs)]
		y := Saving{Payer: f, Patient: floats[(i+3)%len(floats)], Org: -f}
		ss := []Suggestion{{UUID: s, ProductID: strs[(i+1)%len(strs)], PayerSaving: f, PatientSaving: -f, OrgImpact: floats[(i+5)%len(floats)]},
			{UUID: "u2", ProductID: "p", PerYear: y}}
		os := []Option{{ProductID: s, Relationship: strs[(i+2)%len(strs)], Eligible: i%2 == 0, Exclusion: strs[(i+4)%len(strs)], PerCourse: y, PerYear: y},
			{ProductID: "p", PerCourse: Saving{Payer: f}, PerYear: y}}
		checkJSONColumns(t, ss, os)
	}
	// Options that repeat a suggestion (the gateway's records), or nearly: another product, a
	// cent off, per-year figures that differ, a negative zero where the cents give a zero.
	sg := Suggestion{UUID: "u", ProductID: "trazimera", PayerSaving: 50356.125, PatientSaving: 10071.225, OrgImpact: 21323.10962264151}
	sg.PerYear = courseCents(sg)
	sy := Suggestion{UUID: "v", ProductID: "generic", PayerSaving: 1116.1359000000002, PatientSaving: 223.22718000000003, PerYear: Saving{Payer: 4526.55, Patient: 905.31}}
	same := Option{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: courseCents(sg), PerYear: sg.PerYear}
	year := Option{ProductID: "generic", Relationship: "ab-generic", Eligible: true, PerCourse: courseCents(sy), PerYear: sy.PerYear}
	other, cent, nz := same, same, year
	other.ProductID = "ogivri"
	cent.PerCourse.Payer += 0.01
	nz.PerCourse.Org = math.Copysign(0, -1)
	excluded := Option{ProductID: "herzuma", Exclusion: "not-priced"}
	checkJSONColumns(t, []Suggestion{sg, sy}, []Option{same, year, other, cent, nz, excluded})
	checkJSONColumns(t, []Suggestion{sy, sg}, []Option{excluded, same, year})
	checkJSONColumns(t, []Suggestion{{UUID: "w", ProductID: "trazimera", PayerSaving: 1, PerYear: Saving{Payer: math.Copysign(0, -1)}}},
		[]Option{{ProductID: "trazimera", PerCourse: Saving{Payer: 1}, PerYear: Saving{Payer: math.Copysign(0, -1)}}})
	if enc, _ := encodeOptions([]Option{same, year, other}, []Suggestion{sg, sy}); enc != `[{"s":0,"r":"biosimilar","e":true},{"s":1,"r":"ab-generic","e":true},{"p":"ogivri","r":"biosimilar","e":true,"c":{"payer":50356.13,"patient":10071.23,"org":21323.11}}]` {
		t.Errorf("options naming suggestions: %s", enc)
	}
	if enc, _ := encodeSuggestions([]Suggestion{sg}); enc != `[{"uuid":"u","product":"trazimera","payer":50356.125,"patient":10071.225,"org":21323.10962264151,"yc":true}]` {
		t.Errorf("suggestion with its per-year figures its per-course ones: %s", enc)
	}
	checkJSONColumns(t, nil, nil)
	checkJSONColumns(t, []Suggestion{}, []Option{})
	checkJSONColumns(t, []Suggestion{{PayerSaving: math.NaN()}}, []Option{{PerCourse: Saving{Org: math.Inf(1)}}})
}

// FuzzJSONColumns holds the appenders to encoding/json on any ids and figures.
func FuzzJSONColumns(f *testing.F) {
	f.Add("5f0c6a4e", "trazimera", "biosimilar", "not-priced", 50356.13, -0.01, 1e21, true)
	f.Add("<&>", "\xff", "\"", "\\", 1e-7, math.Copysign(0, -1), 9.99e-7, false)
	f.Fuzz(func(t *testing.T, id, product, rel, excl string, a, b, c float64, eligible bool) {
		ss := []Suggestion{{UUID: id, ProductID: product, PayerSaving: a, PatientSaving: b, OrgImpact: c, PerYear: Saving{Payer: c, Patient: a}}}
		os := []Option{{ProductID: product, Relationship: rel, Eligible: eligible, Exclusion: excl, PerCourse: Saving{Payer: a, Patient: b, Org: c}, PerYear: Saving{Payer: b}},
			{ProductID: id, PerCourse: Saving{Org: a}, PerYear: Saving{Org: a}}}
		checkJSONColumns(t, ss, os)
		// As the gateway records them: options that repeat their suggestion's figures, and a
		// suggestion whose per-year figures are its per-course ones.
		ss = append(ss, Suggestion{UUID: id + "2", ProductID: rel, PayerSaving: b, PatientSaving: c, OrgImpact: a})
		ss[1].PerYear = courseCents(ss[1])
		os = append(os, Option{ProductID: product, Relationship: excl, Eligible: !eligible, PerCourse: courseCents(ss[0]), PerYear: ss[0].PerYear},
			Option{ProductID: rel, Exclusion: id, PerCourse: courseCents(ss[1]), PerYear: ss[1].PerYear})
		checkJSONColumns(t, ss, os)
	})
}
