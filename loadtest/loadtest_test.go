package loadtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/demo"
)

func testSigner(t testing.TB) *cdshooks.Signer {
	t.Helper()
	key, err := cdshooks.GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	s, err := cdshooks.NewSigner(key, "urn:test:client", "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// floorServer is the floor on a real loopback listener.
func floorServer(t *testing.T, s *cdshooks.Signer) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	f, err := NewFloor(FloorConfig{ExternalURL: srv.URL, Issuer: s.Issuer, Key: s.Key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = f
	return srv
}

func TestFloor(t *testing.T) {
	s := testSigner(t)
	other := testSigner(t)
	srv := floorServer(t, s)
	body, _ := demo.Request("aco-herceptin-order-select")
	sign, _ := demo.Request("aco-herceptin-2024-order-sign")
	path := "/cds-services/valuerx-order-select"
	mint := func(signer *cdshooks.Signer, aud string, extra map[string]any) string {
		tok, err := signer.Mint(aud, 5*time.Minute, extra)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	replayed := mint(s, srv.URL+path, nil)
	cases := []struct {
		name   string
		auth   string
		body   []byte
		size   int
		status int
	}{
		{"good", mint(s, srv.URL+path, nil), body, 2000, 200},
		{"good, tiny size", mint(s, srv.URL+path, nil), body, 1, 200},
		{"first use", replayed, body, 500, 200},
		{"replayed jti", replayed, body, 500, 401},
		{"no token", "", body, 500, 401},
		{"not bearer", "Basic abc", body, 500, 401},
		{"untrusted key", mint(other, srv.URL+path, nil), body, 500, 401},
		{"wrong audience", mint(s, srv.URL+"/cds-services/valuerx-order-sign", nil), body, 500, 401},
		{"expired", mint(s, srv.URL+path, map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()}), body, 500, 401},
		{"no jti", mint(s, srv.URL+path, map[string]any{"jti": nil}), body, 500, 401},
		{"wrong issuer", mint(s, srv.URL+path, map[string]any{"iss": "urn:other"}), body, 500, 401},
		{"malformed JSON", mint(s, srv.URL+path, nil), corrupt(body), 500, 400},
		{"other hook", mint(s, srv.URL+path, nil), sign, 500, 400},
		{"empty object", mint(s, srv.URL+path, nil), []byte(`{}`), 500, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			req.Header.Set(ResponseSizeHeader, strconv.Itoa(tc.size))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
			if tc.status != 200 {
				return
			}
			var r struct {
				Cards []map[string]any `json:"cards"`
			}
			if err := json.Unmarshal(out, &r); err != nil || len(r.Cards) != 1 {
				t.Fatalf("response %s: %v", out, err)
			}
			if tc.size > 200 && len(out) != tc.size {
				t.Errorf("response is %d bytes, asked for %d", len(out), tc.size)
			}
		})
	}
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
}

func TestNewFloorNeedsKey(t *testing.T) {
	if _, err := NewFloor(FloorConfig{ExternalURL: "http://x", Issuer: "i"}); err == nil {
		t.Error("a floor without a key was built")
	}
}

func TestTemplateBody(t *testing.T) {
	for _, name := range demo.Requests() {
		raw, _ := demo.Request(name)
		for _, noPrefetch := range []bool{false, true} {
			tpl, err := NewTemplate(name, raw, "http://127.0.0.1:1/fhir", noPrefetch)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			a, b := tpl.Body(0), tpl.Body(123.45)
			var ma, mb map[string]any
			if err := json.Unmarshal(a, &ma); err != nil {
				t.Fatalf("%s: body is not JSON: %v", name, err)
			}
			if err := json.Unmarshal(b, &mb); err != nil {
				t.Fatalf("%s: varied body is not JSON: %v", name, err)
			}
			if ma["hookInstance"] == mb["hookInstance"] {
				t.Errorf("%s: hookInstance repeated", name)
			}
			if ma["fhirServer"] != "http://127.0.0.1:1/fhir" {
				t.Errorf("%s: fhirServer %v", name, ma["fhirServer"])
			}
			_, had := orig0(raw)["prefetch"]
			if _, has := ma["prefetch"]; has != (had && !noPrefetch) {
				t.Errorf("%s: prefetch present = %v with noPrefetch %v", name, has, noPrefetch)
			}
			var orig map[string]any
			_ = json.Unmarshal(raw, &orig)
			// With the dose kept, the body is the demo request but for hookInstance/fhirServer/prefetch.
			for _, k := range []string{"hook", "context", "fhirAuthorization"} {
				ja, _ := json.Marshal(ma[k])
				jo, _ := json.Marshal(orig[k])
				if !bytes.Equal(ja, jo) {
					t.Errorf("%s: %s changed", name, k)
				}
			}
			if tpl.DoseVaries && !bytes.Contains(b, []byte(`"value":123.45`)) {
				t.Errorf("%s: varied dose not in body", name)
			}
		}
	}
}

func orig0(raw []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

func TestNewTemplateRejects(t *testing.T) {
	for _, raw := range []string{`not json`, `{"hook":"patient-view","context":{}}`, `[]`} {
		if _, err := NewTemplate("x", []byte(raw), "", false); err == nil {
			t.Errorf("NewTemplate(%s) accepted", raw)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP valuerx_scoring_cache_hits Scoring LRU cache hits since start.
# TYPE valuerx_scoring_cache_hits gauge
valuerx_scoring_cache_hits 1234
valuerx_scoring_cache_misses 56
valuerx_fhir_fetches_total{key="coverage"} 3
valuerx_fhir_fetches_total{key="medications"} 4
valuerx_fhir_round_trips_per_hook_bucket{le="1"} 5
valuerx_fhir_round_trips_per_hook_sum 7
valuerx_fhir_round_trips_per_hook_count 6
valuerx_coverage_cache_total{result="hit"} 9
valuerx_coverage_cache_total{result="miss"} 1
valuerx_scoring_cache_hits_extra 99
garbage line
`
	s, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := scrape{cacheHits: 1234, cacheMisses: 56, fhirFetches: 7, coverageHit: 9, coverageMiss: 1}
	if s != want {
		t.Errorf("parseMetrics = %+v, want %+v", s, want)
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add([]byte("valuerx_scoring_cache_hits 1\nvaluerx_scoring_cache_misses 2\n"))
	f.Add([]byte("# x\nvaluerx_coverage_cache_total{result=\"hit\"} NaN\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseMetrics(bytes.NewReader(b))
		if err == nil && (s.cacheHits < 0 && !bytes.Contains(b, []byte("-"))) {
			t.Fatalf("negative hits from %q", b)
		}
	})
}

func FuzzNewTemplate(f *testing.F) {
	for _, n := range demo.Requests() {
		raw, _ := demo.Request(n)
		f.Add(raw)
	}
	f.Add([]byte(`{"hook":"order-sign","context":{"draftOrders":{"entry":[{"resource":{"dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":1}}]}]}}]}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tpl, err := NewTemplate("f", raw, "", false)
		if err != nil {
			return
		}
		for _, d := range []float64{0, 5} {
			if body := tpl.Body(d); !json.Valid(body) {
				t.Fatalf("template of %q builds invalid JSON %q (dose %v)", raw, body, d)
			}
		}
	})
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := quantile(lat, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

func TestStatsAndReport(t *testing.T) {
	st := newStats(10)
	st.beginRound()
	st.record(outcome{status: 200, latency: 2 * time.Millisecond}, BadNone)
	st.record(outcome{status: 200, latency: 4 * time.Millisecond}, BadNone)
	st.record(outcome{status: 500, body: []byte(`{"oops":1}`)}, BadNone)
	st.record(outcome{status: 401}, BadNoToken)
	st.record(outcome{status: 200}, BadJSON)                          // a bad request that got a 200 is unexpected
	st.endRound(time.Second, 10*time.Millisecond, 3*time.Millisecond) // 10 ms of server CPU over 5 requests: 2 ms each; harness 0.6 ms
	tg := &target{name: "valuerx", stats: st, metrics: []scrape{{cacheHits: 10, cacheMisses: 10}, {cacheHits: 19, cacheMisses: 11}}}
	r := tg.result(ScenarioMix, 4)
	if r.CPUPerRequest != 2*time.Millisecond || r.Rounds[0].CPUPerRequest != 2*time.Millisecond {
		t.Errorf("CPU per request %v (round %v), want 2ms", r.CPUPerRequest, r.Rounds[0].CPUPerRequest)
	}
	if r.GeneratorCPUPerRequest != 600*time.Microsecond {
		t.Errorf("generator CPU per request %v, want 600µs", r.GeneratorCPUPerRequest)
	}
	if r.Requests != 5 || r.OK != 2 || r.BadRefused != 1 || r.Unexpected != 2 {
		t.Errorf("result %+v", r)
	}
	if r.CacheHitRatio != 0.9 {
		t.Errorf("cache hit ratio %v, want 0.9", r.CacheHitRatio)
	}
	if r.P50 != 2*time.Millisecond || r.Max != 4*time.Millisecond {
		t.Errorf("latencies p50 %v max %v", r.P50, r.Max)
	}
	if !strings.Contains(r.Sample, "500") {
		t.Errorf("sample %q", r.Sample)
	}
	if len(r.Rounds) != 1 || r.Rounds[0].Throughput != 5 {
		t.Errorf("rounds %+v", r.Rounds)
	}
	fl := r
	fl.Server, fl.Throughput, fl.P99 = "floor", 10, time.Millisecond
	fl.CPUPerRequest = 500 * time.Microsecond
	fl.Rounds = []RoundFigures{{Throughput: 10, P99: time.Millisecond, CPUPerRequest: 500 * time.Microsecond}}
	compare(&r, fl)
	if r.ThroughputRatio != 0.5 || r.P99Ratio != 4 || r.ThroughputRatioMedian != 0.5 || r.P99RatioMedian != 4 {
		t.Errorf("ratios %v %v %v %v", r.ThroughputRatio, r.P99Ratio, r.ThroughputRatioMedian, r.P99RatioMedian)
	}
	if r.CPURatio != 4 || r.CPURatioMedian != 4 { // 2 ms against 0.5 ms
		t.Errorf("CPU ratios %v %v, want 4", r.CPURatio, r.CPURatioMedian)
	}
	rep := &Report{Results: []Result{r, fl}, Options: ReportOptions{FHIRDelay: "5ms"}}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"valuerx/floor: throughput 0.50, p99 4.00 (median of 1 paired rounds: 0.50, 4.00), CPU/req 4.00 (4.00)",
		"NOT met", "[no-token 401]×1", "first unexpected", "2000µs", "500µs"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	if rep.Unexpected() != 4 {
		t.Errorf("Unexpected() = %d", rep.Unexpected())
	}
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil || !json.Valid(buf.Bytes()) {
		t.Errorf("JSON report: %v", err)
	}
}

func TestReadMemory(t *testing.T) {
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Skip("no /proc here:", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("memory %+v", m)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}
	if err := o.defaults(); err == nil {
		t.Error("empty options accepted")
	}
	o = Options{Exe: "x", ValuerxArgs: func(string, string) ([]string, error) { return nil, nil },
		Signer: testSigner(t), Requests: demo.Request, Names: demo.Requests(), Scenarios: []string{"nope"}}
	if err := o.defaults(); err == nil {
		t.Error("unknown scenario accepted")
	}
	o.Scenarios, o.Concurrency = nil, []int{0}
	if err := o.defaults(); err == nil {
		t.Error("concurrency 0 accepted")
	}
	o.Concurrency = nil
	if err := o.defaults(); err != nil || !o.NoFloor || o.Rounds != 4 || o.Scenarios[0] != ScenarioPrefetch {
		t.Errorf("defaults: %v %+v", err, o)
	}
}
