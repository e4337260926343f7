package catalog

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// amount is a quantity of drug in a base measure: mg for masses, "units" for biological units
// (epoetin alfa is billed per 1,000 units, not per mg).
type amount struct {
	v       float64
	measure string // "mg" or "units"
}

var dosageRE = regexp.MustCompile(`^([0-9]*\.?[0-9]+)\s*([A-Z]+)$`)

// parseDosage reads a CMS billing unit ("10 MG", "0.1 mg", "1 MCG", "1000 UNITS") into the amount
// of drug in one billing unit.
func parseDosage(s string) (amount, error) {
	m := dosageRE.FindStringSubmatch(strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), ",", "")))
	if m == nil {
		return amount{}, fmt.Errorf("billing unit %q: want an amount and a unit", s)
	}
	f := m[1:]
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return amount{}, fmt.Errorf("billing unit %q: bad amount", s)
	}
	switch f[1] {
	case "MG":
		return amount{v, "mg"}, nil
	case "MCG":
		return amount{v / 1000, "mg"}, nil
	case "G", "GM":
		return amount{v * 1000, "mg"}, nil
	case "UNITS", "UNIT", "IU":
		return amount{v, "units"}, nil
	}
	return amount{}, fmt.Errorf("billing unit %q: unit %q is not mg, mcg, g or units", s, f[1])
}

// itemStrength is one strength an FDA row names for one item: the amount and, when given, the
// volume it comes in.
type itemStrength struct {
	amount
	ml float64 // 0: no volume (lyophilised powder, tablet)
}

var strengthPairRE = regexp.MustCompile(`(?i)(?:EQ\s*)?([0-9][0-9,]*(?:\.[0-9]+)?)\s*(MG|MCG|G|UNITS|UNIT|IU)\b(?:\s*/\s*([0-9]*(?:\.[0-9]+)?)\s*ML)?`)

// parseItemStrengths reads the strengths of a Purple Book or Orange Book row: "420MG",
// "100MG/4ML (25MG/ML)", "10MG/ML (0.5MG/0.05ML)", "20,000UNITS/2ML (10,000UNITS/ML)",
// "EQ 10MG BASE". A concentration "/ML" is taken as the amount in 1 mL (Prolia "60MG/ML" is one
// 1 mL syringe); matching picks the pair that fits the package.
func parseItemStrengths(s string) []itemStrength {
	var out []itemStrength
	for _, m := range strengthPairRE.FindAllStringSubmatch(s, -1) {
		v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
		if err != nil || !(v > 0) {
			continue
		}
		a := amount{v, "mg"}
		switch strings.ToUpper(m[2]) {
		case "MCG":
			a.v /= 1000
		case "G":
			a.v *= 1000
		case "UNITS", "UNIT", "IU":
			a.measure = "units"
		}
		is := itemStrength{amount: a}
		if m[0] != "" && strings.Contains(strings.ToUpper(m[0]), "ML") {
			is.ml = 1
			if m[3] != "" {
				if ml, err := strconv.ParseFloat(m[3], 64); err == nil && ml > 0 {
					is.ml = ml
				}
			}
		}
		out = append(out, is)
	}
	return out
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-6*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// matchesAmount says whether an FDA strength names an item of amount a.
func (s itemStrength) matchesAmount(a amount) bool {
	return s.measure == a.measure && near(s.v, a.v)
}

// matchesVolume says whether the strength names an item of ml millilitres (crosswalk PKG SIZE is
// the volume for liquids but the mg for some powders, so it only breaks ties).
func (s itemStrength) matchesVolume(ml float64) bool { return s.ml > 0 && near(s.ml, ml) }
