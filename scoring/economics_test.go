package scoring

import (
	"fmt"
	"strings"
	"testing"
)

// TestWorkedExample reproduces economics.md §5 to the cent: Herceptin against
// Trazimera, one 420 mg dose, January-March 2026 CMS payment limits. Part 1 is
// the table and the lines "before sequestration, cost-sharing limits and
// supplemental coverage" (sequestration configured to 0, the contract's
// coinsurance, the deductible met); part 2 the paragraph "with Medicare's
// payment rules", per dose and per course of 17.
//
//	Herceptin J9355: limit 73.483 per 10 mg; ASP = 73.483 / 1.06 = 69.323585
//	  150 mg single-dose vials only: 420 mg -> 3 vials = 45 units, 3 discarded
//	  allowed 45 x 73.483 = 3,306.735; coinsurance 20% = 661.347
//	  acquisition 45 x 69.323585 = 3,119.561; margin 187.174
//	Trazimera Q5116: limit 8.205; "8% of reference add-on applied"
//	  ASP = 8.205 - 0.08 x 69.323585 = 2.659113; 420 mg vial: 42 units, none discarded
//	  allowed 42 x 8.205 = 344.61; coinsurance 68.922
//	  acquisition 42 x 2.659113 = 111.683; margin 232.927
//	Switch, before the payment rules:
//	  FFS:            232.927 - 187.174 = +45.753
//	  capitation:     3,119.561 - 111.683 = +3,007.878 (no cost sharing)
//	  ASP + 20%:      margin 0.2 x 45 x 69.323585 = 623.912 -> 0.2 x 42 x 2.659113 = 22.337
//	With the rules: collected = 0.8 x 0.98 x allowed + 0.2 x allowed = 0.984 x allowed
//	  margins 0.984 x 3,306.735 - 3,119.561 = 134.266; 0.984 x 344.61 - 111.683 = 227.413
//	  FFS +93.148 per dose, x 17 = +1,583.51
//	  Medicare expenditure change 0.8 x 2,962.125 = 2,369.70; 50 % share 1,184.85
//	  shared savings (payout not sequestered) +1,278.00 per dose, x 17 = +21,725.96
//	  Medicare saves 0.784 x 2,962.125 = 2,322.31 per dose, 39,479.20 per course
//	  (economics.md rounds the dose first: 17 x 2,322.31 = 39,479.3); the patient
//	  0.2 x 2,962.125 = 592.43 per dose, 10,071.23 per course.
func TestWorkedExample(t *testing.T) {
	zero := 0.0
	cat, reg := envWith(t, func(c *Config) {
		for i := range c.Contracts {
			k := &c.Contracts[i]
			k.Reimbursement.Sequestration = &zero
			k.Reimbursement.CoinsuranceSource = CoinsuranceFromContract
			k.DeductibleMet = true
			k.Risk = &RiskTerms{SequesterPayout: new(bool)}
		}
		// The §5 commercial line is "a commercial contract paying ASP + 20%",
		// without payer preferences; its capitation line has no cost sharing.
		contractByID(t, c, "commercial-ppo").Preferred = nil
		contractByID(t, c, "commercial-ppo").PriorAuth = nil
		contractByID(t, c, "ma-capitation").Coinsurance = 0
		contractByID(t, c, "ma-capitation").Risk = nil
		contractByID(t, c, "medicare-ffs").Risk = nil
		contractByID(t, c, "commercial-ppo").Risk = nil
		contractByID(t, c, "eom-oncology").Risk = &RiskTerms{SequesterPayout: new(bool)}
	})
	req := Request{ProductID: "herceptin", DoseMg: 420, Administrations: 1, Date: day("2026-02-15")}

	// The per-dose figures that do not depend on the arrangement (Medicare basis).
	req.ContractID = "medicare-ffs"
	r := mustScore(t, cat, reg, req)
	if r.Book.ID != "cms-asp-2026q1" || r.Stale {
		t.Fatalf("book = %s stale=%v, want cms-asp-2026q1", r.Book.ID, r.Stale)
	}
	h, z := r.Ordered, option(t, r, "trazimera")
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"Herceptin units", h.PerDose.Units, 45}, {"Herceptin wasted", h.PerDose.WastedUnits, 3},
		{"Herceptin allowed", h.PerDose.PayerAllowed, 3306.74}, {"Herceptin coinsurance", h.PerDose.PatientOOP, 661.35},
		{"Herceptin acquisition", h.PerDose.Acquisition, 3119.56}, {"Herceptin margin", h.PerDose.Margin, 187.17},
		{"Trazimera units", z.PerDose.Units, 42}, {"Trazimera wasted", z.PerDose.WastedUnits, 0},
		{"Trazimera allowed", z.PerDose.PayerAllowed, 344.61}, {"Trazimera coinsurance", z.PerDose.PatientOOP, 68.92},
		{"Trazimera acquisition", z.PerDose.Acquisition, 111.68}, {"Trazimera margin", z.PerDose.Margin, 232.93},
	} {
		usd(t, c.name, c.got, c.want)
	}
	pr, _ := r.Book.Price("trazimera")
	usd(t, "Trazimera derived ASP x 10000", pr.ASP*10000, 26591.13)

	for _, c := range []struct {
		contract                    string
		delta                       float64 // Trazimera minus Herceptin, net impact
		orderedMargin, optionMargin float64
	}{
		{"medicare-ffs", 45.75, 187.17, 232.93},
		{"ma-capitation", 3007.88, -3119.56, -111.68}, // no per-claim payment, no cost sharing: margin = -acquisition
		{"commercial-ppo", -601.58, 623.91, 22.34},    // 22.337 - 623.912 = -601.576: FFS says "stay"
	} {
		t.Run(c.contract, func(t *testing.T) {
			req.ContractID = c.contract
			r := mustScore(t, cat, reg, req)
			z := option(t, r, "trazimera")
			usd(t, "delta net impact", z.Delta.NetImpact, c.delta)
			usd(t, "Herceptin margin", r.Ordered.PerDose.Margin, c.orderedMargin)
			usd(t, "Trazimera margin", z.PerDose.Margin, c.optionMargin)
			// The course is one dose here.
			usd(t, "course = dose", z.PerCourse.NetImpact-z.PerDose.NetImpact, 0)
		})
	}

	t.Run("with Medicare's payment rules", func(t *testing.T) {
		// Default rules (2 % sequestration, the file's 20 % coinsurance), the
		// deductible met, the shared-savings payout not sequestered (§5 says
		// "before any sequestration of the shared-savings payment").
		cat, reg := envWith(t, func(c *Config) {
			for i := range c.Contracts {
				c.Contracts[i].DeductibleMet = true
			}
			contractByID(t, c, "mssp-aco").Risk = &RiskTerms{ExpectedPosition: AboveMSR, SequesterPayout: new(bool)}
		})
		for _, c := range []struct {
			contract              string
			perDose, perCourse    float64
			medicare, medicareCrs float64
		}{
			{"medicare-ffs", 93.15, 1583.51, 2322.31, 39479.20},
			{"mssp-aco", 1278.00, 21725.96, 2322.31, 39479.20},
		} {
			r := mustScore(t, cat, reg, Request{ContractID: c.contract, ProductID: "herceptin", DoseMg: 420, Administrations: 17, Date: day("2026-02-15")})
			z := option(t, r, "trazimera")
			usd(t, c.contract+" Herceptin margin", r.Ordered.PerDose.Margin, 134.27)
			usd(t, c.contract+" Trazimera margin", z.PerDose.Margin, 227.41)
			usd(t, c.contract+" per dose", z.PerDose.NetImpact-r.Ordered.PerDose.NetImpact, c.perDose)
			usd(t, c.contract+" per course", z.Delta.NetImpact, c.perCourse)
			usd(t, c.contract+" Medicare saves per dose", r.Ordered.PerDose.PayerPaid-z.PerDose.PayerPaid, c.medicare)
			usd(t, c.contract+" Medicare saves per course", -z.Delta.PayerPaid, c.medicareCrs)
			usd(t, c.contract+" patient saves per dose", r.Ordered.PerDose.PatientOOP-z.PerDose.PatientOOP, 592.43)
			usd(t, c.contract+" patient saves per course", -z.Delta.PatientOOP, 10071.23)
			// Who pays the allowed amount adds up: Medicare + patient + sequestration.
			usd(t, c.contract+" split", r.Ordered.PerDose.PayerPaid+r.Ordered.PerDose.PatientOOP+0.02*0.8*3306.735, 3306.74)
		}
	})
}

func TestCombine(t *testing.T) {
	cat, _ := env(t)
	for _, c := range []struct {
		product      string
		doseMg       float64
		units, waste float64
		items        string
	}{
		{"herceptin", 420, 45, 3, "3x150"},       // single-dose 150 mg only
		{"herceptin", 150, 15, 0, "1x150"},       // exact
		{"herceptin", 151, 30, 14, "2x150"},      // 16 units needed, 30 billed
		{"kanjinti", 420, 42, 0, "1x420"},        // multi-dose 420 mg vial
		{"kanjinti", 300, 30, 0, "2x150"},        // 2 single-dose 150 mg, exact
		{"kanjinti", 500, 50, 0, "1x150+1x420"},  // MDV remainder kept: bill what is given
		{"avastin", 1050, 110, 5, "3x100+2x400"}, // 105 units; fewest billed: 110
		{"remicade", 350, 40, 5, "4x100"},        // 5 mg/kg x 70 kg
		{"rituxan", 700, 70, 0, "2x100+1x500"},
		{"neulasta", 6, 12, 0, "1x6"},
		{"neupogen", 0.3, 300, 0, "1x0.3"},         // mcg units: 0.3 mg / 0.001 mg = 300 despite float noise
		{"neupogen", 0.35, 480, 130, "1x0.48"},     // 350 mcg: one 480 mcg syringe beats 2 x 300
		{"atorvastatin-generic", 40, 1, 0, "1x40"}, // tablets: one 40 mg tablet
		{"atorvastatin-generic", 30, 2, 0, "1x10+1x20"},
	} {
		p, ok := cat.Product(c.product)
		if !ok {
			t.Fatalf("no product %s", c.product)
		}
		units, waste, use, err := combine(p, c.doseMg)
		if err != nil {
			t.Errorf("%s %g mg: %v", c.product, c.doseMg, err)
			continue
		}
		// Collapse package uses by strength (several NDCs share a strength).
		var parts []string
		byMg := map[float64]int{}
		var order []float64
		for _, u := range use {
			if byMg[u.Mg] == 0 {
				order = append(order, u.Mg)
			}
			byMg[u.Mg] += u.Count
		}
		for _, mg := range order {
			parts = append(parts, fmt.Sprintf("%dx%g", byMg[mg], mg))
		}
		if units != c.units || waste != c.waste || strings.Join(parts, "+") != c.items {
			t.Errorf("%s %g mg: units %g waste %g items %s; want %g, %g, %s", c.product, c.doseMg, units, waste, strings.Join(parts, "+"), c.units, c.waste, c.items)
		}
	}
	p, _ := cat.Product("herceptin")
	if _, _, _, err := combine(p, 1e9); err == nil {
		t.Error("a 1,000 kg dose was accepted")
	}
}

// TestArrangements: the other arrangements of economics.md §3 on the §5 dose
// (Herceptin vs Trazimera, 420 mg once, Jan 2026, the deductible met): margin
// delta 227.413 - 134.266 = +93.148 per dose (sequestered Medicare payments),
// allowed delta -2,962.125, the payer's expenditure (allowed - 20 %
// coinsurance) delta 0.8 x -2,962.125 = -2,369.70.
func TestArrangements(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*Contract)
		delta float64
	}{
		// 93.148 + 0.3 x 0.98 x 2,369.70 (the payout sequestered) = 789.84
		{"episode 30%", func(k *Contract) { k.Arrangement, k.EpisodeRiskShare = Episode, 0.3 }, 789.84},
		// 93.148 + 0.5 x 0.98 x 2,369.70 = 1,254.30
		{"shared savings upside 50%", func(k *Contract) { k.Arrangement, k.SharedSavingsRate = SharedSavingsUpside, 0.5 }, 1254.30},
		{"capitation, drugs carved out (paid FFS)", func(k *Contract) { k.Arrangement, k.DrugsInBudget = Capitation, false }, 93.15},
		// The budget buys the drug and keeps the 20 % it collects:
		// (68.922 - 111.683) - (661.347 - 3,119.561) = +2,415.45
		{"capitation, drugs in budget", func(k *Contract) {
			k.Arrangement, k.DrugsInBudget, k.Reimbursement = Capitation, true, Reimbursement{Basis: BasisNone}
		}, 2415.45},
	} {
		t.Run(c.name, func(t *testing.T) {
			cat, reg := envWith(t, func(cfg *Config) {
				k := contractByID(t, cfg, "medicare-ffs")
				k.DeductibleMet = true
				c.edit(k)
			})
			r := mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", DoseMg: 420, Administrations: 1, Date: day("2026-02-15")})
			usd(t, "trazimera delta", option(t, r, "trazimera").Delta.NetImpact, c.delta)
			if bestID(r) != "trazimera" {
				t.Errorf("best %q reason %q", bestID(r), r.Reason)
			}
		})
	}
}

// TestPatientCostSharing: copay 10.00 per administration on top of 20%
// coinsurance, capped at 1,000.00 per course, 17 doses. Herceptin per dose
// 0.2 x 3,306.735 + 10 = 671.35 (course 11,412.90 capped to 1,000.00);
// Trazimera 0.2 x 344.61 + 10 = 78.92 (course 1,341.67, capped to 1,000.00):
// with the cap the switch saves the patient nothing, and costs nothing.
func TestPatientCostSharing(t *testing.T) {
	cat, reg := envWith(t, func(cfg *Config) {
		k := contractByID(t, cfg, "mssp-aco")
		k.Copay, k.OOPMaxPerCourse = 10, 1000
	})
	r := mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "herceptin", DoseMg: 420, Administrations: 17, Date: day("2026-02-15")})
	z := option(t, r, "trazimera")
	usd(t, "herceptin per dose", r.Ordered.PerDose.PatientOOP, 671.35)
	usd(t, "herceptin course", r.Ordered.PerCourse.PatientOOP, 1000)
	usd(t, "trazimera per dose", z.PerDose.PatientOOP, 78.92)
	usd(t, "trazimera course", z.PerCourse.PatientOOP, 1000)
	usd(t, "patient delta", z.Delta.PatientOOP, 0)
	if bestID(r) != "trazimera" || !strings.Contains(z.Sources["patientOOP"], "capped at 1000.00") {
		t.Errorf("best %q, source %q", bestID(r), z.Sources["patientOOP"])
	}
}
