package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The decision row's JSON columns (suggestions, options) are written by hand-rolled appenders
// rather than json.Marshal of the stored* structs: the same bytes (TestJSONColumnsAsMarshal holds
// them to encoding/json), without reflection and the intermediate slice of structs. With twenty
// draft orders a hook encoded forty of them, 2.8 % of valuerx's CPU.
//
// Neither column repeats what the other holds (2 December 2026): a suggestion whose per-year
// figures are its per-course ones in cents (a trastuzumab course is a year) says so ("yc") instead
// of writing them, and an option whose product is a suggestion's, with exactly the figures the
// gateway records for it (the suggestion's per-course figures in cents, its per-year figures),
// names that suggestion ("s": its index) instead of its product and figures. Both are restored
// bit for bit on decode (decodeSuggestions, decodeOptions; FuzzJSONColumns). A 20-draft hook's
// rows were 1.7 kB each, a third of it such repeats, and every byte of a row is paid for again
// in SQLite's record, its WAL frame and the checkpoint's write.

// appendJSONString appends s as encoding/json writes a string (HTML-safe escaping). Plain ASCII,
// which every id here is, is copied; anything else goes through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64 (its algorithm, line for line:
// shortest 'f' form, 'e' outside [1e-6, 1e21) with a one-digit negative exponent cleaned up).
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendSaving appends s as {"payer":...,"patient":...,"org":...}.
func appendSaving(b []byte, s Saving) ([]byte, error) {
	var err error
	b = append(b, `{"payer":`...)
	if b, err = appendJSONFloat(b, s.Payer); err != nil {
		return b, err
	}
	b = append(b, `,"patient":`...)
	if b, err = appendJSONFloat(b, s.Patient); err != nil {
		return b, err
	}
	b = append(b, `,"org":`...)
	if b, err = appendJSONFloat(b, s.Org); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// appendSuggestions appends ss in the form of []storedSuggestion.
func appendSuggestions(b []byte, ss []Suggestion) ([]byte, error) {
	var err error
	b = append(b, '[')
	for i, sg := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"uuid":`...)
		b = appendJSONString(b, sg.UUID)
		b = append(b, `,"product":`...)
		b = appendJSONString(b, sg.ProductID)
		b = append(b, `,"payer":`...)
		if b, err = appendJSONFloat(b, sg.PayerSaving); err != nil {
			return b, err
		}
		b = append(b, `,"patient":`...)
		if b, err = appendJSONFloat(b, sg.PatientSaving); err != nil {
			return b, err
		}
		b = append(b, `,"org":`...)
		if b, err = appendJSONFloat(b, sg.OrgImpact); err != nil {
			return b, err
		}
		switch {
		case sg.PerYear == (Saving{}):
		case yearIsCourse(sg):
			b = append(b, `,"yc":true`...)
		default:
			b = append(b, `,"year":`...)
			if b, err = appendSaving(b, sg.PerYear); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// courseCents is sg's per-course figures rounded to the cent, as the gateway records options.
func courseCents(sg Suggestion) Saving {
	return Saving{Payer: sg.PayerSaving, Patient: sg.PatientSaving, Org: sg.OrgImpact}.Cents()
}

// sameSaving reports whether a and b hold the same three float64 values bit for bit (a negative
// zero is not a zero: it is written "-0").
func sameSaving(a, b Saving) bool {
	return math.Float64bits(a.Payer) == math.Float64bits(b.Payer) && math.Float64bits(a.Patient) == math.Float64bits(b.Patient) &&
		math.Float64bits(a.Org) == math.Float64bits(b.Org)
}

// yearIsCourse reports whether sg's per-year figures are exactly its per-course ones in cents
// (written as "yc" and restored so).
func yearIsCourse(sg Suggestion) bool { return sameSaving(sg.PerYear, courseCents(sg)) }

// optionSuggestion is the index of the suggestion whose figures o repeats exactly: same product,
// per-course figures the suggestion's in cents, per-year figures the suggestion's (recorded since
// schema version 5, so not zero); -1 when there is none.
func optionSuggestion(o Option, ss []Suggestion) int {
	if o.ProductID == "" {
		return -1
	}
	for i, sg := range ss {
		if sg.ProductID == o.ProductID && sg.PerYear != (Saving{}) && sameSaving(o.PerYear, sg.PerYear) && sameSaving(o.PerCourse, courseCents(sg)) {
			return i
		}
	}
	return -1
}

// appendOptions appends os in the form of []storedOption; an option that repeats a suggestion of
// ss (optionSuggestion) names it instead of its product and figures.
func appendOptions(b []byte, os []Option, ss []Suggestion) ([]byte, error) {
	var err error
	b = append(b, '[')
	for i, o := range os {
		if i > 0 {
			b = append(b, ',')
		}
		ref := optionSuggestion(o, ss)
		if ref >= 0 {
			b = append(b, `{"s":`...)
			b = strconv.AppendInt(b, int64(ref), 10)
		} else {
			b = append(b, `{"p":`...)
			b = appendJSONString(b, o.ProductID)
		}
		if o.Relationship != "" {
			b = append(b, `,"r":`...)
			b = appendJSONString(b, o.Relationship)
		}
		if o.Eligible {
			b = append(b, `,"e":true`...)
		}
		if o.Exclusion != "" {
			b = append(b, `,"x":`...)
			b = appendJSONString(b, o.Exclusion)
		}
		if ref >= 0 {
			b = append(b, '}')
			continue
		}
		b = append(b, `,"c":`...)
		if b, err = appendSaving(b, o.PerCourse); err != nil {
			return b, err
		}
		if o.PerYear != o.PerCourse {
			b = append(b, `,"y":`...)
			if b, err = appendSaving(b, o.PerYear); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}
