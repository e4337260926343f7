package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"valuerx/demo"
	"valuerx/loadtest"
)

// arrival is one request a recordingFHIR server received: what it asked for and which requests
// had been answered when it arrived.
type arrival struct {
	path     string // path and query
	answered []string
}

// recordingFHIR is a real FHIR server on loopback (the env's demo server behind a proxying
// handler) that notes, for every request, which earlier requests had already been answered. A
// read that waited for another's answer arrives after it; reads started together arrive before
// any is answered, whatever the machine's load, as long as each answer takes delay (the demo
// server's injected latency).
type recordingFHIR struct {
	mu       sync.Mutex
	arrivals []arrival
	answered []string
	url      string
	// hold, when it matches a request, keeps it until the client gives up (its context ends)
	// and then closes cancelled.
	hold      func(*http.Request) bool
	cancelled chan string
}

func newRecordingFHIR(t *testing.T, e *testEnv, delay time.Duration) *recordingFHIR {
	t.Helper()
	rf := &recordingFHIR{cancelled: make(chan string, 16)}
	e.fhirSrv.SetDelay(delay)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.RequestURI()
		rf.mu.Lock()
		rf.arrivals = append(rf.arrivals, arrival{path: p, answered: slices.Clone(rf.answered)})
		hold := rf.hold != nil && rf.hold(r)
		rf.mu.Unlock()
		if hold {
			select {
			case <-r.Context().Done():
				rf.cancelled <- p
			case <-time.After(20 * time.Second):
			}
			return
		}
		e.fhirSrv.ServeHTTP(w, r)
		rf.mu.Lock()
		rf.answered = append(rf.answered, p)
		rf.mu.Unlock()
	}))
	t.Cleanup(ts.Close)
	rf.url = ts.URL
	return rf
}

func (rf *recordingFHIR) snapshot() []arrival {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	return slices.Clone(rf.arrivals)
}

// reset forgets the requests so far (the env's first hook fills the coverage cache).
func (rf *recordingFHIR) reset() {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.arrivals, rf.answered = nil, nil
}

func pathsOf(as []arrival) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.path)
	}
	slices.Sort(out)
	return out
}

// Without prefetch, every read a hook needs starts at once, beside the prefetch keys' searches:
// the body weight and height of a rituximab order (BSA dose), the body weight of a trastuzumab
// mg/kg order, the dispenses of a statin order-sign (the adherence measures). Each arrives
// before any request was answered, each is made once, and the cards are those of the same hook
// with full prefetch (where the weight search follows data resolution, as before).
func TestHookReadsStartTogether(t *testing.T) {
	weight := "/Observation?patient=Patient%2Fpat-aco&code=http%3A%2F%2Floinc.org%7C29463-7&_sort=-date&_count=1"
	height := "/Observation?patient=Patient%2Fpat-aco&code=http%3A%2F%2Floinc.org%7C8302-2&_sort=-date&_count=1"
	for _, c := range []struct {
		name  string
		extra []string // beyond Patient, Coverage and the three prefetch searches
	}{
		{"aco-rituximab-order-sign", []string{weight, height}},
		{"aco-herceptin-gastric-order-select", []string{weight}},
		{"commercial-ppo-lipitor-order-sign", []string{"/MedicationDispense?patient=Patient/pat-ppo"}},
		{"aco-herceptin-order-select", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			full := e.demoRequest(c.name)
			_, wantBody, _ := e.post(serviceOf(c.name), full)
			want := cardsSignature(t, wantBody)
			if want == "" {
				t.Fatalf("the prefetch hook gave no card: %s", wantBody)
			}
			rf := newRecordingFHIR(t, e, 150*time.Millisecond)
			body := setJSON(t, setJSON(t, full, "prefetch", nil), "fhirServer", rf.url)
			s, out, _ := e.post(serviceOf(c.name), body)
			if s != http.StatusOK {
				t.Fatalf("status %d: %s", s, out)
			}
			if got := cardsSignature(t, out); got != want {
				t.Errorf("cards differ from the prefetch hook's:\nprefetch:\n%s\nfetched:\n%s", want, got)
			}
			var m struct {
				Context struct {
					PatientID string `json:"patientId"`
				} `json:"context"`
			}
			_ = json.Unmarshal(full, &m)
			pid := m.Context.PatientID
			wantPaths := append([]string{
				"/Patient/" + pid,
				"/Coverage?patient=Patient/" + pid + "&status=active",
				"/MedicationRequest?patient=Patient/" + pid,
				"/Condition?patient=Patient/" + pid,
				"/MedicationAdministration?patient=Patient/" + pid,
			}, c.extra...)
			slices.Sort(wantPaths)
			got := rf.snapshot()
			if !slices.Equal(pathsOf(got), wantPaths) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(pathsOf(got), "\n"), strings.Join(wantPaths, "\n"))
			}
			for _, a := range got {
				if len(a.answered) > 0 {
					t.Errorf("%s waited for %v: it needs none of them", a.path, a.answered)
				}
			}
		})
	}
}

// A read that needs another's answer starts when that answer arrives, not after data
// resolution: a draft that references its Medication on the server says only once the
// Medication is read that its dose is per kg, so the body weight search follows the Medication
// read, while the history searches run beside that read.
func TestWeightFollowsTheDraftsMedication(t *testing.T) {
	e := newEnv(t)
	if err := e.fhirSrv.Put(json.RawMessage(`{"resourceType":"Medication","id":"med-herceptin-150","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1922509"}]}}`)); err != nil {
		t.Fatal(err)
	}
	rf := newRecordingFHIR(t, e, 150*time.Millisecond)
	var m map[string]any
	_ = json.Unmarshal(e.demoRequest("aco-herceptin-gastric-order-select"), &m)
	m["fhirServer"] = rf.url
	m["prefetch"] = map[string]any{
		"patient":  mustPrefetch(t, e, "aco-herceptin-gastric-order-select", "patient"),
		"coverage": mustPrefetch(t, e, "aco-herceptin-gastric-order-select", "coverage"),
	}
	dr := m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	delete(dr, "medicationCodeableConcept")
	dr["medicationReference"] = map[string]any{"reference": "Medication/med-herceptin-150"}
	body, _ := json.Marshal(m)
	s, out, _ := e.post(serviceOf("order-select"), body)
	if s != http.StatusOK {
		t.Fatalf("status %d: %s", s, out)
	}
	detail := ""
	for _, c := range decodeResponse(t, out).Cards {
		detail += c.Detail
	}
	if !strings.Contains(detail, "x 70 kg (body weight") {
		t.Errorf("the card does not use the body weight:\n%s", detail)
	}
	const med = "/Medication/med-herceptin-150"
	seen := map[string]int{}
	for _, a := range rf.snapshot() {
		seen[a.path]++
		switch {
		case strings.HasPrefix(a.path, "/Observation?"):
			if !slices.Contains(a.answered, med) {
				t.Errorf("the weight search arrived before the Medication was answered (answered: %v)", a.answered)
			}
		default:
			if len(a.answered) > 0 {
				t.Errorf("%s waited for %v: it needs none of them", a.path, a.answered)
			}
		}
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s requested %d times, want once per hook", p, n)
		}
	}
	if seen[med] != 1 || len(seen) != 5 { // the Medication, three history searches, the weight
		t.Errorf("requests %v: want the Medication, the three prefetch searches and the weight", seen)
	}
}

// The Medications a patient's history references are read together as soon as the history
// arrives (therapyHistory used to read them one after another), each once per hook, and they
// decide therapy in progress as before: trastuzumab given three weeks ago, named only through a
// referenced Medication, makes a biosimilar switch mid-course, so no card.
func TestHistoryMedicationsReadTogether(t *testing.T) {
	e := newEnv(t)
	put := func(raw string) {
		t.Helper()
		if err := e.fhirSrv.Put(json.RawMessage(raw)); err != nil {
			t.Fatal(err)
		}
	}
	put(`{"resourceType":"Medication","id":"hist-med-1","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1922509"}]}}`)
	put(`{"resourceType":"Medication","id":"hist-med-2","code":{"text":"ondansetron"}}`)
	put(`{"resourceType":"Medication","id":"hist-med-3","code":{"text":"dexamethasone"}}`)
	given := time.Now().AddDate(0, 0, -21).Format("2006-01-02")
	for i, med := range []string{"hist-med-1", "hist-med-2", "hist-med-3", "hist-med-2"} {
		put(`{"resourceType":"MedicationRequest","id":"hist-mr-` + string(rune('a'+i)) + `","status":"active","intent":"order","subject":{"reference":"Patient/pat-ffs"},"authoredOn":"` + given + `","medicationReference":{"reference":"Medication/` + med + `"}}`)
	}
	rf := newRecordingFHIR(t, e, 150*time.Millisecond)
	name := "medicare-ffs-herceptin-order-select"
	body := setJSON(t, setJSON(t, e.demoRequest(name), "prefetch", nil), "fhirServer", rf.url)
	s, out, _ := e.post(serviceOf(name), body)
	if s != http.StatusOK {
		t.Fatalf("status %d: %s", s, out)
	}
	if n := len(decodeResponse(t, out).Cards); n != 0 {
		t.Errorf("trastuzumab in progress (through a referenced Medication): want no card, got %d\n%s", n, out)
	}
	var reads []arrival
	count := map[string]int{}
	for _, a := range rf.snapshot() {
		if strings.HasPrefix(a.path, "/Medication/") {
			reads = append(reads, a)
			count[a.path]++
		}
	}
	if len(count) != 3 {
		t.Fatalf("Medication reads %v: want the three referenced ones", count)
	}
	for _, a := range reads {
		if count[a.path] != 1 {
			t.Errorf("%s read %d times, want once per hook", a.path, count[a.path])
		}
		if !slices.Contains(a.answered, "/MedicationRequest?patient=Patient/pat-ffs") {
			t.Errorf("%s was read before the history that names it was answered", a.path)
		}
		for _, b := range a.answered {
			if strings.HasPrefix(b, "/Medication/") {
				t.Errorf("%s waited for %s: the history's Medications are read together", a.path, b)
			}
		}
	}
}

// A search the plan started that the hook turns out not to need does not hold the hook up nor
// outlive it: a palliative patient (Z51.5 on the problem list) gets no adherence card, so the
// statin order-sign answers without its dispenses, and the dispense search, held by the server,
// is cancelled when the hook is answered, long before the hook's deadline.
func TestUnneededSearchEndsWithTheHook(t *testing.T) {
	const budget = 10 * time.Second
	e := newEnv(t, withBudget(budget))
	if err := e.fhirSrv.Put(json.RawMessage(`{"resourceType":"Condition","id":"pall-ppo","clinicalStatus":{"coding":[{"code":"active"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"Z51.5"}]},"subject":{"reference":"Patient/pat-ppo"}}`)); err != nil {
		t.Fatal(err)
	}
	rf := newRecordingFHIR(t, e, 0)
	rf.hold = func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/MedicationDispense") }
	name := "commercial-ppo-lipitor-order-sign"
	body := setJSON(t, setJSON(t, e.demoRequest(name), "prefetch", nil), "fhirServer", rf.url)
	start := time.Now()
	s, out, _ := e.post(serviceOf(name), body)
	if s != http.StatusOK {
		t.Fatalf("status %d: %s", s, out)
	}
	if el := time.Since(start); el > budget/2 {
		// Not a performance assertion: a hook that waited for the held search waits its deadline.
		t.Fatalf("the hook waited %v for a search it did not need", el)
	}
	for _, c := range decodeResponse(t, out).Cards {
		if strings.Contains(c.Summary, "dherence") || strings.Contains(c.Summary, "PDC") {
			t.Errorf("palliative patient: no adherence card, got %q", c.Summary)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget/2)
	defer cancel()
	select {
	case p := <-rf.cancelled:
		if !strings.HasPrefix(p, "/MedicationDispense?patient=Patient/pat-ppo") {
			t.Errorf("cancelled %s", p)
		}
	case <-ctx.Done():
		// On a loaded machine the search may not have left before the hook answered; then its
		// context was already cancelled and it never reached the server, which is fine too.
		for _, a := range rf.snapshot() {
			if strings.HasPrefix(a.path, "/MedicationDispense") {
				t.Fatal("the dispense search was not cancelled with its hook")
			}
		}
	}
}

// A hook's body weight and height are each looked up once, whichever order asks first: with a
// trastuzumab mg/kg draft before a rituximab mg/m2 draft, the rituximab dose is priced on the
// patient's BSA (375 mg/m2 x 1.87 m2 = 701.56 mg from 180 cm and 70 kg), with or without
// prefetch. Before, the first draft's weight-only lookup was kept for the whole hook, so the
// BSA dose found "no usable height" and was priced at the group's default 700 mg.
func TestWeightThenBSADraftsGetBoth(t *testing.T) {
	body, err := loadtest.SizedRequest(demo.Requests(), demo.Request, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefetch := range []bool{true, false} {
		e := newEnv(t)
		b := setJSON(t, body, "fhirServer", e.fhirURL)
		if !prefetch {
			b = setJSON(t, b, "prefetch", nil)
		}
		s, out, _ := e.post(serviceOf("order-sign"), b)
		if s != http.StatusOK {
			t.Fatalf("prefetch %v: status %d: %s", prefetch, s, out)
		}
		ritux, mgkg := 0, 0
		for _, c := range decodeResponse(t, out).Cards {
			if strings.Contains(c.Detail, "x 70 kg (body weight") {
				mgkg++
			}
			if !strings.Contains(c.Summary, "rituximab") {
				continue
			}
			ritux++
			if !strings.Contains(c.Detail, "701.56 mg per dose (375 mg/m2 x BSA 1.87 m2 (Mosteller: 180 cm, 70 kg") {
				t.Errorf("prefetch %v: the rituximab card is not priced on the BSA:\n%s", prefetch, c.Detail)
			}
			if strings.Contains(c.Detail, "no usable height") {
				t.Errorf("prefetch %v: the rituximab card found no height", prefetch)
			}
		}
		if ritux == 0 || mgkg == 0 {
			t.Errorf("prefetch %v: %d rituximab cards, %d cards with a mg/kg dose: want both", prefetch, ritux, mgkg)
		}
	}
}

// cardDetails is each card's summary and detail, without the comparison link (a signed
// reference to the hook's figures, which differs between hooks).
func cardDetails(t *testing.T, body []byte) string {
	t.Helper()
	var b strings.Builder
	for _, c := range decodeResponse(t, body).Cards {
		d := c.Detail
		if i := strings.Index(d, "[Full comparison]("); i >= 0 {
			d = d[:i]
		}
		b.WriteString(c.Summary + "\n" + d + "\n---\n")
	}
	return b.String()
}

// withoutPrefetchKeys returns body with the named prefetch keys removed.
func withoutPrefetchKeys(t *testing.T, body []byte, keys ...string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	pf, _ := m["prefetch"].(map[string]any)
	for _, k := range keys {
		delete(pf, k)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// With every declared prefetch key filled, as an EHR fills them, a hook reads nothing from the
// FHIR server: the body weight and height of a mg/kg or mg/m² dose and the dispenses and
// allergies of the adherence cards come with the request (issue 15: a tenth of the load
// harness's "full prefetch" hooks searched the server for the weight). Every demo request with
// prefetch carries every declared key, and its cards, doses included, are those of the same hook
// with the body weight and height searched instead.
func TestFullPrefetchReadsNothing(t *testing.T) {
	for _, name := range demo.Requests() {
		if strings.HasSuffix(name, "-noprefetch") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			full := e.demoRequest(name)
			var m struct {
				Prefetch map[string]json.RawMessage `json:"prefetch"`
			}
			if err := json.Unmarshal(full, &m); err != nil {
				t.Fatal(err)
			}
			for key := range prefetchTemplates {
				if _, ok := m.Prefetch[key]; !ok {
					t.Fatalf("the demo request lacks the declared prefetch key %q", key)
				}
			}
			rf := newRecordingFHIR(t, e, 0)
			s, out, _ := e.post(serviceOf(name), setJSON(t, full, "fhirServer", rf.url))
			if s != http.StatusOK {
				t.Fatalf("status %d: %s", s, out)
			}
			if got := rf.snapshot(); len(got) != 0 {
				t.Errorf("a full prefetch hook read the FHIR server:\n%s", strings.Join(pathsOf(got), "\n"))
			}
			searched := withoutPrefetchKeys(t, setJSON(t, full, "fhirServer", rf.url), keyBodyWeight, keyBodyHeight)
			s, out2, _ := e.post(serviceOf(name), searched)
			if s != http.StatusOK {
				t.Fatalf("status %d: %s", s, out2)
			}
			if a, b := cardDetails(t, out), cardDetails(t, out2); a != b {
				t.Errorf("cards differ between the prefetched and the searched body weight:\nprefetched:\n%s\nsearched:\n%s", a, b)
			}
		})
	}
}

// A prefetched body measurement is read as the dose needs it and checked like a searched one:
// an Observation under bodyWeight whose code is the body height (an EHR that ignored the code
// parameter) is not a weight, and a null bodyWeight (none recorded) prices no mg/kg dose, with
// nothing searched either way. The trastuzumab 6 mg/kg order of the gastric demo request.
func TestPrefetchedWeightIsChecked(t *testing.T) {
	const name = "aco-herceptin-gastric-order-select"
	height := `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","id":"ht","status":"final",` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/pat-aco"},` +
		`"effectiveDateTime":"2026-01-20","valueQuantity":{"value":70,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}]}`
	for _, c := range []struct {
		name   string
		weight any
		want   string
	}{
		{"demo weight", nil, "6 mg/kg x 70 kg (body weight of 2026-01-20)"},
		{"a height under bodyWeight", json.RawMessage(height), "no usable body weight for a mg/kg dose"},
		{"null", "null", "no usable body weight for a mg/kg dose"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			rf := newRecordingFHIR(t, e, 0)
			body := setJSON(t, e.demoRequest(name), "fhirServer", rf.url)
			if c.weight != nil {
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					t.Fatal(err)
				}
				pf := m["prefetch"].(map[string]any)
				if c.weight == "null" {
					pf[keyBodyWeight] = nil
				} else {
					pf[keyBodyWeight] = c.weight
				}
				body, _ = json.Marshal(m)
			}
			s, out, _ := e.post(serviceOf(name), body)
			if s != http.StatusOK {
				t.Fatalf("status %d: %s", s, out)
			}
			if d := cardDetails(t, out); !strings.Contains(d, c.want) {
				t.Errorf("want %q in the cards:\n%s", c.want, d)
			}
			if got := rf.snapshot(); len(got) != 0 {
				t.Errorf("read the FHIR server:\n%s", strings.Join(pathsOf(got), "\n"))
			}
		})
	}
}
