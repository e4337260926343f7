package scoring

import "math"

// Rounding is a whole-vial dose the P&T committee's dose-rounding policy allows for an order.
type Rounding struct {
	DoseMg    float64 // the rounded dose
	ChangePct float64 // (rounded - ordered) / ordered x 100, e.g. -0.2
	// WastedUnits are the billing units discarded per dose at the ordered dose (single-dose vials
	// bill the discarded remainder); the rounded dose discards none.
	WastedUnits float64
}

// RoundToVials finds the dose nearest to doseMg, within +/- pct percent, that the product's
// single-dose items deliver exactly (no discarded remainder), when the ordered dose discards
// some. Multi-dose presentations discard nothing and are never rounded; tablets neither. On a tie
// the lower dose wins. This is the common P&T policy for monoclonal antibodies (round to the
// nearest vial within 10 %); the caller offers it as a suggestion, never applies it silently.
func RoundToVials(p Product, doseMg, pct float64) (Rounding, bool) {
	if pct <= 0 || doseMg <= 0 || p.MgPerUnit <= 0 || math.IsNaN(doseMg) {
		return Rounding{}, false
	}
	_, wasted, _, err := combine(p, doseMg)
	if err != nil || wasted <= 0 {
		return Rounding{}, false
	}
	var sizes []int
	for _, pk := range p.Packages {
		if !pk.SingleDose {
			return Rounding{}, false
		}
		sizes = append(sizes, int(math.Round(pk.Units)))
	}
	want := doseMg / p.MgPerUnit // billing units the ordered dose needs, unrounded
	lo := int(math.Ceil(want * (1 - pct/100)))
	hi := int(math.Floor(want * (1 + pct/100)))
	if lo < 1 {
		lo = 1
	}
	if hi > maxUnitsPerDose {
		return Rounding{}, false
	}
	// reach[t]: t units can be made exactly from the items (unbounded change-making).
	reach := make([]bool, hi+1)
	reach[0] = true
	for t := 1; t <= hi; t++ {
		for _, s := range sizes {
			if s > 0 && s <= t && reach[t-s] {
				reach[t] = true
				break
			}
		}
	}
	best := -1
	for t := lo; t <= hi; t++ {
		if !reach[t] {
			continue
		}
		if best < 0 || math.Abs(float64(t)-want) < math.Abs(float64(best)-want) {
			best = t
		}
	}
	if best < 0 {
		return Rounding{}, false
	}
	mg := float64(best) * p.MgPerUnit
	if math.Abs(mg-doseMg) < 1e-9 {
		return Rounding{}, false
	}
	return Rounding{DoseMg: mg, ChangePct: (mg - doseMg) / doseMg * 100, WastedUnits: wasted}, true
}
