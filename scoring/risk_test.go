package scoring

import (
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

// TestACOPositions: Herceptin -> Trazimera, 420 mg x 17, Feb 2026, under the
// ACO in each expected position. The fee-for-service part is the margin change
// +1,583.51 (17 x 93.148); Medicare's expenditure (allowed - 20 %
// coinsurance, before sequestration; the deductible is the same for both)
// falls by 0.8 x 50,356.13 = 40,284.90 a course, and the ACO's marginal share
// of it depends on where it expects to land:
//
//	BASIC E above the MSR, quality met: 0.5 x 1 x 0.98 = 0.49 -> +1,583.51 + 19,739.60 = +21,323.11
//	quality factor 0.5 (below the standard, sliding scale): 0.245 -> +11,453.31
//	payout not sequestered: 0.5 -> +21,725.96 (economics.md §5)
//	inside the MSR/MLR corridor: 0 -> +1,583.51 (the FFS margin only)
//	in the loss zone: loss rate 0.3 (not sequestered) -> +1,583.51 + 12,085.47 = +13,668.98
//	beyond the savings cap: 0 -> +1,583.51
//	ENHANCED above the MSR: 0.75 x 0.98 = 0.735 -> +31,192.91
//	ENHANCED in the loss zone: 1 - 0.75 = 0.25, raised to the 40 % floor -> +17,697.47
//	BASIC A (one-sided), sharing 40 %: 0.4 x 0.98 = 0.392 -> +17,375.19
func TestACOPositions(t *testing.T) {
	for _, c := range []struct {
		name    string
		arr     Arrangement
		rate    float64
		risk    RiskTerms
		course  float64
		label   string
		wantPos Position
	}{
		{"above MSR", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", ExpectedPosition: AboveMSR}, 21323.11, "sharing rate 0.5 x quality factor 1 x (1 - 0.02 sequestration of the payment) = 0.49", AboveMSR},
		{"quality factor 0.5", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", ExpectedPosition: AboveMSR, QualityFactor: f64(0.5)}, 11453.31, "= 0.245", AboveMSR},
		{"payout not sequestered", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", ExpectedPosition: AboveMSR, SequesterPayout: new(bool)}, 21725.96, "= 0.5", AboveMSR},
		{"corridor", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", ExpectedPosition: Corridor}, 1583.51, "nothing shared inside", Corridor},
		{"loss zone", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", ExpectedPosition: LossZone}, 13668.98, "loss rate 0.3", LossZone},
		{"capped", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", ExpectedPosition: Capped}, 1583.51, "beyond the cap", Capped},
		{"enhanced above MSR", SharedSavingsTwoSided, 0, RiskTerms{Track: "enhanced", ExpectedPosition: AboveMSR}, 31192.91, "sharing rate 0.75", AboveMSR},
		{"enhanced loss zone", SharedSavingsTwoSided, 0, RiskTerms{Track: "enhanced", ExpectedPosition: LossZone}, 17697.47, "loss rate 0.4", LossZone},
		{"basic A upside", SharedSavingsUpside, 0, RiskTerms{Track: "basic-a"}, 17375.19, "default, not stated", AboveMSR},
		// The position derived from the expected savings rate and the corridor of 2 %.
		{"expected +3.5 %", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", MinimumSavingsRate: 0.02, MinimumLossRate: 0.02, ExpectedSavingsRate: f64(0.035)}, 21323.11, "derived from expected savings 3.50%", AboveMSR},
		{"expected +1 %", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", MinimumSavingsRate: 0.02, MinimumLossRate: 0.02, ExpectedSavingsRate: f64(0.01)}, 1583.51, "", Corridor},
		{"expected -3 %", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", MinimumSavingsRate: 0.02, MinimumLossRate: 0.02, ExpectedSavingsRate: f64(-0.03)}, 13668.98, "", LossZone},
		{"expected +12 % (cap 10 %)", SharedSavingsTwoSided, 0.5, RiskTerms{Track: "basic-e", MinimumSavingsRate: 0.02, ExpectedSavingsRate: f64(0.12)}, 1583.51, "", Capped},
		{"upside expected -3 %", SharedSavingsUpside, 0.4, RiskTerms{Track: "basic-b", MinimumSavingsRate: 0.02, ExpectedSavingsRate: f64(-0.03)}, 1583.51, "", Corridor},
	} {
		t.Run(c.name, func(t *testing.T) {
			cat, reg := envWith(t, func(cfg *Config) {
				k := contractByID(t, cfg, "mssp-aco")
				k.Arrangement, k.SharedSavingsRate = c.arr, c.rate
				risk := c.risk
				k.Risk = &risk
			})
			r := mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "herceptin", Date: day("2026-02-15")})
			z := option(t, r, "trazimera")
			usd(t, "course gain", z.Delta.NetImpact, c.course)
			usd(t, "Medicare expenditure change", z.Delta.expenditure, -40284.90)
			src := z.Sources["netImpact"]
			if !strings.Contains(src, "expected position "+string(c.wantPos)) || !strings.Contains(src, c.label) {
				t.Errorf("net impact source %q, want position %s and %q", src, c.wantPos, c.label)
			}
		})
	}
}

// TestEpisode: the sample EOM-style contract (eom-oncology): the participant
// keeps the difference to the target price (risk share 1) below target, the
// payment sequestered: +1,583.51 + 0.98 x 40,284.90 = +41,062.71 a course; above
// target a recoupment, not sequestered: +1,583.51 + 40,284.90 = +41,868.41;
// beyond the stop-loss nothing moves: +1,583.51. The patient on the episode
// roster (MBI 4HK7XH8QR06, January-June 2026) is classified into it.
func TestEpisode(t *testing.T) {
	cat, reg := env(t)
	k, ok := reg.Classify(Coverage{SOPT: []string{"121"}, MBI: "4HK7XH8QR06"}, day("2026-02-15"))
	if !ok || k.ID != "eom-oncology" || k.Arrangement != Episode {
		t.Fatalf("classified as %s (%v)", k.ID, ok)
	}
	if k, _ := reg.Classify(Coverage{SOPT: []string{"121"}, MBI: "4HK7XH8QR06"}, day("2026-07-15")); k.ID != "medicare-ffs" {
		t.Errorf("after the episode: %s, want medicare-ffs", k.ID)
	}
	for _, c := range []struct {
		pos    Position
		course float64
	}{{BelowTarget, 41062.71}, {AboveTarget, 41868.41}, {Capped, 1583.51}} {
		cat, reg := envWith(t, func(cfg *Config) {
			contractByID(t, cfg, "eom-oncology").Risk.ExpectedPosition = c.pos
		})
		r := mustScore(t, cat, reg, Request{ContractID: "eom-oncology", ProductID: "herceptin", Date: day("2026-02-15")})
		if bestID(r) != "trazimera" {
			t.Errorf("%s: best %q (%s)", c.pos, bestID(r), r.Reason)
			continue
		}
		usd(t, string(c.pos)+" course gain", r.Best.Delta.NetImpact, c.course)
	}
	_ = cat
}

// TestRiskConfigErrors: terms that do not fit the arrangement are errors at start.
func TestRiskConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Contract)
		want string
	}{
		{"upside in the loss zone", func(k *Contract) {
			k.Arrangement, k.Risk = SharedSavingsUpside, &RiskTerms{ExpectedPosition: LossZone}
		}, "loss-zone needs arrangement shared-savings-two-sided"},
		{"one-sided track on a two-sided contract", func(k *Contract) { k.Risk = &RiskTerms{Track: "basic-a"} }, "does not fit"},
		{"rate above the track", func(k *Contract) { k.SharedSavingsRate, k.Risk = 0.6, &RiskTerms{Track: "basic-e"} }, "exceeds the basic-e track's maximum"},
		{"unknown track", func(k *Contract) { k.Risk = &RiskTerms{Track: "pioneer"} }, "unknown risk.track"},
		{"episode position on an ACO", func(k *Contract) { k.Risk = &RiskTerms{ExpectedPosition: BelowTarget} }, "episode position"},
		{"both position and rate", func(k *Contract) {
			k.Risk = &RiskTerms{ExpectedPosition: AboveMSR, ExpectedSavingsRate: f64(0.03)}
		}, "not both"},
		{"quality factor above 1", func(k *Contract) { k.Risk = &RiskTerms{QualityFactor: f64(1.5)} }, "risk.qualityFactor"},
		{"risk on ffs", func(k *Contract) { k.Arrangement, k.Risk = FFS, &RiskTerms{} }, "risk applies to shared-savings and episode"},
		{"file coinsurance on asp-plus", func(k *Contract) {
			k.Reimbursement = Reimbursement{Basis: BasisASPPlus, Percent: 0.2, CoinsuranceSource: CoinsuranceFromFile}
		}, "coinsuranceSource file needs basis medicare-asp"},
		{"sequestration above 1", func(k *Contract) { k.Reimbursement.Sequestration = f64(2) }, "reimbursement.sequestration"},
		{"negative deductible", func(k *Contract) { k.Deductible = f64(-1) }, "deductible"},
		{"priorAuth without preferences", func(k *Contract) { k.PriorAuth = &PriorAuthTerms{DenialRate: 0.1} }, "needs preferred"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.edit(contractByID(t, &cfg, "mssp-aco"))
			err := cfg.validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestIssue12Table: the rows of issue 12's table after the fix (Herceptin 420 mg q3w x 17,
// February 2026, acquisition = derived ASP), per course, each worked by hand in the test
// named beside it:
//
//	Medicare FFS                   +777.81 -> +1,583.51   (TestWorkedExample: 17 x 93.148)
//	MSSP ACO, 50 %, above the MSR  +25,955.87 -> +21,323.11 with the payout sequestered,
//	                               +21,725.96 without     (TestACOPositions)
//	the same ACO inside its MSR    +25,955.87 -> +1,583.51 (corridor: the margin only)
//	MA global capitation           two figures -> one saving of 43,055.61 to the budget
//	                               (the patient's 11,242.90 stops at the 9,250 MOOP)
//	commercial PPO                 +11,856.79 -> -4,052.97 (the margin falls; Herceptin needs PA)
//
// and Medicare itself saves 39,479.20 (not the 50,356.13 allowed), the patient 10,071.23.
func TestIssue12Table(t *testing.T) {
	cat, reg := env(t)
	corridor := DefaultConfig()
	contractByID(t, &corridor, "mssp-aco").Risk.ExpectedPosition = Corridor
	regCorridor, err := NewRegistry(corridor, cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		reg      *Registry
		contract string
		best     string
		course   float64
	}{
		{"Medicare FFS", reg, "medicare-ffs", "trazimera", 1583.51},
		{"MSSP ACO above the MSR", reg, "mssp-aco", "trazimera", 21323.11},
		{"MSSP ACO inside its MSR", regCorridor, "mssp-aco", "trazimera", 1583.51},
		{"MA global capitation", reg, "ma-capitation", "trazimera", 43055.61},
		{"commercial PPO", reg, "commercial-ppo", "kanjinti", -4052.97},
	} {
		r := mustScore(t, cat, c.reg, Request{ContractID: c.contract, ProductID: "herceptin", Date: day("2026-02-15")})
		if bestID(r) != c.best {
			t.Errorf("%s: best %q (%s), want %s", c.name, bestID(r), r.Reason, c.best)
			continue
		}
		usd(t, c.name+" organisation per course", r.Best.Delta.NetImpact, c.course)
		if c.contract == "ma-capitation" {
			usd(t, "capitation: no payer payment beside the budget's saving", r.Best.Delta.PayerPaid, 0)
			usd(t, "capitated Herceptin patient share at the MOOP", r.Ordered.PerCourse.PatientOOP, 9250)
		}
		if c.contract == "medicare-ffs" {
			usd(t, "Medicare saves", -r.Best.Delta.PayerPaid, 39479.20)
			usd(t, "patient saves", -r.Best.Delta.PatientOOP, 10071.23)
		}
	}
}

// TestCommercialOutOfPocketMax: a commercial plan's yearly maximum out-of-pocket caps the
// patient's share the same way (sample: 9,200 a plan year). Herceptin under ASP + 20 %:
// 0.2 x 63,639.05 = 12,727.81 a course, capped at 9,200.00; Kanjinti 0.2 x 39,321.22 =
// 7,864.24, under the cap; the plan pays the rest: 63,639.05 - 9,200.00 = 54,439.05.
func TestCommercialOutOfPocketMax(t *testing.T) {
	cat, reg := envWith(t, func(c *Config) { contractByID(t, c, "commercial-ppo").OOPMaxPerYear = 9200 })
	r := mustScore(t, cat, reg, Request{ContractID: "commercial-ppo", ProductID: "herceptin", Date: day("2026-02-15")})
	usd(t, "herceptin patient per course", r.Ordered.PerCourse.PatientOOP, 9200)
	usd(t, "herceptin plan pays per course", r.Ordered.PerCourse.PayerPaid, 54439.05)
	usd(t, "kanjinti patient per course", option(t, r, "kanjinti").PerCourse.PatientOOP, 7864.24)
	if !strings.Contains(r.Ordered.Sources["patientOOP"], "capped at 9200.00 per plan year") {
		t.Errorf("patient source %q", r.Ordered.Sources["patientOOP"])
	}
}
