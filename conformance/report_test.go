package conformance

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden report files in testdata/golden")

// fixedReport is a report with one result of each kind, deterministic to the byte.
func fixedReport() *Report {
	rec := newRecorder(Catalog())
	rec.pass(CheckDiscoveryAvailable, Evidence{})
	rec.violate(CheckCardSummary, Evidence{Request: "POST /cds-services/rx (built-in order-select)", Status: 200, Path: "$.cards[0].summary", Message: "summary has 141 characters; it must have fewer than 140"})
	rec.violate(CheckPerfSpec, Evidence{Request: "service rx", Message: "p90 3001 ms is over the 500ms target"})
	rec.skip(CheckFeedbackAccepted, Evidence{Message: "feedback endpoint not offered (answered 404); it is optional"})
	rec.pass(CheckPerfCRD, Evidence{Request: "service rx", Message: "n=3 p50=3000.0 ms"})
	return &Report{
		BaseURL:  "https://cds.example.org",
		Started:  time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC),
		Elapsed:  3250 * time.Millisecond,
		Trust:    Trust{Issuer: DefaultIssuer, JKU: "http://127.0.0.1:9999/jwks.json", KID: "kid-1", Alg: "ES384", JWKS: json.RawMessage(`{"keys":[]}`)},
		Services: []ServiceInfo{{ID: "rx", Hook: "order-select", Prefetch: true}},
		Timing:   []Timing{Summarize("rx", []time.Duration{3 * time.Second, 3001 * time.Millisecond, 2999 * time.Millisecond})},
		Results:  rec.finish(),
	}
}

func TestReportGolden(t *testing.T) {
	for _, format := range []string{FormatText, FormatJSON, FormatJUnit} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := fixedReport().Write(&b, format); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", "report."+format)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s report differs from %s (run with -update after checking):\n%s", format, path, b.String())
			}
		})
	}
}

func TestReportShape(t *testing.T) {
	rep := fixedReport()
	if !rep.ShallFailed() || rep.Verdict() != "FAILED" {
		t.Errorf("ShallFailed %v verdict %s, want a SHALL failure", rep.ShallFailed(), rep.Verdict())
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"FAIL    card.summary", "SHALL", "Inferno cds-hooks_2.0@83",
		"- POST /cds-services/rx (built-in order-select), status 200, at $.cards[0].summary: summary has 141 characters",
		"WARNING perf.spec-500ms", "SKIPPED feedback.accepted",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	var junit bytes.Buffer
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(junit.Bytes(), &suites); err != nil {
		t.Fatalf("JUnit does not parse: %v", err)
	}
	if suites.Failures != 1 || suites.Tests != len(Catalog()) {
		t.Errorf("JUnit failures %d tests %d", suites.Failures, suites.Tests)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Summary struct {
			Verdict string         `json:"verdict"`
			Counts  map[string]int `json:"counts"`
		} `json:"summary"`
		Results []Result `json:"results"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Summary.Verdict != "FAILED" || back.Summary.Counts["fail"] != 1 || len(back.Results) != len(Catalog()) {
		t.Errorf("JSON summary %+v, %d results", back.Summary, len(back.Results))
	}
	if err := rep.Write(&js, "yaml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 10; i++ {
		s = append(s, time.Duration(11-i)*time.Millisecond)
	}
	tm := Summarize("x", s)
	if tm.P50 != 5*time.Millisecond || tm.P90 != 9*time.Millisecond || tm.P99 != 10*time.Millisecond || tm.Max != 10*time.Millisecond || tm.Calls != 10 {
		t.Errorf("Summarize = %+v", tm)
	}
	if one := Summarize("y", []time.Duration{7}); one.P50 != 7 || one.P99 != 7 {
		t.Errorf("single sample: %+v", one)
	}
	if none := Summarize("z", nil); none.Calls != 0 || none.P90 != 0 {
		t.Errorf("no samples: %+v", none)
	}
}
