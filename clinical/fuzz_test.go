package clinical

import (
	"math"
	"strings"
	"testing"
)

// FuzzDecodeOrder: any bytes either decode or give a clinical: error, never a panic; a decoded
// order always yields a regimen with finite, non-negative figures within the package's bounds.
func FuzzDecodeOrder(f *testing.F) {
	for _, c := range doseCases {
		f.Add([]byte(c.order))
	}
	f.Add([]byte(`{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"count":1e308,"period":1e-308,"periodUnit":"s"}},"doseAndRate":[{"doseQuantity":{"value":1e308,"code":"g/m2"}}]}]}`))
	f.Add([]byte(`{"resourceType":"MedicationRequest","dosageInstruction":[{"sequence":-1},{"sequence":1e300,"timing":{"code":{"coding":[{"code":"Q99H"}]}}}]}`))
	f.Add([]byte(`{"resourceType":"MedicationRequest","dispenseRequest":{"quantity":{"value":-5,"code":"{pill}"},"numberOfRepeatsAllowed":1.5}}`))
	f.Add([]byte(`{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"frequency":10000,"period":1e-300,"periodUnit":"s","boundsDuration":{"value":1,"code":"a"}}},"doseAndRate":[{"doseQuantity":{"value":9e8,"code":"g/kg"}}]}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"resourceType":"MedicationRequest","dosageInstruction":null}`))
	patients := []Patient{{}, {WeightKg: 70, HeightCm: 170}, {WeightKg: 0.3, HeightCm: 275}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := DecodeOrder(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "clinical: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		for _, p := range patients {
			for _, strength := range []float64{0, 40} {
				r := Dose(o, strength, p, trastuzumab)
				for _, v := range []float64{r.Dose, r.DosePerDay, r.TotalDose, r.IntervalDays} {
					if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
						t.Fatalf("figure %v in %+v", v, r)
					}
				}
				if r.Administrations < 0 || r.Administrations > maxCount || r.Fills < 1 || r.Fills > 100 || r.DaysOfSupply < 0 {
					t.Fatalf("course figures out of bounds: %+v", r)
				}
				if r.Scorable() && (r.Dose <= 0 || r.Unit != Mg) {
					t.Fatalf("scorable without a dose: %+v", r)
				}
			}
		}
	})
}

// BenchmarkDecodeAndDose measures the hook path's cost for a two-phase weight-based order.
func BenchmarkDecodeAndDose(b *testing.B) {
	raw := []byte(doseCases[0].order)
	p := doseCases[0].patient
	b.ReportAllocs()
	for b.Loop() {
		o, err := DecodeOrder(raw)
		if err != nil {
			b.Fatal(err)
		}
		r := Dose(o, 0, p, trastuzumab)
		if r.Administrations != 17 {
			b.Fatal(r)
		}
	}
}
