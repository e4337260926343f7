package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"valuerx/internal/rawjson"
)

// Code systems and codes valuerx reads from EHR data (see docs fhir-coverage-notes.md).
const (
	SystemRxNorm        = "http://www.nlm.nih.gov/research/umls/rxnorm"
	SystemNDC           = "http://hl7.org/fhir/sid/ndc"
	SystemHCPCS         = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
	SystemMBI           = "http://hl7.org/fhir/sid/us-mbi"
	SystemNPI           = "http://hl7.org/fhir/sid/us-npi"
	SystemSOPT          = "https://nahdo.org/sopt"
	SystemSOPTOID       = "urn:oid:2.16.840.1.113883.3.221.5" // older OID form of SystemSOPT
	SystemLOINC         = "http://loinc.org"
	SystemCoverageClass = "http://terminology.hl7.org/CodeSystem/coverage-class"
	LOINCBodyWeight     = "29463-7" // Body weight, the Observation code for mg/kg doses
)

// ResourceType returns the resourceType of a raw FHIR resource, or "" when raw is not a JSON object
// carrying a string resourceType. It never fails: callers use it to dispatch on untrusted input.
func ResourceType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || !rawjson.Valid(raw) {
		return ""
	}
	return resourceTypeValid(raw)
}

// bundleEntry is the part of Bundle.entry this package reads.
type bundleEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Search   *struct {
		Mode string `json:"mode"`
	} `json:"search"`
	Request *struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Link         []bundleLink  `json:"link"`
	Entry        []bundleEntry `json:"entry"`
}

// ErrNotBundle is returned by BundleResources for input that is not a FHIR Bundle.
var ErrNotBundle = errors.New("fhir: not a Bundle")

func decodeBundle(raw json.RawMessage) (*bundle, error) {
	if rawjson.Kind(raw) != '{' {
		return nil, ErrNotBundle
	}
	// One decode, which also validates: checking the resourceType first (json.Valid and a probe)
	// read every byte of the Bundle once more (docs/performance.md). The type is then read with
	// the probe, not from b.ResourceType: for a repeated member ("Bundle", then null) encoding/json
	// keeps "Bundle" where ResourceType, the rule everywhere else, says there is no type.
	var b bundle
	err := json.Unmarshal(raw, &b)
	var te *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &te) {
		return nil, ErrNotBundle // not valid JSON
	}
	if resourceTypeValid(raw) != "Bundle" {
		return nil, ErrNotBundle
	}
	// Lenient: keep what decoded (an ill-typed member elsewhere must not hide the entries),
	// but a Bundle whose entry or link members are themselves ill-typed is unusable.
	if te != nil && (strings.HasPrefix(te.Field, "entry") || strings.HasPrefix(te.Field, "link")) {
		return nil, fmt.Errorf("fhir: decode Bundle: ill-typed %s: %w", te.Field, ErrNotBundle)
	}
	return &b, nil
}

func (b *bundle) next() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// BundleResources returns the resources of a Bundle's entries and the URL of its next page ("" if
// none). It is lenient in the ways real EHRs and CDS clients need (CDS Hooks sandbox drafts lack
// Bundle.type): any Bundle.type or none is accepted, entries without a resource object are skipped,
// and so are searchset entries whose search.mode is "outcome" (informational OperationOutcomes
// about the search, not results).
func BundleResources(raw json.RawMessage) ([]json.RawMessage, string, error) {
	b, err := decodeBundle(raw)
	if err != nil {
		return nil, "", err
	}
	out := make([]json.RawMessage, 0, len(b.Entry))
	for _, e := range b.Entry {
		if e.Search != nil && e.Search.Mode == "outcome" {
			continue
		}
		if resourceTypeValid(e.Resource) == "" { // valid JSON: decoded with the Bundle
			continue
		}
		out = append(out, e.Resource)
	}
	return out, b.next(), nil
}

// Entry is one Bundle entry as BundleEntries returns it.
type Entry struct {
	FullURL  string
	Resource json.RawMessage
	Mode     string // search.mode: "match", "include", "outcome" or ""
}

// BundleEntries is BundleResources keeping each entry's fullUrl and search mode (outcome entries
// included), for callers that resolve bundle-local references with FindEntry.
func BundleEntries(raw json.RawMessage) ([]Entry, string, error) {
	b, err := decodeBundle(raw)
	if err != nil {
		return nil, "", err
	}
	out := make([]Entry, 0, len(b.Entry))
	for _, e := range b.Entry {
		if resourceTypeValid(e.Resource) == "" { // valid JSON: decoded with the Bundle
			continue
		}
		en := Entry{FullURL: e.FullURL, Resource: e.Resource}
		if e.Search != nil {
			en.Mode = e.Search.Mode
		}
		out = append(out, en)
	}
	return out, b.next(), nil
}

// FindEntry resolves a reference among Bundle entries, as FHIR resolves references inside a
// Bundle: first by exact fullUrl (urn:uuid and absolute references), then by resource type and
// id for relative references ("Medication/m1"). Contained references ("#m1") are not Bundle
// entries: use Contained on the referring resource.
func FindEntry(entries []Entry, ref string) (json.RawMessage, bool) {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.HasPrefix(ref, "#") {
		return nil, false
	}
	for _, e := range entries {
		if e.FullURL != "" && e.FullURL == ref {
			return e.Resource, true
		}
	}
	r := ParseReference(ref)
	if r.Type == "" || r.ID == "" {
		return nil, false
	}
	for _, e := range entries {
		if ResourceType(e.Resource) != r.Type {
			continue
		}
		var v struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(e.Resource, &v) == nil && v.ID == r.ID {
			return e.Resource, true
		}
	}
	return nil, false
}

// Contained returns the resource contained in raw that a "#id" reference names (as used for
// MedicationRequest.medicationReference to an inline Medication).
func Contained(raw json.RawMessage, ref string) (json.RawMessage, bool) {
	id, ok := strings.CutPrefix(strings.TrimSpace(ref), "#")
	if !ok || id == "" {
		return nil, false
	}
	var v struct {
		Contained []json.RawMessage `json:"contained"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	for _, c := range v.Contained {
		var cv struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(c, &cv) == nil && cv.ID == id && ResourceType(c) != "" {
			return c, true
		}
	}
	return nil, false
}

// Reference is a parsed FHIR literal reference.
type Reference struct {
	Base      string // service base of an absolute reference ("https://x/fhir"), else ""
	Type, ID  string // "Patient", "123"; empty when the reference is not of the Type/id form
	Version   string // from ".../_history/2"
	Contained string // id of a contained resource for "#med1" ("med1"), else ""
	URN       string // "urn:uuid:...", "urn:oid:..." or other URN references (bundle-local), else ""
}

// ParseReference parses the forms a FHIR Reference.reference takes: relative "Patient/1",
// versioned "Patient/1/_history/2", absolute "https://x/fhir/Patient/1", contained "#med1" and
// bundle-local URNs ("urn:uuid:..."). Conditional references ("Patient?identifier=...") give the Type only.
// Anything else yields the zero Reference.
func ParseReference(ref string) Reference {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return Reference{}
	case strings.HasPrefix(ref, "#"):
		return Reference{Contained: ref[1:]}
	case strings.HasPrefix(strings.ToLower(ref), "urn:"):
		return Reference{URN: ref}
	}
	if i := strings.IndexByte(ref, '?'); i >= 0 { // conditional reference: Type?search
		if validType(ref[:i]) {
			return Reference{Type: ref[:i]}
		}
		return Reference{}
	}
	base := ""
	path := ref
	if strings.Contains(ref, "://") {
		u, err := url.Parse(ref)
		if err != nil || u.Host == "" {
			return Reference{}
		}
		path = strings.Trim(u.EscapedPath(), "/")
		base = u.Scheme + "://" + u.Host
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	version := ""
	if n := len(segs); n >= 4 && segs[n-2] == "_history" {
		version = segs[n-1]
		segs = segs[:n-2]
	}
	n := len(segs)
	if n < 2 || !validType(segs[n-2]) || !validID(segs[n-1]) {
		return Reference{}
	}
	if base == "" && n > 2 {
		return Reference{} // "a/b/Patient/1" without a scheme is not a FHIR reference
	}
	if base != "" && n > 2 {
		base += "/" + strings.Join(segs[:n-2], "/")
	}
	return Reference{Base: base, Type: segs[n-2], ID: segs[n-1], Version: version}
}

// SplitReference returns the resource type and id of a literal reference, for the relative,
// versioned and absolute forms ParseReference accepts. A contained reference "#med1" gives
// ("", "#med1") and a bundle-local "urn:uuid:..." gives ("", the whole urn), so callers can look
// them up among contained resources or Bundle fullUrls; anything unparseable gives ("", "").
func SplitReference(ref string) (typ, id string) {
	r := ParseReference(ref)
	switch {
	case r.Contained != "":
		return "", "#" + r.Contained
	case r.URN != "":
		return "", r.URN
	}
	return r.Type, r.ID
}

// maxIDLen bounds the ids this package accepts (R4 says 64; see validID).
const maxIDLen = 256

// validType reports whether s looks like a FHIR resource type name.
func validType(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validID reports whether s is a FHIR logical id: the R4 character set [A-Za-z0-9\-\.], but up
// to maxIDLen characters rather than R4's 64, because some EHRs issue longer ids and a reader
// must still resolve them.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Codings returns the codes in cc whose system is system (compared ignoring a trailing "/",
// which some EHRs append), in order, without empty codes. An empty system returns every code.
func Codings(cc r4.CodeableConcept, system string) []string {
	want := strings.TrimSuffix(system, "/")
	var out []string
	for _, c := range cc.Coding {
		if c.Code == nil || strings.TrimSpace(*c.Code) == "" {
			continue
		}
		if system != "" && (c.System == nil || strings.TrimSuffix(strings.TrimSpace(*c.System), "/") != want) {
			continue
		}
		out = append(out, strings.TrimSpace(*c.Code))
	}
	return out
}

// NormalizeNDC returns the 11-digit, undashed (5-4-2, HIPAA) form of a National Drug Code.
// Accepted inputs: the dashed 10-digit forms 4-4-2, 5-3-2 and 5-4-1 (padded with a leading zero in
// the short segment), dashed 5-4-2, and 11 bare digits. Ten bare digits are ambiguous (which
// segment to pad is unknown) and are rejected, as is anything else.
func NormalizeNDC(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 13 {
		return "", false
	}
	if !strings.Contains(s, "-") {
		if len(s) == 11 && allDigits(s) {
			return s, true
		}
		return "", false
	}
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return "", false
	}
	for _, p := range parts {
		if p == "" || !allDigits(p) {
			return "", false
		}
	}
	a, b, c := parts[0], parts[1], parts[2]
	switch {
	case len(a) == 5 && len(b) == 4 && len(c) == 2:
	case len(a) == 4 && len(b) == 4 && len(c) == 2:
		a = "0" + a
	case len(a) == 5 && len(b) == 3 && len(c) == 2:
		b = "0" + b
	case len(a) == 5 && len(b) == 4 && len(c) == 1:
		c = "0" + c
	default:
		return "", false
	}
	return a + b + c, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Decode unmarshals a raw resource into v, a pointer to an r4 resource struct (for example
// *r4.MedicationRequest), after checking that the resourceType matches the struct's name. The
// error names the types involved but never the content, so it is safe to log.
//
// Remember that r4 structs must not be re-marshalled and sent anywhere (see the package doc).
func Decode(raw json.RawMessage, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("fhir: Decode needs a non-nil pointer")
	}
	want := rv.Elem().Type().Name()
	got := ResourceType(raw)
	if got == "" {
		return fmt.Errorf("fhir: decode %s: not a FHIR resource", want)
	}
	if got != want {
		return fmt.Errorf("fhir: decode %s: resourceType is %s", want, got)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("fhir: decode %s: field %s has the wrong JSON type", want, te.Field)
		}
		return fmt.Errorf("fhir: decode %s: invalid JSON or code value", want)
	}
	return nil
}
