package measures

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func names(vs *ValueSet, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, vs.Ingredient(i).Name)
	}
	slices.Sort(out)
	return out
}

func TestValueSetMatch(t *testing.T) {
	vs := DefaultValueSet()
	cases := []struct {
		code, text string
		want       []string
	}{
		{"83367", "", []string{"atorvastatin"}},
		{"6809", "Glucophage", []string{"metformin"}},
		{"617312", "atorvastatin 10 MG Oral Tablet [Lipitor]", []string{"atorvastatin"}}, // SBD matched by its name
		{"", "amlodipine 5 MG / atorvastatin 10 MG Oral Tablet", []string{"atorvastatin"}},
		{"", "sacubitril 49 MG / valsartan 51 MG Oral Tablet [Entresto]", []string{"sacubitril", "valsartan"}},
		{"", "sitagliptin 50 MG / Metformin hydrochloride 1000 MG Oral Tablet", []string{"metformin", "sitagliptin"}},
		{"274783", "Insulin Glargine 100 UNT/ML Injectable Solution", []string{"insulin glargine"}},
		{"", "insulin lispro 100 UNT/ML Injectable Solution", []string{"insulin"}},
		{"", "Lisinopril 10 MG / Hydrochlorothiazide 12.5 MG Oral Tablet", []string{"lisinopril"}},
		{"", "amlodipine 10 MG Oral Tablet", nil},
		{"", "xatorvastatin", nil}, // whole words only
		{"999999", "", nil},
	}
	for _, c := range cases {
		got := names(vs, vs.Match(nil, c.code, c.text))
		if !slices.Equal(got, c.want) {
			t.Errorf("Match(%q, %q) = %v, want %v", c.code, c.text, got, c.want)
		}
	}
	fills := vs.Fills(nil, Date(2026, 1, 1), 30, "", "sacubitril 24 MG / valsartan 26 MG Oral Tablet")
	if len(fills) != 2 || fills[0].Class == fills[1].Class {
		t.Fatalf("Entresto fills = %+v", fills)
	}
}

func TestValueSetFile(t *testing.T) {
	vs := DefaultValueSet()
	count := map[Class]int{}
	for i := range vs.Len() {
		ing := vs.Ingredient(i)
		count[ing.Class]++
		if ing.Source == "" {
			t.Errorf("%s has no source", ing.Name)
		}
	}
	// The PQA lists summarised in valuesets/README.md: 7 statins, 19 RAS antagonists, 26 non-insulin
	// diabetes ingredients (tirzepatide, the three first-generation sulfonylureas and bexagliflozin
	// included), 2 alpha-glucosidase inhibitors counted for SUPD only.
	if count[ClassStatin] != 7 || count[ClassRASA] != 19 || count[ClassDiabetes] != 26 || count[ClassSUPDOnly] != 2 {
		t.Errorf("class sizes %v", count)
	}
	for _, bad := range []string{
		"ingredient,rxcui,class\nx,,statin\n",
		"ingredient,rxcui,class,category,source\nx,,nope,,s\n",
		"ingredient,rxcui,class,category,source\nx,,statin,,s\nx,,statin,,s\n",
		"ingredient,rxcui,class,category,source\n",
	} {
		if _, err := ParseValueSet(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseValueSet accepted %q", bad)
		}
	}
}

// TestPureImports: the measure engine imports nothing of the project and does no I/O
// (architecture.md; make imports checks the transitive set).
func TestPureImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "valuerx" || strings.HasPrefix(p, "valuerx/") || slices.Contains([]string{"os", "net", "net/http", "log", "log/slog", "io/fs", "os/exec"}, p) {
				t.Errorf("%s imports %s", f, p)
			}
		}
		checked++
	}
	if checked < 4 {
		t.Fatalf("checked %d files", checked)
	}
}

// TestClassify: brand names, product codes (RxNorm SBD/SCD, NDC) and weight-loss products, and
// which concepts are known (the pharmacist review of 2026-12-01, Critical 1 and 2, H1, H2).
func TestClassify(t *testing.T) {
	vs := DefaultValueSet()
	rx := func(code, display string) Coding { return Coding{SystemRxNorm, code, display} }
	ndc := func(code, display string) Coding { return Coding{SystemNDC, code, display} }
	cases := []struct {
		name    string
		codings []Coding
		text    string
		want    []string
		known   bool
	}{
		{"Lipitor by NDC and upper-case brand display (c15)", []Coding{ndc("00071015623", "LIPITOR 40MG TAB")}, "LIPITOR 40MG TAB", []string{"atorvastatin"}, true},
		{"Crestor by NDC only, display unknown", []Coding{ndc("00310757090", "")}, "", []string{"rosuvastatin"}, true},
		{"Crestor NDC hyphenated 5-3-2", []Coding{ndc("00310-757-90", "")}, "", nil, false},
		{"Crestor NDC hyphenated 5-4-1 (0310-7570-90 is 4-4-2)", []Coding{ndc("0310-7570-90", "")}, "", []string{"rosuvastatin"}, true},
		{"Crestor SBD code with free-text display (c54)", []Coding{rx("859753", "Crestor 10 mg tablet")}, "Crestor 10 mg tablet", []string{"rosuvastatin"}, true},
		{"Crestor SBD code alone", []Coding{rx("859753", "")}, "", []string{"rosuvastatin"}, true},
		{"CRESTOR brand text (c53)", []Coding{ndc("00310075190", "CRESTOR 10MG TAB")}, "", []string{"rosuvastatin"}, true},
		{"Zocor", nil, "Zocor 20 mg", []string{"simvastatin"}, true},
		{"Glucophage", nil, "GLUCOPHAGE 500MG TAB", []string{"metformin"}, true},
		{"Janumet: two diabetes ingredients", nil, "Janumet 50-1000 mg tablet", []string{"metformin", "sitagliptin"}, true},
		{"Entresto by NDC brand display (c26)", []Coding{ndc("00078065920", "ENTRESTO 49-51 MG TABLET")}, "", []string{"sacubitril", "valsartan"}, true},
		{"Wegovy SBD name: not a diabetes drug (c48)", []Coding{rx("2553506", "semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]")}, "Wegovy 2.4 mg", nil, true},
		{"Wegovy brand in the text only, generic coding", []Coding{rx("", "semaglutide 2.4 MG/0.75ML Auto-Injector")}, "Wegovy", nil, true},
		{"Zepbound", nil, "ZEPBOUND 5 MG/0.5 ML PEN", nil, true},
		{"Saxenda", nil, "liraglutide 6 MG/ML Pen Injector [Saxenda]", nil, true},
		{"Ozempic stays a diabetes drug", nil, "semaglutide 1 MG/0.75ML Pen Injector [Ozempic]", []string{"semaglutide"}, true},
		{"Mounjaro stays a diabetes drug", nil, "Mounjaro 5 mg/0.5 mL pen", []string{"tirzepatide"}, true},
		{"insulin syringe is a supply (c32)", nil, "Insulin Syringe 1 mL 31G x 5/16in", nil, true},
		{"insulin pen needle is a supply (c32c)", nil, "BD Insulin Pen Needle 32G 4mm", nil, true},
		{"test strips are a supply", nil, "ONETOUCH ULTRA TEST STRIPS", nil, true},
		{"insulin in a prefilled syringe is insulin", nil, "insulin lispro 100 UNT/ML Prefilled Syringe", []string{"insulin"}, true},
		{"Lantus brand is insulin glargine", nil, "LANTUS SOLOSTAR 100 UNIT/ML", []string{"insulin glargine"}, true},
		{"RxNorm clinical drug of no measured class is known", []Coding{rx("197361", "amlodipine 5 MG Oral Tablet")}, "", nil, true},
		{"RxNorm branded drug of no measured class is known", nil, "amlodipine 5 MG Oral Tablet [Norvasc]", nil, true},
		{"unlisted brand by NDC is unknown", []Coding{ndc("00069153066", "NORVASC 5MG TAB")}, "", nil, false},
		{"free text of no listed name is unknown", nil, "cholesterol pill", nil, false},
	}
	for _, c := range cases {
		idx, known := vs.Classify(nil, c.codings, c.text)
		if got := names(vs, idx); !slices.Equal(got, c.want) || known != c.known {
			t.Errorf("%s: Classify = %v known %v, want %v known %v", c.name, got, known, c.want, c.known)
		}
	}
	for _, c := range []struct{ in, want string }{{"00071015623", "00071015623"}, {"0071-0156-23", "00071015623"}, {"12345-678-90", "12345067890"}, {"12345-6789-1", "12345678901"}, {"0071015623", ""}, {"abc", ""}} {
		if got, _ := NormalizeNDC(c.in); got != c.want {
			t.Errorf("NormalizeNDC(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
