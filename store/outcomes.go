package store

// The per-order figures of the outcomes report (issue 16 items 2-4), one copy of the rules for
// both its computations: package tracking's BuildOutcomes over orders and the rollup's cubes
// (rollup.go), which sum them per day and month. README "The programme report" says how they
// count; tracking/realised.go and tracking/divergence.go explain the choices.

// OutcomeSums are the outcome figures of one order, or sums of them. Money in micro-dollars
// (Micro of each order's figure): exact sums, rounded to the cent once by the report.
type OutcomeSums struct {
	Signed, Administered, Paid int64
	PaidUSD                    int64
	// Projected savings of the accepted suggestion per year of therapy.
	ProjPayerY, ProjPatientY, ProjOrgY int64
	// Realised: orders with a card signed or administered; Switched on another product the card
	// priced, Unpriced on one it did not; Overridden and Unanswered by the card's answer.
	Realised, RealisedSwitched, RealisedUnpriced, RealisedOverridden, RealisedUnanswered int64
	RealPayerY, RealPatientY, RealOrgY                                                   int64
	// NewStarts of a biologic family, NewStartsBiosimilar of them on a biosimilar.
	NewStarts, NewStartsBiosimilar int64
	// Divergence: orders with answers, comparable (an FFS and a value-based answer), diverged.
	DivOrders, DivComparable, DivDiverged int64
	// DivRequests are the orders whose offering decision carries a scoring request; of them
	// DivNotScored* were not scored, by reason (store.DivNotScored*), and the rest not yet
	// (DivRequests - DivOrders - the three: pending).
	DivRequests, DivNotScoredConfig, DivNotScoredCatalog, DivNotScoredFailed int64
}

// DivNotScored returns the not-scored counts of s by reason (DivNotScored*).
func (s OutcomeSums) DivNotScored() map[string]int64 {
	return map[string]int64{DivNotScoredConfig: s.DivNotScoredConfig, DivNotScoredCatalog: s.DivNotScoredCatalog, DivNotScoredFailed: s.DivNotScoredFailed}
}

// outcomeCols are the cube columns of OutcomeSums, in the order of fields().
var outcomeCols = []string{"signed", "administered", "paid", "paid_usd", "proj_payer_y", "proj_patient_y", "proj_org_y",
	"realised", "real_switched", "real_unpriced", "real_overridden", "real_unanswered", "real_payer_y", "real_patient_y", "real_org_y",
	"new_starts", "new_starts_bio", "div_orders", "div_comparable", "div_diverged", "div_requests", "div_ns_config", "div_ns_catalog", "div_ns_failed"}

func (s *OutcomeSums) fields() []*int64 {
	return []*int64{&s.Signed, &s.Administered, &s.Paid, &s.PaidUSD, &s.ProjPayerY, &s.ProjPatientY, &s.ProjOrgY,
		&s.Realised, &s.RealisedSwitched, &s.RealisedUnpriced, &s.RealisedOverridden, &s.RealisedUnanswered, &s.RealPayerY,
		&s.RealPatientY, &s.RealOrgY, &s.NewStarts, &s.NewStartsBiosimilar, &s.DivOrders, &s.DivComparable, &s.DivDiverged,
		&s.DivRequests, &s.DivNotScoredConfig, &s.DivNotScoredCatalog, &s.DivNotScoredFailed}
}

// Add adds o to s.
func (s *OutcomeSums) Add(o OutcomeSums) { s.addScaled(o, 1) }

func (s *OutcomeSums) addScaled(o OutcomeSums, k int64) {
	dst, src := s.fields(), o.fields()
	for i := range dst {
		*dst[i] += k * *src[i]
	}
}

// GivenProduct is the product an order ended on and how valuerx knows: "administered",
// "signed", or "" when neither was recorded.
func (o OrderRecord) GivenProduct() (string, string) {
	if o.Administrations > 0 && o.AdministeredProductID != "" {
		return o.AdministeredProductID, "administered"
	}
	if o.SignedProductID != "" {
		return o.SignedProductID, "signed"
	}
	return "", ""
}

// CurrentProduct is the product the order stands on as far as the record knows: given, else the
// accepted suggestion, else the ordered product.
func (o OrderRecord) CurrentProduct() string {
	if p, _ := o.GivenProduct(); p != "" {
		return p
	}
	if o.Outcome == "accepted" && o.AcceptedProductID != "" {
		return o.AcceptedProductID
	}
	return o.OrderedProductID
}

// OptionOf returns the order's scored option for product.
func (o OrderRecord) OptionOf(product string) (Option, bool) {
	for _, op := range o.Options {
		if op.ProductID == product {
			return op, true
		}
	}
	return Option{}, false
}

// Relationship is product's relationship within the order's family ("" when the record does not say).
func (o OrderRecord) Relationship(product string) string {
	if product == o.OrderedProductID {
		return o.OrderedRelationship
	}
	if op, ok := o.OptionOf(product); ok {
		return op.Relationship
	}
	return ""
}

// Biosimilar reports whether rel is a biosimilar's (interchangeable ones included).
func Biosimilar(rel string) bool { return rel == "biosimilar" || rel == "interchangeable" }

// BiologicFamily reports whether the order's family has a reference product and biosimilars, so
// that a biosimilar share of its new starts means something.
func (o OrderRecord) BiologicFamily() bool {
	if o.OrderedRelationship == "reference" || Biosimilar(o.OrderedRelationship) {
		return true
	}
	for _, op := range o.Options {
		if Biosimilar(op.Relationship) {
			return true
		}
	}
	return false
}

// OutcomeFigures are the order's stages, projected and realised figures per year, paid amount
// and new start (everything of OutcomeSums but the divergence, which DivergenceOf gives).
func (o OrderRecord) OutcomeFigures() OutcomeSums {
	var s OutcomeSums
	if o.ScoreRequested {
		s.DivRequests++
	}
	if o.Therapy == TherapyNewStart && o.BiologicFamily() {
		s.NewStarts++
		if Biosimilar(o.Relationship(o.CurrentProduct())) {
			s.NewStartsBiosimilar++
		}
	}
	if o.ClaimLines > 0 {
		// Paid: the payer paid something net; a claim denied (0) or reversed in full counts no
		// payment (finance review, 3 December 2026: a line and its reversal counted as paid).
		if Micro(o.PaidUSD) > 0 {
			s.Paid++
		}
		s.PaidUSD += Micro(o.PaidUSD)
	}
	if o.SignedProductID != "" {
		s.Signed++
	}
	if o.Administrations > 0 {
		s.Administered++
	}
	if !o.Card() {
		return s
	}
	if o.Outcome == "accepted" {
		s.ProjPayerY, s.ProjPatientY, s.ProjOrgY = Micro(o.PayerSavedYear), Micro(o.PatientSavedYear), Micro(o.OrgImpactYear)
	}
	p, how := o.GivenProduct()
	if how == "" {
		return s // accepted or not, never signed nor given: projected only
	}
	if o.PaidProductID != "" {
		// The payer's saving is on what it paid for: a card accepted and signed onto the
		// biosimilar but billed and paid as the reference product realised nothing (finance
		// review, 3 December 2026).
		p = o.PaidProductID
	}
	s.Realised++
	switch o.Outcome {
	case "overridden":
		s.RealisedOverridden++
	case "":
		s.RealisedUnanswered++
	}
	if p == o.OrderedProductID {
		return s // signed or given as ordered: nothing saved
	}
	op, ok := o.OptionOf(p)
	if !ok || !op.priced() {
		// A product the card did not score (another family), or scored without a price (not in
		// the book for the period): not priced, not a switch at a saving of 0.
		s.RealisedUnpriced++
		return s
	}
	s.RealisedSwitched++
	s.RealPayerY, s.RealPatientY, s.RealOrgY = Micro(op.PerYear.Payer), Micro(op.PerYear.Patient), Micro(op.PerYear.Org)
	return s
}

// PairSums are one (FFS contract, value-based contract) pair's divergence figures of one order,
// or sums of them: orders compared, diverged, and what following the value-based answer was
// worth on the diverging ones per year of therapy, under the value-based contract's figures
// (micro-dollars).
type PairSums struct {
	FFS, ValueBased, Arrangement string
	Orders, Diverged             int64
	Payer, Org                   int64
}

// Sums is what an order whose request is in state ds adds to the divergence report: DivergenceOf
// its answers, or one not-scored order of its reason.
func (ds DivergenceState) Sums() (OutcomeSums, []PairSums) {
	var s OutcomeSums
	switch ds.NotScored {
	case "":
		return DivergenceOf(ds.Answers)
	case DivNotScoredConfig:
		s.DivNotScoredConfig = 1
	case DivNotScoredCatalog:
		s.DivNotScoredCatalog = 1
	default:
		s.DivNotScoredFailed = 1
	}
	return s, nil
}

// DivergenceOf is what an order with answers adds to the divergence report (tracking/divergence.go
// says how it counts): the order, whether it is comparable and diverged (in an OutcomeSums), and
// each of its (FFS, value-based) pairs. Nothing without answers.
func DivergenceOf(answers []Answer) (OutcomeSums, []PairSums) {
	var s OutcomeSums
	if len(answers) == 0 {
		return s, nil
	}
	s.DivOrders = 1
	var ffs, vb []Answer
	for _, a := range answers {
		if a.Arrangement == "ffs" {
			ffs = append(ffs, a)
		} else {
			vb = append(vb, a)
		}
	}
	if len(ffs) == 0 || len(vb) == 0 {
		return s, nil
	}
	s.DivComparable = 1
	pairs := make([]PairSums, 0, len(ffs)*len(vb))
	for _, f := range ffs {
		for _, v := range vb {
			p := PairSums{FFS: f.ContractID, ValueBased: v.ContractID, Arrangement: v.Arrangement, Orders: 1}
			if f.BestProductID != v.BestProductID {
				s.DivDiverged = 1
				p.Diverged = 1
				fy, okf := v.Year[f.BestProductID]
				vy, okv := v.Year[v.BestProductID]
				if okf && okv {
					p.Payer, p.Org = Micro(PairPayerSaving(fy, vy)), Micro(vy.NetImpact-fy.NetImpact)
				}
			}
			pairs = append(pairs, p)
		}
	}
	return s, pairs
}
