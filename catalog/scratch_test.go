package catalog

import (
	"fmt"
	"testing"
	"time"
)

func TestScratchImport(t *testing.T) {
	s, rep, err := Import([]string{"/work/shared/data/agency", "data/supplementary"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("quarters", rep.Quarters, "products", rep.Products, "groups", rep.Groups)
	for _, r := range rep.Rejects { fmt.Println("REJ", r) }
	for _, r := range rep.Excluded { fmt.Println("EXC", r) }
	for _, r := range rep.Unconfirmed { fmt.Println("UNC", r) }
	for _, r := range rep.Skipped { fmt.Println("SKIP", r) }
	for _, g := range s.Groups { fmt.Println("G", g.ID, g.ProductIDs) }
	for _, p := range s.Products { fmt.Println("P", p.ID, p.HCPCS, p.Relationship, p.BillingUnit, len(p.Packages), len(p.NDCs), len(p.RxNorm)) }
}
