package gateway

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"valuerx/measures"
	"valuerx/population"
)

// TestMeasuresPage: /analytics/measures shows the files of a valuerx measures run (written here by
// population's own writers), behind analyst authentication, never cached; without a run it says
// how to make one.
func TestMeasuresPage(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(c *Config) { c.MeasuresDir = dir })
	if s, _, _ := e.do(http.MethodGet, measuresPagePath, nil, nil); s != http.StatusUnauthorized && s != http.StatusSeeOther && s != http.StatusFound {
		t.Fatalf("without a credential: %d", s)
	}
	s, out, _ := e.do(http.MethodGet, measuresPagePath, nil, analystHeader())
	if s != http.StatusOK || !strings.Contains(string(out), "No valuerx measures run has written its results") {
		t.Fatalf("before a run: %d %s", s, out)
	}
	target, short := 0.87, 1
	rep := &population.Report{Year: 2026, AsOf: measures.Date(2026, 12, 2), Patients: 9,
		Tallies: []population.Tally{
			{Contract: "ma-capitation", Measure: measures.PDCStatin, Weight: 3, Denominator: 2, Numerator: 1, BelowLost: 1, Target: target, HasTarget: true, ShortOfTarget: short},
			{Contract: "ma-capitation", Measure: measures.PDCRASA, Weight: 3}, // nobody in it: not shown
			{Contract: "ma-capitation", Measure: measures.SUPD, Weight: 1, Denominator: 1, BelowRedeemable: 1},
		},
		Worklist: []population.WorkItem{{Contract: "ma-capitation", PatientID: "pat-supd", MBI: "6JW3KD9PE47", Measure: measures.SUPD,
			GapDaysLeft: 30, RefillDue: measures.Date(2026, 12, 2), Value: 100, ValueUSD: 54}},
	}
	for name, write := range map[string]func(f *os.File) error{
		"rates.json":   func(f *os.File) error { return rep.WriteRatesJSON(f) },
		"worklist.csv": func(f *os.File) error { return rep.WriteWorklistCSV(f) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	s, out, hdr := e.do(http.MethodGet, measuresPagePath, nil, analystHeader())
	page := string(out)
	if s != http.StatusOK || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("after a run: %d %v", s, hdr)
	}
	for _, want := range []string{"Measurement year 2026, as of 2026-12-02: 9 patients",
		`<tr data-contract="ma-capitation" data-measure="PDC-STA"><td>ma-capitation</td>`, "<td class=\"n\">50.0 %</td><td class=\"n\">87.0 %</td><td class=\"n\">1</td>",
		"<td>pat-supd</td><td>6JW3KD9PE47</td><td>SUPD</td>", "<td class=\"n\">54.00</td>", "1 of 1 rows shown"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, `data-measure="PDC-RASA"`) {
		t.Error("a measure with nobody in it is shown")
	}
	// A broken file is a 500 with a JSON error, not a page of half-read figures.
	os.WriteFile(filepath.Join(dir, "rates.json"), []byte("{"), 0o600)
	if s, out, _ := e.do(http.MethodGet, measuresPagePath, nil, analystHeader()); s != http.StatusInternalServerError || strings.Contains(string(out), "pat-supd") {
		t.Errorf("broken rates.json: %d %s", s, out)
	}
}
