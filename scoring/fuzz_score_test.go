package scoring

import (
	"errors"
	"math"
	"testing"
	"time"
)

// FuzzScore drives Score with arbitrary requests over the default catalog
// and checks the invariants every card relies on: no panic; errors only of
// the two documented kinds; a Best only when it is eligible, lowers neither
// side's cost the wrong way and clears the threshold (the organisation's gain,
// or the payer's saving for an organisation-neutral switch); deltas that are the
// difference of the course figures; options ranked eligible first.
func FuzzScore(f *testing.F) {
	cat, reg := env(f)
	contracts := reg.Contracts()
	var products []string
	for _, g := range cat.Groups() {
		products = append(products, g.ProductIDs...)
	}
	f.Add(uint8(1), uint8(0), 420.0, int16(17), int16(775), uint8(0))
	f.Add(uint8(3), uint8(5), 0.0, int16(0), int16(-30), uint8(2))
	f.Add(uint8(2), uint8(40), 40.0, int16(90), int16(100), uint8(41))
	f.Add(uint8(0), uint8(20), -1.0, int16(-1), int16(5000), uint8(255))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, ki, pi uint8, dose float64, admins, days int16, ci uint8) {
		req := Request{
			ContractID:      contracts[int(ki)%len(contracts)].ID,
			ProductID:       products[int(pi)%len(products)],
			DoseMg:          dose,
			Administrations: int(admins),
			Date:            base.AddDate(0, 0, int(days)),
		}
		if ci%3 == 0 {
			req.CurrentProductID = products[int(ci)%len(products)]
		}
		r, err := Score(cat, reg, req)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnknown) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		k := r.Contract
		if b := r.Best; b != nil {
			// A card clears the threshold on the organisation's gain, or, when the switch is
			// organisation-neutral, on the payer's saving; or the ordered product needs the payer's
			// prior authorisation and Best does not (the card shows what that costs the
			// organisation), in which case Best must indeed need none.
			clears := b.Delta.NetImpact > k.Threshold || (cents(b.Delta.NetImpact) == 0 && -b.Delta.PayerAllowed > k.Threshold) ||
				(r.AvoidsPriorAuth && r.Ordered.PriorAuth.Required && !b.PriorAuth.Required)
			if r.Reason != "" || !b.Eligible || !clears || cents(b.Delta.PatientOOP) > 0 ||
				(cents(b.Delta.PayerAllowed) > 0 && !k.AllowMarginSwitch) {
				t.Fatalf("bad best %s: %+v (reason %q)", b.Product.ID, b.Delta, r.Reason)
			}
		} else if r.Reason == "" {
			t.Fatal("no best and no reason")
		}
		seenIneligible := false
		for _, o := range r.Options {
			if o.Eligible && seenIneligible {
				t.Fatal("eligible option ranked after an ineligible one")
			}
			seenIneligible = seenIneligible || !o.Eligible
			if o.Exclusion == ExcludeNotPriced {
				continue
			}
			d := o.PerCourse.minus(r.Ordered.PerCourse)
			if math.Abs(d.NetImpact-o.Delta.NetImpact) > 1e-6*(1+math.Abs(d.NetImpact)) {
				t.Fatalf("%s: delta %v is not option minus ordered %v", o.Product.ID, o.Delta, d)
			}
			if o.PerDose.Units < 1 || o.PerDose.WastedUnits < 0 || o.PerDose.PayerAllowed < 0 {
				t.Fatalf("%s: figures %+v", o.Product.ID, o.PerDose)
			}
		}
	})
}
