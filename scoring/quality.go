package scoring

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Quality measures a contract's pay-for-performance terms may name: the Part D adherence
// measures and Statin Use in Persons with Diabetes (PQA; package measures computes them).
var QualityMeasures = []string{"PDC-DR", "PDC-RASA", "PDC-STA", "SUPD"}

// QualityTerms are what a contract pays the organisation for one quality measure, and what the
// organisation's finance team assumes about its position. They turn a care gap at the point of
// prescribing into the organisation's expected net impact of closing it (QualityTerms.GapValue),
// shown on the adherence and SUPD cards beside the clinical figures.
//
//	quality:
//	  PDC-STA:
//	    target: 0.85             # the rate the contract holds the organisation to (reported, not paid on)
//	    bonusPerAdherent: 25     # USD per attributed patient meeting the measure at year end
//	    bonusPerGapClosed: 40    # USD per gap closed (a patient brought to PDC >= 80 %; SUPD: a statin fill)
//	    programmePMPM: 2.50      # USD per enrolled member per month of an adherence programme
//	    tiers:                   # a fee per attributed member per month by the contract's measure rate
//	      - {minRate: 0.80, pmpm: 0.50}
//	      - {minRate: 0.85, pmpm: 1.00}
//	    members: 4000            # attributed members the tiered fee is paid on
//	    denominator: 1200        # the contract's measure denominator (the latest valuerx measures run)
//	    rate: 0.83               # the contract's measure rate (same run)
//	    starWeight: 3            # Medicare Advantage: the measure's weight in the Star Ratings
//	    starValuePerPoint: 1500  # USD the organisation puts on one weighted point of the measure's rate
//	    closeProbability: 0.6    # share of gaps acted on at order-sign that close (default 1)
type QualityTerms struct {
	Target            float64       `yaml:"target,omitempty"`
	BonusPerAdherent  float64       `yaml:"bonusPerAdherent,omitempty"`
	BonusPerGapClosed float64       `yaml:"bonusPerGapClosed,omitempty"`
	ProgrammePMPM     float64       `yaml:"programmePMPM,omitempty"`
	Tiers             []QualityTier `yaml:"tiers,omitempty"`
	Members           int           `yaml:"members,omitempty"`
	Denominator       int           `yaml:"denominator,omitempty"`
	Rate              *float64      `yaml:"rate,omitempty"`
	StarWeight        float64       `yaml:"starWeight,omitempty"`
	StarValuePerPoint float64       `yaml:"starValuePerPoint,omitempty"`
	CloseProbability  *float64      `yaml:"closeProbability,omitempty"`
}

// QualityTier is one step of a tiered fee: from MinRate of the measure up, PMPM per attributed
// member per month.
type QualityTier struct {
	MinRate float64 `yaml:"minRate"`
	PMPM    float64 `yaml:"pmpm"`
}

// Kinds of GapPart.
const (
	GapBonusClosed    = "bonus-per-gap-closed"
	GapBonusAdherent  = "bonus-per-adherent"
	GapTierShare      = "tier-share"
	GapStarRating     = "star-rating"
	GapProgrammeFee   = "programme-pmpm"
	tierMonthsPerYear = 12
)

// GapPart is one component of a gap's value, with where it comes from.
type GapPart struct {
	Kind   string
	Amount float64 // USD if the gap closes (Conditional) or if the patient is enrolled (not)
	// Conditional parts are paid only if the gap closes; they are weighted by the probability.
	Conditional bool
	Source      string // "configured: ..." or "derived: ..."
}

// GapValue is the organisation's expected net impact of closing one patient's gap on one measure.
type GapValue struct {
	Measure     string
	IfClosed    float64 // the conditional parts, if the gap closes
	Probability float64 // that it closes (QualityTerms.CloseProbability, default 1)
	Programme   float64 // the programme fee, earned by enrolling the patient whether or not it closes
	Expected    float64 // Probability x IfClosed + Programme: the figure that enters the organisation's net impact
	Parts       []GapPart
}

func (q *QualityTerms) validate(measure string) []error {
	var errs []error
	e := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("quality.%s: "+format, append([]any{measure}, a...)...))
	}
	known := false
	for _, m := range QualityMeasures {
		known = known || m == measure
	}
	if !known {
		return []error{fmt.Errorf("quality: unknown measure %q (PDC-DR, PDC-RASA, PDC-STA, SUPD)", measure)}
	}
	for _, f := range []struct {
		n string
		v float64
	}{{"target", q.Target}} {
		if err := fraction(f.n, f.v); err != nil {
			e("%v", err)
		}
	}
	if q.Rate != nil {
		if err := fraction("rate", *q.Rate); err != nil {
			e("%v", err)
		}
	}
	if q.CloseProbability != nil {
		if err := fraction("closeProbability", *q.CloseProbability); err != nil {
			e("%v", err)
		}
	}
	for _, f := range []struct {
		n string
		v float64
	}{{"bonusPerAdherent", q.BonusPerAdherent}, {"bonusPerGapClosed", q.BonusPerGapClosed}, {"programmePMPM", q.ProgrammePMPM},
		{"starWeight", q.StarWeight}, {"starValuePerPoint", q.StarValuePerPoint}} {
		if !(f.v >= 0) || f.v > 1e9 {
			e("%s %v must be a non-negative amount", f.n, f.v)
		}
	}
	if q.Members < 0 || q.Denominator < 0 {
		e("members and denominator must not be negative")
	}
	for i, t := range q.Tiers {
		if err := fraction("tiers.minRate", t.MinRate); err != nil {
			e("tier %d: %v", i+1, err)
		}
		if !(t.PMPM >= 0) || t.PMPM > 1e6 {
			e("tier %d: pmpm %v must be a non-negative amount", i+1, t.PMPM)
		}
		if i > 0 && !(t.MinRate > q.Tiers[i-1].MinRate) {
			e("tiers must be listed by increasing minRate")
		}
	}
	if len(q.Tiers) > 0 && (q.Members == 0 || q.Denominator == 0 || q.Rate == nil) {
		e("tiers need members, denominator and rate (the contract's position) to value one gap")
	}
	if q.StarValuePerPoint > 0 && (q.StarWeight == 0 || q.Denominator == 0) {
		e("starValuePerPoint needs starWeight and denominator")
	}
	return errs
}

func validateQuality(k *Contract) error {
	var errs []error
	ids := make([]string, 0, len(k.Quality))
	for m := range k.Quality {
		ids = append(ids, m)
	}
	sort.Strings(ids)
	for _, m := range ids {
		q := k.Quality[m]
		errs = append(errs, q.validate(m)...)
	}
	return errors.Join(errs...) // nil when none
}

// GapValue values closing one patient's gap on measure under contract k: reachable says whether
// the gap can still close this measurement year (a PDC patient who cannot reach 80 % by year end
// earns no bonus, tier or Star value this year); monthsLeft is the months of the year from the
// order's month on, the months a programme enrolment earns its fee. ok is false when the contract
// has no terms for the measure.
//
// The parts, each in USD for this one patient:
//   - bonusPerGapClosed and bonusPerAdherent as configured;
//   - the tier share: the step to the next tier's fee, (next PMPM - current PMPM) x members x 12
//     months, spread over the patients the contract is short of that tier, ceil(next minRate x
//     denominator) - round(rate x denominator): each closed gap is that share of the step;
//   - the Star value: starWeight x the rate points one more patient adds (100 / denominator) x
//     starValuePerPoint;
//   - the programme fee: programmePMPM x monthsLeft, not weighted by the probability (the fee is
//     for enrolling, not for the outcome).
func (k *Contract) GapValue(measure string, reachable bool, monthsLeft int) (GapValue, bool) {
	q, ok := k.Quality[measure]
	if !ok {
		return GapValue{}, false
	}
	src := func(field string) string {
		return fmt.Sprintf("configured: contract %s quality.%s.%s", k.ID, measure, field)
	}
	v := GapValue{Measure: measure, Probability: 1}
	if q.CloseProbability != nil {
		v.Probability = *q.CloseProbability
	}
	add := func(p GapPart) {
		if p.Amount == 0 {
			return
		}
		p.Amount = math.Round(p.Amount*100) / 100
		v.Parts = append(v.Parts, p)
		if p.Conditional {
			v.IfClosed += p.Amount
		} else {
			v.Programme += p.Amount
		}
	}
	if reachable {
		add(GapPart{Kind: GapBonusClosed, Amount: q.BonusPerGapClosed, Conditional: true, Source: src("bonusPerGapClosed")})
		add(GapPart{Kind: GapBonusAdherent, Amount: q.BonusPerAdherent, Conditional: true, Source: src("bonusPerAdherent")})
		if share, next, short, ok := q.tierShare(); ok {
			add(GapPart{Kind: GapTierShare, Amount: share, Conditional: true, Source: fmt.Sprintf(
				"derived: (%s PMPM at %s %% - %s PMPM now) x %d members x 12 months, over the %d patients short of the %s %% tier (contract %s quality.%s: rate %s, denominator %d)",
				dollars(next.pmpm), pct(next.minRate), dollars(next.cur), q.Members, short, pct(next.minRate), k.ID, measure, pct(*q.Rate), q.Denominator)})
		}
		if q.StarWeight > 0 && q.StarValuePerPoint > 0 && q.Denominator > 0 {
			add(GapPart{Kind: GapStarRating, Amount: q.StarWeight * 100 / float64(q.Denominator) * q.StarValuePerPoint, Conditional: true,
				Source: fmt.Sprintf("derived: Star weight %g x 100/%d rate points per patient x %s per weighted point (contract %s quality.%s)",
					q.StarWeight, q.Denominator, dollars(q.StarValuePerPoint), k.ID, measure)})
		}
	}
	add(GapPart{Kind: GapProgrammeFee, Amount: q.ProgrammePMPM * float64(max(monthsLeft, 0)),
		Source: fmt.Sprintf("derived: %s PMPM x %d months left in the year (contract %s quality.%s.programmePMPM)", dollars(q.ProgrammePMPM), max(monthsLeft, 0), k.ID, measure)})
	v.IfClosed = math.Round(v.IfClosed*100) / 100
	v.Expected = math.Round((v.Probability*v.IfClosed+v.Programme)*100) / 100
	return v, true
}

type tierStep struct{ minRate, pmpm, cur float64 }

// tierShare is one closed gap's share of the step to the next tier.
func (q *QualityTerms) tierShare() (share float64, next tierStep, short int, ok bool) {
	if len(q.Tiers) == 0 || q.Members == 0 || q.Denominator == 0 || q.Rate == nil {
		return 0, next, 0, false
	}
	rate := *q.Rate
	cur := 0.0
	for _, t := range q.Tiers {
		if t.MinRate <= rate+1e-12 {
			cur = t.PMPM
			continue
		}
		num := int(math.Round(rate * float64(q.Denominator)))
		short = max(int(math.Ceil(t.MinRate*float64(q.Denominator)-1e-9))-num, 1)
		step := (t.PMPM - cur) * float64(q.Members) * tierMonthsPerYear
		if step <= 0 {
			return 0, next, 0, false
		}
		return step / float64(short), tierStep{t.MinRate, t.PMPM, cur}, short, true
	}
	return 0, next, 0, false // at the top tier: one more gap closed changes no fee
}

func dollars(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("$%.0f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}

func pct(f float64) string { return fmt.Sprintf("%g", math.Round(f*10000)/100) }
