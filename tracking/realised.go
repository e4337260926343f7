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
//
// The per-order rules are store.OrderRecord.OutcomeFigures, shared with the rollup's cubes, so
// the report over orders and the report over the cubes count alike.

// add adds o's stages, realised and paid figures and adoption to r.
func (r *OutcomeRow) add(o store.OrderRecord) {
	r.Orders++
	if o.Card() {
		r.Cards++
		if o.Outcome == "accepted" {
			r.Accepted++
		}
	} else {
		r.NoCard++
	}
	r.sums.Add(o.OutcomeFigures())
}
