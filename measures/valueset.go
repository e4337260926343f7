package measures

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Class is the therapeutic class of an ingredient, as the measures use it.
type Class uint8

// The classes of valuesets/pqa_classes.csv.
const (
	ClassNone       Class = iota
	ClassStatin           // PDC-STA; SUPD numerator
	ClassRASA             // PDC-RASA
	ClassDiabetes         // PDC-DR (non-insulin); SUPD denominator
	ClassInsulin          // PDC-DR exclusion; SUPD denominator
	ClassSacubitril       // PDC-RASA exclusion (sacubitril/valsartan)
	ClassAmylin           // SUPD denominator only (pramlintide)
	ClassSUPDOnly         // SUPD denominator only, not PDC-DR (alpha-glucosidase inhibitors)
)

var classNames = [...]string{"", "statin", "rasa", "diabetes", "insulin", "sacubitril", "amylin", "supd-only"}

// SUPDDiabetes reports whether c is a diabetes medication for SUPD (any class of the PQA SUPD
// diabetes list: the PDC-DR classes, insulin, pramlintide, alpha-glucosidase inhibitors).
func (c Class) SUPDDiabetes() bool {
	return c == ClassDiabetes || c == ClassInsulin || c == ClassAmylin || c == ClassSUPDOnly
}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// Ingredient is one row of the value set.
type Ingredient struct {
	Name     string // lower-case RxNorm ingredient name
	RxCUI    string // RxNorm IN concept, "" where not checked
	Class    Class
	Category string // PQA subgroup
	Source   string
}

// ValueSet maps RxNorm codes and drug names to ingredients of the measured classes. It is
// immutable after parsing and safe for concurrent use.
type ValueSet struct {
	ingredients []Ingredient
	byRxCUI     map[string]int
	byWord      map[string][]int // first word of the name -> ingredients whose name starts with it
	// products maps product codes ("rxnorm|617311", "ndc|00071015523": RxNorm SCD/SBD/BN/pack
	// concepts and NDCs) to the measured ingredients they contain (valuesets/products.csv).
	products map[string][]int
	// brands maps the first word of a brand name to its rows (valuesets/brands.csv).
	brands map[string][]brand
}

// brand is a proprietary name and the measured ingredients it stands for. A weight-loss brand
// (Wegovy, Zepbound, Saxenda) contains an incretin of the diabetes list but is marketed for
// weight management only: the PQA medication lists leave those products out at NDC level, so a
// concept naming one is known (not "unclassified") and counts for no measure.
type brand struct {
	name        string // lower case, words separated by one space
	ingredients []int
	weightLoss  bool
}

var (
	//go:embed valuesets/pqa_classes.csv
	defaultCSV []byte
	//go:embed valuesets/products.csv
	productsCSV []byte
	//go:embed valuesets/brands.csv
	brandsCSV []byte
)

var defaultValueSet = sync.OnceValues(func() (*ValueSet, error) {
	vs, err := ParseValueSet(bytes.NewReader(defaultCSV))
	if err != nil {
		return nil, err
	}
	if err := vs.AddProducts(bytes.NewReader(productsCSV)); err != nil {
		return nil, err
	}
	if err := vs.AddBrands(bytes.NewReader(brandsCSV)); err != nil {
		return nil, err
	}
	return vs, nil
})

// DefaultValueSet is the embedded value set (valuesets/pqa_classes.csv). It panics if the
// embedded file does not parse, which a test guards.
func DefaultValueSet() *ValueSet {
	vs, err := defaultValueSet()
	if err != nil {
		panic(err)
	}
	return vs
}

// ParseValueSet reads a value-set CSV with the header ingredient,rxcui,class,category,source.
func ParseValueSet(r io.Reader) (*ValueSet, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 5
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("measures: value set header: %w", err)
	}
	if strings.Join(head, ",") != "ingredient,rxcui,class,category,source" {
		return nil, fmt.Errorf("measures: value set header %q, want ingredient,rxcui,class,category,source", strings.Join(head, ","))
	}
	vs := &ValueSet{byRxCUI: map[string]int{}, byWord: map[string][]int{}, products: map[string][]int{}, brands: map[string][]brand{}}
	seen := map[string]bool{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("measures: value set line %d: %w", line, err)
		}
		ing := Ingredient{Name: strings.ToLower(strings.TrimSpace(rec[0])), RxCUI: strings.TrimSpace(rec[1]), Category: rec[3], Source: rec[4]}
		for i, n := range classNames {
			if i > 0 && n == rec[2] {
				ing.Class = Class(i)
			}
		}
		switch {
		case ing.Name == "":
			return nil, fmt.Errorf("measures: value set line %d: empty ingredient", line)
		case ing.Class == ClassNone:
			return nil, fmt.Errorf("measures: value set line %d: unknown class %q", line, rec[2])
		case seen[ing.Name]:
			return nil, fmt.Errorf("measures: value set line %d: %s listed twice", line, ing.Name)
		}
		seen[ing.Name] = true
		if ing.RxCUI != "" {
			if _, dup := vs.byRxCUI[ing.RxCUI]; dup {
				return nil, fmt.Errorf("measures: value set line %d: RxCUI %s listed twice", line, ing.RxCUI)
			}
			vs.byRxCUI[ing.RxCUI] = len(vs.ingredients)
		}
		first, _, _ := strings.Cut(ing.Name, " ")
		vs.byWord[first] = append(vs.byWord[first], len(vs.ingredients))
		vs.ingredients = append(vs.ingredients, ing)
	}
	if len(vs.ingredients) == 0 {
		return nil, fmt.Errorf("measures: value set has no rows")
	}
	return vs, nil
}

// Len is the number of ingredients; ingredient indexes run from 0 to Len()-1.
func (vs *ValueSet) Len() int { return len(vs.ingredients) }

// Ingredient returns ingredient i.
func (vs *ValueSet) Ingredient(i int) Ingredient { return vs.ingredients[i] }

// Lookup returns the index of the ingredient with this name, or -1.
func (vs *ValueSet) Lookup(name string) int {
	for _, i := range vs.byWord[firstWord(name)] {
		if vs.ingredients[i].Name == name {
			return i
		}
	}
	return -1
}

func firstWord(s string) string { f, _, _ := strings.Cut(s, " "); return f }

// Code systems of the product codes Match and Classify read.
const (
	SystemRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
	SystemNDC    = "http://hl7.org/fhir/sid/ndc"
)

// Coding is one coding of a medication concept.
type Coding struct{ System, Code, Display string }

// Match appends to dst the indexes of the ingredients of a drug given by an RxNorm code and its
// display or text: the code when it is a listed ingredient or product RxCUI, then every listed
// ingredient or brand name found as whole words in text. Each ingredient is appended once. A
// generic "insulin" row matches any product whose name has the word insulin, except supplies
// (syringes, pen needles: a name with a supply word and no insulin strength); a more specific
// insulin row that also matches (insulin glargine) replaces it, so a product counts once per
// ingredient. Match does not drop weight-loss products: Classify, over a whole concept, does.
func (vs *ValueSet) Match(dst []int, code, text string) []int {
	out, _ := vs.classify(dst, []Coding{{System: SystemRxNorm, Code: code, Display: text}}, "")
	return out
}

// Classify appends to dst the indexes of the measured ingredients of a medication concept (its
// codings and text) and says whether the concept is known: matched to the value set (by
// ingredient or product code, ingredient or brand name), a weight-loss product, or named as an
// RxNorm clinical drug ("amlodipine 5 MG Oral Tablet": lower-case ingredient first, upper-case
// units), which names all its ingredients, so that no match means no measured ingredient; or a
// supply (syringe, pen needle, test strip: no drug at all). An
// unknown concept (an NDC or brand name the value set does not list, "NORVASC 5MG TAB", free text)
// may be of a measured class: a caller must not conclude from it that the patient has no statin.
//
// A weight-loss brand anywhere in the concept (or its product code) removes the incretins of the
// diabetes list that the brand contains: Wegovy is semaglutide, but not a diabetes medication
// for PDC-DR or SUPD.
func (vs *ValueSet) Classify(dst []int, codings []Coding, text string) ([]int, bool) {
	return vs.classify(dst, codings, text)
}

func (vs *ValueSet) classify(dst []int, codings []Coding, text string) ([]int, bool) {
	start := len(dst)
	known := false
	var drop []int // ingredients of weight-loss brands
	add := func(i int) {
		for _, j := range dst[start:] {
			if j == i {
				return
			}
		}
		dst = append(dst, i)
	}
	matchText := func(t string) {
		if t == "" {
			return
		}
		if rxnormName(t) {
			known = true
		}
		words := splitWords(t)
		supply := isSupply(t, words)
		if supply {
			known = true // a syringe, pen needle or test strip is classified: a device, of no measured class
		}
		for w, word := range words {
			for _, i := range vs.byWord[word] {
				if vs.ingredients[i].Class == ClassInsulin && supply {
					continue
				}
				if wordsHavePrefix(words[w:], vs.ingredients[i].Name) {
					add(i)
				}
			}
			for _, b := range vs.brands[word] {
				if !wordsHavePrefix(words[w:], b.name) {
					continue
				}
				known = true
				if b.weightLoss {
					drop = append(drop, b.ingredients...)
					continue
				}
				for _, i := range b.ingredients {
					add(i)
				}
			}
		}
	}
	for _, cd := range codings {
		switch cd.System {
		case SystemRxNorm, "":
			if i, ok := vs.byRxCUI[cd.Code]; ok && cd.Code != "" {
				add(i)
			}
			if ings, ok := vs.products["rxnorm|"+cd.Code]; ok && cd.Code != "" {
				for _, i := range ings {
					add(i)
				}
			}
		case SystemNDC:
			if n, ok := NormalizeNDC(cd.Code); ok {
				if ings, ok := vs.products["ndc|"+n]; ok {
					for _, i := range ings {
						add(i)
					}
				}
			}
		}
		matchText(cd.Display)
	}
	matchText(text)
	if len(drop) > 0 {
		out := dst[:start]
		for _, j := range dst[start:] {
			if !slicesContains(drop, j) {
				out = append(out, j)
			}
		}
		dst = out
	}
	// A specific insulin supersedes the generic row.
	generic := vs.Lookup("insulin")
	if generic >= 0 {
		specific := false
		for _, j := range dst[start:] {
			if j != generic && vs.ingredients[j].Class == ClassInsulin {
				specific = true
			}
		}
		if specific {
			out := dst[:start]
			for _, j := range dst[start:] {
				if j != generic {
					out = append(out, j)
				}
			}
			dst = out
		}
	}
	return dst, known || len(dst) > start
}

func slicesContains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// supplyWords name the devices sold for injecting or monitoring, which carry the word insulin in
// their names ("Insulin Syringe 1 mL 31G", "BD Insulin Pen Needle 32G") but are not insulin: the
// CMS PDC-DR exclusion is one or more fills of an insulin drug.
var supplyWords = map[string]bool{"syringe": true, "syringes": true, "needle": true, "needles": true, "lancet": true,
	"lancets": true, "strip": true, "strips": true, "swab": true, "swabs": true, "pad": true, "pads": true, "set": true, "sets": true,
	"meter": true, "sharps": true, "container": true, "reservoir": true, "pump": true, "cooler": true, "case": true}

// insulinTypeWords name an insulin drug (its type or a brand): a name with one of them is insulin
// whatever device word it carries. "Insulin Lispro Prefilled Syringe" and "insulin glargine 3 mL
// prefilled syringe", with no strength, read as supplies and missed the PDC-DR insulin exclusion
// (pharmacist review, 3 December 2026).
var insulinTypeWords = map[string]bool{"glargine": true, "lispro": true, "aspart": true, "glulisine": true, "detemir": true,
	"degludec": true, "nph": true, "isophane": true, "lantus": true, "basaglar": true,
	"semglee": true, "toujeo": true, "rezvoglar": true, "humalog": true, "admelog": true, "lyumjev": true, "novolog": true,
	"fiasp": true, "apidra": true, "levemir": true, "tresiba": true, "humulin": true, "novolin": true, "afrezza": true}

// isSupply: a name with a supply word, no insulin strength ("100 UNT/ML", "U-100", "units") and no
// insulin type or brand. "Insulin Glargine 100 UNT/ML Prefilled Syringe" is insulin.
func isSupply(text string, words []string) bool {
	supply := false
	for _, w := range words {
		if supplyWords[w] {
			supply = true
		}
		if w == "unt" || w == "unit" || w == "units" || w == "u" || w == "iu" || insulinTypeWords[w] {
			return false
		}
	}
	if supply {
		up := strings.ToUpper(text)
		if strings.Contains(up, "U100") || strings.Contains(up, "U-100") || strings.Contains(up, "U-200") || strings.Contains(up, "U-500") {
			return false
		}
	}
	return supply
}

// rxnormName reports whether s reads as an RxNorm clinical drug name (SCD, or SBD with its brand
// in brackets): it starts with a lower-case letter (RxNorm ingredient names are lower case) and
// has a number followed by an upper-case RxNorm unit (MG, MCG, UNT, ML, MEQ, ...). Such a name
// lists every ingredient of the product. "Crestor 10 mg tablet" and "LIPITOR 40MG TAB" are not.
func rxnormName(s string) bool {
	s = strings.TrimSpace(s)
	// A pack or a quantified form starts with its volume: "3 ML insulin glargine 100 UNT/ML Pen Injector".
	for len(s) > 0 && (s[0] >= '0' && s[0] <= '9' || s[0] == '.' || s[0] == ' ') {
		s = s[1:]
	}
	s = strings.TrimPrefix(s, "ML ")
	s = strings.TrimPrefix(s, "HR ")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	f := strings.Fields(s)
	for i := 1; i < len(f); i++ {
		if !startsWithDigit(f[i-1]) {
			continue
		}
		u, _, _ := strings.Cut(f[i], "/")
		switch u {
		case "MG", "MCG", "UNT", "ML", "MEQ", "MMOL", "%", "GM", "G", "MG/ML":
			return true
		}
	}
	return false
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// NormalizeNDC returns the 11-digit (5-4-2) form of an NDC: an 11-digit code as is, a
// hyphenated 10-digit code (4-4-2, 5-3-2, 5-4-1) padded in the short segment. An unhyphenated
// 10-digit code is ambiguous and not normalised.
func NormalizeNDC(code string) (string, bool) {
	code = strings.TrimSpace(code)
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return s != ""
	}
	if len(code) == 11 && digits(code) {
		return code, true
	}
	parts := strings.Split(code, "-")
	if len(parts) != 3 || !digits(parts[0]) || !digits(parts[1]) || !digits(parts[2]) {
		return "", false
	}
	pad := func(s string, n int) string { return strings.Repeat("0", n-len(s)) + s }
	if len(parts[0]) > 5 || len(parts[1]) > 4 || len(parts[2]) > 2 || len(parts[0])+len(parts[1])+len(parts[2]) != 10 {
		return "", false
	}
	return pad(parts[0], 5) + pad(parts[1], 4) + pad(parts[2], 2), true
}

// AddProducts reads product codes (header system,code,ingredients,name,source; system rxnorm or
// ndc; ingredients the value set's ingredient names separated by ";").
func (vs *ValueSet) AddProducts(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 5
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("measures: products header: %w", err)
	}
	if strings.Join(head, ",") != "system,code,ingredients,name,source" {
		return fmt.Errorf("measures: products header %q, want system,code,ingredients,name,source", strings.Join(head, ","))
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("measures: products line %d: %w", line, err)
		}
		sys, code := rec[0], strings.TrimSpace(rec[1])
		if sys == "ndc" {
			n, ok := NormalizeNDC(code)
			if !ok {
				return fmt.Errorf("measures: products line %d: NDC %q is not 11 digits or hyphenated", line, code)
			}
			code = n
		} else if sys != "rxnorm" || code == "" {
			return fmt.Errorf("measures: products line %d: system %q code %q", line, sys, code)
		}
		ings, err := vs.ingredientList(rec[2])
		if err != nil {
			return fmt.Errorf("measures: products line %d: %w", line, err)
		}
		key := sys + "|" + code
		if _, dup := vs.products[key]; dup {
			return fmt.Errorf("measures: products line %d: %s %s listed twice", line, sys, code)
		}
		vs.products[key] = ings
	}
}

func (vs *ValueSet) ingredientList(s string) ([]int, error) {
	var out []int
	for _, name := range strings.Split(s, ";") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := vs.Lookup(name)
		if i < 0 {
			return nil, fmt.Errorf("ingredient %q is not in the value set", name)
		}
		out = append(out, i)
	}
	return out, nil
}

// AddBrands reads brand names (header brand,ingredients,use,source; use "measured" or
// "weight-loss"; ingredients the measured ingredients the brand contains, ";"-separated).
func (vs *ValueSet) AddBrands(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("measures: brands header: %w", err)
	}
	if strings.Join(head, ",") != "brand,ingredients,use,source" {
		return fmt.Errorf("measures: brands header %q, want brand,ingredients,use,source", strings.Join(head, ","))
	}
	seen := map[string]bool{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("measures: brands line %d: %w", line, err)
		}
		name := strings.Join(splitWords(rec[0]), " ")
		if name == "" || seen[name] {
			return fmt.Errorf("measures: brands line %d: brand %q empty or listed twice", line, rec[0])
		}
		seen[name] = true
		ings, err := vs.ingredientList(rec[1])
		if err != nil {
			return fmt.Errorf("measures: brands line %d: %w", line, err)
		}
		b := brand{name: name, ingredients: ings}
		switch rec[2] {
		case "measured":
		case "weight-loss":
			b.weightLoss = true
		default:
			return fmt.Errorf("measures: brands line %d: use %q, want measured or weight-loss", line, rec[2])
		}
		if len(ings) == 0 {
			return fmt.Errorf("measures: brands line %d: %s has no ingredient", line, rec[0])
		}
		first := firstWord(name)
		vs.brands[first] = append(vs.brands[first], b)
	}
}

// splitWords lower-cases text and splits it at every byte that is not a letter.
func splitWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return r < 'a' || r > 'z' })
}

func wordsHavePrefix(words []string, name string) bool {
	for _, part := range strings.Fields(name) {
		if len(words) == 0 || words[0] != part {
			return false
		}
		words = words[1:]
	}
	return true
}

// Fills expands one dispense into the measure fills it stands for: one per listed ingredient
// (a combination product of two diabetes ingredients supplies both). It returns dst unchanged
// for a drug of no measured class.
func (vs *ValueSet) Fills(dst []Fill, date Day, daysSupply int, code, text string) []Fill {
	var buf [4]int
	for _, i := range vs.Match(buf[:0], code, text) {
		ing := &vs.ingredients[i]
		dst = append(dst, Fill{Date: date, DaysSupply: daysSupply, Ingredient: ing.Name, Class: ing.Class})
	}
	return dst
}
