package scoring

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestRequiredOutcomes: Herceptin 420 mg x 17 (the group default), by
// contract and date, under Medicare's payment rules (2 % sequestration of
// Medicare's 80 %, so the organisation collects 0.984 x allowed; the Part B
// deductible once per course). Hand figures per dose (CMS limits per 10 mg):
//
// 2026-02-15 (Jan 2026 book): reference ASP 73.483/1.06 = 69.3236. Every
// biosimilar carries the 8% add-on and has a 420 mg vial (42 units) where
// Herceptin bills 45 (three 150 mg single-dose vials). A biosimilar's margin
// is 0.984 x 42 x limit - 42 x (limit - 0.08 x 69.3236) = 42 x (5.5459 -
// 0.016 x limit): the sequestered 80 % makes the cheapest earn the most
// (Trazimera 227.41) where without it they tied at 232.93; Herceptin earns
// 0.984 x 3,306.74 - 3,119.56 = 134.27.
//   - mssp-aco: the change in Medicare's expenditure is 0.8 x (3,306.74 -
//     344.61) = 2,369.70; at the 50 % sharing rate with the payout sequestered
//     (x 0.98) the ACO gains 93.15 + 1,161.15 = +1,254.30 per dose.
//   - ma-capitation: the budget buys the drug and keeps the 20 % cost sharing,
//     up to the $9,250 yearly maximum out-of-pocket: per dose (68.92 - 111.68) -
//     (661.35 - 3,119.56) = +2,415.45; per course Herceptin's patient share
//     0.2 x 56,214.50 = 11,242.90 stops at 9,250.00, Trazimera's is 1,171.67:
//     (1,171.67 - 1,898.61) - (9,250.00 - 53,032.54) = +43,055.61.
//   - medicare-ffs: Trazimera's margin is the highest: +93.15 per dose.
//
// 2024-02-15 (Jan 2024 book): reference ASP 80.465/1.06 = 75.9104; Kanjinti
// 13.450 (allowed 42 x 13.450 = 564.90) is below Trazimera 16.367 (687.41).
// For the ACO Kanjinti gains (246.02 - 147.02) + 0.49 x 0.8 x (3,620.93 -
// 564.90) = +1,296.96 per dose against Trazimera's +1,246.97. The 2024Q1 rows
// agree with economics.md ("Kanjinti in Q1 2024"). Capitation: (112.98 -
// 309.84) - (724.19 - 3,415.97) = +2,494.92 per dose, +45,474.80 per course
// (Herceptin's 12,311.16 patient share capped at 9,250.00).
func TestRequiredOutcomes(t *testing.T) {
	cat, reg := env(t)
	for _, c := range []struct {
		contract, date          string
		best                    string
		perDoseDelta, courseDlt float64
	}{
		{"mssp-aco", "2026-02-15", "trazimera", 1254.30, 21323.11}, // 17 x 1,254.3006
		{"ma-capitation", "2026-02-15", "trazimera", 2415.45, 43055.61},
		{"medicare-ffs", "2026-02-15", "trazimera", 93.15, 1583.51},
		{"mssp-aco", "2024-02-15", "kanjinti", 1296.96, 22048.30}, // 17 x 1,296.9590
		{"ma-capitation", "2024-02-15", "kanjinti", 2494.92, 45474.80},
	} {
		t.Run(c.contract+"/"+c.date, func(t *testing.T) {
			r := mustScore(t, cat, reg, Request{ContractID: c.contract, ProductID: "herceptin", Date: day(c.date)})
			if got := bestID(r); got != c.best {
				t.Fatalf("best = %q (reason %q), want %s", got, r.Reason, c.best)
			}
			b := *r.Best
			usd(t, "per-dose delta", b.PerDose.NetImpact-r.Ordered.PerDose.NetImpact, c.perDoseDelta)
			usd(t, "course delta", b.Delta.NetImpact, c.courseDlt)
			// A course of trastuzumab is a year of therapy (17 q3w cycles).
			usd(t, "year = course", b.PerYear.NetImpact-b.PerCourse.NetImpact, 0)
			if r.DoseMg != 420 || r.Administrations != 17 || len(r.Defaulted) != 2 || r.AdministrationsPerYear != 17 {
				t.Errorf("defaults: %g mg x %d (%v), %d a year; want 420 x 17 from the group", r.DoseMg, r.Administrations, r.Defaulted, r.AdministrationsPerYear)
			}
			if !b.Eligible || b.Delta.PayerAllowed >= 0 || b.Delta.PatientOOP >= 0 {
				t.Errorf("best must lower the payer's and the patient's cost: %+v", b.Delta)
			}
		})
	}

	t.Run("medicare-ffs: the cheapest biosimilar earns the most", func(t *testing.T) {
		r := mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", Date: day("2026-02-15")})
		refASP := 73.483 / 1.06
		for _, o := range r.Options {
			pr, _ := r.Book.Price(o.Product.ID)
			usd(t, o.Product.ID+" margin per dose", o.PerDose.Margin, cents(42*(0.08*refASP-0.016*pr.PerUnit)))
		}
		for i := 1; i < len(r.Options); i++ {
			if r.Options[i-1].PerCourse.PayerAllowed > r.Options[i].PerCourse.PayerAllowed {
				t.Errorf("options not ordered by payer allowed: %s before %s", r.Options[i-1].Product.ID, r.Options[i].Product.ID)
			}
		}
	})
}

// TestCommercialPreferences: ASP + 20% pays a percentage of price, so every
// cheaper biosimilar cuts the margin (Herceptin 0.2 x 45 x 69.3236 = 623.91 per
// dose; Kanjinti 0.2 x 42 x (51.439 - 5.5459) = 385.50; Ogivri 0.2 x 42 x
// 32.1631 = 270.17; Trazimera 22.34). Without payer preferences FFS says
// "stay". With the default preferences (Kanjinti, Ogivri) and the contract's
// prior authorisation terms, Herceptin needs PA (7 days, 10 % denied) and
// Kanjinti does not: the card suggests Kanjinti as the PA-free option and says
// what it costs the organisation, 17 x (385.50 - 623.91) = -4,052.97 a course,
// instead of the old "denial risk" that counted 0.25 x allowed as a loss and
// turned the same switch into a +11,857 gain.
func TestCommercialPreferences(t *testing.T) {
	req := Request{ContractID: "commercial-ppo", ProductID: "herceptin", Date: day("2026-02-15")}
	t.Run("no preferences", func(t *testing.T) {
		cat, reg := envWith(t, func(c *Config) {
			contractByID(t, c, "commercial-ppo").Preferred = nil
			contractByID(t, c, "commercial-ppo").PriorAuth = nil
		})
		r := mustScore(t, cat, reg, req)
		if r.Best != nil || r.Reason != ReasonMarginFalls {
			t.Fatalf("best %q reason %q, want none / %s", bestID(r), r.Reason, ReasonMarginFalls)
		}
		usd(t, "Herceptin margin per dose", r.Ordered.PerDose.Margin, 623.91)
		for _, o := range r.Options {
			if o.Exclusion != ExcludeMarginFalls || o.Delta.PayerAllowed >= 0 || o.PriorAuth.Required {
				t.Errorf("%s: exclusion %q, payer delta %.2f, PA %+v; want margin-falls with a lower payer cost", o.Product.ID, o.Exclusion, o.Delta.PayerAllowed, o.PriorAuth)
			}
		}
	})
	t.Run("default preferences and prior authorisation", func(t *testing.T) {
		cat, reg := env(t)
		r := mustScore(t, cat, reg, req)
		if bestID(r) != "kanjinti" || !r.Best.PayerPreferred || !r.AvoidsPriorAuth {
			t.Fatalf("best %q (reason %q, avoids PA %v), want the preferred kanjinti", bestID(r), r.Reason, r.AvoidsPriorAuth)
		}
		if pa := r.Ordered.PriorAuth; pa != (PriorAuth{Required: true, ExpectedDelayDays: 7, DenialRate: 0.1}) {
			t.Errorf("Herceptin PA %+v", pa)
		}
		if r.Best.PriorAuth.Required {
			t.Error("preferred Kanjinti needs no PA")
		}
		usd(t, "Herceptin net per dose (no expected loss)", r.Ordered.PerDose.NetImpact, 623.91)
		usd(t, "Kanjinti change per dose", r.Best.PerDose.NetImpact-r.Ordered.PerDose.NetImpact, -238.41)
		usd(t, "Kanjinti change per course", r.Best.Delta.NetImpact, -4052.97)
		usd(t, "payer pays per course", r.Best.Delta.PayerPaid, -19454.27) // 0.8 x (39,321.22 - 63,639.05)
		if o := option(t, r, "trazimera"); o.Eligible || o.Exclusion != ExcludeMarginFalls || !o.PriorAuth.Required {
			t.Errorf("non-preferred trazimera: eligible %v exclusion %q PA %+v", o.Eligible, o.Exclusion, o.PriorAuth)
		}
		if strings.Contains(r.Ordered.Sources["netImpact"], "denial") {
			t.Errorf("net impact source %q still carries a denial loss", r.Ordered.Sources["netImpact"])
		}
	})
	t.Run("denialRisk is rejected", func(t *testing.T) {
		cfg := DefaultConfig()
		contractByID(t, &cfg, "commercial-ppo").DenialRisk = 0.25
		cat, _ := env(t)
		if _, err := NewRegistry(cfg, cat); err == nil || !strings.Contains(err.Error(), "priorAuth") {
			t.Errorf("denialRisk accepted: %v", err)
		}
	})
}

func TestOrderingTheBestOption(t *testing.T) {
	cat, reg := env(t)
	r := mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "trazimera", Date: day("2026-02-15")})
	if r.Best != nil || r.Reason != ReasonAlreadyBest {
		t.Fatalf("best %q reason %q, want none / already-best", bestID(r), r.Reason)
	}
	for _, o := range r.Options {
		if o.Eligible || o.Delta.NetImpact >= 0 {
			t.Errorf("%s: eligible %v, delta %.2f", o.Product.ID, o.Eligible, o.Delta.NetImpact)
		}
	}
}

// TestPricierBiosimilarsNeverSuggested: Herzuma's July 2025 limit 77.492 is
// above Herceptin's 76.181, and every pegfilgrastim biosimilar is above
// Neulasta's 19.981 in Jan and Apr 2025.
func TestPricierBiosimilarsNeverSuggested(t *testing.T) {
	cat, reg := env(t)
	contracts := []string{"medicare-ffs", "mssp-aco", "ma-capitation", "commercial-ppo"}
	t.Run("herzuma 2025Q3 300 mg", func(t *testing.T) {
		// 300 mg = 30 units of either: Herceptin 2 x 150 mg; Herzuma 2 x 150 mg.
		// Allowed 30 x 76.181 = 2,285.43 vs 30 x 77.492 = 2,324.76 (+39.33).
		// Under Medicare FFS Herzuma's margin is higher (8% add-on on the
		// reference ASP 71.8689: ASP 77.492 - 5.7495 = 71.7425; collected 0.984
		// x allowed: 0.984 x 2,324.76 - 30 x 71.7425 = 135.29 vs 0.984 x
		// 2,285.43 - 30 x 71.8689 = 92.80), which is exactly the switch the
		// engine must not suggest.
		// (Under the commercial ASP + 20% basis the payer pays on derived ASP,
		// and Herzuma's 71.7425 is below Herceptin's 71.8689: there it is not
		// pricier, and it is held back only because it cuts the margin.)
		for _, k := range contracts {
			r := mustScore(t, cat, reg, Request{ContractID: k, ProductID: "herceptin", DoseMg: 300, Administrations: 1, Date: day("2025-08-01")})
			h := option(t, r, "herzuma")
			medicare := k != "commercial-ppo"
			if h.Eligible || bestID(r) == "herzuma" || (medicare && h.Delta.PayerAllowed <= 0) {
				t.Errorf("%s: herzuma eligible=%v best=%q payer delta %.2f", k, h.Eligible, bestID(r), h.Delta.PayerAllowed)
			}
			if medicare {
				usd(t, k+" herzuma payer delta", h.Delta.PayerAllowed, 39.33)
			}
			if k == "medicare-ffs" {
				usd(t, "herzuma margin", h.PerDose.Margin, 135.29)
				usd(t, "herceptin margin", r.Ordered.PerDose.Margin, 92.80)
			}
		}
	})
	t.Run("herzuma 2025Q3 420 mg is cheaper through wastage", func(t *testing.T) {
		// 42 x 77.492 = 3,254.66 < 45 x 76.181 = 3,428.15: the 420 mg vial beats
		// three 150 mg vials, so Herzuma is a permitted (if not the best) option.
		r := mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "herceptin", DoseMg: 420, Administrations: 1, Date: day("2025-08-01")})
		h := option(t, r, "herzuma")
		usd(t, "herzuma payer delta", h.Delta.PayerAllowed, -173.48) // 3,254.664 - 3,428.145
		if !h.Eligible || bestID(r) == "herzuma" {
			t.Errorf("herzuma eligible=%v best=%q", h.Eligible, bestID(r))
		}
	})
	for _, date := range []string{"2025-02-15", "2025-05-15"} {
		t.Run("pegfilgrastim "+date, func(t *testing.T) {
			for _, k := range contracts {
				r := mustScore(t, cat, reg, Request{ContractID: k, ProductID: "neulasta", Date: day(date)})
				if r.Best != nil {
					t.Errorf("%s: suggested %s", k, bestID(r))
				}
				for _, o := range r.Options {
					if o.Eligible || o.Delta.PayerAllowed <= 0 {
						t.Errorf("%s: %s eligible=%v payer delta %.2f", k, o.Product.ID, o.Eligible, o.Delta.PayerAllowed)
					}
				}
			}
		})
	}
}

// TestMarginSwitchAndAcquisition: a configured acquisition cost for Herzuma of
// 50.00 per unit (July-September 2025) makes its FFS margin 0.98 x 30 x
// 77.492 - 30 x 50 = 778.26 per 300 mg dose (no coinsurance: Medicare pays the
// whole allowed amount, less 2 % sequestration), far above any other; the
// patient pays nothing either way, so only allowMarginSwitch stands between
// the margin and a higher payer cost.
func TestMarginSwitchAndAcquisition(t *testing.T) {
	for _, allow := range []bool{false, true} {
		cat, reg := envWith(t, func(c *Config) {
			k := contractByID(t, c, "medicare-ffs")
			k.Coinsurance = 0
			k.Reimbursement.CoinsuranceSource = CoinsuranceFromContract // not the file's 20 %
			k.AllowMarginSwitch = allow
			c.AcquisitionCosts = []AcquisitionCost{{Product: "herzuma", USDPerUnit: 50, Start: Date{day("2025-07-01")}, End: Date{day("2025-09-30")}, Note: "test invoice"}}
		})
		r := mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", DoseMg: 300, Administrations: 1, Date: day("2025-08-01")})
		h := option(t, r, "herzuma")
		usd(t, "herzuma margin", h.PerDose.Margin, 778.26)
		if !strings.HasPrefix(h.Sources["acquisition"], "configured: test invoice") {
			t.Errorf("acquisition source %q", h.Sources["acquisition"])
		}
		if want := map[bool]string{false: "ontruzant", true: "herzuma"}[allow]; bestID(r) != want {
			t.Errorf("allowMarginSwitch=%v: best %q, want %s", allow, bestID(r), want)
		}
		// Outside the configured period the estimate applies again.
		r = mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", DoseMg: 300, Administrations: 1, Date: day("2025-11-01")})
		if src := option(t, r, "herzuma").Sources["acquisition"]; !strings.HasPrefix(src, "estimated (derived ASP)") {
			t.Errorf("acquisition source outside the period: %q", src)
		}
	}
}

func TestMidCourse(t *testing.T) {
	cat, reg := env(t)
	base := Request{ContractID: "mssp-aco", ProductID: "herceptin", Date: day("2026-02-15")}

	r := mustScore(t, cat, reg, withCurrent(base, "herceptin"))
	if r.Best != nil || r.Reason != ReasonMidCourse {
		t.Fatalf("continuing herceptin: best %q reason %q, want mid-course", bestID(r), r.Reason)
	}
	for _, o := range r.Options {
		if o.Exclusion != ExcludeMidCourse {
			t.Errorf("%s: exclusion %q", o.Product.ID, o.Exclusion)
		}
	}

	// On Trazimera, re-ordered as Herceptin: staying on Trazimera is no switch.
	r = mustScore(t, cat, reg, withCurrent(base, "trazimera"))
	if bestID(r) != "trazimera" {
		t.Errorf("on trazimera, herceptin ordered: best %q reason %q", bestID(r), r.Reason)
	}

	// A contract may allow mid-course switches for a group.
	cat, reg = envWith(t, func(c *Config) {
		contractByID(t, c, "mssp-aco").AllowMidCourseSwitch = map[string]bool{"trastuzumab": true}
	})
	if r := mustScore(t, cat, reg, withCurrent(base, "herceptin")); bestID(r) != "trazimera" {
		t.Errorf("override: best %q reason %q", bestID(r), r.Reason)
	}

	// AB-rated generics switch mid-course by rule.
	cat, reg = env(t)
	r = mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "lipitor", Date: day("2026-02-15"), CurrentProductID: "lipitor"})
	if bestID(r) != "atorvastatin-generic" {
		t.Errorf("lipitor mid-course: best %q reason %q", bestID(r), r.Reason)
	}
}

func withCurrent(r Request, cur string) Request { r.CurrentProductID = cur; return r }

// TestRetail: Lipitor 10 mg daily, 30 days. NADAC-derived per tablet: Lipitor
// 12.42604, generic 0.02453. Allowed 30 x 12.42604 = 372.78 vs 0.74: the
// payer saves 372.05 and the patient 0.2 x 372.05 = 74.41. The organisation
// earns nothing on a pharmacy claim: FFS gains 0, but the switch is
// organisation-neutral while the payer saves more than the threshold and the
// patient pays less, so it is suggested. Under the Medicare ACO the drug is
// Part D, outside the Parts A and B expenditure MSSP measures: the ACO gains
// nothing either (0, the same card). Capitation pays the claim from the
// budget less the patient's 20 % at the pharmacy: 0.8 x 372.05 = +297.64.
func TestRetail(t *testing.T) {
	cat, reg := env(t)
	for _, c := range []struct {
		contract, best, reason string
		delta                  float64
	}{
		{"mssp-aco", "atorvastatin-generic", "", 0},
		{"ma-capitation", "atorvastatin-generic", "", 297.64},
		{"medicare-ffs", "atorvastatin-generic", "", 0},
		{"commercial-ppo", "atorvastatin-generic", "", 0},
	} {
		r := mustScore(t, cat, reg, Request{ContractID: c.contract, ProductID: "lipitor", Date: day("2026-02-15")})
		if bestID(r) != c.best || r.Reason != c.reason {
			t.Errorf("%s: best %q reason %q, want %q %q", c.contract, bestID(r), r.Reason, c.best, c.reason)
		}
		g := option(t, r, "atorvastatin-generic")
		usd(t, c.contract+" delta", g.Delta.NetImpact, c.delta)
		usd(t, c.contract+" payer delta", g.Delta.PayerAllowed, -372.05)
		usd(t, c.contract+" patient delta", g.Delta.PatientOOP, -74.41)
		if r.Book.Source != SourceNADAC || r.Stale || g.PerCourse.Units != 30 {
			t.Errorf("%s: book %s stale %v units %g", c.contract, r.Book.ID, r.Stale, g.PerCourse.Units)
		}
		if !strings.Contains(g.Sources["price"], "not the CMS NADAC file") {
			t.Errorf("retail price source not labelled honestly: %q", g.Sources["price"])
		}
	}
}

// TestRetailStrengths: only the 10 mg tablets are priced in the NADAC-derived
// extract; a 40 mg daily dose is one 40 mg tablet at the same per-tablet price,
// and the price's source says so.
func TestRetailStrengths(t *testing.T) {
	cat, reg := env(t)
	r := mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "lipitor", DoseMg: 40, Date: day("2026-02-15")})
	g := option(t, r, "atorvastatin-generic")
	if g.PerCourse.Units != 30 || !strings.Contains(g.Sources["price"], "estimated for the 40 mg tablet") {
		t.Errorf("40 mg: %g tablets, price source %q", g.PerCourse.Units, g.Sources["price"])
	}
	r = mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "lipitor", DoseMg: 10, Date: day("2026-02-15")})
	if src := option(t, r, "atorvastatin-generic").Sources["price"]; strings.Contains(src, "estimated") {
		t.Errorf("10 mg price marked as an estimate: %q", src)
	}
	if src := r.Ordered.Sources["acquisition"]; !strings.HasPrefix(src, "none:") {
		t.Errorf("pharmacy-benefit acquisition source %q", src)
	}
}

func TestThresholdAndPricing(t *testing.T) {
	cat, reg := envWith(t, func(c *Config) { contractByID(t, c, "mssp-aco").Threshold = 1e6 })
	r := mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "herceptin", Date: day("2026-02-15")})
	if r.Best != nil || r.Reason != ReasonBelowThreshold {
		t.Errorf("threshold 1e6: best %q reason %q", bestID(r), r.Reason)
	}

	cat, reg = env(t)
	r = mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "hercessi", Date: day("2024-02-15")})
	if r.Reason != ReasonNotPriced || r.Best != nil {
		t.Errorf("hercessi before July 2025: reason %q", r.Reason)
	}
	r = mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "herceptin", Date: day("2024-02-15")})
	if o := option(t, r, "hercessi"); o.Exclusion != ExcludeNotPriced || r.Options[len(r.Options)-1].Product.ID != "hercessi" {
		t.Errorf("unpriced hercessi: exclusion %q, ranked last %v", o.Exclusion, r.Options[len(r.Options)-1].Product.ID)
	}

	// A fee schedule prices only what it lists: Herceptin 70.00 and Trazimera
	// 10.00 per unit. Margins per dose 45 x (70 - 69.3236) = 30.44 and
	// 42 x (10 - 2.6591) = 308.32.
	cat, reg = envWith(t, func(c *Config) {
		k := contractByID(t, c, "medicare-ffs")
		k.Reimbursement = Reimbursement{Basis: BasisFeeSchedule, FeeSchedule: map[string]float64{"herceptin": 70, "trazimera": 10}}
	})
	r = mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "herceptin", DoseMg: 420, Administrations: 1, Date: day("2026-02-15")})
	usd(t, "fee-schedule herceptin margin", r.Ordered.PerDose.Margin, 30.44)
	if bestID(r) != "trazimera" {
		t.Fatalf("fee schedule: best %q reason %q", bestID(r), r.Reason)
	}
	usd(t, "fee-schedule trazimera margin", r.Best.PerDose.Margin, 308.32)
	for _, o := range r.Options[1:] {
		if o.Exclusion != ExcludeNotPriced {
			t.Errorf("%s priced without a fee-schedule entry", o.Product.ID)
		}
	}
	r = mustScore(t, cat, reg, Request{ContractID: "medicare-ffs", ProductID: "kanjinti", Date: day("2026-02-15")})
	if r.Reason != ReasonNotPriced {
		t.Errorf("ordered product outside the fee schedule: reason %q", r.Reason)
	}
}

func TestStaleBooks(t *testing.T) {
	cat, reg := env(t)
	for _, c := range []struct {
		product, date, book string
		stale               bool
	}{
		{"herceptin", "2023-06-01", "cms-asp-2024q1", true},
		{"herceptin", "2024-01-01", "cms-asp-2024q1", false},
		{"herceptin", "2024-03-31", "cms-asp-2024q1", false},
		{"herceptin", "2024-04-01", "cms-asp-2024q2", false},
		{"herceptin", "2026-03-31", "cms-asp-2026q1", false},
		{"herceptin", "2026-11-24", "cms-asp-2026q1", true},
		{"lipitor", "2025-06-01", "nadac-communitymeds-2025-12-24", true},
		{"lipitor", "2026-01-10", "nadac-communitymeds-2025-12-24", false},
		{"lipitor", "2026-06-01", "nadac-communitymeds-2025-12-24", true},
	} {
		r := mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: c.product, Date: day(c.date)})
		if r.Book.ID != c.book || r.Stale != c.stale {
			t.Errorf("%s on %s: book %s stale %v, want %s %v", c.product, c.date, r.Book.ID, r.Stale, c.book, c.stale)
		}
	}
}

func TestScoreErrors(t *testing.T) {
	cat, reg := env(t)
	ok := Request{ContractID: "mssp-aco", ProductID: "herceptin", Date: day("2026-02-15")}
	for _, c := range []struct {
		name string
		edit func(*Request)
		want error
	}{
		{"unknown contract", func(r *Request) { r.ContractID = "nope" }, ErrUnknown},
		{"unknown product", func(r *Request) { r.ProductID = "nope" }, ErrUnknown},
		{"unknown current", func(r *Request) { r.CurrentProductID = "nope" }, ErrUnknown},
		{"current in another group", func(r *Request) { r.CurrentProductID = "avastin" }, ErrInvalid},
		{"negative dose", func(r *Request) { r.DoseMg = -1 }, ErrInvalid},
		{"absurd dose", func(r *Request) { r.DoseMg = 1e9 }, ErrInvalid},
		{"negative course", func(r *Request) { r.Administrations = -1 }, ErrInvalid},
		{"no date", func(r *Request) { r.Date = time.Time{} }, ErrInvalid},
	} {
		req := ok
		c.edit(&req)
		if _, err := Score(cat, reg, req); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestScoreIsPure(t *testing.T) {
	cat, reg := env(t)
	req := Request{ContractID: "commercial-ppo", ProductID: "herceptin", Date: day("2026-02-15")}
	a := mustScore(t, cat, reg, req)
	a.Options[0].Sources["netImpact"] = "mutated"
	a.Options[0].PerCourse.NetImpact = -1
	b := mustScore(t, cat, reg, req)
	c := mustScore(t, cat, reg, req)
	if !reflect.DeepEqual(b, c) {
		t.Fatal("same inputs gave different results")
	}
	if b.Options[0].Sources["netImpact"] == "mutated" || b.Options[0].PerCourse.NetImpact == -1 {
		t.Fatal("a caller's edit leaked into the next result")
	}
	if b.Best != &b.Options[0] {
		t.Fatal("Best does not point into Options")
	}
	// A date's time of day and zone do not matter, only the calendar day.
	req.Date = day("2026-02-15").Add(23 * 3600e9)
	if d := mustScore(t, cat, reg, req); !reflect.DeepEqual(d, c) {
		t.Fatal("time of day changed the result")
	}
}

// TestBestByQuarterGolden records, for every group, contract and book, what
// the engine suggests for the reference product at the group's default dose.
// Run with -update after a deliberate change and review the diff.
func TestBestByQuarterGolden(t *testing.T) {
	cat, reg := env(t)
	var b strings.Builder
	fmt.Fprintln(&b, "# book group contract: best (course and yearly gain for the organisation / course savings: allowed / payer paid / patient) or reason")
	for _, bk := range cat.Books() {
		for _, g := range cat.Groups() {
			if g.PriceSource != bk.Source {
				continue
			}
			for _, k := range reg.Contracts() {
				r := mustScore(t, cat, reg, Request{ContractID: k.ID, ProductID: g.ReferenceID, Date: bk.Start})
				fmt.Fprintf(&b, "%s %s %s: ", bk.ID, g.ID, k.ID)
				if r.Best == nil {
					fmt.Fprintf(&b, "none (%s)\n", r.Reason)
					continue
				}
				d := r.Best.Delta
				year := r.Best.PerYear.NetImpact - r.Ordered.PerYear.NetImpact
				fmt.Fprintf(&b, "%s (org %s, %s a year / allowed %s / payer paid %s / patient %s)\n", r.Best.Product.ID,
					FormatSignedUSD(d.NetImpact), FormatSignedUSD(year), FormatSignedUSD(-d.PayerAllowed), FormatSignedUSD(-d.PayerPaid), FormatSignedUSD(-d.PatientOOP))
			}
		}
	}
	golden := filepath.Join("testdata", "best_by_quarter.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./scoring -run Golden -update)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("best-by-quarter differs from %s; rerun with -update and review the diff.\n%s", golden, firstDiff(got, string(want)))
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, a, b)
		}
	}
	return ""
}

// An organisation-neutral switch still has to clear the contract's threshold on the payer's saving.
func TestOrgNeutralSwitchBelowThreshold(t *testing.T) {
	cfg := DefaultConfig()
	for i := range cfg.Contracts {
		if cfg.Contracts[i].ID == "commercial-ppo" {
			cfg.Contracts[i].Threshold = 1000 // above the 372.05 a 30-day course saves
		}
	}
	cat, _ := env(t)
	reg, err := NewRegistry(cfg, cat)
	if err != nil {
		t.Fatal(err)
	}
	r := mustScore(t, cat, reg, Request{ContractID: "commercial-ppo", ProductID: "lipitor", Date: day("2026-02-15")})
	if r.Best != nil || r.Reason != ReasonBelowThreshold {
		t.Fatalf("best %q reason %q, want none below-threshold", bestID(r), r.Reason)
	}
}

// Whatever the contract, product and date, Options come in compareOptions order, Best, when
// set, is the first of them, and neither depends on the order of the group's products (the
// ranking reads the sorted list, never the group's order).
func TestOptionsRankedAndBestFirst(t *testing.T) {
	base, _ := env(t)
	for _, cat := range []*Catalog{base, widened(t, base, "trastuzumab", 10)} {
		reg, err := NewRegistry(DefaultConfig(), cat)
		if err != nil {
			t.Fatal(err)
		}
		rev := reversedGroups(cat)
		revReg, err := NewRegistry(DefaultConfig(), rev)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, k := range reg.Contracts() {
			for _, g := range cat.Groups() {
				for _, id := range g.ProductIDs {
					for _, d := range []string{"2024-02-15", "2026-02-15"} {
						for _, current := range []string{"", g.ReferenceID} {
							req := Request{ContractID: k.ID, ProductID: id, Date: day(d), CurrentProductID: current}
							r, err := Score(cat, reg, req)
							if err != nil {
								continue // e.g. no price book for the date
							}
							n++
							if !slices.IsSortedFunc(r.Options, func(a, b Option) int { return compareOptions(&a, &b) }) {
								t.Fatalf("%+v: options not ranked", req)
							}
							if r.Best != nil && r.Best != &r.Options[0] {
								t.Fatalf("%+v: best %s is not the first option %s", req, r.Best.Product.ID, r.Options[0].Product.ID)
							}
							rr, err := Score(rev, revReg, req)
							if err != nil || bestID(rr) != bestID(r) || rr.Reason != r.Reason {
								t.Fatalf("%+v: with the group's products reversed: best %q (%s), %v; in order: best %q (%s)",
									req, bestID(rr), rr.Reason, err, bestID(r), r.Reason)
							}
						}
					}
				}
			}
		}
		if n < 50 {
			t.Fatalf("only %d scores checked", n)
		}
	}
}

// reversedGroups returns a copy of cat whose groups list their products in reverse order.
func reversedGroups(cat *Catalog) *Catalog {
	c := *cat
	c.groups = maps.Clone(cat.groups)
	for id, g := range c.groups {
		g.ProductIDs = slices.Clone(g.ProductIDs)
		slices.Reverse(g.ProductIDs)
		c.groups[id] = g
	}
	return &c
}
