package medindex

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"valuerx/demo"
)

// oracle is the answer Classify stands in for, written separately from the package's own
// fallback: encoding/json decoding the record into a Bundle (or an array) and each resource into
// a struct with the members read.
type oracleRes struct {
	ResourceType              string `json:"resourceType"`
	ID                        string `json:"id"`
	Status                    string `json:"status"`
	AuthoredOn                string `json:"authoredOn"`
	MedicationCodeableConcept *struct {
		Coding []struct {
			System *string `json:"system"`
			Code   *string `json:"code"`
		} `json:"coding"`
	} `json:"medicationCodeableConcept"`
}

func oracleEntry(raw json.RawMessage) Entry {
	var r oracleRes
	if err := json.Unmarshal(raw, &r); err != nil {
		return Entry{Raw: raw}
	}
	e := Entry{ResourceType: r.ResourceType, ID: r.ID, Status: r.Status, AuthoredOn: r.AuthoredOn, Raw: raw, OK: true}
	if r.MedicationCodeableConcept != nil {
		for _, c := range r.MedicationCodeableConcept.Coding {
			var cd Coding
			if c.System != nil {
				cd.System = *c.System
			}
			if c.Code != nil {
				cd.Code = *c.Code
			}
			e.Codings = append(e.Codings, cd)
		}
	}
	return e
}

func oracle(b []byte) ([]Entry, error) {
	var res []json.RawMessage
	switch k := firstByte(b); k {
	case '{':
		var bun struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &bun); err != nil {
			return nil, err
		}
		for _, e := range bun.Entry {
			if len(e.Resource) > 0 && string(e.Resource) != "null" {
				res = append(res, e.Resource)
			}
		}
	case '[':
		var all []json.RawMessage
		if err := json.Unmarshal(b, &all); err != nil {
			return nil, err
		}
		for _, r := range all {
			if string(r) != "null" {
				res = append(res, r)
			}
		}
	default:
		return nil, fmt.Errorf("not a record")
	}
	var out []Entry
	for _, r := range res {
		out = append(out, oracleEntry(r))
	}
	return out, nil
}

func firstByte(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}

// same compares the answers that matter: OK, and for OK entries every member (nil and empty
// codings alike); Raw must be the same resource text up to surrounding whitespace.
func same(a, b Entry) bool {
	if a.OK != b.OK || strings.TrimSpace(string(a.Raw)) != strings.TrimSpace(string(b.Raw)) {
		return false
	}
	if !a.OK {
		return true
	}
	if len(a.Codings) == 0 && len(b.Codings) == 0 {
		a.Codings, b.Codings = nil, nil
	}
	a.Raw, b.Raw = nil, nil
	return reflect.DeepEqual(a, b)
}

func checkAgainstOracle(t *testing.T, b []byte) {
	t.Helper()
	got, err := Classify(b)
	want, werr := oracle(b)
	if (err == nil) != (werr == nil) {
		t.Fatalf("Classify(%s): error %v, encoding/json %v", b, err, werr)
	}
	if err != nil {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("Classify(%s): %d entries, encoding/json %d", b, len(got), len(want))
	}
	for i := range got {
		if !same(got[i], want[i]) {
			t.Fatalf("Classify(%s) entry %d:\n got %+v\nwant %+v", b, i, got[i], want[i])
		}
	}
	// The same resources handed over already split (as the gateway holds them), with a null
	// one added: an OK entry with every member empty.
	res := []json.RawMessage{json.RawMessage("null")}
	for _, w := range want {
		res = append(res, w.Raw)
	}
	split := ClassifyResources(res)
	if len(split) != len(res) || !same(split[0], Entry{Raw: res[0], OK: true}) {
		t.Fatalf("ClassifyResources: %d entries for %d, first %+v", len(split), len(res), split[0])
	}
	for i := range want {
		if !same(split[i+1], want[i]) {
			t.Fatalf("ClassifyResources(%s) entry %d:\n got %+v\nwant %+v", res[i+1], i, split[i+1], want[i])
		}
	}
}

func TestClassifyTable(t *testing.T) {
	rx := "http://www.nlm.nih.gov/research/umls/rxnorm"
	cases := []struct {
		name string
		in   string
		want []Entry // Raw not compared here
		err  bool
	}{
		{"demo-shaped entry", `{"resourceType":"Bundle","entry":[{"fullUrl":"x","resource":{"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order",
			"medicationCodeableConcept":{"coding":[{"system":"` + rx + `","code":"861007","display":"metformin"}],"text":"t"},"authoredOn":"2025-06-01","subject":{"reference":"Patient/p"}}}]}`,
			[]Entry{{ResourceType: "MedicationRequest", ID: "m1", Status: "active", AuthoredOn: "2025-06-01", Codings: []Coding{{rx, "861007"}}, OK: true}}, false},
		{"two codings, one without a system", `[{"resourceType":"MedicationRequest","id":"a","medicationCodeableConcept":{"coding":[{"code":"J9355"},{"system":"s","code":"c"}]}}]`,
			[]Entry{{ResourceType: "MedicationRequest", ID: "a", Codings: []Coding{{"", "J9355"}, {"s", "c"}}, OK: true}}, false},
		{"case-folded and escaped keys", `[{"ResourceType":"MedicationRequest","ID":"a","st\u0061tus":"completed","AUTHOREDON":"2024-01-01"}]`,
			[]Entry{{ResourceType: "MedicationRequest", ID: "a", Status: "completed", AuthoredOn: "2024-01-01", OK: true}}, false},
		{"Unicode folding: long s and Kelvin", "[{\"\u017Ftatus\":\"stopped\",\"id\":\"x\"}]",
			[]Entry{{ID: "x", Status: "stopped", OK: true}}, false},
		{"escaped value", `[{"id":"a\u00e9\n","status":"active"}]`, []Entry{{ID: "a\u00e9\n", Status: "active", OK: true}}, false},
		{"nulls leave members empty", `[{"id":null,"status":null,"medicationCodeableConcept":null}]`, []Entry{{OK: true}}, false},
		{"null coding element", `[{"medicationCodeableConcept":{"coding":[null,{"code":"c"}]}}]`, []Entry{{Codings: []Coding{{}, {"", "c"}}, OK: true}}, false},
		{"status a number: not OK", `[{"id":"a","status":5}]`, []Entry{{}}, false},
		{"coding an object: not OK", `[{"medicationCodeableConcept":{"coding":{"code":"c"}}}]`, []Entry{{}}, false},
		{"code a number: not OK", `[{"medicationCodeableConcept":{"coding":[{"code":1}]}}]`, []Entry{{}}, false},
		{"resource a string: not OK", `["MedicationRequest"]`, []Entry{{}}, false},
		{"other members of the wrong type are not read", `[{"id":"a","intent":5,"medicationCodeableConcept":{"text":7,"coding":[{"display":false,"code":"c"}]}}]`,
			[]Entry{{ID: "a", Codings: []Coding{{"", "c"}}, OK: true}}, false},
		{"repeated status: encoding/json's answer (last)", `[{"status":"active","Status":"stopped"}]`, []Entry{{Status: "stopped", OK: true}}, false},
		{"repeated status, later null keeps the earlier", `[{"status":"active","status":null}]`, []Entry{{Status: "active", OK: true}}, false},
		{"repeated coding arrays merge element-wise", `[{"medicationCodeableConcept":{"coding":[{"system":"s1","code":"c1"}],"coding":[{"code":"c2"}]}}]`,
			[]Entry{{Codings: []Coding{{"s1", "c2"}}, OK: true}}, false},
		{"null resources and entries without one are skipped", `{"entry":[null,{"fullUrl":"x"},{"resource":null},{"resource":{"id":"z"}}]}`,
			[]Entry{{ID: "z", OK: true}}, false},
		{"last resource member wins", `{"entry":[{"resource":{"id":"a"},"Resource":{"id":"b"}}]}`, []Entry{{ID: "b", OK: true}}, false},
		{"empty bundle", `{"resourceType":"Bundle","type":"searchset","total":0}`, nil, false},
		{"entry not an array", `{"entry":{"resource":{}}}`, nil, true},
		{"entry element a number", `{"entry":[1]}`, nil, true},
		{"neither object nor array", `"x"`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			if !json.Valid(b) {
				t.Fatalf("test input is not JSON")
			}
			got, err := Classify(b)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d entries, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				g := got[i]
				g.Raw = nil
				if !g.OK {
					g = Entry{}
				}
				if !reflect.DeepEqual(g, tc.want[i]) {
					t.Errorf("entry %d = %+v, want %+v", i, g, tc.want[i])
				}
			}
			checkAgainstOracle(t, b)
		})
	}
}

// TestClassifyRawSharesInput: Raw is the input's own bytes, and the codings of one entry cannot
// be appended into the next's.
func TestClassifyRawSharesInput(t *testing.T) {
	b := []byte(`[{"id":"a","medicationCodeableConcept":{"coding":[{"code":"1"}]}},{"id":"b","medicationCodeableConcept":{"coding":[{"code":"2"}]}}]`)
	got, err := Classify(b)
	if err != nil || len(got) != 2 {
		t.Fatal(err, got)
	}
	if &got[0].Raw[0] != &b[1] {
		t.Error("Raw is a copy, not the input's memory")
	}
	_ = append(got[0].Codings, Coding{Code: "x"})
	if got[1].Codings[0].Code != "2" {
		t.Error("appending to one entry's codings overwrote the next entry's")
	}
}

// history builds a searchset Bundle of n MedicationRequests in the shape of the demo's (and the
// load harness's history-N scenarios): copies of the demo history cycling statuses and dates.
func history(t testing.TB, n int) []byte {
	t.Helper()
	var pool []map[string]any
	for _, name := range demo.Requests() {
		raw, _ := demo.Request(name)
		var m struct {
			Prefetch map[string]struct {
				Entry []struct {
					Resource map[string]any `json:"resource"`
				} `json:"entry"`
			} `json:"prefetch"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for _, e := range m.Prefetch["medications"].Entry {
			if e.Resource["resourceType"] == "MedicationRequest" {
				pool = append(pool, e.Resource)
			}
		}
	}
	if len(pool) == 0 {
		t.Fatal("no demo history")
	}
	statuses := []string{"active", "completed", "stopped", "on-hold"}
	var entries []any
	for i := range n {
		r := map[string]any{}
		for k, v := range pool[i%len(pool)] {
			r[k] = v
		}
		r["id"] = fmt.Sprintf("h%d", i)
		r["status"] = statuses[i%len(statuses)]
		r["authoredOn"] = fmt.Sprintf("20%02d-%02d-01", 10+i%15, 1+i%12)
		entries = append(entries, map[string]any{"fullUrl": "http://f/MedicationRequest/" + fmt.Sprint(r["id"]), "resource": r})
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "searchset", "total": n, "entry": entries})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClassifyHistories(t *testing.T) {
	for _, n := range []int{0, 1, 50, 500} {
		b := history(t, n)
		got, err := Classify(b)
		if err != nil || len(got) != n {
			t.Fatalf("%d entries: got %d, %v", n, len(got), err)
		}
		for i, e := range got {
			if !e.OK || e.ID != fmt.Sprintf("h%d", i) || e.ResourceType != "MedicationRequest" || len(e.Codings) == 0 {
				t.Fatalf("entry %d: %+v", i, e)
			}
		}
		checkAgainstOracle(t, b)
	}
}

// Allocation budgets: the whole record in a handful of allocations, whatever its length (the
// builder, its buffer, the pending and resource lists as they grow past the first guess, one
// string, one codings array, the entries), against the 32 allocations per entry of a decode with
// encoding/json. Measured: 7, 15 and 18.
var allocBudget = map[int]float64{1: 12, 50: 24, 500: 30}

func TestClassifyAllocBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation budgets need a quiet runtime")
	}
	for _, n := range []int{1, 50, 500} {
		b := history(t, n)
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := Classify(b); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%d entries: %.0f allocations", n, allocs)
		if allocs > allocBudget[n] {
			t.Errorf("%d entries: %.0f allocations, budget %.0f", n, allocs, allocBudget[n])
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	for _, n := range []int{1, 50, 500} {
		rec := history(b, n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			c0 := processCPU()
			for b.Loop() {
				if _, err := Classify(rec); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
		})
		// What a caller pays today for the same answers: the Bundle split, then every entry
		// decoded with encoding/json (once; currentProduct did it once per draft order).
		b.Run(fmt.Sprintf("encoding-json/entries=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			c0 := processCPU()
			for b.Loop() {
				if _, err := oracle(rec); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is this process's CPU time (user + system), for cpu-ns/op: on the shared machine
// the run queue inflates wall time far more than CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// FuzzClassifyOracle holds Classify to encoding/json on every valid JSON input: the same error
// or none, the same entries, the same members.
func FuzzClassifyOracle(f *testing.F) {
	for _, n := range []int{0, 1, 3} {
		f.Add(history(f, n))
	}
	for _, s := range []string{
		`[{"resourceType":"MedicationRequest","id":"a","status":"active","medicationCodeableConcept":{"coding":[{"system":"s","code":"c"}]}}]`,
		`[{"Status":"a","status":"b"}]`,
		`[{"status":"a","status":null}]`,
		`[{"status":5,"status":"b"}]`,
		`[{"medicationCodeableConcept":{"coding":[{"code":"1"}],"Coding":[{"system":"2"}]}}]`,
		`[{"medicationCodeableConcept":{"coding":[{"code":"1","CODE":"2"}]}}]`,
		`[{"medicationCodeableConcept":{"coding":[null,5]}}]`,
		`[{"medicationCodeableConcept":[]}]`,
		`[{"id":"\ud800"},{"id":"\u00ff"},{"ſtatus":"x"}]`,
		"[{\"id\":\"\xff\"}]",
		`{"entry":[{"resource":{"id":"a"}},null,{"resource":null},{}],"entry":[{"resource":{"id":"b"}}]}`,
		`{"entry":[{"resource":1},{"resource":[]},{"resource":"s"}]}`,
		`{"entry":null}`, `{"entry":[1]}`, `[null, null]`, `[]`, `{}`, `7`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		checkAgainstOracle(t, b)
	})
}
