package scoring

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Figures are the economics of one option for one administration, a course
// or a year of therapy, in USD at full precision (round only for display).
//
// The allowed amount is split among who pays it: the patient's cost sharing
// (deductible, coinsurance, copay, capped by any out-of-pocket maximum), of
// which a secondary coverage may pay part (Medigap, a retiree plan, Medicaid),
// and the primary payer the rest, less sequestration. What the organisation
// collects is the payer's payment plus the cost sharing it can collect.
type Figures struct {
	Units        float64 // billing units billed (retail: tablets)
	WastedUnits  float64 // of which discarded from single-dose packages
	PayerAllowed float64 // the allowed amount: total cost of care for the drug (capitation: the Medicare-equivalent amount)
	PayerPaid    float64 // the primary payer's own payment: allowed - cost sharing, less sequestration (capitation in budget: 0)
	PatientOOP   float64 // what the patient owes, after what a secondary coverage pays (QMB: 0)
	Secondary    float64 // what the secondary coverage pays of the cost sharing
	Uncollected  float64 // cost sharing the organisation may not collect (a QMB patient's, beyond what Medicaid pays)
	Acquisition  float64 // the organisation's cost of the units it buys (0 for pharmacy-benefit drugs)
	Margin       float64 // what the organisation collects - acquisition (buy and bill; capitation in budget: cost sharing - acquisition)
	NetImpact    float64 // the organisation's result under the contract's arrangement
	// expenditure is the payer's own expenditure before sequestration
	// (allowed - cost sharing): what shared savings and episode targets are
	// measured on. Capitation in budget: what the budget pays for a pharmacy
	// claim.
	expenditure float64
}

func (f Figures) minus(g Figures) Figures {
	return Figures{f.Units - g.Units, f.WastedUnits - g.WastedUnits, f.PayerAllowed - g.PayerAllowed,
		f.PayerPaid - g.PayerPaid, f.PatientOOP - g.PatientOOP, f.Secondary - g.Secondary, f.Uncollected - g.Uncollected,
		f.Acquisition - g.Acquisition, f.Margin - g.Margin, f.NetImpact - g.NetImpact, f.expenditure - g.expenditure}
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
	allowed, acquisition float64
	coinsurance          float64 // the patient's share of the allowed amount after the deductible
	src                  map[string]string
}

// priceRates applies the contract's reimbursement basis and the organisation's
// acquisition cost to one product's book price. ok is false when the contract
// cannot price the product (a fee schedule without it).
func (s *scoreCtx) priceRates(p Product, pr Price) (rates, bool) {
	k := s.contract
	r := rates{src: make(map[string]string, 8), coinsurance: k.Coinsurance}
	r.src["price"], r.src["asp"] = pr.Published, pr.Derived
	if s.group.Benefit == PharmacyBenefit {
		// The pharmacy benefit pays the claim; the organisation neither buys
		// nor bills the drug, so its only stake is its share of total cost.
		r.allowed = pr.PerUnit
		r.src["payerAllowed"] = s.label(&s.labels.payer, func() string {
			return "estimated: NADAC per unit x units (pharmacy benefit; " + s.book.Label + "); " + s.payerPaidNote()
		})
		r.src["acquisition"] = "none: dispensed by a pharmacy under the pharmacy benefit"
		r.src["patientOOP"] = s.oopLabel(r.coinsurance, "")
		return r, true
	}
	switch {
	case s.t.capitated:
		r.allowed = pr.PerUnit
		r.src["payerAllowed"] = s.label(&s.labels.payer, func() string {
			return "published: Medicare-equivalent amount, " + s.book.Label + " payment limit x units; " + s.payerPaidNote()
		})
	case k.Reimbursement.Basis == BasisMedicareASP:
		r.allowed = pr.PerUnit
		r.src["payerAllowed"] = s.label(&s.labels.payer, func() string {
			return "published: " + s.book.Label + " payment limit x units; " + s.payerPaidNote()
		})
	case k.Reimbursement.Basis == BasisASPPlus:
		r.allowed = pr.ASP * (1 + k.Reimbursement.Percent)
		r.src["payerAllowed"] = s.label(&s.labels.payer, func() string {
			return fmt.Sprintf("derived: ASP x %.2f (contract %s) x units; %s", 1+k.Reimbursement.Percent, k.ID, s.payerPaidNote())
		})
	case k.Reimbursement.Basis == BasisFeeSchedule:
		v, ok := k.Reimbursement.FeeSchedule[p.ID]
		if !ok {
			return r, false
		}
		r.allowed = v
		r.src["payerAllowed"] = fmt.Sprintf("configured: fee schedule %.4f per unit (contract %s) x units; %s", v, k.ID, s.payerPaidNote())
	default:
		return r, false
	}
	fileLabel := ""
	if s.t.fileCoinsurance && pr.Coinsurance > 0 {
		r.coinsurance, fileLabel = pr.Coinsurance, pr.CoinsuranceLabel
	}
	r.src["patientOOP"] = s.oopLabel(r.coinsurance, fileLabel)
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
	payer, dose string
	net         string
	oop         []oopLabel // by coinsurance rate (20 % for nearly every product)
}

type oopLabel struct {
	rate         float64
	file, source string
}

func (s *scoreCtx) label(dst *string, f func() string) string {
	if *dst == "" {
		*dst = f()
	}
	return *dst
}

// span is what a set of figures covers; the deductible and the out-of-pocket
// maxima apply per plan year, so a dose is the marginal dose after the
// deductible, and a course and a year bear the deductible once per year.
type span int

const (
	spanDose span = iota
	spanCourse
	spanYear
)

// terms are the contract's payment rules resolved for one score: defaults
// filled in from the basis and the order's year.
type terms struct {
	capitated       bool    // capitation with drugs in the budget: no per-claim payment
	seq             float64 // sequestration of the payer's own payment
	fileCoinsurance bool    // the CMS file's coinsurance percentage, where it gives one
	deductible      float64 // per plan year, 0 when met or none
	dedLabel        string
	dedCounted      bool    // the deductible is counted on another order of the hook (Request.DeductibleCounted)
	laterDed        float64 // counted on other orders (Request.DeductibleCounted, DeductibleMet): what each later plan year a course covers bears besides deductible
	oopCounted      float64 // of the yearly maximum out-of-pocket, counted on other orders of the hook (Request.OOPCounted)
	oopCountedYear  float64 // the same over the other orders' years of therapy, for the year figures (Request.OOPCountedYear)
	share           float64 // marginal share of a change in the payer's own expenditure
	shareLabel      string  // how share was reached, with the expected position
	position        Position
	perYear         int    // administrations in a year of therapy
	paidNote        string // precomputed payerPaidNote, "" when not
	netLabel        string // precomputed netImpactLabel, "" when not
}

// contractTexts are the source labels of one contract for one benefit that do not depend on
// the order: built once per registry, so a cold score does not format them again.
type contractTexts struct {
	paid, net string
	ded       map[int]string // the deductible label per year with a published deductible
}

func benefitIndex(b Benefit) int {
	if b == PharmacyBenefit {
		return 1
	}
	return 0
}

// precomputeTexts builds every contract's order-independent labels (economics.md provenance),
// with the same code a score would use.
func (r *Registry) precomputeTexts() {
	texts := make([][2]contractTexts, len(r.contracts))
	for i := range r.contracts {
		k := &r.contracts[i]
		for b, benefit := range []Benefit{MedicalBenefit, PharmacyBenefit} {
			g := Group{Benefit: benefit}
			ct := contractTexts{ded: map[int]string{}}
			for y := range partBDeductibles {
				ct.ded[y] = resolveTerms(r, k, g, time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)).dedLabel
			}
			s := &scoreCtx{contract: k, group: g, t: resolveTerms(r, k, g, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
			ct.paid, ct.net = s.payerPaidNote(), s.netImpactLabel()
			texts[i][b] = ct
		}
	}
	r.texts = texts
}

// resolveTerms fills the contract's payment rules for an order on day, for
// the group scored. It is computed once per score and allocates only labels.
func resolveTerms(reg *Registry, k *Contract, g Group, day time.Time) terms {
	t := terms{capitated: k.Arrangement == Capitation && k.DrugsInBudget, perYear: perYear(g).n}
	medicare := k.Reimbursement.Basis == BasisMedicareASP && g.Benefit == MedicalBenefit
	if g.Benefit == MedicalBenefit {
		// The pharmacy benefit has its own cost sharing (the contract's) and no Part B rules.
		t.seq = contractSequestration(k)
	}
	if !t.capitated {
		t.fileCoinsurance = medicare && k.Reimbursement.CoinsuranceSource != CoinsuranceFromContract
	}
	// The registry's own contracts have their labels built once (precomputeTexts).
	var texts *contractTexts
	if i, ok := reg.byID[k.ID]; ok && &reg.contracts[i] == k {
		rr := reg.shares[i]
		t.share, t.position, t.shareLabel = rr.share, rr.position, rr.label
		if reg.texts != nil {
			texts = &reg.texts[i][benefitIndex(g.Benefit)]
			t.paidNote, t.netLabel = texts.paid, texts.net
		}
	} else {
		t.share, t.position, t.shareLabel = riskShare(k, contractSequestration(k))
	}
	if g.Benefit == MedicalBenefit && !k.DeductibleMet {
		y := day.Year()
		cached, hit := "", false
		if texts != nil {
			cached, hit = texts.ded[y]
		}
		switch {
		case k.Deductible != nil:
			t.deductible = *k.Deductible
			t.dedLabel = cached
			if !hit {
				t.dedLabel = fmt.Sprintf("configured: deductible %.2f per plan year (contract %s), assumed not yet met", t.deductible, k.ID)
			}
		case medicare:
			v, ok := partBDeductibles[y]
			if !ok {
				last := 0
				for yy := range partBDeductibles {
					last = max(last, yy)
				}
				v = partBDeductibles[last]
				t.dedLabel = fmt.Sprintf("estimated: Part B deductible for %d not on file, %d's %.2f used, assumed not yet met", y, last, v)
			} else if t.dedLabel = cached; !hit {
				t.dedLabel = fmt.Sprintf("published: Part B deductible %.2f (%d), assumed not yet met", v, y)
			}
			t.deductible = v
		}
	}
	if g.Benefit == PharmacyBenefit && k.Reimbursement.Basis == BasisMedicareASP && k.Arrangement != Episode && t.share != 0 {
		// A Medicare ACO's expenditure is Parts A and B (42 CFR 425.600): a pharmacy-benefit
		// (Part D) drug's cost is outside it. (An oncology episode's target price counts Part D.)
		t.share, t.shareLabel = 0, "Part D (pharmacy benefit) spending is outside the Medicare Parts A and B expenditure an ACO is measured on: nothing shared"
	}
	return t
}

// contractSequestration is the share of the payer's own payment withheld
// under the contract's basis: configured, else Medicare's 2 % for
// medicare-asp, else none.
func contractSequestration(k *Contract) float64 {
	switch {
	case k.Reimbursement.Sequestration != nil:
		return *k.Reimbursement.Sequestration
	case k.Reimbursement.Basis == BasisMedicareASP:
		return medicareSequestration
	}
	return 0
}

// riskShare is the organisation's marginal share of a change in the payer's
// own expenditure under a shared-savings or episode contract (RiskTerms), the
// position it assumes and a label saying how it was reached.
func riskShare(k *Contract, seq float64) (float64, Position, string) {
	shared := k.Arrangement == SharedSavingsUpside || k.Arrangement == SharedSavingsTwoSided
	if !shared && k.Arrangement != Episode {
		return 0, "", ""
	}
	var rt RiskTerms
	if k.Risk != nil {
		rt = *k.Risk
	}
	tr := tracks[rt.Track]
	sharing := k.SharedSavingsRate
	if k.Arrangement == Episode {
		sharing = k.EpisodeRiskShare
	} else if sharing == 0 {
		sharing = tr.sharing
	}
	q := 1.0
	if rt.QualityFactor != nil {
		q = *rt.QualityFactor
	}
	loss := tr.loss
	switch {
	case rt.LossRate != nil:
		loss = *rt.LossRate
	case tr.enhanced:
		loss = min(max(1-sharing*q, 0.4), 0.75) // 42 CFR 425.610(f): 1 - final sharing rate, 40-75 %
	case k.Arrangement == Episode:
		loss = sharing
	case k.Arrangement == SharedSavingsUpside:
		loss = 0
	}
	savingsCap := tr.savingsCap
	if rt.SavingsCap != nil {
		savingsCap = *rt.SavingsCap
	}
	pos, how := rt.ExpectedPosition, "stated by the contract"
	if rt.ExpectedSavingsRate != nil {
		x := *rt.ExpectedSavingsRate
		how = fmt.Sprintf("derived from expected savings %.2f%% of benchmark", x*100)
		switch {
		case !shared && x >= 0 && (rt.SavingsCap == nil || x < savingsCap):
			pos = BelowTarget
		case !shared && x < 0 && (rt.LossCap == nil || -x < *rt.LossCap):
			pos = AboveTarget
		case !shared:
			pos = Capped
		case savingsCap > 0 && x >= savingsCap:
			pos = Capped
		case x >= rt.MinimumSavingsRate:
			pos = AboveMSR
		case x > -rt.MinimumLossRate || k.Arrangement == SharedSavingsUpside:
			pos = Corridor
		case rt.LossCap != nil && -x >= *rt.LossCap:
			pos = Capped
		default:
			pos = LossZone
		}
	}
	if pos == "" {
		pos, how = AboveMSR, "default, not stated by the contract"
		if !shared {
			pos = BelowTarget
		}
	}
	payout := 1.0
	sequester := rt.SequesterPayout == nil || *rt.SequesterPayout
	if sequester {
		payout = 1 - seq
	}
	var share float64
	var f string
	switch pos {
	case AboveMSR, BelowTarget:
		share = sharing * q * payout
		f = fmt.Sprintf("sharing rate %g x quality factor %g", sharing, q)
		if sequester && seq > 0 {
			f += fmt.Sprintf(" x (1 - %g sequestration of the payment)", seq)
		}
	case LossZone, AboveTarget:
		share, f = loss, fmt.Sprintf("loss rate %g (losses owed are not sequestered)", loss)
	case Corridor:
		f = "nothing shared inside the minimum savings/loss corridor"
	case Capped:
		f = "nothing shared beyond the cap"
	}
	return share, pos, fmt.Sprintf("expected position %s (%s): %s = %.4g", pos, how, f, share)
}

// oopLabel is the source of the patient figure for a coinsurance rate.
func (s *scoreCtx) oopLabel(rate float64, file string) string {
	for _, l := range s.labels.oop {
		if l.rate == rate && l.file == file {
			return l.source
		}
	}
	k := s.contract
	var b strings.Builder
	switch {
	case file != "":
		b.WriteString(file)
		b.WriteString(" of allowed")
	default:
		fmt.Fprintf(&b, "configured: coinsurance %g%% of allowed (contract %s)", rate*100, k.ID)
	}
	if k.Copay > 0 {
		fmt.Fprintf(&b, " + copay %.2f per administration", k.Copay)
	}
	if s.t.dedLabel != "" {
		b.WriteString("; per course and year after the ")
		b.WriteString(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(s.t.dedLabel, "published: "), "configured: "), "estimated: "))
		b.WriteString(" (per dose: once it is met)")
	}
	if s.t.dedCounted {
		b.WriteString("; the plan year's deductible counted on another order of the same hook, taken as met here")
		if s.t.perYear > 0 && s.admins > s.t.perYear {
			fmt.Fprintf(&b, " (the course's later plan years bear %.2f each)", s.t.laterDed)
		}
	}
	if k.OOPMaxPerCourse > 0 {
		fmt.Fprintf(&b, ", capped at %.2f per course", k.OOPMaxPerCourse)
	}
	switch {
	case k.OOPMaxPerYear > 0 && s.t.oopCounted > 0:
		fmt.Fprintf(&b, ", capped at %.2f per plan year (maximum out-of-pocket) less the %.2f other orders of the same hook count toward it as ordered", k.OOPMaxPerYear, s.t.oopCounted)
	case k.OOPMaxPerYear > 0:
		fmt.Fprintf(&b, ", capped at %.2f per plan year (maximum out-of-pocket, this drug taken as the year's only spending)", k.OOPMaxPerYear)
	}
	if s.t.capitated {
		b.WriteString("; collected by the organisation")
	}
	b.WriteString(s.secondaryNote())
	src := b.String()
	s.labels.oop = append(s.labels.oop, oopLabel{rate, file, src})
	return src
}

// secondaryNote says what the patient figure assumes about supplemental
// coverage.
func (s *scoreCtx) secondaryNote() string {
	sc := s.sec
	switch {
	case sc == nil:
		return "; before supplemental coverage (none on record)"
	case sc.QMB:
		return fmt.Sprintf("; %s (QMB): the patient owes nothing, %s pays %g%% of the cost sharing and the rest cannot be collected",
			sc.Name, sc.Kind, sc.PaysCoinsurance*100)
	}
	ded := "the deductible stays with the patient"
	if sc.PaysDeductible {
		ded = "and the deductible"
	}
	return fmt.Sprintf("; after %s (%s, configured): it pays %g%% of the coinsurance and copays, %s", sc.Name, sc.Kind, sc.PaysCoinsurance*100, ded)
}

// figures computes one option's figures over a span of n administrations of
// units each, all but the net impact (which needs the ordered product's
// figures of the same span: netImpact).
func (s *scoreCtx) figures(r rates, units, wasted float64, n int, sp span) Figures {
	k := s.contract
	fn := float64(n)
	allowed := units * r.allowed * fn
	f := Figures{
		Units: units * fn, WastedUnits: wasted * fn,
		PayerAllowed: allowed, Acquisition: units * r.acquisition * fn,
	}
	// Plan years the span covers: the deductible and the yearly maximum apply once in each.
	years := 1.0
	if sp == spanCourse && s.t.perYear > 0 {
		years = math.Ceil(fn / float64(s.t.perYear))
	}
	ded := 0.0
	if sp != spanDose {
		// Another order of the hook counts the first year's deductible, not the later years'.
		ded = math.Min(s.t.deductible*years+s.t.laterDed*(years-1), allowed)
	}
	cs := ded + r.coinsurance*(allowed-ded) + k.Copay*fn
	limit := math.Inf(1)
	if k.OOPMaxPerCourse > 0 {
		courses := 1.0
		if sp == spanYear && s.admins > 0 {
			courses = math.Ceil(float64(s.t.perYear) / float64(s.admins))
		}
		limit = k.OOPMaxPerCourse * courses
	}
	if k.OOPMaxPerYear > 0 {
		// The other orders of the hook count against the first plan year's maximum.
		counted := s.t.oopCounted
		if sp == spanYear {
			counted = s.t.oopCountedYear // a year beside the other orders' years
		}
		limit = math.Min(limit, k.OOPMaxPerYear*years-counted)
	}
	if cs > limit {
		cs = limit
		ded = math.Min(ded, cs)
	}
	f.PatientOOP = cs
	if sc := s.sec; sc != nil {
		// The supplemental coverage pays its share of the coinsurance and copays, and the
		// deductible when it covers it; a QMB owes nothing, and what Medicaid does not pay of
		// the cost sharing cannot be collected.
		pays := sc.PaysCoinsurance * (cs - ded)
		if sc.PaysDeductible {
			pays += ded
		}
		f.Secondary = pays
		f.PatientOOP = cs - pays
		if sc.QMB {
			f.Uncollected, f.PatientOOP = f.PatientOOP, 0
		}
	}
	f.expenditure = allowed - cs
	if s.t.capitated {
		f.expenditure = 0
		if s.group.Benefit == PharmacyBenefit {
			f.expenditure = allowed - cs // the budget pays the pharmacy claim
		}
	} else {
		f.PayerPaid = f.expenditure * (1 - s.t.seq)
	}
	if s.group.Benefit == MedicalBenefit {
		f.Margin = f.PayerPaid + f.PatientOOP + f.Secondary - f.Acquisition
	}
	return f
}

// netImpact is economics.md §3: the organisation's result for an option given
// the ordered product's figures over the same span.
func (s *scoreCtx) netImpact(f, ordered Figures) float64 {
	k := s.contract
	if s.t.capitated {
		if s.group.Benefit == PharmacyBenefit {
			return -f.expenditure // the budget pays the pharmacy claim
		}
		return f.Margin // the budget buys the drug and keeps the cost sharing it collects
	}
	switch k.Arrangement {
	case SharedSavingsUpside, SharedSavingsTwoSided, Episode:
		return f.Margin + s.t.share*(ordered.expenditure-f.expenditure)
	default: // ffs, and capitation with drugs carved out (paid fee-for-service)
		return f.Margin
	}
}

func (s *scoreCtx) netImpactSource() string {
	if s.t.netLabel != "" {
		return s.t.netLabel
	}
	return s.label(&s.labels.net, s.netImpactLabel)
}

func (s *scoreCtx) netImpactLabel() string {
	k := s.contract
	var f string
	switch {
	case s.t.capitated && s.group.Benefit == PharmacyBenefit:
		f = "capitation (drugs in budget): minus the pharmacy claim the budget pays (allowed - cost sharing); one saving, to the capitated budget"
	case s.t.capitated:
		f = "capitation (drugs in budget): cost sharing collected - acquisition cost; one saving, to the capitated budget"
	case k.Arrangement == SharedSavingsUpside || k.Arrangement == SharedSavingsTwoSided || k.Arrangement == Episode:
		f = fmt.Sprintf("%s: margin + %.4g x (payer expenditure(ordered) - payer expenditure(option)); payer expenditure = allowed - cost sharing, before sequestration; %s",
			k.Arrangement, s.t.share, s.t.shareLabel)
	case s.group.Benefit == PharmacyBenefit:
		f = "fee-for-service: nothing (a pharmacy-benefit claim: the organisation neither buys nor bills the drug)"
	default:
		f = "fee-for-service: margin (payer paid + cost sharing collected - acquisition)"
	}
	return "derived: " + f
}

// payerPaidNote says how the payer's own payment follows from the allowed
// amount (it shares the payerAllowed source: one map entry fewer per option).
func (s *scoreCtx) payerPaidNote() string {
	if s.t.paidNote != "" {
		return s.t.paidNote
	}
	switch {
	case s.t.capitated:
		return "payer paid: none per claim (capitated: the budget pays)"
	case s.t.seq > 0:
		return fmt.Sprintf("payer paid: (allowed - cost sharing) x (1 - %g sequestration)", s.t.seq)
	}
	return "payer paid: allowed - cost sharing"
}

// yearOfTherapy is how many administrations a year of therapy holds for a
// group, from the label schedule its defaults come from (groups.go): a course
// alone does not compare across groups (17 trastuzumab cycles are a year; 4
// rituximab doses and 10 filgrastim days are not).
type yearOfTherapy struct {
	n      int
	source string
}

// perYear returns the group's year of therapy; a group without one counts its
// default course as the year.
func perYear(g Group) yearOfTherapy {
	if y, ok := yearsOfTherapy[g.ID]; ok {
		return y
	}
	return yearOfTherapy{g.DefaultAdministrations, "default: the group's default course taken as a year of therapy"}
}

var yearsOfTherapy = map[string]yearOfTherapy{
	"trastuzumab":   {17, "Herceptin label (adjuvant): q3w for 52 weeks = 17 administrations a year"},
	"bevacizumab":   {17, "Avastin label: q3w until progression = 17 administrations a year"},
	"rituximab":     {4, "Rituxan label (NHL): 375 mg/m2 weekly x 4 doses, one course a year"},
	"infliximab":    {8, "Remicade label: weeks 0, 2, 6 then q8w = 8 infusions in the first year"},
	"pegfilgrastim": {6, "Neulasta label: once per chemotherapy cycle, 6 cycles a year"},
	"filgrastim":    {60, "Neupogen label: 10 days per chemotherapy cycle x 6 cycles = 60 administrations a year"},
	"atorvastatin":  {365, "Lipitor label: once daily = 365 days a year"},
}

// Saved is what option o is worth against the ordered product (positive = saved), per the
// span both figures cover: to the primary payer its own payment (PayerPaid: the card's
// "Medicare" or "Plan" row, cost sharing and sequestration out; nothing under capitation, whose
// one saving is the organisation's), to the patient their cost, and to the organisation its net
// impact. The tracking books these. Not the change in the allowed amount: that is the payer's
// payment and the patient's cost sharing together, and the patient's part is booked beside it
// (booked as the payer's until 3 December 2026, it counted the patient's saving twice and gave
// capitated contracts a payer saving the plan never makes).
func Saved(ordered, o Figures) (payer, patient, org float64) {
	return ordered.PayerPaid - o.PayerPaid, ordered.PatientOOP - o.PatientOOP, o.NetImpact - ordered.NetImpact
}
