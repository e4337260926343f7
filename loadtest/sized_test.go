package loadtest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"valuerx/demo"
)

func TestParseSized(t *testing.T) {
	cases := []struct {
		in      string
		drafts  int
		history int
		ok      bool
	}{
		{"drafts-1", 1, 1, true},
		{"drafts-20", 20, 1, true},
		{"history-500", 1, 500, true},
		{"history-0", 1, 0, true},
		{"drafts-20-history-500", 20, 500, true},
		{"drafts-100-history-2000", 100, 2000, true},
		{"drafts-0", 0, 0, false},
		{"drafts-101", 0, 0, false},
		{"history-2001", 0, 0, false},
		{"drafts-05", 0, 0, false},
		{"drafts-+5", 0, 0, false},
		{"drafts-5-history-", 0, 0, false},
		{"drafts-", 0, 0, false},
		{"history--1", 0, 0, false},
		{"prefetch", 0, 0, false},
		{"history-50-drafts-2", 0, 0, false},
	}
	for _, tc := range cases {
		d, h, ok := ParseSized(tc.in)
		if ok != tc.ok || (ok && (d != tc.drafts || h != tc.history)) {
			t.Errorf("ParseSized(%q) = %d, %d, %v; want %d, %d, %v", tc.in, d, h, ok, tc.drafts, tc.history, tc.ok)
		}
	}
	for _, sc := range SizedScenarios() {
		if _, _, ok := ParseSized(sc); !ok || !knownScenario(sc) {
			t.Errorf("listed scenario %q does not parse", sc)
		}
	}
}

func TestSizedBudget(t *testing.T) {
	for _, tc := range []struct {
		d, h int
		want time.Duration
	}{{1, 1, 0}, {5, 1, 0}, {20, 1, time.Millisecond}, {1, 50, 0}, {1, 500, 1500 * time.Microsecond},
		{20, 500, 2500 * time.Microsecond}} {
		if got := sizedBudget(tc.d, tc.h); got != tc.want {
			t.Errorf("sizedBudget(%d, %d) = %v, want %v", tc.d, tc.h, got, tc.want)
		}
	}
}

// TestSizedRequests builds every listed sized scenario from the demo requests and checks each
// body: the counts asked for, unique ids, every resource about the request's own patient, the
// history total, and a body the gateway's 1 MiB limit takes.
func TestSizedRequests(t *testing.T) {
	for _, sc := range SizedScenarios() {
		d, h, _ := ParseSized(sc)
		names, get, err := sizedRequests(demo.Requests(), demo.Request, d, h)
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		if len(names) == 0 {
			t.Fatalf("%s: no bases", sc)
		}
		for _, n := range names {
			raw, ok := get(n)
			if !ok {
				t.Fatalf("%s/%s: no body", sc, n)
			}
			if len(raw) > 1<<20 {
				t.Errorf("%s/%s: %d bytes, over the 1 MiB body limit", sc, n, len(raw))
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s/%s: %v", sc, n, err)
			}
			if m["hook"] != "order-sign" {
				t.Errorf("%s/%s: hook %v", sc, n, m["hook"])
			}
			patient := "Patient/" + m["context"].(map[string]any)["patientId"].(string)
			drafts, hist := draftResources(m), historyResources(m)
			if len(drafts) != d || len(hist) != h {
				t.Errorf("%s/%s: %d drafts, %d history entries; want %d, %d", sc, n, len(drafts), len(hist), d, h)
			}
			if total := historyBundle(m)["total"]; total != float64(h) {
				t.Errorf("%s/%s: Bundle.total %v, want %d", sc, n, total, h)
			}
			ids := map[string]bool{}
			for _, r := range append(drafts, hist...) {
				id := fmt.Sprint(r["id"])
				if ids[id] {
					t.Errorf("%s/%s: id %s repeated", sc, n, id)
				}
				ids[id] = true
				if ref := r["subject"].(map[string]any)["reference"]; ref != patient {
					t.Errorf("%s/%s: %s is about %v, not %s", sc, n, id, ref, patient)
				}
			}
			// The base's own draft order comes first, unchanged but for its subject.
			orig, _ := demo.Request(n)
			var om map[string]any
			_ = json.Unmarshal(orig, &om)
			if got, want := drafts[0]["id"], draftResources(om)[0]["id"]; got != want {
				t.Errorf("%s/%s: first draft %v, want the request's own %v", sc, n, got, want)
			}
		}
	}
}

// TestResizeHistoryShape works the history copies for a pool of two by hand: copies 0 and 1 are
// the pool as it is, copies 2 and 3 the second pass (status completed, 30 days earlier), copy 4
// the third (stopped, 60 days earlier).
func TestResizeHistoryShape(t *testing.T) {
	raw := []byte(`{"hook":"order-sign","hookInstance":"x","fhirServer":"http://f/fhir/","context":{"patientId":"p1",
	  "draftOrders":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"d0","subject":{"reference":"Patient/p1"}}}]}},
	  "prefetch":{"medications":{"resourceType":"Bundle","type":"searchset","entry":[]}}}`)
	pools := sizedPools{
		drafts: []map[string]any{{"resourceType": "MedicationRequest", "id": "dx", "subject": map[string]any{"reference": "Patient/other"}}},
		history: []map[string]any{
			{"resourceType": "MedicationRequest", "id": "a", "status": "active", "authoredOn": "2025-06-01"},
			{"resourceType": "MedicationRequest", "id": "b", "status": "active", "authoredOn": "2024-01-31"},
		},
	}
	out, err := resize(raw, 3, 5, pools)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	type row struct{ id, status, date string }
	var got []row
	for _, r := range historyResources(m) {
		got = append(got, row{fmt.Sprint(r["id"]), fmt.Sprint(r["status"]), fmt.Sprint(r["authoredOn"])})
	}
	want := []row{
		{"a-h0", "active", "2025-06-01"},
		{"b-h1", "active", "2024-01-31"},
		{"a-h2", "completed", "2025-05-02"}, // 2025-06-01 - 30 days
		{"b-h3", "completed", "2024-01-01"}, // 2024-01-31 - 30 days
		{"a-h4", "stopped", "2025-04-02"},   // 2025-06-01 - 60 days
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history\n got %v\nwant %v", got, want)
	}
	var dids []string
	for _, r := range draftResources(m) {
		dids = append(dids, fmt.Sprint(r["id"]))
	}
	if strings.Join(dids, ",") != "d0,dx-d1,d0-d2" {
		t.Errorf("draft ids %v, want d0, dx-d1, d0-d2", dids)
	}
	e0 := historyBundle(m)["entry"].([]any)[0].(map[string]any)
	if e0["fullUrl"] != "http://f/fhir/MedicationRequest/a-h0" {
		t.Errorf("fullUrl %v", e0["fullUrl"])
	}
	if _, err := resize([]byte(`{"hook":"order-sign","context":{}}`), 1, 1, pools); err == nil {
		t.Error("a request without drafts or history was resized")
	}
}

func TestParseStatCPU(t *testing.T) {
	// proc(5) layout; the command name holds a space and a ')'. utime 250 + stime 50 ticks at
	// 100 Hz is 3 s; at 250 Hz 1.2 s.
	stat := []byte("4242 (valu erx) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 12345 1000000 200 18446744073709551615\n")
	for _, tc := range []struct {
		hz   int64
		want time.Duration
	}{{100, 3 * time.Second}, {250, 1200 * time.Millisecond}, {1000, 300 * time.Millisecond}} {
		got, err := parseStatCPU(stat, tc.hz)
		if err != nil || got != tc.want {
			t.Errorf("parseStatCPU at %d Hz = %v, %v; want %v", tc.hz, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "no parens at all 1 2 3 4 5 6 7 8 9 10 11 12 13 14", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 3 0"} {
		if _, err := parseStatCPU([]byte(bad), 100); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
}

func TestAuxvClockTicks(t *testing.T) {
	vec := func(pairs ...uint64) []byte {
		b := make([]byte, 8*len(pairs))
		for i, v := range pairs {
			binary.NativeEndian.PutUint64(b[8*i:], v)
		}
		return b
	}
	if got := auxvClockTicks(vec(6, 4096, 17, 250, 0, 0)); got != 250 {
		t.Errorf("AT_CLKTCK 250 read as %d", got)
	}
	if got := auxvClockTicks(vec(6, 4096, 0, 0, 17, 250)); got != 100 {
		t.Errorf("entry after AT_NULL read: %d", got)
	}
	if got := auxvClockTicks(nil); got != 100 {
		t.Errorf("empty vector: %d", got)
	}
}

// TestReadCPU checks the /proc reading against this process's own getrusage: after burning some
// CPU, both must have moved by about the same amount (tick resolution apart).
func TestReadCPU(t *testing.T) {
	before, err := readCPU(os.Getpid())
	if err != nil {
		t.Skip("no /proc here:", err)
	}
	ru := func() time.Duration {
		var r syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
			t.Fatal(err)
		}
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	r0 := ru()
	x := 0
	for ru()-r0 < 200*time.Millisecond {
		for i := range 100000 {
			x += i * i
		}
	}
	_ = x
	after, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	moved, want := after-before, ru()-r0
	tick := time.Second / time.Duration(clockTicks())
	if moved < want-3*tick || moved > want+3*tick+50*time.Millisecond {
		t.Errorf("/proc stat moved %v while getrusage moved %v", moved, want)
	}
}
