package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valuerx/measures"
	"valuerx/population"
	"valuerx/scoring"
)

// TestMeasuresCommand runs valuerx synth and valuerx measures on real files, with a roster that
// attributes the first 40 patients to a contract of its own.
func TestMeasuresCommand(t *testing.T) {
	dir := t.TempDir()
	export, out := filepath.Join(dir, "export"), filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"synth", "-out", export, "-patients", "400", "-seed", "3", "-year", "2026", "-through", "2026-08-31"}, &stdout, &stderr); code != 0 {
		t.Fatalf("synth: %d %s", code, stderr.String())
	}
	f, err := os.Open(filepath.Join(export, "Patient.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	roster := "member_id,mbi,plan_member_id,contract,start,end\n"
	sc := bufio.NewScanner(f)
	for i := 0; i < 40 && sc.Scan(); i++ {
		var p struct {
			Identifier []struct{ Value string }
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		roster += "M" + p.Identifier[0].Value + "," + p.Identifier[0].Value + ",,aco-test,2026-01-01,\n"
	}
	f.Close()
	rosterFile := filepath.Join(dir, "roster.csv")
	os.WriteFile(rosterFile, []byte(roster), 0o600)
	stdout.Reset()
	if code := run(context.Background(), []string{"measures", "-from", export, "-year", "2026", "-roster", rosterFile, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("measures: %d %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "as of 2026-09-01: 400 patients") {
		t.Errorf("stdout: %s", stdout.String())
	}
	rates, _ := os.ReadFile(filepath.Join(out, "rates.csv"))
	if !strings.Contains(string(rates), "\naco-test,PDC-STA,") || !strings.Contains(string(rates), "\nunattributed,PDC-STA,") || strings.Contains(string(rates), "H1001") {
		t.Errorf("rates.csv: the roster decides the contracts:\n%s", rates)
	}
	js, _ := os.ReadFile(filepath.Join(out, "rates.json"))
	if !strings.Contains(string(js), `"attribution": "sha256:`) {
		t.Errorf("rates.json does not name the roster version")
	}
	if _, err := os.Stat(filepath.Join(out, "worklist.csv")); err != nil {
		t.Error(err)
	}
	// The same attribution as a Da Vinci ATR list (NDJSON: the Group, then the members' Patient
	// lines as the export holds them), the contract named on the command line.
	pf, _ := os.ReadFile(filepath.Join(export, "Patient.ndjson"))
	lines := strings.SplitN(string(pf), "\n", 41)[:40]
	var members []string
	for _, l := range lines {
		var p struct{ ID string }
		json.Unmarshal([]byte(l), &p)
		members = append(members, `{"entity":{"reference":"Patient/`+p.ID+`"},"period":{"start":"2026-01-01"}}`)
	}
	atr := `{"resourceType":"Group","id":"atr","type":"person","actual":true,"member":[` + strings.Join(members, ",") + "]}\n" + strings.Join(lines, "\n") + "\n"
	atrFile := filepath.Join(dir, "atr.ndjson")
	os.WriteFile(atrFile, []byte(atr), 0o600)
	stdout.Reset()
	atrOut := filepath.Join(dir, "out-atr")
	if code := run(context.Background(), []string{"measures", "-from", export, "-year", "2026", "-roster", atrFile, "-roster-contract", "aco-test", "-out", atrOut}, &stdout, &stderr); code != 0 {
		t.Fatalf("measures -roster ATR: %d %s", code, stderr.String())
	}
	atrRates, _ := os.ReadFile(filepath.Join(atrOut, "rates.csv"))
	if !strings.Contains(stdout.String(), "atr.ndjson: 40 entries") || string(atrRates) != string(rates) {
		t.Errorf("the ATR list attributes as the CSV does:\n%s\n%s", stdout.String(), atrRates)
	}
	// Bad input: a clear error and exit code 2, no output written.
	for _, args := range [][]string{
		{"measures", "-from", filepath.Join(dir, "nope"), "-out", out},
		{"measures", "-from", export, "-out", out, "-asof", "2026-02-30"},
		{"measures", "-from", export, "-out", out, "-shard", "3/3"},
		{"measures", "-from", export, "-out", out, "-roster", filepath.Join(export, "Patient.ndjson")},
	} {
		stderr.Reset()
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args[len(args)-2:], code, stderr.String())
		}
	}
}

// TestMeasuresDemo: `valuerx measures -demo` measures the data `make run` serves. On 1 December
// 2026 (fills through that day, as of the 2nd): valuerx-demo-ma has two statin patients in
// PDC-STA, the adherent one meeting it and pat-adh-statin at 205/324 = 0.63 and past
// redemption; pat-supd is the plan's one SUPD patient, without a statin, on the worklist; the
// 30-year-old is in valuerx-demo-ppo's PDC-DR (adherent) and in no SUPD denominator.
func TestMeasuresDemo(t *testing.T) {
	dec1 := time.Date(2026, time.December, 1, 10, 0, 0, 0, time.UTC)
	in, err := demoInputs(dec1)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := population.Run(context.Background(), in, population.Options{Year: 2026, AsOf: measures.Date(2026, time.December, 2), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		contract string
		m        measures.Measure
	}
	got := map[key][4]int{}
	for _, tl := range rep.Tallies {
		got[key{tl.Contract, tl.Measure}] = [4]int{tl.Denominator, tl.Numerator, tl.BelowRedeemable, tl.BelowLost}
	}
	for k, want := range map[key][4]int{
		{"valuerx-demo-ma", measures.PDCStatin}:    {2, 1, 0, 1},
		{"valuerx-demo-ma", measures.PDCDiabetes}:  {1, 1, 0, 0},
		{"valuerx-demo-ma", measures.SUPD}:         {1, 0, 1, 0}, // a SUPD gap counts as below and redeemable
		{"valuerx-demo-ppo", measures.PDCDiabetes}: {1, 1, 0, 0},
		{"valuerx-demo-ppo", measures.SUPD}:        {0, 0, 0, 0},
	} {
		if got[k] != want {
			t.Errorf("%s %s: denominator, numerator, below redeemable, below lost = %v, want %v", k.contract, k.m, got[k], want)
		}
	}
	if len(rep.Worklist) != 1 || rep.Worklist[0].PatientID != "pat-supd" || rep.Worklist[0].Measure != measures.SUPD {
		t.Errorf("worklist %+v", rep.Worklist)
	}
	// Priced by the contracts' quality terms (-contracts): with the three MA patients attributed
	// to ma-capitation, the SUPD row is worth what the SUPD card shows for the same gap, 54.00
	// (TestAdherenceCardsPriceTheGap: 0.8 x (30 + 1 x 100/400 x 150)), and PDC-STA's target is the
	// contract's 0.87: two patients in the denominator, one meeting, ceil(0.87 x 2) - 1 = 1 short.
	opt := population.Options{Year: 2026, AsOf: measures.Date(2026, time.December, 2), Workers: 2}
	opt.Terms, opt.GapValue = qualityTerms(scoring.DefaultConfig(), 2026)
	opt.Attribute = func(mbi, _ string, _ measures.Day) (string, bool) {
		return "ma-capitation", mbi == "2TK4HW7MN18" || mbi == "4HN8CV2RT35" || mbi == "6JW3KD9PE47"
	}
	rep, err = population.Run(context.Background(), in, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Worklist) != 1 || rep.Worklist[0].Contract != "ma-capitation" || rep.Worklist[0].ValueUSD != 54 {
		t.Errorf("priced worklist %+v", rep.Worklist)
	}
	for _, tl := range rep.Tallies {
		if tl.Contract == "ma-capitation" && tl.Measure == measures.PDCStatin && (!tl.HasTarget || tl.Target != 0.87 || tl.ShortOfTarget != 1 || tl.Weight != 3) {
			t.Errorf("PDC-STA tally %+v", tl)
		}
	}
	// The command itself, on today's demo data.
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "out")
	if code := run(context.Background(), []string{"measures", "-demo", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("measures -demo: %d %s", code, stderr.String())
	}
	// -demo attributes with the demo's roster (the MA patients to ma-capitation by MBI, the
	// commercial one to commercial-ppo by plan member id) and prices with the sample contracts.
	if _, err := os.Stat(filepath.Join(out, "worklist.csv")); err != nil || !strings.Contains(stdout.String(), "ma-capitation") || strings.Contains(stdout.String(), "valuerx-demo-ma") {
		t.Errorf("measures -demo: %v\n%s", err, stdout.String())
	}
	if code := run(context.Background(), []string{"measures", "-demo", "-from", "x", "-out", out}, &stdout, &stderr); code != 2 {
		t.Errorf("-demo with -from: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"measures", "-demo", "-contracts", "embedded", "-terms", "t.yaml", "-out", out}, &stdout, &stderr); code != 2 {
		t.Errorf("-contracts with -terms: exit %d, want 2", code)
	}
}
