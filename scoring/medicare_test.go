package scoring

import (
	"bytes"
	"encoding/csv"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// TestFulphilaMedicareFFS: Fulphila (Q5108) carries no "8% of reference
// add-on" note in January 2026, so its limit is its ASP + 6 % of Neulasta's
// ASP (SSA 1847A(b)(8)): ASP = 98.871 - 0.06 x 122.837 / 1.06 = 98.871 -
// 6.9530 = 91.9180 (not 98.871 / 1.06 = 93.2745, which made its margin fall
// below Neulasta's and excluded it). 6 mg = 12 units of 0.5 mg, 6 cycles:
//
//	Neulasta: allowed 12 x 122.837 = 1,474.04; acquisition 12 x 115.8840 = 1,390.61;
//	          margin 0.984 x 1,474.044 - 1,390.608 = 59.85
//	Fulphila: allowed 12 x 98.871 = 1,186.45; acquisition 12 x 91.9180 = 1,103.02;
//	          margin 0.984 x 1,186.452 - 1,103.016 = 64.45 (+4.60 a dose, +27.61 a course)
//	payer allowed -287.59 a dose, -1,725.55 a course; Medicare pays 0.784 x 1,725.55 =
//	1,352.83 less; the patient 0.2 x 1,725.55 = 345.11 less.
//
// Ziextenzo (8 % add-on, ASP 119.294 - 0.08 x 115.8840 = 110.0233) earns more
// (1,408.62 - 1,320.28 = 88.34 a dose) and is the suggestion; Fulphila is a
// permitted option beside it.
func TestFulphilaMedicareFFS(t *testing.T) {
	cat, reg := env(t)
	r := mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "neulasta", Date: day("2026-02-15")})
	f := option(t, r, "fulphila")
	if !f.Eligible || f.Exclusion != "" {
		t.Fatalf("fulphila: eligible %v exclusion %q, want a permitted option", f.Eligible, f.Exclusion)
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"neulasta margin", r.Ordered.PerDose.Margin, 59.85},
		{"fulphila allowed", f.PerDose.PayerAllowed, 1186.45},
		{"fulphila acquisition", f.PerDose.Acquisition, 1103.02},
		{"fulphila margin", f.PerDose.Margin, 64.45},
		{"fulphila course gain", f.Delta.NetImpact, 27.61},
		{"payer allowed per course", f.Delta.PayerAllowed, -1725.55},
		{"Medicare pays per course", f.Delta.PayerPaid, -1352.83},
		{"patient per course", f.Delta.PatientOOP, -345.11},
	} {
		usd(t, c.what, c.got, c.want)
	}
	if !strings.Contains(f.Sources["asp"], "- 0.06 x reference ASP 115.8840") || !strings.HasPrefix(f.Sources["asp"], "derived: ") {
		t.Errorf("fulphila ASP source %q", f.Sources["asp"])
	}
	if bestID(r) != "ziextenzo" {
		t.Errorf("best %q (%s), want ziextenzo", bestID(r), r.Reason)
	}
	usd(t, "ziextenzo margin", option(t, r, "ziextenzo").PerDose.Margin, 88.34)
}

// TestASPRowCoinsurance: the extract carries the file's "Co-insurance
// Percentage"; denosumab J0897 in January 2026 is inflation-adjusted to
// 17.585 %. Denosumab has no equivalence group yet, so the row is read through
// the parser and the back-out directly.
func TestASPRowCoinsurance(t *testing.T) {
	raw, err := dataFS.ReadFile("data/" + fileASP)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := readCSV(fstest.MapFS{"f.csv": {Data: raw}}, "f.csv")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range rows {
		if r["hcpcs"] != "J0897" || r["effective_start"] != "January 1, 2026" {
			continue
		}
		found = true
		a, err := parseASPRow(r)
		if err != nil {
			t.Fatal(err)
		}
		if a.limit != 29.457 || a.coinsurance != 0.17585 || a.note != "Inflation-adjusted coinsurance" || a.dosage != "1 MG" {
			t.Errorf("J0897 2026Q1: %+v", a)
		}
		asp, label, est := backOut(a, false, 0, false)
		usd(t, "J0897 ASP x 10000", asp*10000, 277896.23) // 29.457 / 1.06 = 27.789623
		if est || !strings.HasPrefix(label, "derived: payment limit 29.457 / 1.06") {
			t.Errorf("J0897 back-out %q estimated=%v", label, est)
		}
	}
	if !found {
		t.Fatal("no J0897 row for January 2026")
	}
	for _, bad := range []map[string]string{
		{"payment_limit_usd": "29.457", "coinsurance_pct": "0"},
		{"payment_limit_usd": "29.457", "coinsurance_pct": "120"},
		{"payment_limit_usd": "-1", "coinsurance_pct": "20.000"},
		{"payment_limit_usd": "n/a"},
	} {
		if _, err := parseASPRow(row(bad)); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}

// doctoredCatalog loads the embedded data with the Herceptin January 2026 row
// of the ASP extract given another coinsurance percentage: a test fixture (no
// trastuzumab code is inflation-adjusted in the real files), to exercise the
// mechanism on a product that has a group.
func doctoredCatalog(t *testing.T, pct string) *Catalog {
	t.Helper()
	sub, err := fs.Sub(dataFS, "data")
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	err = fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, path)
		m[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(m[fileASP].Data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs[1:] {
		if r[2] == "J9355" && r[0] == "January 1, 2026" {
			r[6], r[7] = pct, "Inflation-adjusted coinsurance"
			n++
		}
	}
	if n != 1 {
		t.Fatalf("doctored %d rows", n)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	m[fileASP] = &fstest.MapFile{Data: buf.Bytes()}
	cat, err := LoadCatalog(m)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestInflationAdjustedCoinsurance: Herceptin's January 2026 row given the
// 17.585 % that CMS set for denosumab (doctoredCatalog). Per 420 mg dose the
// patient owes 0.17585 x 3,306.735 = 581.49 (not 661.35); Medicare pays
// (3,306.735 - 581.489) x 0.98 = 2,670.74; the organisation collects both:
// margin 2,670.741 + 581.489 - 3,119.561 = 132.67. Trazimera stays at 20 %
// (68.92), so the switch saves the patient 512.57 a dose. Per course (x 17,
// the 2026 Part B deductible of 283 first): 283 + 0.17585 x (56,214.50 -
// 283) = 10,118.55. With coinsuranceSource: contract the contract's 20 %
// applies again (661.35).
func TestInflationAdjustedCoinsurance(t *testing.T) {
	cat := doctoredCatalog(t, "17.585")
	reg, err := NewRegistry(DefaultConfig(), cat)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{ContractID: "medicare-ffs", ProductID: "herceptin", DoseMg: 420, Administrations: 17, Date: day("2026-02-15")}
	r := mustScore(t, cat, reg, req)
	h, z := r.Ordered, option(t, r, "trazimera")
	usd(t, "herceptin patient per dose", h.PerDose.PatientOOP, 581.49)
	usd(t, "herceptin Medicare pays per dose", h.PerDose.PayerPaid, 2670.74)
	usd(t, "herceptin margin per dose", h.PerDose.Margin, 132.67)
	usd(t, "trazimera patient per dose", z.PerDose.PatientOOP, 68.92)
	usd(t, "patient saves per dose", z.PerDose.PatientOOP-h.PerDose.PatientOOP, -512.57)
	usd(t, "herceptin patient per course", h.PerCourse.PatientOOP, 10118.55)
	if src := h.Sources["patientOOP"]; !strings.HasPrefix(src, "published: CMS ASP Jan 2026 coinsurance 17.585 % (inflation-adjusted) of allowed") {
		t.Errorf("patient source %q", src)
	}
	if src := z.Sources["patientOOP"]; !strings.HasPrefix(src, "published: CMS ASP Jan 2026 coinsurance 20.000 % of allowed") {
		t.Errorf("trazimera patient source %q", src)
	}

	cfg := DefaultConfig()
	contractByID(t, &cfg, "medicare-ffs").Reimbursement.CoinsuranceSource = CoinsuranceFromContract
	reg, err = NewRegistry(cfg, cat)
	if err != nil {
		t.Fatal(err)
	}
	r = mustScore(t, cat, reg, req)
	usd(t, "contract coinsurance", r.Ordered.PerDose.PatientOOP, 661.35)
}

// TestPartBDeductible: the deductible of the order's year is the patient's
// before coinsurance, once per course and year; a dose is the marginal dose
// once it is met. Herceptin 420 mg x 17 under Medicare FFS:
//
//	2026: 283 + 0.2 x (56,214.495 - 283) = 11,469.30 (11,242.90 without it)
//	      Medicare pays 0.98 x (56,214.495 - 11,469.299) = 43,850.29
//	2025 (Herceptin 76.181 / 10 mg): allowed 17 x 45 x 76.181 = 58,278.47;
//	      257 + 0.2 x (58,278.465 - 257) = 11,861.29
//	2027 (no figure on file): 2026's 283, labelled an estimate.
func TestPartBDeductible(t *testing.T) {
	cat, reg := env(t)
	for _, c := range []struct {
		date             string
		patient, paid    float64
		sourceHasPrefix  string
		sourceHasContent string
	}{
		{"2026-02-15", 11469.30, 43850.29, "published: CMS ASP Jan 2026", "Part B deductible 283.00 (2026)"},
		{"2025-08-15", 11861.29, 0, "published: CMS ASP Jul 2025", "Part B deductible 257.00 (2025)"},
		{"2027-02-15", 11469.30, 43850.29, "published: CMS ASP Jan 2026", "deductible for 2027 not on file, 2026's 283.00 used"},
	} {
		r := mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", Date: day(c.date)})
		h := r.Ordered
		usd(t, c.date+" patient per course", h.PerCourse.PatientOOP, c.patient)
		if c.paid > 0 {
			usd(t, c.date+" Medicare pays per course", h.PerCourse.PayerPaid, c.paid)
		}
		usd(t, c.date+" patient per dose (deductible met)", h.PerDose.PatientOOP, cents(0.2*h.PerDose.PayerAllowed))
		if src := h.Sources["patientOOP"]; !strings.HasPrefix(src, c.sourceHasPrefix) || !strings.Contains(src, c.sourceHasContent) {
			t.Errorf("%s: source %q", c.date, src)
		}
	}
	cfg := DefaultConfig()
	contractByID(t, &cfg, "medicare-ffs").DeductibleMet = true
	reg, err := NewRegistry(cfg, cat)
	if err != nil {
		t.Fatal(err)
	}
	r := mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", Date: day("2026-02-15")})
	usd(t, "deductible met: patient per course", r.Ordered.PerCourse.PatientOOP, 11242.90)
}

// TestSecondaryCoverage: Herceptin -> Trazimera, 420 mg x 17, Feb 2026, Medicare
// FFS, with the patient's supplemental coverage. Without one on record the
// patient figure is the cost sharing before supplemental coverage: Herceptin
// 283 + 0.2 x (56,214.495 - 283) = 11,469.30 a course.
//
//	Medigap Plan G (pays the coinsurance, not the deductible): the patient owes
//	  the 283.00 deductible on either product, Medigap pays 11,186.30 (Herceptin)
//	  or 0.2 x (5,858.37 - 283) = 1,115.07 (Trazimera); the organisation collects
//	  the same as without it (margin 2,287.05 and 3,870.56, +1,583.51), and the
//	  switch saves Medigap 10,071.23, not the patient.
//	QMB dual eligible, Medicaid paying none of it (the sample "lesser-of" state):
//	  the patient owes nothing and the organisation cannot collect the cost
//	  sharing: margin = Medicare's payment - acquisition = 43,850.29 - 53,032.54 =
//	  -9,182.25 (Herceptin), 4,371.09 - 1,898.61 = +2,472.48 (Trazimera); the
//	  switch is worth +11,654.73 a course (17 x (0.784 x 2,962.125 - 3,007.878)
//	  a dose, the deductible the same for both), of which 11,469.30 - 1,398.07 =
//	  10,071.23 is cost sharing the organisation no longer loses.
func TestSecondaryCoverage(t *testing.T) {
	cat, reg := env(t)
	for _, c := range []struct {
		cov                         Coverage
		want                        string
		patientH, secondaryH, lostH float64
		patientZ, secondaryZ        float64
		marginH, marginZ            float64
		note                        string
	}{
		{Coverage{}, "", 11469.30, 0, 0, 1398.07, 0, 2287.05, 3870.56, "before supplemental coverage (none on record)"},
		{Coverage{SOPT: []string{"523"}}, "medigap", 283, 11186.30, 0, 283, 1115.07, 2287.05, 3870.56, "after Medigap (Plan G) (medigap, configured): it pays 100% of the coinsurance and copays, the deductible stays with the patient"},
		{Coverage{SOPT: []string{"2"}, Plans: []string{"qmb"}}, "medicaid-qmb", 0, 0, 11469.30, 0, 0, -9182.25, 2472.48, "Medicaid, Qualified Medicare Beneficiary (QMB): the patient owes nothing, medicaid pays 0% of the cost sharing and the rest cannot be collected"},
	} {
		var secondary string
		if len(c.cov.SOPT) > 0 {
			sc, ok := reg.ClassifySecondary([]Coverage{{SOPT: []string{"99"}}, c.cov})
			if !ok || sc.ID != c.want {
				t.Fatalf("ClassifySecondary(%+v) = %q, %v; want %q", c.cov, sc.ID, ok, c.want)
			}
			secondary = sc.ID
		}
		r := mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", Date: day("2026-02-15"), SecondaryID: secondary})
		h, z := r.Ordered.PerCourse, option(t, r, "trazimera").PerCourse
		name := c.want + " "
		usd(t, name+"herceptin patient", h.PatientOOP, c.patientH)
		usd(t, name+"herceptin secondary", h.Secondary, c.secondaryH)
		usd(t, name+"herceptin uncollected", h.Uncollected, c.lostH)
		usd(t, name+"trazimera patient", z.PatientOOP, c.patientZ)
		usd(t, name+"trazimera secondary", z.Secondary, c.secondaryZ)
		usd(t, name+"herceptin margin", h.Margin, c.marginH)
		usd(t, name+"trazimera margin", z.Margin, c.marginZ)
		usd(t, name+"Medicare pays (unchanged by the secondary)", h.PayerPaid, 43850.29)
		gotSec := ""
		if r.Secondary != nil {
			gotSec = r.Secondary.ID
		}
		if bestID(r) != "trazimera" || gotSec != c.want {
			t.Errorf("%s: best %q, result secondary %q", c.want, bestID(r), gotSec)
		}
		if src := r.Ordered.Sources["patientOOP"]; !strings.HasSuffix(src, c.note) {
			t.Errorf("%s: patient source %q, want it to end %q", c.want, src, c.note)
		}
	}
	if _, ok := reg.ClassifySecondary([]Coverage{{SOPT: []string{"2"}}}); ok {
		t.Error("Medicaid without QMB status matched the QMB entry")
	}
	if _, err := Score(cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", Date: day("2026-02-15"), SecondaryID: "nope"}); err == nil {
		t.Error("unknown secondary accepted")
	}
	// The supplemental coverage is part of the cache key.
	s, _ := NewScorer(cat, reg, 8)
	a, _ := s.Score(Request{ContractID: "medicare-ffs", ProductID: "herceptin", Date: day("2026-02-15")})
	b, _ := s.Score(Request{ContractID: "medicare-ffs", ProductID: "herceptin", Date: day("2026-02-15"), SecondaryID: "medicaid-qmb"})
	if a.Ordered.PerCourse.PatientOOP == b.Ordered.PerCourse.PatientOOP || s.Stats().Misses != 2 {
		t.Error("the cache served one coverage's result for another")
	}
}
