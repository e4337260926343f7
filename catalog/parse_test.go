package catalog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shipped copies of the agencies' files (catalog/data/agency): real rows, published formats.
const (
	shipped      = "data/agency"
	supplemental = "data/supplementary"
	limits2026Q1 = "data/agency/cms-asp/section 508 version of January 2026 Medicare Part B Payment Limit File 121725.csv"
	limits2025Q3 = "data/agency/cms-asp/section 508 verision of JUL 2025 ASP Pricing File 062325.csv"
	xwalk2026Q1  = "data/agency/cms-asp/section 508 version of January 2026 ASP NDC-HCPCS Crosswalk 121725.csv"
	xwalk2024Q2  = "data/agency/cms-asp/section 508 version of April 2024 ASP NDC-HCPCS Crosswalk 032124.csv"
	purpleFile   = "data/agency/fda-purple-book/purplebook.csv"
	orangeFile   = "data/agency/fda-orange-book/products.txt"
)

func readShipped(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParsePaymentLimitsRealFile(t *testing.T) {
	f, err := ParsePaymentLimits(bytes.NewReader(readShipped(t, limits2026Q1)), "jan2026.csv")
	if err != nil {
		t.Fatal(err)
	}
	// The preamble, not the file name, gives the period and the ASP data quarter.
	if !f.Period.Start.Equal(day("2026-01-01")) || !f.Period.End.Equal(day("2026-03-31")) || f.DataQuarter != "3Q25" {
		t.Fatalf("period %v..%v data %q, want 2026-01-01..2026-03-31 3Q25", f.Period.Start, f.Period.End, f.DataQuarter)
	}
	rows := map[string]LimitRow{}
	for _, r := range f.Rows {
		rows[r.HCPCS] = r
	}
	for _, tc := range []struct {
		code, dosage, text, notes string
		limit, coins              float64
		line                      int
	}{
		{"J9355", "10 MG", "73.483", "", 73.483, 20, 767},
		{"Q5116", "10 MG", "8.205", "8% of reference add-on applied", 8.205, 20, 817},
		{"Q5136", "1 MG", "28.230", "Added January 2026 - 8% of reference add-on applied", 28.23, 20, 0},
		// The coinsurance percentage is the file's own, not 20 %: an inflation-adjusted row.
		{"J9325", "1 million PFU", "73.939", "Inflation-adjusted coinsurance", 73.939, 18.879, 747},
	} {
		r, ok := rows[tc.code]
		if !ok {
			t.Errorf("%s missing", tc.code)
			continue
		}
		if r.Dosage != tc.dosage || r.LimitText != tc.text || r.Limit != tc.limit || r.Coinsurance != tc.coins || r.Notes != tc.notes || (tc.line > 0 && r.Line != tc.line) {
			t.Errorf("%s = %+v, want dosage %q limit %s coinsurance %v notes %q line %d", tc.code, r, tc.dosage, tc.text, tc.coins, tc.notes, tc.line)
		}
	}
	// A9606's limit is "N/A": rejected with its line, not fatal.
	var found bool
	for _, r := range f.Rejects {
		if strings.Contains(r.Reason, "A9606") && strings.Contains(r.Reason, "N/A") && r.Line == 19 {
			found = true
		}
	}
	if !found {
		t.Errorf("A9606 N/A not rejected at line 19: %v", f.Rejects)
	}
	// The shipped copies carry no CPT codes (AMA licensing).
	for _, r := range f.Rows {
		if isCPT(r.HCPCS) {
			t.Fatalf("CPT code %s shipped", r.HCPCS)
		}
	}
}

func TestParsePaymentLimitsPeriodOnlyFromPreamble(t *testing.T) {
	// The July 2025 file is named "verision of JUL 2025"; nothing in the name is read.
	f, err := ParsePaymentLimits(bytes.NewReader(readShipped(t, limits2025Q3)), "whatever.csv")
	if err != nil {
		t.Fatal(err)
	}
	if f.Period.Quarter() != "2025Q3" || f.DataQuarter != "1Q25" {
		t.Fatalf("quarter %s data %s, want 2025Q3 1Q25", f.Period.Quarter(), f.DataQuarter)
	}
	noPreamble := "HCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit,Co-insurance Percentage,Notes\nJ9355,x,10 MG,73.483,20.000,\n"
	if _, err := ParsePaymentLimits(strings.NewReader(noPreamble), "x.csv"); err == nil || !strings.Contains(err.Error(), "Effective") {
		t.Fatalf("a file without its effective period must be refused, got %v", err)
	}
}

func TestParseCrosswalkRealFile(t *testing.T) {
	f, err := ParseCrosswalk(bytes.NewReader(readShipped(t, xwalk2026Q1)), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	if f.Period.Quarter() != "2026Q1" {
		t.Fatalf("quarter %s", f.Period.Quarter())
	}
	got := map[string]CrosswalkRow{}
	for _, r := range f.Rows {
		got[r.NDC] = r
	}
	// Tyenne under one code: a 0.9 mL syringe of 162 units and a 4 mL vial of 80.
	for _, tc := range []struct {
		ndc       string
		size      float64
		units     float64
		pkgUnits  float64
		qty, line int
	}{
		{"65219-0584-01", 0.9, 162, 162, 1, 178},
		{"65219-0590-04", 4, 80, 80, 1, 180},
	} {
		r := got[tc.ndc]
		if r.HCPCS != "Q5135" || r.PkgSize != tc.size || r.BillUnits != tc.units || r.BillUnitsPkg != tc.pkgUnits || r.PkgQty != tc.qty || r.Line != tc.line || r.NDC11 != strings.ReplaceAll(tc.ndc, "-", "") {
			t.Errorf("%s = %+v", tc.ndc, r)
		}
	}
	// Padded lines: ~150 trailing commas do not become fields of the row.
	if r := got["65219-0590-04"]; r.Labeler != "FreseniUS Kabi USA, LLC" || r.DrugName != "Tyenne" {
		t.Errorf("labeler/drug %q/%q", r.Labeler, r.DrugName)
	}
}

func TestParseCrosswalkWindows1252(t *testing.T) {
	b := readShipped(t, xwalk2024Q2)
	if !bytes.Contains(b, []byte("ZARXIO\x99")) {
		t.Fatal("the shipped April 2024 crosswalk should hold the Windows-1252 byte 0x99 after ZARXIO")
	}
	f, err := ParseCrosswalk(bytes.NewReader(b), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, r := range f.Rows {
		if r.HCPCS == "Q5101" {
			n++
			if !strings.HasPrefix(r.DrugName, "ZARXIO™") {
				t.Errorf("drug name %q: 0x99 must decode to ™", r.DrugName)
			}
		}
	}
	if n == 0 {
		t.Fatal("no Q5101 rows")
	}
}

func TestParsePurpleBookRealFile(t *testing.T) {
	b := readShipped(t, purpleFile)
	if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Fatal("the shipped Purple Book should start with a UTF-8 BOM")
	}
	f, err := ParsePurpleBook(bytes.NewReader(b), "purplebook.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Latest.Equal(day("2025-03-14")) {
		t.Errorf("latest approval %v, want 2025-03-14", f.Latest)
	}
	var tof *PurpleRow
	for i, r := range f.Rows {
		if r.Proprietary == "Tofidence" && strings.HasPrefix(r.Strength, "80MG") {
			tof = &f.Rows[i]
			break
		}
	}
	// A quoted strength with a line break in it ("80MG/4ML (20MG/ML)\n"): one row, from line 1997.
	if tof == nil || tof.Strength != "80MG/4ML (20MG/ML)" || tof.Line != 1997 || tof.RefProprietary != "Actemra" || !tof.Biosimilar() || tof.Interchangeable() || tof.Route != "Intravenous" {
		t.Fatalf("Tofidence 80 mg = %+v", tof)
	}
	s := parseItemStrengths(tof.Strength)
	if len(s) == 0 || s[0].v != 80 || s[0].ml != 4 {
		t.Errorf("strengths %+v", s)
	}
}

func TestParseOrangeBookRealFile(t *testing.T) {
	f, err := ParseOrangeBook(bytes.NewReader(readShipped(t, orangeFile)), "products.txt")
	if err != nil {
		t.Fatal(err)
	}
	var lipitor10 *OrangeRow
	for i, r := range f.Rows {
		if r.TradeName == "LIPITOR" && r.Strength == "EQ 10MG BASE" {
			lipitor10 = &f.Rows[i]
		}
	}
	if lipitor10 == nil || lipitor10.Line != 121 || !lipitor10.RLD || lipitor10.DosageForm != "TABLET" || lipitor10.Route != "ORAL" || lipitor10.ApplType != "N" || lipitor10.ApplNo != "020702" || lipitor10.TECode != "AB" {
		t.Fatalf("Lipitor 10 mg = %+v", lipitor10)
	}
}

func TestDetectByContentNotName(t *testing.T) {
	dir := t.TempDir()
	for src, want := range map[string]Kind{
		limits2026Q1: KindPaymentLimits, limits2025Q3: KindPaymentLimits, xwalk2026Q1: KindCrosswalk, xwalk2024Q2: KindCrosswalk,
		purpleFile: KindPurpleBook, orangeFile: KindOrangeBook, "data/agency/README.md": KindUnknown,
	} {
		b := readShipped(t, src)
		// Renamed to something meaningless: the kind must not change.
		p := filepath.Join(dir, "file-"+strings.ReplaceAll(string(want), "-", "")+".dat")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := Detect(b); got != want {
			t.Errorf("%s: %q, want %q", src, got, want)
		}
	}
	acq := "ndc,period_start,period_end,cost_per_package,source\n00069-0305-01,2026-01-01,2026-03-31,1000,invoice\n"
	if Detect([]byte(acq)) != KindAcquisition {
		t.Error("acquisition header not recognised")
	}
}

func TestParseAcquisitionCosts(t *testing.T) {
	in := strings.Join([]string{
		"NDC,HCPCS,Period_Start,Period_End,Cost_Per_Billing_Unit,Cost_Per_Package,Source",
		"00069-0305-01,,2026-01-01,2026-03-31,,1000.00,McKesson invoice 2026-01", // line 2: per package
		",Q5117,2026-01-01,,45.10,,GPO contract",                                 // line 3: per unit, open-ended
		"0069-0305-01,,2026-01-01,2026-03-31,2.5,,340B",                          // line 4: 4-4-2
		"12345,,2026-01-01,2026-03-31,2.5,,bad ndc",                              // line 5
		"00069030501,,2026-04-01,2026-03-31,2.5,,end before start",               // line 6
		"00069030501,,2026-01-01,2026-03-31,2.5,10,both costs",                   // line 7
		",Q5117,2026-01-01,2026-03-31,,100,per package without ndc",              // line 8
		"00069030501,,2026-01-01,2026-03-31,2.5,,",                               // line 9: no source
	}, "\n")
	f, err := ParseAcquisitionCosts(strings.NewReader(in), "costs.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rows) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(f.Rows), f.Rows)
	}
	if r := f.Rows[0]; r.NDC11 != "00069030501" || r.PerPackage != 1000 || r.PerUnit != 0 || !r.End.Equal(day("2026-03-31")) || r.Line != 2 {
		t.Errorf("row 2 = %+v", r)
	}
	if r := f.Rows[1]; r.HCPCS != "Q5117" || r.PerUnit != 45.1 || !r.End.IsZero() {
		t.Errorf("row 3 = %+v", r)
	}
	if r := f.Rows[2]; r.NDC11 != "00069030501" {
		t.Errorf("4-4-2 NDC read as %q", r.NDC11)
	}
	lines := map[int]bool{}
	for _, r := range f.Rejects {
		lines[r.Line] = true
	}
	for _, l := range []int{5, 6, 7, 8, 9} {
		if !lines[l] {
			t.Errorf("line %d not rejected: %v", l, f.Rejects)
		}
	}
}

func TestParseDosageAndStrengths(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want amount
	}{
		{"10 MG", amount{10, "mg"}}, {"0.1 mg", amount{0.1, "mg"}}, {"1 MCG", amount{0.001, "mg"}},
		{"1000 UNITS", amount{1000, "units"}}, {"10MG", amount{10, "mg"}},
	} {
		got, err := parseDosage(tc.in)
		if err != nil || got.measure != tc.want.measure || !near(got.v, tc.want.v) {
			t.Errorf("parseDosage(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseDosage("Less than or equal to 100 MG"); err == nil {
		t.Error("a range is no billing unit")
	}
	// Lucentis: the item is the parenthesised 0.5 mg in 0.05 mL, not the 10 mg/mL concentration.
	s := parseItemStrengths("10MG/ML (0.5MG/0.05ML)")
	if len(s) != 2 || !s[1].matchesAmount(amount{0.5, "mg"}) || !s[1].matchesVolume(0.05) || s[0].matchesAmount(amount{0.5, "mg"}) {
		t.Errorf("Lucentis strengths %+v", s)
	}
	if s := parseItemStrengths("20,000UNITS/2ML (10,000UNITS/ML)"); len(s) != 2 || s[0].v != 20000 || s[0].measure != "units" || s[0].ml != 2 {
		t.Errorf("epoetin strengths %+v", s)
	}
}
