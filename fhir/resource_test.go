package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

func TestResourceType(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{`{"resourceType":"Patient","id":"1"}`, "Patient"},
		{`  {"id":"1","resourceType":"Bundle"}`, "Bundle"},
		{`{"resourceType":7}`, ""},
		{`{"id":"1"}`, ""},
		{`[{"resourceType":"Patient"}]`, ""},
		{`null`, ""},
		{``, ""},
		{`{"resourceType":"Patient"`, ""},
	}
	for _, tt := range tests {
		if got := ResourceType(json.RawMessage(tt.raw)); got != tt.want {
			t.Errorf("ResourceType(%s) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestBundleResources(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantIDs []string
		next    string
		wantErr bool
	}{
		{
			name:    "searchset with next and an outcome entry",
			raw:     `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"s"},{"relation":"next","url":"https://x/fhir/MedicationRequest?_offset=3"}],"entry":[{"resource":{"resourceType":"MedicationRequest","id":"a"},"search":{"mode":"match"}},{"resource":{"resourceType":"OperationOutcome","id":"oo"},"search":{"mode":"outcome"}}]}`,
			wantIDs: []string{"a"},
			next:    "https://x/fhir/MedicationRequest?_offset=3",
		},
		{
			name:    "no Bundle.type (sandbox draftOrders) and entries without resource",
			raw:     `{"resourceType":"Bundle","entry":[{"fullUrl":"urn:uuid:1"},{"resource":{"resourceType":"MedicationRequest","id":"b"}},{"resource":{"id":"no-type"}},{"resource":null}]}`,
			wantIDs: []string{"b"},
		},
		{name: "empty bundle", raw: `{"resourceType":"Bundle","type":"searchset","total":0}`, wantIDs: []string{}},
		{name: "ill-typed total is tolerated", raw: `{"resourceType":"Bundle","total":"x","entry":[{"resource":{"resourceType":"Coverage","id":"c"}}]}`, wantIDs: []string{"c"}},
		{name: "not a bundle", raw: `{"resourceType":"Patient","id":"1"}`, wantErr: true},
		{name: "entry not an array", raw: `{"resourceType":"Bundle","entry":{"resource":{}}}`, wantErr: true},
		{name: "not JSON", raw: `{"resourceType":"Bundle",`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, next, err := BundleResources(json.RawMessage(tt.raw))
			if tt.wantErr {
				if !errors.Is(err, ErrNotBundle) {
					t.Fatalf("err = %v, want ErrNotBundle", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, r := range res {
				var v struct{ ID string }
				_ = json.Unmarshal(r, &v)
				ids = append(ids, v.ID)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if next != tt.next {
				t.Errorf("next = %q, want %q", next, tt.next)
			}
		})
	}
}

func TestSplitReference(t *testing.T) {
	tests := []struct {
		ref, typ, id string
	}{
		{"Patient/1", "Patient", "1"},
		{"Patient/1/_history/2", "Patient", "1"},
		{"https://x/fhir/Patient/1", "Patient", "1"},
		{"https://x/fhir/r4/Patient/1/_history/2", "Patient", "1"},
		{"http://x:8080/Medication/med-1.a", "Medication", "med-1.a"},
		{"#med1", "", "#med1"},
		{"urn:uuid:6f1c2a5e-0d3b-4d8e-9a57-2b1f1e0c0123", "", "urn:uuid:6f1c2a5e-0d3b-4d8e-9a57-2b1f1e0c0123"},
		{"Patient?identifier=x|1", "Patient", ""},
		{"urn:valuerx:Organization/org-cms", "", "urn:valuerx:Organization/org-cms"},
		{"123", "", ""},
		{"patient/1", "", ""},
		{"Patient/", "", ""},
		{"a/b/Patient/1", "", ""},
		{"Patient/1 2", "", ""},
		{"", "", ""},
		{"https:///Patient/1", "", ""},
	}
	for _, tt := range tests {
		typ, id := SplitReference(tt.ref)
		if typ != tt.typ || id != tt.id {
			t.Errorf("SplitReference(%q) = (%q, %q), want (%q, %q)", tt.ref, typ, id, tt.typ, tt.id)
		}
	}
	r := ParseReference("https://x/fhir/r4/Patient/1/_history/2")
	want := Reference{Base: "https://x/fhir/r4", Type: "Patient", ID: "1", Version: "2"}
	if r != want {
		t.Errorf("ParseReference = %+v, want %+v", r, want)
	}
	if r := ParseReference("#med1"); r.Contained != "med1" {
		t.Errorf("contained = %+v", r)
	}
}

func TestBundleEntriesAndFind(t *testing.T) {
	raw := json.RawMessage(`{"resourceType":"Bundle","entry":[
	 {"fullUrl":"urn:uuid:m1","resource":{"resourceType":"Medication","id":"tmp"}},
	 {"fullUrl":"https://x/fhir/Medication/m2","resource":{"resourceType":"Medication","id":"m2"},"search":{"mode":"include"}},
	 {"resource":{"resourceType":"OperationOutcome"},"search":{"mode":"outcome"}},
	 {"fullUrl":"urn:uuid:none"}]}`)
	entries, _, err := BundleEntries(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[1].Mode != "include" || entries[2].Mode != "outcome" {
		t.Fatalf("entries = %+v", entries)
	}
	tests := []struct {
		ref, wantID string
	}{
		{"urn:uuid:m1", "tmp"},
		{"Medication/m2", "m2"},
		{"https://x/fhir/Medication/m2", "m2"},
		{"https://other/fhir/Medication/m2", "m2"}, // falls back to type and id
		{"Medication/m3", ""},
		{"urn:uuid:none", ""},
		{"#m1", ""},
	}
	for _, tt := range tests {
		got, ok := FindEntry(entries, tt.ref)
		var v struct{ ID string }
		_ = json.Unmarshal(got, &v)
		if ok != (tt.wantID != "") || v.ID != tt.wantID {
			t.Errorf("FindEntry(%q) = %s, %v", tt.ref, got, ok)
		}
	}
	mr := json.RawMessage(`{"resourceType":"MedicationRequest","contained":[{"resourceType":"Medication","id":"med1"},{"id":"x"}],"medicationReference":{"reference":"#med1"}}`)
	if c, ok := Contained(mr, "#med1"); !ok || ResourceType(c) != "Medication" {
		t.Errorf("Contained(#med1) = %s, %v", c, ok)
	}
	for _, ref := range []string{"#x", "#nope", "med1", "#"} {
		if _, ok := Contained(mr, ref); ok {
			t.Errorf("Contained(%q) found something", ref)
		}
	}
}

func ptr(s string) *string { return &s }

func TestCodings(t *testing.T) {
	cc := r4.CodeableConcept{Coding: []r4.Coding{
		{System: ptr(SystemRxNorm), Code: ptr("2119399")},
		{System: ptr(SystemNDC), Code: ptr("50242-0132-01")},
		{System: ptr(SystemRxNorm + "/"), Code: ptr(" 617312 ")},
		{System: ptr(SystemRxNorm), Code: ptr("")},
		{Code: ptr("no-system")},
	}}
	tests := []struct {
		system string
		want   []string
	}{
		{SystemRxNorm, []string{"2119399", "617312"}},
		{SystemNDC, []string{"50242-0132-01"}},
		{SystemHCPCS, nil},
		{"", []string{"2119399", "50242-0132-01", "617312", "no-system"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Codings(cc, tt.system)); diff != "" {
			t.Errorf("Codings(%s) (-want +got):\n%s", tt.system, diff)
		}
	}
}

func TestNormalizeNDC(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"0093-5056-10", "00093505610", true},  // 4-4-2
		{"50242-132-01", "50242013201", true},  // 5-3-2
		{"50242-0132-1", "50242013201", true},  // 5-4-1
		{"50242-0132-01", "50242013201", true}, // 5-4-2
		{"00093505610", "00093505610", true},   // 11 digits
		{" 63459-0303-43 ", "63459030343", true},
		{"0093505610", "", false}, // 10 bare digits: ambiguous
		{"0093-505-10", "", false},
		{"50242-0132-0a", "", false},
		{"50242--0132", "", false},
		{"1-2-3", "", false},
		{"", "", false},
		{"123456789012", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeNDC(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeNDC(%q) = (%q, %v), want (%q, %v)", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDecode(t *testing.T) {
	raw := json.RawMessage(`{"resourceType":"MedicationRequest","id":"mr","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"` + SystemRxNorm + `","code":"2119399"}]},"subject":{"reference":"Patient/123"}}`)
	var mr r4.MedicationRequest
	if err := Decode(raw, &mr); err != nil {
		t.Fatal(err)
	}
	if got := Codings(mr.MedicationCodeableConcept, SystemRxNorm); len(got) != 1 || got[0] != "2119399" {
		t.Errorf("codes = %v", got)
	}
	var cov r4.Coverage
	err := Decode(raw, &cov)
	if err == nil || !strings.Contains(err.Error(), "resourceType is MedicationRequest") {
		t.Errorf("wrong-type err = %v", err)
	}
	secret := json.RawMessage(`{"resourceType":"Coverage","status":"SECRET-VALUE"}`)
	if err := Decode(secret, &cov); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("invalid-code err = %v (must fail without echoing the value)", err)
	}
	if err := Decode(raw, mr); err == nil {
		t.Error("non-pointer accepted")
	}
}

func TestOperationOutcome(t *testing.T) {
	raw := OperationOutcome("", "", "diag")
	issues, ok := ParseOperationOutcome(raw)
	if !ok {
		t.Fatalf("not parsed: %s", raw)
	}
	want := []Issue{{Severity: "error", Code: "processing", Diagnostics: "diag"}}
	if diff := cmp.Diff(want, issues); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	raw = NewOperationOutcome(
		Issue{Severity: "warning", Code: "incomplete", Expression: []string{"Coverage"}},
		Issue{Severity: "fatal", Code: "exception"},
	)
	issues, _ = ParseOperationOutcome(raw)
	if len(issues) != 2 || issues[0].Expression[0] != "Coverage" || issues[1].Severity != "fatal" {
		t.Errorf("issues = %+v", issues)
	}
	if _, ok := ParseOperationOutcome(json.RawMessage(`{"resourceType":"Patient"}`)); ok {
		t.Error("Patient parsed as OperationOutcome")
	}
	issues, ok = ParseOperationOutcome(json.RawMessage(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","details":{"text":"gone"}},{"severity":5}]}`))
	if !ok || len(issues) != 2 || issues[0].Diagnostics != "gone" || issues[0].Code != "not-found" {
		t.Errorf("lenient parse = %+v, %v", issues, ok)
	}
	if got := NewOperationOutcome(); ResourceType(got) != "OperationOutcome" || !strings.Contains(string(got), `"issue":[{`) {
		t.Errorf("empty NewOperationOutcome = %s", got)
	}
}

func FuzzBundleResources(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"x"}],"entry":[{"resource":{"resourceType":"Patient"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{},{"resource":null},{"search":{"mode":"outcome"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":"x"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"resourceType":"Bundle","resourceType":null,"entry":[]}`))
	f.Add([]byte(`{"resourceType":7,"resourceType":"Bundle"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, _, err := BundleResources(raw)
		if err != nil && res != nil {
			t.Fatal("resources returned with an error")
		}
		// One rule for what a Bundle is, whatever path reads it.
		if err == nil && ResourceType(raw) != "Bundle" {
			t.Fatalf("accepted as a Bundle, but ResourceType says %q: %s", ResourceType(raw), raw)
		}
		for _, r := range res {
			if ResourceType(r) == "" {
				t.Fatalf("returned a non-resource %s", r)
			}
		}
	})
}

func FuzzParseOperationOutcome(f *testing.F) {
	f.Add([]byte(OperationOutcome("error", "not-found", "x")))
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":1},{"details":{"text":"t"}},null]}`))
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":"x"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		issues, ok := ParseOperationOutcome(raw)
		if !ok && issues != nil {
			t.Fatal("issues for a non-outcome")
		}
		if ok {
			// Whatever was parsed must render back into an outcome with as many issues.
			again, ok2 := ParseOperationOutcome(NewOperationOutcome(issues...))
			if !ok2 || len(again) != max(1, len(issues)) {
				t.Fatalf("round trip: %d -> %d issues", len(issues), len(again))
			}
		}
	})
}

func FuzzSplitReference(f *testing.F) {
	for _, s := range []string{"Patient/1", "https://x/fhir/Patient/1/_history/2", "#c", "urn:uuid:1", "Patient?x=1", "://", "http://[::1]:80/A/b", "/Patient/1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		typ, id := SplitReference(ref)
		if typ != "" && !validType(typ) {
			t.Fatalf("invalid type %q from %q", typ, ref)
		}
		if typ != "" && id != "" && !validID(id) {
			t.Fatalf("invalid id %q from %q", id, ref)
		}
		if typ != "" && id != "" {
			if t2, id2 := SplitReference(typ + "/" + id); t2 != typ || id2 != id {
				t.Fatalf("not idempotent: %q -> %s/%s -> %s/%s", ref, typ, id, t2, id2)
			}
		}
	})
}

func FuzzNormalizeNDC(f *testing.F) {
	for _, s := range []string{"0093-5056-10", "50242-132-01", "50242-0132-1", "00093505610", "0093505610", "--", "1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := NormalizeNDC(s)
		if !ok {
			if got != "" {
				t.Fatalf("rejected %q but returned %q", s, got)
			}
			return
		}
		if len(got) != 11 || !allDigits(got) {
			t.Fatalf("NormalizeNDC(%q) = %q, not 11 digits", s, got)
		}
		if again, ok := NormalizeNDC(got); !ok || again != got {
			t.Fatalf("not idempotent on %q: %q", got, again)
		}
		digits := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
		if !paddedFrom(got, digits) {
			t.Fatalf("digits changed: %q -> %q", s, got)
		}
	})
}

// paddedFrom reports whether got is digits itself or digits with one '0' inserted.
func paddedFrom(got, digits string) bool {
	if got == digits {
		return true
	}
	for i := 0; i < len(got); i++ {
		if got[i] == '0' && got[:i]+got[i+1:] == digits {
			return true
		}
	}
	return false
}

// FuzzSearchParams drives the server's search-parameter parsing and matching with arbitrary query
// strings: they must never panic, and a parsed query must stay within the paging limits.
func FuzzSearchParams(f *testing.F) {
	for _, s := range []string{
		"patient=123&status=active,completed&_count=3",
		"code=http://loinc.org|29463-7&_sort=-date&date=ge2025-01-01",
		"subject:Patient=Patient/123&status:not=stopped&_offset=2",
		"_id=a\\,b,c&identifier=|x&_summary=count",
		"date=sa2025&_count=-1", "authoredon=2025-13", "_sort=,-,--date",
	} {
		f.Add("Observation", s, false)
		f.Add("MedicationRequest", s, true)
	}
	recs := fuzzRecords(f)
	f.Fuzz(func(t *testing.T, typ, rawQuery string, strict bool) {
		v, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		q, err := parseSearch(typ, v, strict)
		if err != nil {
			var se *searchError
			if !errors.As(err, &se) || se.code == "" {
				t.Fatalf("error without an OperationOutcome code: %v", err)
			}
			return
		}
		if q.count < 0 || q.count > MaxPageSize || q.offset < 0 {
			t.Fatalf("paging out of range: count %d offset %d", q.count, q.offset)
		}
		for _, r := range recs {
			_ = q.match(r)
			_ = q.less(r, recs[0])
		}
	})
}

func fuzzRecords(tb testing.TB) []*record {
	var out []*record
	for _, raw := range []string{
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/123"},"effectiveDateTime":"2025-01-10"}`,
		`{"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order","subject":{"reference":"https://x/Patient/123"},"authoredOn":"2025-01-05T10:00:00Z"}`,
		`{"resourceType":"Observation","id":"o2","effectivePeriod":{"start":"2024"}}`,
	} {
		r, err := newRecord(json.RawMessage(raw))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// BenchmarkBundleResources measures decoding a 20-entry prefetch searchset, as every hook does.
func BenchmarkBundleResources(b *testing.B) {
	var entries []string
	for i := range 20 {
		entries = append(entries, fmt.Sprintf(`{"fullUrl":"https://x/fhir/MedicationRequest/m%d","resource":{"resourceType":"MedicationRequest","id":"m%d","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medicationCodeableConcept":{"coding":[{"system":"%s","code":"2119399"}]}},"search":{"mode":"match"}}`, i, i, SystemRxNorm))
	}
	raw := json.RawMessage(`{"resourceType":"Bundle","type":"searchset","total":20,"entry":[` + strings.Join(entries, ",") + `]}`)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		res, _, err := BundleResources(raw)
		if err != nil || len(res) != 20 {
			b.Fatal(len(res), err)
		}
	}
}
