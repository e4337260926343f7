package store

import (
	"encoding/json"
	"math"
	"testing"
)

// marshalSuggestions and marshalOptions are the encoders the hand-rolled appenders replaced:
// json.Marshal of the stored* structs. The appenders must write exactly their bytes.
func marshalSuggestions(ss []Suggestion) (string, error) {
	out := make([]storedSuggestion, len(ss))
	for i, sg := range ss {
		out[i] = storedSuggestion{UUID: sg.UUID, Product: sg.ProductID, Payer: sg.PayerSaving, Patient: sg.PatientSaving, Org: sg.OrgImpact}
		if sg.PerYear != (Saving{}) {
			y := sg.PerYear
			out[i].Year = &y
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func marshalOptions(os []Option) (string, error) {
	if len(os) == 0 {
		return "[]", nil
	}
	out := make([]storedOption, len(os))
	for i, o := range os {
		out[i] = storedOption{Product: o.ProductID, Rel: o.Relationship, Eligible: o.Eligible, Exclusion: o.Exclusion, Course: o.PerCourse}
		if o.PerYear != o.PerCourse {
			y := o.PerYear
			out[i].Year = &y
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func checkJSONColumns(t *testing.T, ss []Suggestion, os []Option) {
	t.Helper()
	want, werr := marshalSuggestions(ss)
	got, gerr := encodeSuggestions(ss)
	if (werr != nil) != (gerr != nil) || (werr == nil && got != want) {
		t.Fatalf("suggestions %+v:\n got %s (%v)\nwant %s (%v)", ss, got, gerr, want, werr)
	}
	want, werr = marshalOptions(os)
	got, gerr = EncodeOptions(os)
	if (werr != nil) != (gerr != nil) || (werr == nil && got != want) {
		t.Fatalf("options %+v:\n got %s (%v)\nwant %s (%v)", os, got, gerr, want, werr)
	}
	if werr == nil {
		back, err := decodeOptions(got)
		if err != nil || len(back) != len(os) {
			t.Fatalf("options %s do not decode back: %v %+v", got, err, back)
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
	})
}
