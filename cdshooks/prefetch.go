package cdshooks

import (
	"encoding/json"
	"strings"

	"valuerx/fhir"
	"valuerx/internal/medindex"
	"valuerx/internal/rawjson"
)

// PrefetchState is what the CDS Client did with one prefetch key
// (https://cds-hooks.hl7.org/2.0/#prefetch-template). The service must tell
// these apart: only an absent key invites a query of fhirServer, a null is a
// valid "no data" answer, and an OperationOutcome says the client tried and
// failed.
type PrefetchState int

const (
	// PrefetchAbsent: the key was not sent (the client chose not to, or could
	// not explain a failure), or its value is not a FHIR resource at all.
	// The service should query fhirServer itself.
	PrefetchAbsent PrefetchState = iota
	// PrefetchNull: the key was sent as null, meaning there is no data.
	PrefetchNull
	// PrefetchOutcome: the client's own query failed and it sent an
	// OperationOutcome, or a Bundle holding only OperationOutcomes.
	PrefetchOutcome
	// PrefetchPresent: a FHIR resource or Bundle (possibly with 0 entries).
	PrefetchPresent
)

// String names the state for logs and metrics.
func (s PrefetchState) String() string {
	switch s {
	case PrefetchAbsent:
		return "absent"
	case PrefetchNull:
		return "null"
	case PrefetchOutcome:
		return "outcome"
	case PrefetchPresent:
		return "present"
	}
	return "unknown"
}

// PrefetchValue classifies the value sent for a prefetch key and returns it
// for the Outcome and Present states (nil otherwise). A value that is not a
// JSON object with a resourceType is reported as Absent so that the caller
// falls back to querying, as it would for a key the client left out.
func (r *Request) PrefetchValue(key string) (PrefetchState, json.RawMessage) {
	if r == nil {
		return PrefetchAbsent, nil
	}
	raw, ok := r.Prefetch[key]
	if !ok || len(raw) == 0 {
		return PrefetchAbsent, nil
	}
	if rawjson.IsNull(raw) {
		return PrefetchNull, nil
	}
	if rawjson.Kind(raw) != '{' || (!r.validJSON && !rawjson.Valid(raw)) {
		return PrefetchAbsent, nil
	}
	if st := classifyPrefetch(raw); st != PrefetchAbsent {
		return st, raw
	}
	return PrefetchAbsent, nil
}

// classifyPrefetch classifies a valid JSON object as PrefetchValue does. It reads it as
// encoding/json would decode it into
//
//	struct{ ResourceType string; Entry []struct{ Resource struct{ ResourceType string } } }
//
// where any member of the wrong JSON type makes the value unusable (Absent), but walks the bytes
// with rawjson instead of decoding them: the prefetch is the larger part of a request, and every
// full decode of it showed in the profile (docs/performance.md).
func classifyPrefetch(raw json.RawMessage) PrefetchState {
	var f fieldReader
	if st := classifyPrefetchFast(raw, &f); !f.dup {
		return st
	}
	return classifyPrefetchDecoded(raw)
}

// classifyPrefetchFast is classifyPrefetch for objects without repeated members; it notes in f
// when it met one.
func classifyPrefetchFast(raw json.RawMessage, f *fieldReader) PrefetchState {
	// One walk over each object for all the members read (a walk per member read the whole
	// Bundle once for resourceType and once more for entry).
	top := f.fields(raw, bundleMembers)
	rt, ok := cdsOptString(top[0], top[0] != nil)
	if !ok || strings.TrimSpace(rt) == "" {
		return PrefetchAbsent
	}
	entryRaw := top[1]
	// Every entry is checked before deciding: a wrongly typed one anywhere makes the value
	// unusable, as a failed decode did.
	onlyOutcomes, entries := true, 0
	if entryRaw != nil && !rawjson.IsNull(entryRaw) {
		if rawjson.Kind(entryRaw) != '[' {
			return PrefetchAbsent
		}
		okAll := rawjson.EachElement(entryRaw, func(e []byte) bool {
			entries++
			typ := ""
			if !rawjson.IsNull(e) {
				if rawjson.Kind(e) != '{' {
					return false
				}
				if res := f.fields(e, resourceMember)[0]; res != nil && !rawjson.IsNull(res) {
					if rawjson.Kind(res) != '{' {
						return false
					}
					var ok bool
					rtv := f.fields(res, resourceTypeMember)[0]
					if typ, ok = cdsOptString(rtv, rtv != nil); !ok {
						return false
					}
				}
			}
			if typ != "OperationOutcome" {
				onlyOutcomes = false
			}
			return true
		})
		if !okAll {
			return PrefetchAbsent
		}
	}
	switch {
	case rt == "OperationOutcome":
		return PrefetchOutcome
	case rt == "Bundle" && entries > 0 && onlyOutcomes:
		return PrefetchOutcome
	}
	return PrefetchPresent
}

var (
	bundleMembers      = []string{"resourceType", "entry"}
	resourceMember     = []string{"resource"}
	resourceTypeMember = []string{"resourceType"}
)

// classifyPrefetchDecoded is the classification with encoding/json, for values whose objects
// repeat a member: encoding/json merges repeats in ways rawjson does not follow.
func classifyPrefetchDecoded(raw []byte) PrefetchState {
	var res struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || strings.TrimSpace(res.ResourceType) == "" {
		return PrefetchAbsent
	}
	switch res.ResourceType {
	case "OperationOutcome":
		return PrefetchOutcome
	case "Bundle":
		if len(res.Entry) == 0 {
			return PrefetchPresent
		}
		for _, e := range res.Entry {
			if e.Resource.ResourceType != "OperationOutcome" {
				return PrefetchPresent
			}
		}
		return PrefetchOutcome
	}
	return PrefetchPresent
}

// fieldReader reads members of validated JSON with rawjson and notes when a name matches more
// than one member (see rawjson.FieldN): the caller then decodes with encoding/json instead.
type fieldReader struct {
	dup    bool
	vals   [4][]byte
	counts [4]int
}

func (f *fieldReader) get(b []byte, name string) ([]byte, bool) {
	v, n := rawjson.FieldN(b, name)
	if n > 1 {
		f.dup = true
	}
	return v, n > 0
}

// fields reads up to four members of the object b in one walk (rawjson.Fields): the values, nil
// for a member that is absent (or when b is not an object). The result is valid until the next
// call.
func (f *fieldReader) fields(b []byte, names []string) [][]byte {
	vals, counts := f.vals[:len(names)], f.counts[:len(names)]
	if !rawjson.Fields(b, names, vals, counts) {
		clear(vals)
		return vals
	}
	for _, n := range counts {
		if n > 1 {
			f.dup = true
		}
	}
	return vals
}

// PrefetchResources is PrefetchValue for a key whose value is read as a list of resources, with
// the list: for PrefetchPresent, the resources and next link fhir.ValidBundleResources gives for
// raw (bundleErr its error: raw is then no Bundle, perhaps a single resource). A regular Bundle
// is classified and split in one walk (fhir.ScanValidBundle), not two: with 500 history entries
// each walk is a fifth of a millisecond. Its answers are PrefetchValue's and
// ValidBundleResources' (FuzzPrefetchResources).
func (r *Request) PrefetchResources(key string) (state PrefetchState, raw json.RawMessage, res []json.RawMessage, next string, bundleErr error) {
	if r != nil && r.validJSON {
		if v, ok := r.Prefetch[key]; ok && rawjson.Kind(v) == '{' {
			if bx := r.indexed(v); bx != nil { // read as the body was validated
				if bx.Entries > 0 && bx.OnlyOutcomes {
					return PrefetchOutcome, v, nil, "", nil
				}
				return PrefetchPresent, v, bx.Resources, bx.Next, nil
			}
			if res, next, scan, ok := fhir.ScanValidBundle(v); ok {
				if scan.Entries > 0 && scan.OnlyOutcomes {
					return PrefetchOutcome, v, nil, "", nil
				}
				return PrefetchPresent, v, res, next, nil
			}
		}
	}
	state, raw = r.PrefetchValue(key)
	if state != PrefetchPresent {
		return state, raw, nil, "", nil
	}
	res, next, bundleErr = fhir.ValidBundleResources(raw)
	return state, raw, res, next, bundleErr
}

// indexed returns the Bundle DecodeRequest indexed from the value v (the same bytes: a later
// member of the same name replaces an earlier one), or nil.
func (r *Request) indexed(v json.RawMessage) *medindex.Bundle {
	if len(v) == 0 {
		return nil
	}
	for k := range r.index {
		if bx := &r.index[k]; len(bx.Raw) == len(v) && &bx.Raw[0] == &v[0] {
			return bx
		}
	}
	return nil
}

// PrefetchClassified returns, for a key whose value PrefetchResources reads as a Bundle, its
// resources classified (medindex.ClassifyResources of the resources PrefetchResources returns,
// one entry each) and whether each holds a medication reference (medindex.Bundle.Refs), when
// DecodeRequest read them as it validated the body; ok is false otherwise (classify the
// resources yourself).
func (r *Request) PrefetchClassified(key string) (entries []medindex.Entry, refs []bool, ok bool) {
	if r == nil || !r.validJSON {
		return nil, nil, false
	}
	v, found := r.Prefetch[key]
	if !found {
		return nil, nil, false
	}
	bx := r.indexed(v)
	if bx == nil || (bx.Entries > 0 && bx.OnlyOutcomes) {
		return nil, nil, false
	}
	return bx.Classified, bx.Refs, true
}
