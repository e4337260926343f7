package clinical_test

import (
	"fmt"
	"time"

	"valuerx/clinical"
)

// A trastuzumab order with a loading dose, priced for a 70 kg patient.
func ExampleDose() {
	o, err := clinical.DecodeOrder([]byte(`{"resourceType":"MedicationRequest","authoredOn":"2026-01-12",
		"dosageInstruction":[
		 {"sequence":1,"timing":{"repeat":{"count":1}},"doseAndRate":[{"doseQuantity":{"value":8,"code":"mg/kg"}}]},
		 {"sequence":2,"timing":{"repeat":{"count":16,"period":3,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":6,"code":"mg/kg"}}]}]}`))
	if err != nil {
		panic(err)
	}
	weighed := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	r := clinical.Dose(o, 0, clinical.Patient{WeightKg: 70, WeightDate: weighed},
		clinical.Limits{Name: "IV trastuzumab", MaxMgPerKg: 8, MinIntervalDays: 7, LabelledIntervalDays: 21})
	for _, ph := range r.Phases {
		fmt.Printf("sequence %d: %g %s x %d (%s)\n", ph.Sequence, ph.Dose, ph.Unit, ph.Administrations, ph.Basis)
	}
	fmt.Printf("maintenance %g mg every %g days; course %d administrations, %g mg; scorable %v\n",
		r.MgPerAdministration(), r.IntervalDays, r.Administrations, r.TotalDose, r.Scorable())
	// Output:
	// sequence 1: 560 mg x 1 (8 mg/kg x 70 kg (body weight of 2026-01-10))
	// sequence 2: 420 mg x 16 (6 mg/kg x 70 kg (body weight of 2026-01-10))
	// maintenance 420 mg every 21 days; course 17 administrations, 7280 mg; scorable true
}
