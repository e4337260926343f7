package rawjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"valuerx/internal/cputime"
)

var seeds = []string{
	`{"prefetch":{"a":1,"b":{"c":[2]},"a":3},"x":"y"}`, `{"prefetch":{"a":1},"prefetch":null}`,
	`{"prefetch":[1],"prefetch":{"k":"v"}}`, `{"pre\u0066etch":{"k":{}}}`, `{"Prefetch":{"k":1}}`,
	`{}`, `[]`, `{"a":1}`, ` { "a" : [1, {"b":"}"}], "c":"x\"y", "a":null } `,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Coverage","id":"c1"}}]}`,
	`{"ResourceType":"a","resourcetype":"b"}`, `{"resource\u0054ype":"Patient"}`,
	`{"\u00e9":1,"k\\ey":"v\u0000"}`, `[1, "two", {"three":3}, [4], null, true, false, -5.5e3]`,
	`"str"`, `"a\nb"`, "\"\xff\"", `null`, `12`, `{"a":{"a":{"a":[[[]]]}}}`, `{"resourceType":7}`,
	"{\"resourceType\":\"\xc5\xbf\"}", `{"reſourceType":"x"}`, `{"resourceTypeK":"x"}`,
}

// The answers for valid JSON are encoding/json's.
func check(t *testing.T, data []byte) {
	if !json.Valid(data) {
		return
	}
	var wantObj map[string]json.RawMessage
	objErr := json.Unmarshal(data, &wantObj)
	if objErr == nil && IsNull(data) {
		objErr = errNull // null decodes into a nil map; it is not an object
	}
	gotObj, ok := Object(data)
	if (objErr == nil) != ok {
		t.Fatalf("Object(%q): ok=%v, encoding/json error %v", data, ok, objErr)
	}
	if ok {
		if len(gotObj) != len(wantObj) {
			t.Fatalf("Object(%q): %d members, want %d", data, len(gotObj), len(wantObj))
		}
		for k, v := range wantObj {
			if !bytes.Equal(gotObj[k], v) {
				t.Fatalf("Object(%q)[%q] = %q, want %q", data, k, gotObj[k], v)
			}
		}
	}
	if ok {
		gm, gn, nok := ValidObjectNested(data, "prefetch")
		if !nok || len(gm) != len(wantObj) {
			t.Fatalf("ValidObjectNested(%q): valid=%v, %d members, want %d", data, nok, len(gm), len(wantObj))
		}
		for k, v := range wantObj {
			if !bytes.Equal(gm[k], v) {
				t.Fatalf("ValidObjectNested(%q)[%q] = %q, want %q", data, k, gm[k], v)
			}
		}
		wn, wok := Object(wantObj["prefetch"])
		if Kind(wantObj["prefetch"]) != '{' {
			wn, wok = nil, false
		}
		if (gn != nil) != wok || len(gn) != len(wn) {
			t.Fatalf("ValidObjectNested(%q) nested = %q, Object of the member %q, %v", data, gn, wn, wok)
		}
		for k, v := range wn {
			if !bytes.Equal(gn[k], v) {
				t.Fatalf("ValidObjectNested(%q) nested[%q] = %q, want %q", data, k, gn[k], v)
			}
		}
	}
	var wantArr []json.RawMessage
	arrErr := json.Unmarshal(data, &wantArr)
	gotArr, ok := Elements(data)
	if arrErr == nil && IsNull(data) {
		arrErr = errNull // null decodes into a nil slice; it is not an array
	}
	if (arrErr == nil) != ok {
		t.Fatalf("Elements(%q): ok=%v, encoding/json error %v", data, ok, arrErr)
	}
	if ok {
		if len(gotArr) != len(wantArr) {
			t.Fatalf("Elements(%q): %d, want %d", data, len(gotArr), len(wantArr))
		}
		for i := range wantArr {
			if !bytes.Equal(gotArr[i], wantArr[i]) {
				t.Fatalf("Elements(%q)[%d] = %q, want %q", data, i, gotArr[i], wantArr[i])
			}
		}
	}
	var each [][]byte
	eachOK := EachElement(data, func(el []byte) bool { each = append(each, el); return true })
	if eachOK != (arrErr == nil) || len(each) != len(wantArr) {
		t.Fatalf("EachElement(%q): ok=%v, %d elements; encoding/json %d, %v", data, eachOK, len(each), len(wantArr), arrErr)
	}
	for i := range each {
		if !bytes.Equal(each[i], wantArr[i]) {
			t.Fatalf("EachElement(%q)[%d] = %q, want %q", data, i, each[i], wantArr[i])
		}
	}
	var s struct {
		ResourceType json.RawMessage `json:"resourceType"`
	}
	if json.Unmarshal(data, &s) == nil && objErr == nil {
		got, found := Field(data, "resourceType")
		if found != (s.ResourceType != nil) || (found && !bytes.Equal(got, s.ResourceType)) {
			t.Fatalf("Field(%q, resourceType) = %q, %v; want %q", data, got, found, s.ResourceType)
		}
	}
	var str string
	strErr := json.Unmarshal(data, &str)
	if strErr == nil && IsNull(data) {
		strErr = errNull
	}
	if v, vok := StringView(data); v != str || vok != (strErr == nil) {
		t.Fatalf("StringView(%q) = %q, %v; encoding/json %q, %v", data, v, vok, str, strErr)
	}
	gotStr, ok := String(data)
	if (strErr == nil) != ok || gotStr != str {
		t.Fatalf("String(%q) = %q, %v; encoding/json %q, %v", data, gotStr, ok, str, strErr)
	}
	if Kind(data) != data[SkipSpace(data, 0)] {
		t.Fatalf("Kind(%q) = %q", data, Kind(data))
	}
	if end := ValueEnd(data, SkipSpace(data, 0)); SkipSpace(data, end) != len(data) {
		t.Fatalf("ValueEnd(%q) = %d: not the end of the document", data, end)
	}
}

var errNull = &json.UnsupportedValueError{Str: "null"}

func TestAgainstEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		if !json.Valid([]byte(s)) {
			t.Fatalf("seed %q is not valid JSON", s)
		}
		check(t, []byte(s))
	}
}

func TestExamples(t *testing.T) {
	m, ok := Object([]byte(`{"a": 1 , "b":"x", "a":[2]}`))
	if !ok || len(m) != 2 || string(m["a"]) != "[2]" || string(m["b"]) != `"x"` {
		t.Fatalf("Object: %v %q", ok, m)
	}
	if v, found := Field([]byte(`{"RESOURCETYPE":"a","id":1}`), "resourceType"); !found || string(v) != `"a"` {
		t.Fatalf("Field is case-insensitive like encoding/json: %q %v", v, found)
	}
	if _, ok := Object([]byte(`[1]`)); ok {
		t.Fatal("an array is not an object")
	}
	// Sub-slices are capacity-limited: appending to one member cannot overwrite the next.
	b := []byte(`{"a":"1","b":"2"}`)
	m, _ = Object(b)
	_ = append(m["a"], 'X')
	if string(b) != `{"a":"1","b":"2"}` {
		t.Fatalf("append through a member changed the input: %s", b)
	}
	if !IsNull([]byte(" null ")) || IsNull([]byte("nullx")) || IsNull([]byte(`"null"`)) {
		t.Fatal("IsNull")
	}
}

// Invalid input must not panic or hang; the answers are not specified.
func FuzzRawJSON(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"a":`))
	f.Add([]byte(`{"a" 1}`))
	f.Add([]byte(`[1,`))
	f.Fuzz(func(t *testing.T, data []byte) {
		Object(data)
		Elements(data)
		Field(data, "resourceType")
		String(data)
		IsNull(data)
		check(t, data)
	})
}

func BenchmarkObject(b *testing.B) {
	data := []byte(seeds[4])
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, ok := Object(data); !ok {
			b.Fatal("not an object")
		}
	}
}

// validSeeds are the edges where two JSON validators could part: nesting at and past the limit
// both share (10 000), repeated names, invalid UTF-8 and surrogate escapes, number forms,
// whitespace that JSON does not allow, trailing bytes.
var validSeeds = []string{
	"", " ", "{}", "[]", `{"a":1,"a":2}`, "\"\xff\xfe\"", `"\ud800"`, `"\udc00\ud800"`, `"\u00"`, `"\x"`,
	"-0", "-", "01", "1.", "1e", "1e+5", ".5", "1E-7", "0.0e0", "\u00a01", "\v1", "1 2", "[1,]", `{"a":1,}`,
	`{"a" :1 }`, "\"\t\"", "\"\x7f\"", "nul", "true ", " false", "[null,true,false]", `{"":""}`,
	"\xef\xbb\xbf{}", "\x00", "{}\x00", `"\/"`,
}

func TestValidAgainstEncodingJSON(t *testing.T) {
	for _, s := range append(validSeeds, seeds...) {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid %v", s, got, want)
		}
	}
	for _, depth := range []int{9999, 10000, 10001} {
		arrays := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		objects := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
		for _, s := range []string{arrays, objects} {
			if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
				t.Errorf("Valid(depth %d, %.2s...) = %v, json.Valid %v", depth, s, got, want)
			}
		}
	}
	if !json.Valid([]byte(strings.Repeat("[", 10000)+strings.Repeat("]", 10000))) || json.Valid([]byte(strings.Repeat("[", 10001)+strings.Repeat("]", 10001))) {
		t.Error("encoding/json's nesting limit is not 10 000: revisit Valid's documentation")
	}
}

// FuzzValid holds Valid to json.Valid for every input.
func FuzzValid(f *testing.F) {
	for _, s := range append(validSeeds, seeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid %v", data, got, want)
		}
	})
}

func TestFields(t *testing.T) {
	b := []byte(`{"resourceType":"Bundle","Entry":[1],"id":"x","entry":[2],"other":{"entry":3}}`)
	names := []string{"resourceType", "entry", "link"}
	vals, counts := make([][]byte, 3), make([]int, 3)
	if !Fields(b, names, vals, counts) {
		t.Fatal("not an object")
	}
	if string(vals[0]) != `"Bundle"` || counts[0] != 1 || string(vals[1]) != "[2]" || counts[1] != 2 || vals[2] != nil || counts[2] != 0 {
		t.Fatalf("Fields: %q %v", vals, counts)
	}
	for k, n := range names {
		v, c := FieldN(b, n)
		if !bytes.Equal(v, vals[k]) || c != counts[k] {
			t.Errorf("Fields[%s] = %q ×%d, FieldN %q ×%d", n, vals[k], counts[k], v, c)
		}
	}
	if Fields([]byte(`[1]`), names, vals, counts) {
		t.Error("an array is not an object")
	}
}

// FuzzFieldsNested holds FieldsNestedAt to the two walks it replaces, Fields and then FieldN of the
// nested member, on any valid JSON (its domain): the same ok, values and counts.
func FuzzFieldsNested(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"fullUrl":"x","resource":{"resourceType":"Patient","id":"1"},"search":{"mode":"match"}}`))
	f.Add([]byte(`{"resource":{"resourceType":"A","ResourceType":"B"},"RESOURCE":{"x":1}}`))
	f.Add([]byte(`{"resource":{"resourceType":"A" "id":1},"fullUrl":"y"}`))
	f.Add([]byte(`{"resource":{"resourceType":"A"},"resource":7}`))
	f.Add([]byte(`{"resource":{"a":{"resourceType":"deep"}}}`))
	names := []string{"fullUrl", "resource", "search", "request"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !Valid(data) {
			return
		}
		vals, counts := make([][]byte, len(names)), make([]int, len(names))
		wantVals, wantCounts := make([][]byte, len(names)), make([]int, len(names))
		iv, in, _, ok := FieldsNestedAt(data, SkipSpace(data, 0), names, vals, counts, 1, "resourceType")
		wantOK := Fields(data, names, wantVals, wantCounts)
		var wiv []byte
		var win int
		if r := wantVals[1]; r != nil && Kind(r) == '{' {
			wiv, win = FieldN(r, "resourceType")
		}
		if ok != wantOK {
			t.Fatalf("ok %v, Fields %v", ok, wantOK)
		}
		if !ok {
			return
		}
		for k := range names {
			if string(vals[k]) != string(wantVals[k]) || counts[k] != wantCounts[k] {
				t.Fatalf("%s: %q x%d, Fields %q x%d", names[k], vals[k], counts[k], wantVals[k], wantCounts[k])
			}
		}
		if string(iv) != string(wiv) || in != win {
			t.Fatalf("resourceType %q x%d, FieldN %q x%d", iv, in, wiv, win)
		}
	})
}

// FuzzValidObjectNested holds ValidObjectNested to Valid on any input, and for a valid object to
// encoding/json's members and nested members (check), with every value capacity-limited.
func FuzzValidObjectNested(f *testing.F) {
	for _, s := range append(validSeeds, seeds...) {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"hook":"order-sign","prefetch":{"a":{"x":1},"b":null},"prefetch":{"c":[1,2]}}`))
	f.Add([]byte(`{"prefetch":7,"x":{"prefetch":{"deep":1}}}`))
	f.Add([]byte(`{"prefetch":{"a":1},"prefetch":null} `))
	f.Add([]byte(`{"pre\u0066etch":{"k\u00e9":"v"}}`))
	f.Add([]byte(`{"prefetch":{"a":1}} {}`))
	f.Add([]byte("{\"prefetch\":{\"\xff\":1}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, nested, valid := ValidObjectNested(data, "prefetch")
		if want := Valid(data); valid != want {
			t.Fatalf("valid %v, Valid %v", valid, want)
		}
		if !valid || Kind(data) != '{' {
			if m != nil || nested != nil {
				t.Fatalf("members of an invalid body or a non-object")
			}
			return
		}
		check(t, data) // the members and the nested members are encoding/json's
		for _, v := range m {
			if cap(v) != len(v) {
				t.Fatalf("value %q is not capacity-limited", v)
			}
		}
	})
}

// FuzzEachElementAt: with a callback that finds each element's end as EachElement does, the two
// visit the same elements and report the same answer, on any input.
func FuzzEachElementAt(f *testing.F) {
	for _, s := range append(validSeeds, seeds...) {
		f.Add([]byte(s))
	}
	f.Add([]byte(`[null, {"a":[1,2]} ,"x",[]]`))
	f.Add([]byte(`[1,,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want, got []string
		wantOK := EachElement(data, func(el []byte) bool { want = append(want, string(el)); return true })
		gotOK := EachElementAt(data, func(b []byte, i int) int {
			end := ValueEnd(b, i)
			got = append(got, string(b[i:end]))
			return end
		})
		if wantOK != gotOK || strings.Join(want, "\x00") != strings.Join(got, "\x00") || len(want) != len(got) {
			t.Fatalf("EachElementAt %v %q, EachElement %v %q", gotOK, got, wantOK, want)
		}
	})
}

// historyBody is a CDS Hooks body shaped like the load harness's history-500: a prefetch Bundle
// of n MedicationRequests.
func historyBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"hook":"order-sign","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea","context":{"patientId":"pat-aco"},"prefetch":{"patient":{"resourceType":"Patient","id":"pat-aco"},"medications":{"resourceType":"Bundle","type":"searchset","total":500,"entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"fullUrl":"http://localhost:8080/fhir/MedicationRequest/hist-midcourse-herceptin-h1","resource":{"authoredOn":"2026-01-05","id":"hist-midcourse-herceptin-h1","intent":"order","medicationCodeableConcept":{"coding":[{"code":"1922509","display":"Trastuzumab 150 mg Vial [Herceptin]","system":"http://www.nlm.nih.gov/research/umls/rxnorm"},{"code":"J9355","system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"}],"text":"Herceptin"},"requester":{"reference":"Practitioner/dr-oncology"},"resourceType":"MedicationRequest","status":"active","subject":{"reference":"Patient/pat-aco"}}}`)
	}
	b.WriteString(`]}}}`)
	return []byte(b.String())
}

// BenchmarkValidObjectNested is the validation and split of a 500-entry history request.
func BenchmarkValidObjectNested(b *testing.B) {
	body := historyBody(500)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	start, n := cputime.Now(), 0
	for b.Loop() {
		if _, _, ok := ValidObjectNested(body, "prefetch"); !ok {
			b.Fatal("invalid")
		}
		n++
	}
	b.ReportMetric(float64(cputime.Now()-start)/float64(n), "cpu-ns/op")
}

// FuzzValidValueSuffix holds ValidValueSuffixAt to ValidValueAt and, for a valid value, its found
// to bytes.Contains of the value's text.
func FuzzValidValueSuffix(f *testing.F) {
	for _, s := range append(validSeeds, seeds...) {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"a":"x\"a","b":["a"],"\"a":1}`))
	f.Add([]byte(`["\\"a"]`))
	f.Add([]byte(`{"medicationReference":{"reference":"Medication/1"}}`))
	f.Add([]byte(`{"note":"x\"medicationReference"}`))
	f.Add([]byte(`"plain ascii string, long enough"`))
	f.Add([]byte("\"caf\xc3\xa9 au lait, long enough\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		i := SkipSpace(data, 0)
		if i < len(data) && data[i] == '"' { // ValidStringPlain: ValidString's end, and plain as its bytes say
			end, plain := ValidStringPlain(data, i)
			if want := ValidString(data, i); end != want {
				t.Fatalf("ValidStringPlain end %d, ValidString %d", end, want)
			}
			if end >= 0 {
				want := true
				for _, c := range data[i+1 : end-1] {
					if c == '\\' || c < 0x20 || c >= 0x80 {
						want = false
					}
				}
				if plain != want {
					t.Fatalf("ValidStringPlain(%q) plain %v, want %v", data[i:end], plain, want)
				}
			}
		}
		for _, suffix := range []string{`"a"`, `"medicationReference"`} {
			end, found := ValidValueSuffixAt(data, i, 0, suffix)
			if want := ValidValueAt(data, i, 0); end != want {
				t.Fatalf("end %d, ValidValueAt %d", end, want)
			}
			if end < 0 {
				continue
			}
			if want := bytes.Contains(data[i:end], []byte(suffix)); found != want {
				t.Fatalf("%s in %q: %v, bytes.Contains %v", suffix, data[i:end], found, want)
			}
		}
	})
}
