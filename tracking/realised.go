package tracking

import "valuerx/store"

// From offer to realised saving (issue 16 item 2), per order:
//
//   - projected: the accepted suggestion's own figures against the ordered product, per course
//     (PayerSavedUSD, ...) and per year of therapy (ProjectedPayerSavedPerYearUSD, ...);
//   - realised: only orders that were signed (an order-sign of the same draft order was seen) or
//     administered (a completed MedicationAdministration joined to the order), priced per year
//     of therapy at the figures of the product actually given (administered, else signed) from
//     the options the card offered. An order signed on the ordered product realises 0; an order
//     accepted but never signed realises nothing and stays projected. Orders that got no card are
//     not counted as realised savings (valuerx advised nothing on them), whatever was signed.
//     The product given decides, not the click: an overridden or unanswered card whose order was
//     given (or signed as) a cheaper product the card priced realises that saving, and is
//     counted apart (RealisedOverridden, RealisedUnanswered) so the report shows it. Only
//     administrations dated between the order's first card and their import count
//     (store.AdministrationCounts);
//   - paid: the paid amount of claim lines joined to the order, beside the figures.

// givenProduct is the product an order ended on and how valuerx knows: "administered",
// "signed", or "" when neither was recorded.
func givenProduct(o store.OrderRecord) (string, string) {
	if o.Administrations > 0 && o.AdministeredProductID != "" {
		return o.AdministeredProductID, "administered"
	}
	if o.SignedProductID != "" {
		return o.SignedProductID, "signed"
	}
	return "", ""
}

// currentProduct is the product the order stands on as far as the record knows: given, else the
// accepted suggestion, else the ordered product.
func currentProduct(o store.OrderRecord) string {
	if p, _ := givenProduct(o); p != "" {
		return p
	}
	if o.Outcome == "accepted" && o.AcceptedProductID != "" {
		return o.AcceptedProductID
	}
	return o.OrderedProductID
}

func optionOf(o store.OrderRecord, product string) (store.Option, bool) {
	for _, op := range o.Options {
		if op.ProductID == product {
			return op, true
		}
	}
	return store.Option{}, false
}

// relationship of product within the order's family ("" when the record does not say).
func relationship(o store.OrderRecord, product string) string {
	if product == o.OrderedProductID {
		return o.OrderedRelationship
	}
	if op, ok := optionOf(o, product); ok {
		return op.Relationship
	}
	return ""
}

func biosimilar(rel string) bool { return rel == "biosimilar" || rel == "interchangeable" }

// biologicFamily reports whether the order's family has a reference product and biosimilars, so
// that a biosimilar share of its new starts means something.
func biologicFamily(o store.OrderRecord) bool {
	if o.OrderedRelationship == "reference" || biosimilar(o.OrderedRelationship) {
		return true
	}
	for _, op := range o.Options {
		if biosimilar(op.Relationship) {
			return true
		}
	}
	return false
}

// add adds o's stages, realised and paid figures and adoption to r.
func (r *OutcomeRow) add(o store.OrderRecord) {
	r.Orders++
	if o.Card() {
		r.Cards++
	} else {
		r.NoCard++
	}
	if o.Therapy == store.TherapyNewStart && biologicFamily(o) {
		r.NewStarts++
		if biosimilar(relationship(o, currentProduct(o))) {
			r.NewStartsBiosimilar++
		}
	}
	if o.ClaimLines > 0 {
		r.Paid++
		r.paid += store.Micro(o.PaidUSD)
	}
	if o.SignedProductID != "" {
		r.Signed++
	}
	if o.Administrations > 0 {
		r.Administered++
	}
	if !o.Card() {
		return
	}
	if o.Outcome == "accepted" {
		r.Accepted++
		r.projPayerY += store.Micro(o.PayerSavedYear)
		r.projPatientY += store.Micro(o.PatientSavedYear)
		r.projOrgY += store.Micro(o.OrgImpactYear)
	}
	p, how := givenProduct(o)
	if how == "" {
		return // accepted or not, never signed nor given: projected only
	}
	r.RealisedOrders++
	switch o.Outcome {
	case "overridden":
		r.RealisedOverridden++
	case "":
		r.RealisedUnanswered++
	}
	if p == o.OrderedProductID {
		return // signed or given as ordered: nothing saved
	}
	op, ok := optionOf(o, p)
	if !ok {
		r.RealisedUnpriced++ // a product the card did not score (another family): not priced
		return
	}
	r.RealisedSwitched++
	r.realPayerY += store.Micro(op.PerYear.Payer)
	r.realPatientY += store.Micro(op.PerYear.Patient)
	r.realOrgY += store.Micro(op.PerYear.Org)
}
