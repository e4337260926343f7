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
)

var classNames = [...]string{"", "statin", "rasa", "diabetes", "insulin", "sacubitril", "amylin"}

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
}

//go:embed valuesets/pqa_classes.csv
var defaultCSV []byte

var defaultValueSet = sync.OnceValues(func() (*ValueSet, error) { return ParseValueSet(bytes.NewReader(defaultCSV)) })

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
	vs := &ValueSet{byRxCUI: map[string]int{}, byWord: map[string][]int{}}
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

// Match appends to dst the indexes of the ingredients of a drug given by an RxNorm code and its
// display or text: the code when it is a listed ingredient RxCUI, then every listed name found as
// whole words in text. Each ingredient is appended once. A generic "insulin" row matches any
// product whose name has the word insulin; a more specific insulin row that also matches
// (insulin glargine) replaces it, so a product counts once per ingredient.
func (vs *ValueSet) Match(dst []int, code, text string) []int {
	start := len(dst)
	add := func(i int) {
		for _, j := range dst[start:] {
			if j == i {
				return
			}
		}
		dst = append(dst, i)
	}
	if i, ok := vs.byRxCUI[code]; ok {
		add(i)
	}
	if text != "" {
		words := splitWords(text)
		for w, word := range words {
			for _, i := range vs.byWord[word] {
				if wordsHavePrefix(words[w:], vs.ingredients[i].Name) {
					add(i)
				}
			}
		}
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
	return dst
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
