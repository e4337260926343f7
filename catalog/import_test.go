package catalog

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"valuerx/scoring"
)

var (
	shippedOnce sync.Once
	shippedSnap *scoring.Snapshot
	shippedRep  *Report
	shippedErr  error
)

// importShipped imports the shipped files once for the tests that only read the result.
func importShipped(t testing.TB) (*scoring.Snapshot, *Report) {
	t.Helper()
	shippedOnce.Do(func() {
		shippedSnap, shippedRep, shippedErr = Import([]string{shipped, supplemental}, time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	})
	if shippedErr != nil {
		t.Fatal(shippedErr)
	}
	return shippedSnap, shippedRep
}

func product(s *scoring.Snapshot, id string) (scoring.Product, bool) {
	for _, p := range s.Products {
		if p.ID == id {
			return p, true
		}
	}
	return scoring.Product{}, false
}

func group(s *scoring.Snapshot, id string) (scoring.Group, bool) {
	for _, g := range s.Groups {
		if g.ID == id {
			return g, true
		}
	}
	return scoring.Group{}, false
}

func price(s *scoring.Snapshot, book, productID string) (scoring.SnapshotPrice, bool) {
	for _, b := range s.Books {
		if b.ID != book {
			continue
		}
		for _, p := range b.Prices {
			if p.ProductID == productID {
				return p, true
			}
		}
	}
	return scoring.SnapshotPrice{}, false
}

// Every reference biologic of the January 2026 file that has a biosimilar there is grouped and
// priced, and the catalog the snapshot builds is served by scoring.
func TestImportGroupsEveryFamily(t *testing.T) {
	s, rep := importShipped(t)
	if len(rep.Quarters) != 9 || rep.Quarters[0] != "2024Q1" || rep.Quarters[8] != "2026Q1" {
		t.Fatalf("quarters %v", rep.Quarters)
	}
	for id, members := range map[string][]string{
		"trastuzumab":      {"herceptin", "hercessi", "herzuma", "kanjinti", "ogivri", "ontruzant", "trazimera"},
		"bevacizumab":      {"avastin", "alymsys", "mvasi", "vegzelma", "zirabev"},
		"rituximab":        {"rituxan", "riabni", "ruxience", "truxima"},
		"infliximab":       {"remicade", "avsola", "inflectra", "renflexis"},
		"pegfilgrastim":    {"neulasta", "fulphila", "fylnetra", "nyvepria", "stimufend", "udenyca", "ziextenzo"},
		"filgrastim":       {"neupogen", "nivestym", "nypozi", "releuko", "zarxio"},
		"epoetin-alfa":     {"epogen-procrit", "retacrit"},
		"ranibizumab":      {"lucentis", "byooviz", "cimerli"},
		"aflibercept":      {"eylea", "pavblu"},
		"denosumab-prolia": {"prolia", "jubbonti"},
		"denosumab-xgeva":  {"xgeva", "wyost"},
		"ustekinumab-iv":   {"stelara-iv", "otulfi-iv", "pyzchiva", "selarsdi-iv", "steqeyma", "wezlana", "yesintek-iv"},
		"tocilizumab-iv":   {"actemra", "tofidence", "tyenne"},
		"eculizumab":       {"soliris", "bkemv", "epysqli"},
		"atorvastatin":     {"lipitor", "atorvastatin-generic"},
	} {
		g, ok := group(s, id)
		if !ok {
			t.Errorf("group %s missing", id)
			continue
		}
		if !slices.Equal(g.ProductIDs, members) {
			t.Errorf("group %s = %v, want %v", id, g.ProductIDs, members)
		}
		if g.PriceSource != scoring.SourceCMSASP {
			continue
		}
		for _, m := range members {
			if _, ok := price(s, "cms-asp-2026q1", m); !ok {
				t.Errorf("%s/%s not priced in January 2026", id, m)
			}
		}
	}
	if _, err := scoring.NewCatalog(s); err != nil {
		t.Fatal(err)
	}
}

// Trap: one HCPCS code for IV vials and SC syringes (Tyenne Q5135). Only the IV vials are in the
// IV group; the syringes' route comes from the Purple Book presentation of 162 mg/0.9 mL.
func TestTrapRouteUnderOneCode(t *testing.T) {
	s, _ := importShipped(t)
	ty, ok := product(s, "tyenne")
	if !ok || ty.GroupID != "tocilizumab-iv" || ty.HCPCS != "Q5135" {
		t.Fatalf("tyenne = %+v", ty)
	}
	var mgs []float64
	for _, pk := range ty.Packages {
		mgs = append(mgs, pk.Mg)
	}
	if !slices.Equal(mgs, []float64{80, 200, 400}) {
		t.Errorf("Tyenne IV packages %v mg, want the 80/200/400 mg vials", mgs)
	}
	for _, p := range s.Products {
		for _, n := range []string{"65219058401", "65219058604"} { // 162 mg/0.9 mL syringe, autoinjector
			if slices.Contains(p.NDCs, n) {
				t.Errorf("SC Tyenne NDC %s is in product %s (%s)", n, p.ID, p.GroupID)
			}
		}
	}
}

// Trap: Prolia and Xgeva share J0897, Jubbonti and Wyost share Q5136, but each biosimilar
// replaces its own reference; an order coded only J0897 cannot tell them apart and is not matched.
func TestTrapSharedHCPCS(t *testing.T) {
	s, _ := importShipped(t)
	for id, want := range map[string]string{"prolia": "denosumab-prolia", "jubbonti": "denosumab-prolia", "xgeva": "denosumab-xgeva", "wyost": "denosumab-xgeva"} {
		p, ok := product(s, id)
		if !ok || p.GroupID != want {
			t.Errorf("%s in group %q, want %s", id, p.GroupID, want)
		}
	}
	pr, _ := product(s, "prolia")
	xg, _ := product(s, "xgeva")
	if pr.HCPCS != "J0897" || xg.HCPCS != "J0897" {
		t.Fatalf("Prolia %s, Xgeva %s: both bill J0897", pr.HCPCS, xg.HCPCS)
	}
	// Both are priced from the one J0897 row, per mg.
	pp, _ := price(s, "cms-asp-2026q1", "prolia")
	xp, _ := price(s, "cms-asp-2026q1", "xgeva")
	if pp.Limit != xp.Limit || pp.Line != xp.Line {
		t.Errorf("J0897 priced differently for Prolia (%v line %d) and Xgeva (%v line %d)", pp.Limit, pp.Line, xp.Limit, xp.Line)
	}
	c, err := scoring.NewCatalog(s)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := c.Lookup(scoring.HCPCS, "J0897"); ok {
		t.Errorf("J0897 alone resolved to %s; it names two products", p.ID)
	}
	if p, ok := c.Lookup(scoring.HCPCS, "Q5136"); ok {
		t.Errorf("Q5136 alone resolved to %s; it names two products", p.ID)
	}
	if p, ok := c.Lookup(scoring.NDC, "55513-0710-01"); !ok || p.ID != "prolia" {
		t.Errorf("Prolia's NDC resolved to %v %v", p.ID, ok)
	}
	if p, ok := c.Lookup(scoring.NDC, "61314-0228-94"); !ok || p.ID != "wyost" {
		t.Errorf("Wyost's NDC resolved to %v %v", p.ID, ok)
	}
}

// Trap: ESRD codes (Q5105 Retacrit on dialysis, Q4081 epoetin alfa ESRD) are not office Part B
// codes: excluded and reported; Retacrit is grouped under its non-ESRD code Q5106 only.
func TestTrapESRDCodes(t *testing.T) {
	s, rep := importShipped(t)
	for _, p := range s.Products {
		if p.HCPCS == "Q5105" || p.HCPCS == "Q4081" {
			t.Errorf("ESRD code %s in product %s", p.HCPCS, p.ID)
		}
	}
	if r, _ := product(s, "retacrit"); r.HCPCS != "Q5106" || r.GroupID != "epoetin-alfa" {
		t.Errorf("retacrit = %s in %s", r.HCPCS, r.GroupID)
	}
	for _, code := range []string{"Q5105", "Q4081"} {
		found := false
		for _, e := range rep.Excluded {
			found = found || (strings.HasPrefix(e.Reason, code+" ") && strings.Contains(e.Reason, "ESRD"))
		}
		if !found {
			t.Errorf("%s not reported as an ESRD exclusion", code)
		}
	}
}

// Trap: a biosimilar Q-code that no FDA file confirms (here: the shipped files with Pavblu's
// Purple Book rows removed, as a copy older than its August 2024 licence would be) is reported and
// never becomes a product.
func TestTrapUnconfirmedQCode(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, shipped, dir)
	pb := filepath.Join(dir, "fda-purple-book", "purplebook.csv")
	b := readShipped(t, pb)
	var kept [][]byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.Contains(line, []byte(",Pavblu,")) {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(pb, bytes.Join(kept, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	s, rep, err := Import([]string{dir, supplemental}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Unconfirmed, "Q5147") {
		t.Errorf("Q5147 not in the snapshot's unconfirmed codes %v", s.Unconfirmed)
	}
	found := false
	for _, u := range rep.Unconfirmed {
		found = found || (strings.HasPrefix(u.Reason, "Q5147 ") && strings.Contains(u.Reason, "never suggested") && u.Line > 0)
	}
	if !found {
		t.Errorf("Q5147 not reported with its row: %v", rep.Unconfirmed)
	}
	for _, p := range s.Products {
		if p.HCPCS == "Q5147" {
			t.Errorf("unconfirmed Q5147 became product %s", p.ID)
		}
	}
	if _, ok := group(s, "aflibercept"); ok {
		t.Error("aflibercept formed with no confirmed biosimilar")
	}
}

// Trap: look-alikes the files cannot rule out (Herceptin Hylecta, Kadcyla, Enhertu) never join
// trastuzumab, and the group says why.
func TestTrapCuratedExclusions(t *testing.T) {
	s, rep := importShipped(t)
	g, _ := group(s, "trastuzumab")
	for _, code := range []string{"J9356", "J9354", "J9358"} {
		for _, p := range s.Products {
			if p.HCPCS == code {
				t.Errorf("%s is product %s", code, p.ID)
			}
		}
		found := false
		for _, e := range rep.Excluded {
			found = found || strings.HasPrefix(e.Reason, code+" ")
		}
		if !found {
			t.Errorf("%s not reported as excluded", code)
		}
	}
	for _, name := range []string{"Herceptin Hylecta", "Kadcyla", "Enhertu"} {
		found := false
		for _, ns := range g.NotSubstitutes {
			found = found || strings.HasPrefix(ns, name+" (")
		}
		if !found {
			t.Errorf("trastuzumab.NotSubstitutes lacks %s: %v", name, g.NotSubstitutes)
		}
	}
}

// Trap: a biosimilar that costs more than its reference (Cimerli in January 2024: 262.079 vs
// Lucentis 187.553 per 0.1 mg) is priced as published and never recommended over the reference.
func TestTrapBiosimilarDearerThanReference(t *testing.T) {
	s, _ := importShipped(t)
	ci, _ := price(s, "cms-asp-2024q1", "cimerli")
	lu, _ := price(s, "cms-asp-2024q1", "lucentis")
	if ci.Limit != 262.079 || lu.Limit != 187.553 {
		t.Fatalf("Cimerli %v, Lucentis %v; want 262.079 and 187.553 (January 2024 file)", ci.Limit, lu.Limit)
	}
	c, err := scoring.NewCatalog(s)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := scoring.NewRegistry(scoring.DefaultConfig(), c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scoring.Score(c, reg, scoring.Request{ContractID: "medicare-ffs", ProductID: "lucentis", Date: day("2024-02-01")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Best != nil && res.Best.Product.ID == "cimerli" {
		t.Fatal("Cimerli recommended over Lucentis at a higher payment limit")
	}
	for _, o := range res.Options {
		if o.Product.ID == "cimerli" && !(o.PerCourse.PayerAllowed > res.Ordered.PerCourse.PayerAllowed) {
			t.Errorf("Cimerli per course %v not above Lucentis %v", o.PerCourse.PayerAllowed, res.Ordered.PerCourse.PayerAllowed)
		}
	}
}

// Billing units per package come from the crosswalk of the price's own quarter.
func TestPackagesPerQuarter(t *testing.T) {
	s, _ := importShipped(t)
	for _, b := range s.Books {
		for _, p := range b.Prices {
			if b.Source != scoring.SourceCMSASP {
				continue
			}
			if len(p.Packages) == 0 {
				t.Errorf("%s %s: no packages from the %s crosswalk", b.ID, p.ProductID, b.ID)
			}
		}
	}
	// Hercessi is first listed in July 2025; its January 2026 packages are the 150 and 420 mg vials.
	hp, ok := price(s, "cms-asp-2026q1", "hercessi")
	if !ok || len(hp.Packages) != 2 || hp.Packages[0].Units != 15 || hp.Packages[1].Units != 42 {
		t.Errorf("Hercessi 2026Q1 packages %+v", hp.Packages)
	}
	if _, ok := price(s, "cms-asp-2025q2", "hercessi"); ok {
		t.Error("Hercessi priced before it was listed")
	}
}

// The Herceptin figures the demo quotes come out of the snapshot exactly as the hand-made
// catalog printed them (the card quotes these labels verbatim).
func TestHerceptinLabelsAsBefore(t *testing.T) {
	s, _ := importShipped(t)
	c, err := scoring.NewCatalog(s)
	if err != nil {
		t.Fatal(err)
	}
	b, stale, err := c.BookFor(scoring.SourceCMSASP, day("2026-02-01"))
	if err != nil || stale || b.ID != "cms-asp-2026q1" || b.Label != "CMS ASP Jan 2026" {
		t.Fatalf("book %s %q stale %v err %v", b.ID, b.Label, stale, err)
	}
	for id, want := range map[string][2]string{
		"herceptin": {"published: CMS ASP Jan 2026 payment limit J9355 73.483 per 10 MG", "derived: payment limit 73.483 / 1.06"},
		"trazimera": {"published: CMS ASP Jan 2026 payment limit Q5116 8.205 per 10 MG", "derived: payment limit 8.205 - 0.08 x reference ASP 69.3236 (qualifying biosimilar) (CMS note: 8% of reference add-on applied)"},
	} {
		p, ok := b.Price(id)
		if !ok || p.Published != want[0] || p.Derived != want[1] {
			t.Errorf("%s: %q / %q, want %q / %q", id, p.Published, p.Derived, want[0], want[1])
		}
	}
}

// Import works from the shipped files and from the agencies' folder alike; an unknown file is
// skipped and reported, two payment-limit files of one quarter are refused.
func TestImportRefusesTwoFilesOfOneQuarter(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, shipped, dir)
	b := readShipped(t, limits2026Q1)
	if err := os.WriteFile(filepath.Join(dir, "copy.csv"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Import([]string{dir, supplemental}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "two payment limit files for 2026Q1") {
		t.Fatalf("err %v", err)
	}
}

func TestSnapshotRoundTripAndRefusal(t *testing.T) {
	s, _ := importShipped(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "catalog.json.gz")
	if err := WriteFile(p, s); err != nil {
		t.Fatal(err)
	}
	got, c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != s.Version || len(c.Groups()) != len(s.Groups) {
		t.Fatalf("round trip: version %s groups %d", got.Version, len(c.Groups()))
	}
	// A truncated file, an edited figure, an unknown field: refused.
	raw, _ := os.ReadFile(p)
	bad := filepath.Join(dir, "bad.json.gz")
	os.WriteFile(bad, raw[:len(raw)/2], 0o644)
	if _, _, err := Load(bad); err == nil {
		t.Error("a truncated snapshot was accepted")
	}
	var plain bytes.Buffer
	if err := Encode(&plain, s, false); err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(plain.Bytes(), []byte(`"limit":73.483`), []byte(`"limit":7.3483`), 1)
	if bytes.Equal(edited, plain.Bytes()) {
		t.Fatal("test fixture: Herceptin's limit not found")
	}
	if _, err := Decode(bytes.NewReader(edited)); err == nil || !strings.Contains(err.Error(), "hashes") {
		t.Errorf("an edited snapshot was accepted: %v", err)
	}
	if _, err := Decode(bytes.NewReader(bytes.Replace(plain.Bytes(), []byte(`"format":1,`), []byte(`"format":1,"extra":1,`), 1))); err == nil {
		t.Error("an unknown field was accepted")
	}
}

func TestDiffQuarterOverQuarter(t *testing.T) {
	full, _ := importShipped(t)
	// The same files without the January 2026 payment limit file: the catalog as of October 2025.
	dir := t.TempDir()
	copyTree(t, shipped, dir)
	if err := os.Remove(filepath.Join(dir, strings.TrimPrefix(limits2026Q1, shipped+"/"))); err != nil {
		t.Fatal(err)
	}
	old, _, err := Import([]string{dir, supplemental}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ch := Diff(old, full, 25)
	if ch.OldBook != "cms-asp-2025q4" || ch.NewBook != "cms-asp-2026q1" || !slices.Equal(ch.BooksAdded, []string{"cms-asp-2026q1"}) {
		t.Fatalf("books %s -> %s added %v", ch.OldBook, ch.NewBook, ch.BooksAdded)
	}
	// Trazimera: 27.991 (October 2025) -> 8.205 (January 2026), down 70.7 %.
	var traz *PriceChange
	for i := range ch.Prices {
		if ch.Prices[i].Product == "trazimera" {
			traz = &ch.Prices[i]
		}
		if a := ch.Prices[i].Percent; a > -25 && a < 25 {
			t.Errorf("%s moved %.1f%%, under the threshold", ch.Prices[i].Product, a)
		}
	}
	if traz == nil || traz.Old != 27.991 || traz.New != 8.205 || traz.Percent > -70.6 || traz.Percent < -70.8 {
		t.Fatalf("trazimera change %+v", traz)
	}
	var text bytes.Buffer
	if err := ch.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "trazimera") || !strings.Contains(text.String(), "down 70.7%") {
		t.Errorf("text diff:\n%s", text.String())
	}
	if same := Diff(full, full, 0); !same.Empty() {
		t.Errorf("a snapshot differs from itself: %+v", same)
	}
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The embedded snapshot must be built from the files shipped beside it: run `make catalog` after
// changing catalog/data (or the importer's output, which changes the version).
func TestEmbeddedSnapshotCurrent(t *testing.T) {
	e, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	h, err := HashInputs([]string{shipped, supplemental})
	if err != nil {
		t.Fatal(err)
	}
	if e.InputsHash != h {
		t.Fatalf("embedded snapshot built from inputs %s, catalog/data now hashes to %s: run make catalog", e.InputsHash, h)
	}
	// The same families and products as the importer builds today (a rule change that moves a
	// product shows here; a field added to scoring's types does not invalidate the snapshot).
	s, _ := importShipped(t)
	ids := func(x *scoring.Snapshot) string {
		var b strings.Builder
		for _, g := range x.Groups {
			b.WriteString(g.ID + ":" + strings.Join(g.ProductIDs, ",") + ";")
		}
		return b.String()
	}
	if ids(e) != ids(s) {
		t.Fatalf("embedded snapshot groups\n%s\nthe importer now builds\n%s\nrun make catalog", ids(e), ids(s))
	}
}

// The organisation's acquisition costs: an NDC names its product; a cost per package is divided
// by that NDC's billing units per package in the crosswalk of the period's quarter; a HCPCS code
// shared by two products (J0897: Prolia and Xgeva) is refused with a reason.
func TestImportAcquisitionCosts(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, shipped, filepath.Join(dir, "agency"))
	org := filepath.Join(dir, "org")
	os.MkdirAll(org, 0o755)
	csv := strings.Join([]string{
		"ndc,hcpcs,period_start,period_end,cost_per_billing_unit,cost_per_package,source",
		"00069-0305-01,,2026-01-01,2026-03-31,,1000.00,McKesson invoice 2026-01", // Trazimera 420 mg: 42 units
		",Q5117,2026-01-01,,45.10,,GPO contract",                                 // Kanjinti per unit
		",J0897,2026-01-01,2026-03-31,20,,ambiguous code",                        // Prolia or Xgeva?
		"99999-9999-99,,2026-01-01,2026-03-31,1,,unknown product",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(org, "costs.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	s, rep, err := Import([]string{filepath.Join(dir, "agency"), supplemental, org}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.AcquisitionCosts) != 2 {
		t.Fatalf("costs %+v", s.AcquisitionCosts)
	}
	tz, kj := s.AcquisitionCosts[0], s.AcquisitionCosts[1]
	if tz.ProductID != "trazimera" || math.Abs(tz.USDPerUnit-1000.0/42) > 1e-9 || !strings.Contains(tz.Note, "costs.csv:2") || !strings.Contains(tz.Note, "/ 42 billing units (crosswalk 2026Q1)") {
		t.Errorf("trazimera cost %+v", tz)
	}
	if kj.ProductID != "kanjinti" || kj.USDPerUnit != 45.1 || !kj.End.IsZero() {
		t.Errorf("kanjinti cost %+v", kj)
	}
	var amb, unk bool
	for _, r := range rep.Rejects {
		amb = amb || (r.File == "costs.csv" && r.Line == 4 && strings.Contains(r.Reason, "names 2 catalog products"))
		unk = unk || (r.File == "costs.csv" && r.Line == 5 && strings.Contains(r.Reason, "no catalog product"))
	}
	if !amb || !unk {
		t.Errorf("rejects %v", rep.Rejects)
	}
	// The registry takes them: a Trazimera figure in January 2026 is the organisation's cost.
	c, err := scoring.NewCatalog(s)
	if err != nil {
		t.Fatal(err)
	}
	cfg := scoring.DefaultConfig()
	cfg.AcquisitionCosts = append(cfg.AcquisitionCosts, s.ConfigAcquisitionCosts()...)
	reg, err := scoring.NewRegistry(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scoring.Score(c, reg, scoring.Request{ContractID: "medicare-ffs", ProductID: "herceptin", Date: day("2026-02-15")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range res.Options {
		if o.Product.ID == "trazimera" {
			found = strings.Contains(o.Sources["acquisition"], "McKesson invoice 2026-01")
		}
	}
	if !found {
		t.Error("Trazimera's acquisition figure does not cite the imported invoice")
	}
}

// A biosimilar code priced by CMS before any crosswalk row lists its NDCs (Pavblu's Q5147 with
// its crosswalk rows removed) is reported unconfirmed as well, and never becomes a product.
func TestTrapPricedCodeWithoutCrosswalk(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, shipped, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "cms-asp", "*Crosswalk*"))
	for _, f := range files {
		b := readShipped(t, f)
		var kept [][]byte
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			if !bytes.HasPrefix(line, []byte("Q5147,")) {
				kept = append(kept, line)
			}
		}
		os.WriteFile(f, bytes.Join(kept, nil), 0o644)
	}
	s, rep, err := Import([]string{dir, supplemental}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range rep.Unconfirmed {
		found = found || (strings.HasPrefix(u.Reason, "Q5147 ") && strings.Contains(u.Reason, "no crosswalk row") && strings.Contains(u.File, "Pricing File") || strings.HasPrefix(u.Reason, "Q5147 ") && strings.Contains(u.File, "Payment Limit File"))
	}
	if !found || !slices.Contains(s.Unconfirmed, "Q5147") {
		t.Fatalf("Q5147 not reported: %v", rep.Unconfirmed)
	}
	for _, p := range s.Products {
		if p.HCPCS == "Q5147" {
			t.Fatalf("Q5147 became %s", p.ID)
		}
	}
}
