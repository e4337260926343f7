package scoring

import (
	"strings"
	"testing"
)

func TestParsePolicyRefusesMistakes(t *testing.T) {
	cat := testCatalog(t)
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown group", "groups:\n  trastuzumabb: {midCourse: never}\n", "unknown group"},
		{"bad mid-course", "groups:\n  trastuzumab: {midCourse: sometimes}\n", "midCourse"},
		{"rounding too wide", "groups:\n  trastuzumab: {doseRoundingPct: 40}\n", "doseRoundingPct"},
		{"product of another group", "formularies:\n  - site: ''\n    products:\n      trastuzumab: [mvasi]\n", "not a product of group"},
		{"site twice", "formularies:\n  - site: a\n  - site: a\n", "listed twice"},
		{"typo in a key", "formulary: []\n", "not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePolicy(cat, []byte(c.yaml), nil, "t")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestPolicyFormularyAndDefaults(t *testing.T) {
	cat := testCatalog(t)
	pol, err := ParsePolicy(cat, []byte(`
formularies:
  - site: ""
    products:
      trastuzumab: [herceptin, trazimera]
  - site: Location/north
    products:
      trastuzumab: [herceptin, trazimera]
    notStocked: [trazimera]
`), nil, "t")
	if err != nil {
		t.Fatal(err)
	}
	prod := func(id string) Product { p, _ := cat.Product(id); return p }
	for _, c := range []struct {
		site, product string
		want          bool
	}{
		{"", "trazimera", true},
		{"", "kanjinti", false},
		{"", "mvasi", true}, // bevacizumab is not restricted
		{"Location/north", "trazimera", false},
		{"Location/north", "herceptin", true},
		{"Location/elsewhere", "kanjinti", false}, // no own formulary: the organisation's
	} {
		if got := pol.OnFormulary(c.site, prod(c.product)); got != c.want {
			t.Errorf("OnFormulary(%q, %s) = %v, want %v", c.site, c.product, got, c.want)
		}
	}
	var none *Policy
	if !none.OnFormulary("", prod("kanjinti")) {
		t.Error("nil policy: every product is on formulary")
	}
	tz, _ := cat.Group("trastuzumab")
	at, _ := cat.Group("atorvastatin")
	if none.Group(tz).MidCourse != MidCourseNever || none.Group(at).MidCourse != MidCourseAny || none.Group(tz).HistoryDays != 180 {
		t.Errorf("defaults: %+v %+v", none.Group(tz), none.Group(at))
	}
}

// The embedded indication table (scoring/data/indications.csv): matching by ICD-10-CM prefix,
// paediatric rows bounded by age, and the label states a suggestion needs.
func TestIndicationTable(t *testing.T) {
	tab, err := DefaultIndications()
	if err != nil {
		t.Fatal(err)
	}
	dx := func(codes ...string) []Diagnosis {
		var out []Diagnosis
		for _, c := range codes {
			out = append(out, Diagnosis{System: "icd10cm", Code: c})
		}
		return out
	}
	for _, c := range []struct {
		group string
		dx    []Diagnosis
		age   int
		want  string
	}{
		{"trastuzumab", dx("C16.9"), 60, "her2-gastric"},
		{"trastuzumab", dx("c50.911"), 60, "her2-breast"},
		{"trastuzumab", dx("E78.5"), 60, ""},
		{"infliximab", dx("K51.90"), 40, "uc"},                                  // adult UC: the paediatric row does not apply
		{"infliximab", dx("K51.90"), 12, "pediatric-uc,uc"},                     // a child
		{"infliximab", dx("K51.90"), -1, "pediatric-uc,uc"},                     // age unknown: conservative
		{"eculizumab", dx("G70.00"), 50, "gmg"},                                 // generalised myasthenia gravis
		{"eculizumab", dx("D59.5", "G36.0"), 50, "nmosd,pnh"},                   // two diagnoses
		{"trastuzumab", []Diagnosis{{System: "snomed", Code: "C16.9"}}, 60, ""}, // an ICD code under SNOMED
	} {
		got := strings.Join(tab.Match(c.group, c.dx, c.age), ",")
		if got != c.want {
			t.Errorf("Match(%s, %v, %d) = %q, want %q", c.group, c.dx, c.age, got, c.want)
		}
	}
	for _, c := range []struct {
		group, ind, product string
		want                Labelled
	}{
		{"trastuzumab", "her2-gastric", "herzuma", LabelNo},
		{"trastuzumab", "her2-gastric", "trazimera", LabelYes},
		{"trastuzumab", "her2-breast", "trazimera", LabelYes}, // a common indication: not listed per biosimilar
		{"eculizumab", "gmg", "bkemv", LabelNo},
		{"eculizumab", "pnh", "epysqli", LabelYes},
		{"bevacizumab", "hcc", "zirabev", LabelUnknown},
		{"bevacizumab", "hcc", "notalisted", LabelUnknown}, // a differing indication: unlisted is unknown
	} {
		ind, ok := tab.Indication(c.group, c.ind)
		if !ok {
			t.Fatalf("no indication %s/%s", c.group, c.ind)
		}
		if got := ind.LabelFor(c.product); got != c.want {
			t.Errorf("%s %s %s: %s, want %s", c.group, c.ind, c.product, got, c.want)
		}
	}
}

func testCatalog(t testing.TB) *Catalog {
	cat, _ := env(t)
	return cat
}

// Tablets are priced in the ordered strength only: 40 mg a day from 40 mg tablets is one tablet
// of 40 mg for every option; 40 mg a day from 20 mg tablets is two; a strength no product has
// (5 mg) gives no suggestion at all.
func TestTabletStrengthHeld(t *testing.T) {
	cat, reg := env(t)
	for _, c := range []struct {
		item, dose float64
		wantMg     float64
		wantCount  int
	}{
		{40, 40, 40, 1},
		{20, 40, 20, 2},
		{80, 80, 80, 1},
	} {
		r := mustScore(t, cat, reg, Request{ContractID: "commercial-ppo", ProductID: "lipitor", DoseMg: c.dose, Administrations: 90, Date: day("2026-02-15"), ItemMg: c.item})
		gen := option(t, r, "atorvastatin-generic")
		if len(gen.Packages) != 1 || gen.Packages[0].Mg != c.wantMg || gen.Packages[0].Count != c.wantCount {
			t.Errorf("item %g mg, dose %g: generic uses %+v, want %d x %g mg", c.item, c.dose, gen.Packages, c.wantCount, c.wantMg)
		}
		if r.Ordered.Packages[0].Mg != c.wantMg {
			t.Errorf("item %g mg: ordered priced as %+v", c.item, r.Ordered.Packages)
		}
	}
	r := mustScore(t, cat, reg, Request{ContractID: "commercial-ppo", ProductID: "lipitor", DoseMg: 5, Administrations: 90, Date: day("2026-02-15"), ItemMg: 5})
	if r.Best != nil {
		t.Fatalf("5 mg tablets exist for no product, yet %s was suggested", r.Best.Product.ID)
	}
}
