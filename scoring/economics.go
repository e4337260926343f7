package scoring

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Figures are the economics of one option for one administration or for a
// course, in USD at full precision (round only for display).
type Figures struct {
	Units        float64 // billing units billed (retail: tablets)
	WastedUnits  float64 // of which discarded from single-dose packages
	PayerAllowed float64 // the payer's total cost for the drug (capitation: the Medicare-equivalent amount)
	PatientOOP   float64 // coinsurance x allowed + copay, capped if configured
	Acquisition  float64 // the organisation's cost of the units it buys (0 for pharmacy-benefit drugs)
	Margin       float64 // reimbursement - acquisition (buy and bill)
	NetImpact    float64 // the organisation's result under the contract's arrangement
}

func (f Figures) scale(n float64) Figures {
	return Figures{f.Units * n, f.WastedUnits * n, f.PayerAllowed * n, f.PatientOOP * n, f.Acquisition * n, f.Margin * n, f.NetImpact * n}
}

func (f Figures) minus(g Figures) Figures {
	return Figures{f.Units - g.Units, f.WastedUnits - g.WastedUnits, f.PayerAllowed - g.PayerAllowed,
		f.PatientOOP - g.PatientOOP, f.Acquisition - g.Acquisition, f.Margin - g.Margin, f.NetImpact - g.NetImpact}
}

// PackageUse is part of the item combination that delivers one dose.
type PackageUse struct {
	NDC        string
	Units, Mg  float64 // per item
	Count      int
	SingleDose bool
}

// maxUnitsPerDose bounds the vial-combination search; a dose beyond it is a
// data error (about 500 g of trastuzumab), not a prescription.
const maxUnitsPerDose = 50000

// errDose marks an impossible dose.
var errDose = errors.New("dose out of range")

// combine chooses the items that deliver doseMg with the fewest billing units
// (the least wastage), then the fewest items. Billing units are whole: a dose
// of 71.25 units needs 72. Only single-dose items waste: when the product has
// a multi-dose package the remainder is kept for a later dose (CMS bills
// discarded drug, the JW modifier, only from single-dose containers), so units
// billed equal the units administered. Tablets are counted per tablet and
// never waste.
func combine(p Product, doseMg float64) (units, wasted float64, use []PackageUse, err error) {
	if len(p.Packages) == 0 {
		return 0, 0, nil, fmt.Errorf("product %s has no packages", p.ID)
	}
	retail := p.MgPerUnit == 0
	granule := p.MgPerUnit
	if retail {
		granule = 1 // tablets: work in whole mg
	}
	need := int(math.Ceil(doseMg/granule - 1e-9))
	if need < 1 {
		need = 1
	}
	if need > maxUnitsPerDose {
		return 0, 0, nil, fmt.Errorf("%w: %g mg of %s", errDose, doseMg, p.ID)
	}
	sizes := make([]int, len(p.Packages))
	maxSize, hasMulti := 0, false
	for i, pk := range p.Packages {
		s := pk.Units
		if retail {
			s = pk.Mg
		}
		sizes[i] = int(math.Round(s))
		if sizes[i] < 1 {
			return 0, 0, nil, fmt.Errorf("product %s: package %d has no size", p.ID, i)
		}
		maxSize = max(maxSize, sizes[i])
		hasMulti = hasMulti || !pk.SingleDose
	}
	// Unbounded change-making: items[t] = fewest items summing to exactly t.
	limit := need + maxSize
	var stack [512]int // common doses fit without a heap allocation
	var buf []int
	if n := 2 * (limit + 1); n <= len(stack) {
		buf = stack[:n]
	} else {
		buf = make([]int, n)
	}
	items, last := buf[:limit+1], buf[limit+1:]
	for t := 1; t <= limit; t++ {
		items[t] = math.MaxInt
		for i, s := range sizes {
			if s <= t && items[t-s] != math.MaxInt && items[t-s]+1 < items[t] {
				items[t], last[t] = items[t-s]+1, i
			}
		}
	}
	total := -1
	for t := need; t <= limit; t++ {
		if items[t] != math.MaxInt {
			total = t
			break
		}
	}
	if total < 0 {
		return 0, 0, nil, fmt.Errorf("product %s: no package combination for %g mg", p.ID, doseMg)
	}
	counts := make([]int, len(sizes))
	for t := total; t > 0; t -= sizes[last[t]] {
		counts[last[t]]++
	}
	for i, n := range counts {
		if n > 0 {
			pk := p.Packages[i]
			use = append(use, PackageUse{NDC: pk.NDC, Units: pk.Units, Mg: pk.Mg, Count: n, SingleDose: pk.SingleDose})
		}
	}
	switch {
	case retail:
		n := 0
		for _, c := range counts {
			n += c
		}
		return float64(n), 0, use, nil
	case hasMulti:
		return float64(need), 0, use, nil
	default:
		return float64(total), float64(total - need), use, nil
	}
}

func describeUse(p Product, use []PackageUse, wasted float64) string {
	// strconv rather than fmt: this runs for every option of every cold score.
	g := func(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'g', -1, 64) }
	b := make([]byte, 0, 96*len(use)+48)
	b = append(b, "derived: "...)
	for i, u := range use {
		if i > 0 {
			b = append(b, " + "...)
		}
		b = strconv.AppendInt(b, int64(u.Count), 10)
		b = append(b, " x "...)
		b = g(b, u.Mg)
		if p.MgPerUnit == 0 {
			b = append(b, " mg tablet"...)
			continue
		}
		kind := " mg single-dose ("
		if !u.SingleDose {
			kind = " mg multi-dose ("
		}
		b = append(b, kind...)
		b = g(b, u.Units)
		b = append(b, " units, NDC "...)
		b = append(b, u.NDC...)
		b = append(b, ')')
	}
	if wasted > 0 {
		b = append(b, "; "...)
		b = g(b, wasted)
		b = append(b, " units discarded and billed"...)
	}
	return string(b)
}

// rates are one product's per-unit amounts under a contract and book.
type rates struct {
	allowed, reimbursed, acquisition float64
	src                              map[string]string
}

// priceRates applies the contract's reimbursement basis and the organisation's
// acquisition cost to one product's book price. ok is false when the contract
// cannot price the product (a fee schedule without it).
func (s *scoreCtx) priceRates(p Product, pr Price) (rates, bool) {
	k := s.contract
	r := rates{src: make(map[string]string, 8)}
	r.src["price"], r.src["asp"] = pr.Published, pr.Derived
	if s.group.Benefit == PharmacyBenefit {
		// The pharmacy benefit pays the claim; the organisation neither buys
		// nor bills the drug, so its only stake is its share of total cost.
		r.allowed = pr.PerUnit
		r.src["payerAllowed"] = s.label(&s.labels.payer, func() string {
			return "estimated: NADAC per unit x units (pharmacy benefit; " + s.book.Label + ")"
		})
		r.src["acquisition"] = "none: dispensed by a pharmacy under the pharmacy benefit"
		return r, true
	}
	inBudget := k.Arrangement == Capitation && k.DrugsInBudget
	switch {
	case inBudget:
		r.allowed = pr.PerUnit
		r.src["payerAllowed"] = s.label(&s.labels.payer, func() string {
			return "published: Medicare-equivalent amount, " + s.book.Label + " payment limit x units (capitated: no per-claim payment)"
		})
	case k.Reimbursement.Basis == BasisMedicareASP:
		r.allowed, r.reimbursed = pr.PerUnit, pr.PerUnit
		r.src["payerAllowed"] = s.label(&s.labels.payer, func() string {
			return "published: " + s.book.Label + " payment limit x units"
		})
	case k.Reimbursement.Basis == BasisASPPlus:
		r.allowed = pr.ASP * (1 + k.Reimbursement.Percent)
		r.reimbursed = r.allowed
		r.src["payerAllowed"] = s.label(&s.labels.payer, func() string {
			return fmt.Sprintf("derived: ASP x %.2f (contract %s) x units", 1+k.Reimbursement.Percent, k.ID)
		})
	case k.Reimbursement.Basis == BasisFeeSchedule:
		v, ok := k.Reimbursement.FeeSchedule[p.ID]
		if !ok {
			return r, false
		}
		r.allowed, r.reimbursed = v, v
		r.src["payerAllowed"] = fmt.Sprintf("configured: fee schedule %.4f per unit (contract %s) x units", v, k.ID)
	default:
		return r, false
	}
	if a, ok := s.reg.acquisition(p.ID, s.day); ok {
		r.acquisition = a.USDPerUnit
		note := a.Note
		if note == "" {
			note = "organisation acquisition cost"
		}
		r.src["acquisition"] = fmt.Sprintf("configured: %s, %.4f per unit", note, a.USDPerUnit)
	} else {
		r.acquisition = pr.ASP
		r.src["acquisition"] = pr.acqLabel
	}
	return r, true
}

// labels memoises the source strings that are the same for every option of
// one score.
type labels struct {
	payer, oop, dose string
	net              [2]string // not preferred, preferred
}

func (s *scoreCtx) label(dst *string, f func() string) string {
	if *dst == "" {
		*dst = f()
	}
	return *dst
}

// figures computes one administration and the course for a product, all but
// the net impact (which needs the ordered product's figures: netImpact).
func (s *scoreCtx) figures(r rates, units, wasted float64) (perDose, perCourse Figures) {
	k := s.contract
	n := float64(s.admins)
	perDose = Figures{
		Units:        units,
		WastedUnits:  wasted,
		PayerAllowed: units * r.allowed,
		Acquisition:  units * r.acquisition,
	}
	perDose.Margin = units*r.reimbursed - perDose.Acquisition
	oop := k.Coinsurance*perDose.PayerAllowed + k.Copay
	perCourse = perDose.scale(n)
	perCourse.PatientOOP = oop * n
	perDose.PatientOOP = oop
	if k.OOPMaxPerCourse > 0 {
		perDose.PatientOOP = math.Min(perDose.PatientOOP, k.OOPMaxPerCourse)
		perCourse.PatientOOP = math.Min(perCourse.PatientOOP, k.OOPMaxPerCourse)
	}
	return perDose, perCourse
}

// netImpact is economics.md §3: the organisation's result for an option given
// the ordered product's allowed amount over the same span (a dose or a course).
func (s *scoreCtx) netImpact(f Figures, orderedAllowed float64, preferred, hasPrefs bool) float64 {
	k := s.contract
	denial := 0.0
	if hasPrefs && !preferred {
		denial = k.DenialRisk * f.PayerAllowed
	}
	if k.Arrangement == Capitation && k.DrugsInBudget {
		if s.group.Benefit == PharmacyBenefit {
			return -f.PayerAllowed // the budget pays the pharmacy claim
		}
		return -f.Acquisition
	}
	switch k.Arrangement {
	case SharedSavingsUpside, SharedSavingsTwoSided:
		return f.Margin - denial + k.SharedSavingsRate*(orderedAllowed-f.PayerAllowed)
	case Episode:
		return f.Margin - denial + k.EpisodeRiskShare*(orderedAllowed-f.PayerAllowed)
	default: // ffs, and capitation with drugs carved out (paid fee-for-service)
		return f.Margin - denial
	}
}

func (s *scoreCtx) netImpactSource(hasPrefs, preferred bool) string {
	i := 0
	if preferred {
		i = 1
	}
	return s.label(&s.labels.net[i], func() string { return s.netImpactLabel(hasPrefs, preferred) })
}

func (s *scoreCtx) netImpactLabel(hasPrefs, preferred bool) string {
	k := s.contract
	var f string
	switch {
	case k.Arrangement == Capitation && k.DrugsInBudget && s.group.Benefit == PharmacyBenefit:
		f = "capitation (drugs in budget): minus the allowed pharmacy claim"
	case k.Arrangement == Capitation && k.DrugsInBudget:
		f = "capitation (drugs in budget): minus acquisition cost"
	case k.Arrangement == SharedSavingsUpside || k.Arrangement == SharedSavingsTwoSided:
		f = fmt.Sprintf("%s: margin + %.2f x (allowed(ordered) - allowed(option))", k.Arrangement, k.SharedSavingsRate)
	case k.Arrangement == Episode:
		f = fmt.Sprintf("episode: margin + %.2f x (allowed(ordered) - allowed(option))", k.EpisodeRiskShare)
	default:
		f = "fee-for-service: margin (reimbursement - acquisition)"
	}
	if hasPrefs && !preferred && !(k.Arrangement == Capitation && k.DrugsInBudget) {
		f += fmt.Sprintf(" - denial risk %.2f x allowed (not payer-preferred)", k.DenialRisk)
	}
	return "derived: " + f
}
