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
	// The PQA lists summarised in valuesets/README.md: 7 statins, 19 RAS antagonists, 22 non-insulin
	// diabetes ingredients (tirzepatide included).
	if count[ClassStatin] != 7 || count[ClassRASA] != 19 || count[ClassDiabetes] != 22 {
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
