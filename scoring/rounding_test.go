package scoring

import (
	"math"
	"testing"
)

// Dose rounding, worked by hand on the catalog's vials (rituximab: 100 mg and 500 mg single-dose
// vials, J9312 billed per 10 mg; trastuzumab biosimilars: 150 mg and 420 mg multi-dose vials;
// Herceptin: 150 mg single-dose vials, J9355 per 10 mg).
func TestRoundToVials(t *testing.T) {
	cat, _ := env(t)
	prod := func(id string) Product { p, _ := cat.Product(id); return p }
	cases := []struct {
		name       string
		product    string
		dose, pct  float64
		want       float64 // 0: no rounding offered
		wantChange float64
		wantWasted float64
	}{
		// 375 mg/m2 x 1.8708 m2 = 701.6 mg needs 71 units: 500 + 3 x 100 mg = 80 units, 9 wasted;
		// 700 mg (500 + 2 x 100) is -0.23 %: rounded.
		{"rituximab just above two vials", "rituxan", 701.6, 10, 700, (700 - 701.6) / 701.6 * 100, 9},
		// 731 mg needs 74 units (80 billed, 6 wasted); 700 mg is -4.24 %, 800 mg +9.44 %: 700.
		{"rituximab nearest is down", "rituxan", 731, 10, 700, (700 - 731.0) / 731 * 100, 6},
		// 650 mg: 700 (+7.7 %) and 600 (-7.7 %) tie; the lower wins.
		{"tie goes down", "rituxan", 650, 10, 600, (600.0 - 650) / 650 * 100, 5},
		// 731 mg with a 3 % window: 700 is 4.2 % away: nothing offered.
		{"outside the window", "rituxan", 731, 3, 0, 0, 0},
		// 700 mg is exact: no waste to save.
		{"already whole vials", "rituxan", 700, 10, 0, 0, 0},
		// Multi-dose vials discard nothing: never rounded.
		{"multi-dose vials", "trazimera", 468, 10, 0, 0, 0},
		// Herceptin 150 mg single-dose: 468 mg needs 47 units, 60 billed (13 wasted); 450 mg
		// (3 vials) is -3.85 %.
		{"herceptin 6 mg/kg x 78 kg", "herceptin", 468, 10, 450, (450 - 468.0) / 468 * 100, 13},
		{"policy off", "rituxan", 731, 0, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := RoundToVials(prod(c.product), c.dose, c.pct)
			if c.want == 0 {
				if ok {
					t.Fatalf("rounding offered: %+v", r)
				}
				return
			}
			if !ok || r.DoseMg != c.want || math.Abs(r.ChangePct-c.wantChange) > 1e-9 || r.WastedUnits != c.wantWasted {
				t.Fatalf("got %+v ok=%v, want %g mg (%.2f %%), %g units wasted before", r, ok, c.want, c.wantChange, c.wantWasted)
			}
		})
	}
}

// The demo's rituximab order (demo/requests/aco-rituximab-order-sign.json) worked by hand from
// the January 2026 CMS file: 701.56 mg needs 71 units of 10 mg and takes 500 + 3 x 100 mg
// single-dose vials, 80 units billed; J9312 74.765 x 80 = 5,981.20 per dose, x 4 = 23,924.80 per
// course; Ruxience Q5119 13.270 x 80 = 1,061.60, x 4 = 4,246.40. At the rounded 700 mg: 70 units,
// 5,233.55 and 928.90 per dose.
func TestRituximabDemoFigures(t *testing.T) {
	cat, reg := env(t)
	for _, c := range []struct {
		dose                  float64
		units, wasted         float64
		rituxan, ruxience     float64 // allowed per dose
		rituxanCourse, ruxCrs float64
	}{
		{701.56, 80, 9, 5981.20, 1061.60, 23924.80, 4246.40},
		{700, 70, 0, 5233.55, 928.90, 20934.20, 3715.60},
	} {
		r := mustScore(t, cat, reg, Request{ContractID: "mssp-aco", ProductID: "rituxan", DoseMg: c.dose, Administrations: 4, Date: day("2026-02-15")})
		rux := option(t, r, "ruxience")
		if r.Ordered.PerDose.Units != c.units || r.Ordered.PerDose.WastedUnits != c.wasted {
			t.Errorf("%g mg: %g units (%g wasted), want %g (%g)", c.dose, r.Ordered.PerDose.Units, r.Ordered.PerDose.WastedUnits, c.units, c.wasted)
		}
		usd(t, "Rituxan allowed per dose", r.Ordered.PerDose.PayerAllowed, c.rituxan)
		usd(t, "Ruxience allowed per dose", rux.PerDose.PayerAllowed, c.ruxience)
		usd(t, "Rituxan allowed per course", r.Ordered.PerCourse.PayerAllowed, c.rituxanCourse)
		usd(t, "Ruxience allowed per course", rux.PerCourse.PayerAllowed, c.ruxCrs)
	}
}
