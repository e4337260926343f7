package scoring_test

import (
	"fmt"
	"time"

	"valuerx/scoring"
)

// A Medicare patient on the ACO roster, Herceptin 420 mg every three weeks
// for a year, ordered in February 2026.
func Example() {
	cat, err := scoring.DefaultCatalog()
	if err != nil {
		panic(err)
	}
	reg, err := scoring.NewRegistry(scoring.DefaultConfig(), cat)
	if err != nil {
		panic(err)
	}
	s, err := scoring.NewScorer(cat, reg, 1024)
	if err != nil {
		panic(err)
	}
	on := time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
	contract, _ := reg.Classify(scoring.Coverage{SOPT: []string{"121"}, MBI: "1EG4-TE5-MK73"}, on)
	ordered, _ := cat.Lookup(scoring.HCPCS, "J9355")
	res, err := s.Score(scoring.Request{ContractID: contract.ID, ProductID: ordered.ID, DoseMg: 420, Administrations: 17, Date: on})
	if err != nil {
		panic(err)
	}
	b := res.Best
	fmt.Printf("%s (%s), %s\n", contract.Name, contract.Arrangement, res.Book.Label)
	fmt.Printf("%s -> %s: organisation %s, Medicare pays %s, patient %s (allowed %s) per course\n", res.Ordered.Product.Name, b.Product.Name,
		scoring.FormatSignedUSD(b.Delta.NetImpact), scoring.FormatSignedUSD(b.Delta.PayerPaid), scoring.FormatSignedUSD(b.Delta.PatientOOP),
		scoring.FormatSignedUSD(b.Delta.PayerAllowed))
	// Output:
	// Medicare Shared Savings ACO (two-sided) (shared-savings-two-sided), CMS ASP Jan 2026
	// Herceptin -> Trazimera: organisation +21,323.11, Medicare pays -39,479.20, patient -10,071.23 (allowed -50,356.13) per course
}
