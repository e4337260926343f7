package scoring

import (
	"strings"
	"testing"
)

func fptr(v float64) *float64 { return &v }

// TestGapValue: the value of closing one patient's gap, worked by hand.
func TestGapValue(t *testing.T) {
	full := QualityTerms{
		BonusPerAdherent: 25, BonusPerGapClosed: 40, ProgrammePMPM: 2.5,
		Tiers:   []QualityTier{{MinRate: 0.80, PMPM: 0.50}, {MinRate: 0.85, PMPM: 1.00}},
		Members: 4000, Denominator: 1200, Rate: fptr(0.83),
		StarWeight: 3, StarValuePerPoint: 1500, CloseProbability: fptr(0.6),
	}
	top := full
	top.Rate = fptr(0.86) // above the last tier: no tier share
	below := full
	below.Rate = fptr(0.75) // below the first tier: the step is the first tier's whole fee
	cases := []struct {
		name      string
		q         QualityTerms
		reachable bool
		months    int
		want      map[string]float64
		ifClosed  float64
		expected  float64
	}{
		// 996 of 1200 adherent now (0.83 x 1200); the 85 % tier needs ceil(0.85 x 1200) = 1020:
		// 24 short. The step is (1.00 - 0.50) x 4000 x 12 = 24,000, so one gap is 24,000/24 =
		// 1,000. Star: 3 x 100/1200 x 1500 = 375. If closed: 40 + 25 + 1000 + 375 = 1,440; x 0.6 =
		// 864; programme 2.50 x 6 months (July-December) = 15; expected 879.
		{"July, all terms", full, true, 6, map[string]float64{GapBonusClosed: 40, GapBonusAdherent: 25, GapTierShare: 1000, GapStarRating: 375, GapProgrammeFee: 15}, 1440, 879},
		// Not reachable this year: only the programme fee, 2.50 x 1 month (December).
		{"December, 80 % out of reach", full, false, 1, map[string]float64{GapProgrammeFee: 2.5}, 0, 2.5},
		// At the top tier: 40 + 25 + 375 = 440 x 0.6 = 264, + 2.50 x 12 = 30: 294.
		{"January, top tier", top, true, 12, map[string]float64{GapBonusClosed: 40, GapBonusAdherent: 25, GapStarRating: 375, GapProgrammeFee: 30}, 440, 294},
		// 900 adherent (0.75 x 1200); the 80 % tier needs 960: 60 short. The step is the first
		// tier's fee, 0.50 x 4000 x 12 = 24,000: 400 a gap. 40 + 25 + 400 + 375 = 840 x 0.6 = 504,
		// + 2.50 x 3 = 7.50: 511.50.
		{"October, below the first tier", below, true, 3, map[string]float64{GapBonusClosed: 40, GapBonusAdherent: 25, GapTierShare: 400, GapStarRating: 375, GapProgrammeFee: 7.5}, 840, 511.5},
		// Only a bonus per gap closed, no probability: 30 expected.
		{"SUPD bonus only", QualityTerms{BonusPerGapClosed: 30}, true, 5, map[string]float64{GapBonusClosed: 30}, 30, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := Contract{ID: "ma-capitation", Quality: map[string]QualityTerms{"PDC-STA": c.q}}
			v, ok := k.GapValue("PDC-STA", c.reachable, c.months)
			if !ok {
				t.Fatal("no terms")
			}
			got := map[string]float64{}
			for _, p := range v.Parts {
				got[p.Kind] = p.Amount
				if !strings.HasPrefix(p.Source, "configured: contract ma-capitation quality.PDC-STA.") && !strings.HasPrefix(p.Source, "derived: ") {
					t.Errorf("%s: source %q", p.Kind, p.Source)
				}
				if p.Conditional == (p.Kind == GapProgrammeFee) {
					t.Errorf("%s: conditional %v", p.Kind, p.Conditional)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("parts %v, want %v", got, c.want)
			}
			for k, w := range c.want {
				usd(t, k, got[k], w)
			}
			usd(t, "if closed", v.IfClosed, c.ifClosed)
			usd(t, "expected", v.Expected, c.expected)
		})
	}
	k := Contract{ID: "x", Quality: map[string]QualityTerms{"SUPD": {BonusPerGapClosed: 1}}}
	if _, ok := k.GapValue("PDC-STA", true, 6); ok {
		t.Error("a measure without terms has a value")
	}
}

func TestQualityTermsValidate(t *testing.T) {
	base := func(q string) string {
		return `contracts:
  - id: ma
    name: MA
    match: {sopt: ["112"]}
    arrangement: capitation
    drugsInBudget: true
    reimbursement: {basis: none}
    coinsurance: 0.2
    threshold: 25
    quality:
` + q
	}
	for _, c := range []struct{ yaml, want string }{
		{"      PDC-STA: {bonusPerGapClosed: 40, closeProbability: 0.6}\n", ""},
		{"      PDC-XX: {bonusPerGapClosed: 40}\n", "unknown measure"},
		{"      SUPD: {bonusPerGapClosed: -1}\n", "non-negative"},
		{"      SUPD: {closeProbability: 1.5}\n", "fraction"},
		{"      SUPD: {tiers: [{minRate: 0.8, pmpm: 1}]}\n", "tiers need members"},
		{"      SUPD: {tiers: [{minRate: 0.85, pmpm: 1}, {minRate: 0.8, pmpm: 2}], members: 1, denominator: 1, rate: 0.5}\n", "increasing minRate"},
		{"      SUPD: {starValuePerPoint: 100}\n", "needs starWeight"},
		{"      SUPD: {bonus: 1}\n", "not found"},
	} {
		_, err := ParseConfig([]byte(base(c.yaml)))
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", strings.TrimSpace(c.yaml), err, c.want)
		}
	}
}

// TestClassifyByPlanMemberID: a roster entry keyed by the plan's member id attributes a Coverage
// whose subscriberId it is (issue 17 item 4), within its period, for its contract only; an entry
// needs an MBI or a plan member id.
func TestClassifyByPlanMemberID(t *testing.T) {
	_, reg := envWith(t, func(c *Config) {
		c.Roster = append(c.Roster, RosterEntry{PlanMemberID: "W123456789", Contract: "mssp-aco", Start: Date{day("2026-01-01")}, End: Date{day("2026-06-30")}})
	})
	for _, c := range []struct {
		name string
		cov  Coverage
		on   string
		want string
	}{
		{"member id on the roster", Coverage{SOPT: []string{"121"}, MemberID: "W123456789"}, "2026-03-01", "mssp-aco"},
		{"member id, blanks trimmed", Coverage{SOPT: []string{"121"}, MemberID: " W123456789 "}, "2026-06-30", "mssp-aco"},
		{"after the period", Coverage{SOPT: []string{"121"}, MemberID: "W123456789"}, "2026-07-01", "medicare-ffs"},
		{"another member", Coverage{SOPT: []string{"121"}, MemberID: "W000"}, "2026-03-01", "medicare-ffs"},
	} {
		k, ok := reg.Classify(c.cov, day(c.on))
		if !ok || k.ID != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, k.ID, ok, c.want)
		}
	}
	cfg := DefaultConfig()
	cfg.Roster = append(cfg.Roster, RosterEntry{Contract: "mssp-aco"})
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "needs an mbi or a planMemberId") {
		t.Errorf("an entry without identifiers: %v", err)
	}
}
