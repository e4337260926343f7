package measures

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateProducts = flag.Bool("update-products", false, "rewrite valuesets/products.csv from the scoring seed files")

// The product codes of valuesets/products.csv are derived from two files of scoring/data (which
// this package may not import, so it keeps a copy): the RxNorm statin and insulin glargine seed
// (SCD, SBD, BN and pack concepts, NLM RxNorm via ssmithm/rxnorm-drug-lists and VSAC) and the NADAC
// NDCs of the community-meds extract. TestProductCodesFromSeed fails when the copy is stale;
// go test ./measures -run TestProductCodesFromSeed -update-products rewrites it.
func deriveProducts(t *testing.T) []byte {
	t.Helper()
	base, err := ParseValueSet(bytes.NewReader(defaultCSV))
	if err != nil {
		t.Fatal(err)
	}
	if err := base.AddBrands(bytes.NewReader(brandsCSV)); err != nil {
		t.Fatal(err)
	}
	read := func(name string) [][]string {
		f, err := os.Open(filepath.Join("..", "scoring", "data", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs[1:]
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	w.Write([]string{"system", "code", "ingredients", "name", "source"})
	seen := map[string]bool{}
	emit := func(sys, code string, ings []int, name, source string) {
		if len(ings) == 0 || seen[sys+code] {
			return
		}
		seen[sys+code] = true
		var ns []string
		for _, i := range ings {
			ns = append(ns, base.Ingredient(i).Name)
		}
		slices.Sort(ns)
		w.Write([]string{sys, code, strings.Join(ns, ";"), name, source})
	}
	for _, r := range read("rxnorm_statins_glargine_seed.csv") {
		rxcui, str, tty, group := r[0], r[1], r[2], strings.ToLower(r[3])
		if _, ok := base.byRxCUI[rxcui]; ok {
			continue // an ingredient row of pqa_classes.csv
		}
		if tty == "IN" || tty == "PIN" {
			continue // ingredient concepts other than the listed ones are left out (precise ingredients are salts)
		}
		ings, _ := base.Classify(nil, nil, str)
		if group == "glargine" {
			group = "insulin glargine"
		}
		if i := base.Lookup(group); i >= 0 && !slices.Contains(ings, i) {
			ings = append(ings, i)
		}
		emit("rxnorm", rxcui, ings, str, "NLM RxNorm "+strings.Trim(tty, "()")+"; scoring/data/rxnorm_statins_glargine_seed.csv ("+r[9]+")")
	}
	for _, r := range read("nadac_derived_communitymeds_2025-12-24.csv") {
		ings, _ := base.Classify(nil, nil, r[1])
		emit("ndc", r[2], ings, r[1], "CMS NADAC 2025-12-24 NDC description; scoring/data/nadac_derived_communitymeds_2025-12-24.csv")
	}
	w.Flush()
	return out.Bytes()
}

func TestProductCodesFromSeed(t *testing.T) {
	got := deriveProducts(t)
	if *updateProducts {
		if err := os.WriteFile(filepath.Join("valuesets", "products.csv"), got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, productsCSV) {
		t.Fatalf("valuesets/products.csv is stale: go test ./measures -run TestProductCodesFromSeed -update-products")
	}
}
