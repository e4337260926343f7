package scoring

import (
	"bytes"
	"encoding/csv"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestGroups(t *testing.T) {
	cat, _ := env(t)
	want := map[string][]string{
		"trastuzumab":   {"herceptin", "hercessi", "herzuma", "kanjinti", "ogivri", "ontruzant", "trazimera"},
		"bevacizumab":   {"avastin", "alymsys", "mvasi", "vegzelma", "zirabev"},
		"rituximab":     {"rituxan", "riabni", "ruxience", "truxima"},
		"infliximab":    {"remicade", "avsola", "inflectra", "renflexis"},
		"pegfilgrastim": {"neulasta", "fulphila", "fylnetra", "nyvepria", "stimufend", "udenyca", "ziextenzo"},
		"filgrastim":    {"neupogen", "nivestym", "nypozi", "releuko", "zarxio"},
		"atorvastatin":  {"lipitor", "atorvastatin-generic"},
	}
	if got := len(cat.Groups()); got != len(want) {
		t.Errorf("%d groups, want %d", got, len(want))
	}
	for id, members := range want {
		g, ok := cat.Group(id)
		if !ok {
			t.Errorf("no group %s", id)
			continue
		}
		if !slices.Equal(g.ProductIDs, members) || g.ReferenceID != members[0] {
			t.Errorf("%s members %v ref %s, want %v", id, g.ProductIDs, g.ReferenceID, members)
		}
		if g.DefaultDoseMg <= 0 || g.DefaultAdministrations <= 0 || g.DefaultsSource == "" || g.SwitchRule == "" {
			t.Errorf("%s: defaults not documented: %+v", id, g)
		}
		for _, pid := range members {
			p, _ := cat.Product(pid)
			if p.GroupID != id || p.Source == "" || len(p.NDCs) == 0 || len(p.Packages) == 0 {
				t.Errorf("%s: incomplete product %+v", pid, p)
			}
		}
	}
	// Herceptin Hylecta (J9356) is not a substitute and is not in the catalog.
	if p, ok := cat.Lookup(HCPCS, "J9356"); ok {
		t.Errorf("J9356 resolved to %s", p.ID)
	}
	if p, ok := cat.Lookup(NDC, "50242-0077-01"); ok {
		t.Errorf("Hylecta NDC resolved to %s", p.ID)
	}
}

func TestRelationshipsAndPackages(t *testing.T) {
	cat, _ := env(t)
	for _, c := range []struct {
		id     string
		rel    Relationship
		proper string
		pkgs   string // units and S(ingle)/M(ulti)-dose
	}{
		{"herceptin", RelReference, "trastuzumab", "15S"},
		{"trazimera", RelBiosimilar, "trastuzumab-qyyp", "15M 42M"}, // Purple Book: both vials multi-dose
		{"kanjinti", RelBiosimilar, "trastuzumab-anns", "15S 42M 42M"},
		{"hercessi", RelBiosimilar, "trastuzumab-strf", "15S 42M"},
		{"avastin", RelReference, "bevacizumab", "10S 40S"},
		{"neulasta", RelReference, "pegfilgrastim", "12S 12S"},
		{"neupogen", RelReference, "filgrastim", "300S 300S 300S 480S 480S 480S"}, // per syringe/vial, not per carton of 10
		{"lipitor", RelBrand, "atorvastatin calcium", "1S 1S 1S 1S"},
		{"atorvastatin-generic", RelABGeneric, "atorvastatin calcium", "1S 1S 1S 1S"},
	} {
		p, ok := cat.Product(c.id)
		if !ok {
			t.Fatalf("no product %s", c.id)
		}
		var pk []string
		for _, x := range p.Packages {
			k := "S"
			if !x.SingleDose {
				k = "M"
			}
			pk = append(pk, strconv.FormatFloat(x.Units, 'g', -1, 64)+k)
		}
		if p.Relationship != c.rel || p.ProperName != c.proper || strings.Join(pk, " ") != c.pkgs {
			t.Errorf("%s: %s %q packages %q; want %s %q %q", c.id, p.Relationship, p.ProperName, strings.Join(pk, " "), c.rel, c.proper, c.pkgs)
		}
	}
	if p, _ := cat.Product("neupogen"); p.Packages[0].PackageUnits != 3000 || p.Packages[0].ItemsPerPackage != 10 {
		t.Errorf("neupogen carton: %+v", p.Packages[0])
	}
}

func TestLookup(t *testing.T) {
	cat, _ := env(t)
	for _, c := range []struct {
		sys        CodeSystem
		code, want string
	}{
		{HCPCS, "J9355", "herceptin"},
		{HCPCS, "q5116", "trazimera"},
		{NDC, "50242-0132-01", "herceptin"}, // 5-4-2
		{NDC, "50242013201", "herceptin"},   // 11 digits
		{NDC, "50242-0132-10", "herceptin"}, // multi-pack known from QUMI only
		{NDC, "0069-0305-01", "trazimera"},  // 4-4-2 -> 00069-0305-01
		{NDC, "55513-132-01", "kanjinti"},   // 5-3-2 -> 55513-0132-01
		{NDC, "55513-0132-1", "kanjinti"},   // 5-4-1 -> 55513-0132-01
		{NDC, "5551313201", "kanjinti"},     // bare 10 digits, one padding known
		{NDC, "57894-0160-01", "remicade"},  // Janssen unbranded infliximab bills as J1745
		{NDC, "00093505610", "atorvastatin-generic"},
		{NDC, "00071-0155-23", "lipitor"},
		{RxNorm, "2280732", "trazimera"},
		{RxNorm, "617312", "atorvastatin-generic"}, // atorvastatin 10 MG Oral Tablet (SCD)
		{RxNorm, "617314", "lipitor"},              // ... [Lipitor] (SBD)
		{RxNorm, "153165", "lipitor"},              // BN
		{NDC, "abc", ""},
		{NDC, "1234-5678-9", ""},
		{HCPCS, "J9356", ""},
		{RxNorm, "597987", ""}, // amlodipine/atorvastatin is not a member
		{"snomed", "123", ""},
	} {
		p, ok := cat.Lookup(c.sys, c.code)
		if ok != (c.want != "") || p.ID != c.want {
			t.Errorf("Lookup(%s, %q) = %q %v, want %q", c.sys, c.code, p.ID, ok, c.want)
		}
	}
	for _, c := range []struct {
		sys  CodeSystem
		code string
		mg   float64
	}{
		{RxNorm, "617311", 40}, {RxNorm, "262095", 80}, {NDC, "00069-0305-01", 420}, {RxNorm, "2257297", 150},
	} {
		if mg, ok := cat.Strength(c.sys, c.code); !ok || mg != c.mg {
			t.Errorf("Strength(%s, %s) = %g %v, want %g", c.sys, c.code, mg, ok, c.mg)
		}
	}
}

func TestNormalizeNDC(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"50242-0132-01", "50242013201"}, {"0069-0305-01", "00069030501"}, {"55513-132-01", "55513013201"},
		{"55513-0132-1", "55513013201"}, {"55513013201", "55513013201"}, {" 50242-0132-01 ", "50242013201"},
		{"5551313201", ""}, {"5551-31-3201", ""}, {"", ""}, {"55513-0132-01-1", ""}, {"5551３013201", ""},
	} {
		got, ok := NormalizeNDC(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("NormalizeNDC(%q) = %q %v, want %q", c.in, got, ok, c.want)
		}
	}
}

func FuzzNormalizeNDC(f *testing.F) {
	for _, s := range []string{"50242-0132-01", "0069-0305-01", "55513-132-01", "55513-0132-1", "5551313201", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := NormalizeNDC(s)
		if !ok {
			return
		}
		if len(n) != 11 || strings.Trim(n, "0123456789") != "" {
			t.Fatalf("NormalizeNDC(%q) = %q", s, n)
		}
		if n2, ok := NormalizeNDC(n); !ok || n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, n2)
		}
		// Normalising only drops dashes and pads with zeros: the other digits
		// keep their order.
		strip := func(v string) string { return strings.NewReplacer("-", "", "0", "").Replace(strings.TrimSpace(v)) }
		if strip(s) != strip(n) {
			t.Fatalf("NormalizeNDC(%q) = %q changes the digits", s, n)
		}
	})
}

func TestBooksAndDerivedASP(t *testing.T) {
	cat, _ := env(t)
	books := cat.Books()
	var asp []string
	for i, b := range books {
		if i > 0 && b.Start.Before(books[i-1].Start) {
			t.Errorf("books not ascending at %s", b.ID)
		}
		if b.Source == SourceCMSASP {
			asp = append(asp, b.ID)
			if b.End.IsZero() || !strings.Contains(b.Provenance, "QuicksortRx/universal-med-ids@") {
				t.Errorf("%s: end %v provenance %q", b.ID, b.End, b.Provenance)
			}
		}
	}
	wantASP := []string{"cms-asp-2024q1", "cms-asp-2024q2", "cms-asp-2024q3", "cms-asp-2024q4", "cms-asp-2025q1", "cms-asp-2025q2", "cms-asp-2025q3", "cms-asp-2025q4", "cms-asp-2026q1"}
	if !slices.Equal(asp, wantASP) || len(books) != 10 {
		t.Fatalf("books %v (+%d others), want the nine quarters and one NADAC book", asp, len(books)-len(asp))
	}
	book := func(id string) PriceBook {
		for _, b := range books {
			if b.ID == id {
				return b
			}
		}
		t.Fatalf("no book %s", id)
		return PriceBook{}
	}
	for _, c := range []struct {
		book, product   string
		limit, asp      float64
		derivedContains string
	}{
		{"cms-asp-2026q1", "herceptin", 73.483, 73.483 / 1.06, "/ 1.06"},
		{"cms-asp-2026q1", "trazimera", 8.205, 8.205 - 0.08*73.483/1.06, "0.08 x reference ASP 69.3236"},
		{"cms-asp-2025q2", "kanjinti", 27.905, 27.905 / 1.03, "estimated: AMP = payment limit 27.905 / 1.03"},
		// Added July 2025 at Herceptin's own limit, without the 8% note: limit - 0.06 x
		// reference ASP, which at an equal limit is limit / 1.06; an estimate (a new code
		// may be paid on WAC).
		{"cms-asp-2025q3", "hercessi", 76.181, 76.181 - 0.06*76.181/1.06, "estimated: payment limit 76.181 - 0.06 x reference ASP 71.8689"},
		{"cms-asp-2025q4", "hercessi", 40.025, 40.025 - 0.08*75.025/1.06, "8% of reference"},
		{"cms-asp-2025q1", "ziextenzo", 24.711, 24.711 - 0.06*19.981/1.06, "code added this quarter"},
		// Fulphila carries no add-on note in Jan 2026: a biosimilar at ASP + 6 % of
		// Neulasta's ASP (122.837 / 1.06 = 115.8840), not limit / 1.06.
		{"cms-asp-2026q1", "fulphila", 98.871, 98.871 - 0.06*122.837/1.06, "derived: payment limit 98.871 - 0.06 x reference ASP 115.8840 (biosimilar without the 8% add-on)"},
		{"cms-asp-2024q2", "nyvepria", 65.506, 65.506 - 0.08*109.754/1.06, "8% of reference"},
		{"nadac-communitymeds-2025-12-24", "lipitor", 12.42604, 12.42604, "NADAC"},
		{"nadac-communitymeds-2025-12-24", "atorvastatin-generic", 0.02453, 0.02453, "NADAC"},
	} {
		p, ok := book(c.book).Price(c.product)
		if !ok || math.Abs(p.PerUnit-c.limit) > 1e-9 || math.Abs(p.ASP-c.asp) > 1e-9 || !strings.Contains(p.Derived+p.Published, c.derivedContains) {
			t.Errorf("%s %s: %+v, want limit %g ASP %g (%q)", c.book, c.product, p, c.limit, c.asp, c.derivedContains)
		}
	}
	if _, ok := book("cms-asp-2025q2").Price("hercessi"); ok {
		t.Error("Hercessi priced before its July 2025 listing")
	}
	if got := book("cms-asp-2026q1").ProductIDs(); len(got) != 32 {
		t.Errorf("2026q1 prices %d products, want 32: %v", len(got), got)
	}
}

// TestJoinedCrossCheck compares the catalog with the independent join of the
// trastuzumab family (Jan 2026) shipped in data/.
func TestJoinedCrossCheck(t *testing.T) {
	cat, _ := env(t)
	raw, err := dataFS.ReadFile("data/trastuzumab_family_2026Q1_joined.csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := cat.BookFor(SourceCMSASP, day("2026-02-15"))
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	checked := 0
	for _, r := range recs[1:] {
		hcpcs := r[col["hcpcs"]]
		p, ok := cat.Lookup(HCPCS, hcpcs)
		if hcpcs == "J9356" {
			if ok {
				t.Error("Hylecta is in the catalog")
			}
			continue
		}
		if !ok {
			t.Errorf("%s missing", hcpcs)
			continue
		}
		units, _ := strconv.ParseFloat(r[col["billunits_per_pkg"]], 64)
		perPkg, _ := strconv.ParseFloat(r[col["per_package_limit_usd_DERIVED"]], 64)
		pr, _ := b.Price(p.ID)
		var found bool
		for _, pk := range p.Packages {
			if pk.NDC == r[col["ndc"]] {
				found = true
				if pk.PackageUnits != units || math.Abs(pk.PackageUnits*pr.PerUnit-perPkg) > 0.001 {
					t.Errorf("%s %s: %g units x %g, joined file says %g units, %g", p.ID, pk.NDC, pk.PackageUnits, pr.PerUnit, units, perPkg)
				}
			}
		}
		if !found {
			t.Errorf("%s: NDC %s not in the catalog", p.ID, r[col["ndc"]])
		}
		if rx := r[col["rxcui_qumi_2023"]]; rx != "" && !slices.Contains(p.RxNorm, rx) {
			t.Errorf("%s: RXCUI %s missing", p.ID, rx)
		}
		checked++
	}
	if checked != 16 {
		t.Errorf("checked %d rows, want 16", checked)
	}
}

// TestLoadCatalogRejectsMissingMember: a data refresh that drops a curated
// product must fail loudly, not shrink a group.
func TestLoadCatalogRejectsMissingMember(t *testing.T) {
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
	if _, err := LoadCatalog(m); err != nil {
		t.Fatalf("the unmodified copy fails: %v", err)
	}
	var kept []string
	for _, line := range strings.Split(string(m[fileCrosswalk].Data), "\n") {
		if !strings.HasPrefix(line, "Q5116,") {
			kept = append(kept, line)
		}
	}
	m[fileCrosswalk] = &fstest.MapFile{Data: []byte(strings.Join(kept, "\n"))}
	if _, err := LoadCatalog(m); err == nil || !strings.Contains(err.Error(), "trazimera") {
		t.Errorf("without Trazimera's crosswalk rows: err %v", err)
	}
	delete(m, fileASP)
	if _, err := LoadCatalog(m); err == nil {
		t.Error("a missing file was accepted")
	}
}

func BenchmarkDefaultCatalog(b *testing.B) {
	for b.Loop() {
		if _, err := DefaultCatalog(); err != nil {
			b.Fatal(err)
		}
	}
}
