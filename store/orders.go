package store

import (
	"math"
	"sort"
	"time"
)

// DecisionRow is one decision with the latest feedback on it (by clamped outcome time, then
// arrival), as an implementation reads it for Orders. The assembly of orders from such rows is
// shared by every implementation (AssembleOrders), so SQLite and PostgreSQL count alike.
type DecisionRow struct {
	Decision Decision
	// Outcome is "accepted", "overridden" or "" (no feedback on this decision).
	Outcome          string
	ReasonCode       string
	SuggestionUUID   string
	FeedbackAt       time.Time
	FeedbackReceived time.Time
}

// AssembleOrders turns decisions (each with its latest feedback), imported administrations and
// claims, and computed divergence (by card uuid) into one record per order first seen in
// [from, to) (zero bounds: open), sorted by first time, contract and ordered product.
//
// The joins (README "The programme report"): the decisions of one (client, order key) are one
// order; its cards are decided by the latest feedback on any of them (a card with feedback
// beats one without; between two without, the later card); the offering decision is that
// deciding card, or the order's first decision when no card was shown. The signed product is
// that of the order's latest order-sign decision (the accepted product when that very card was
// accepted). Administrations and claims join on the same (client, order key). A decision without
// an order key (no draft order id) is an order of its own.
func AssembleOrders(rows []DecisionRow, admins []Administration, claims []Claim, divs map[string]DivergenceState, from, to time.Time) []OrderRecord {
	type acc struct {
		first, firstCard, deciding, latest, sign *DecisionRow
		cards                                    int
		cardRows                                 []*DecisionRow
	}
	orders := map[[2]string]*acc{}
	keys := make([][2]string, 0)
	for i := range rows {
		r := &rows[i]
		d := &r.Decision
		k := [2]string{d.Client, d.OrderKey}
		if d.OrderKey == "" {
			k = [2]string{"\x00card", d.CardUUID}
		}
		a := orders[k]
		if a == nil {
			a = &acc{}
			orders[k] = a
			keys = append(keys, k)
		}
		if a.first == nil || d.At.Before(a.first.Decision.At) || (d.At.Equal(a.first.Decision.At) && d.CardUUID < a.first.Decision.CardUUID) {
			a.first = r
		}
		if a.latest == nil || d.At.After(a.latest.Decision.At) {
			a.latest = r
		}
		if d.Hook == "order-sign" && (a.sign == nil || d.At.After(a.sign.Decision.At)) {
			a.sign = r
		}
		if d.NoCardReason == "" {
			a.cards++
			a.cardRows = append(a.cardRows, r)
			if a.firstCard == nil || d.At.Before(a.firstCard.Decision.At) {
				a.firstCard = r
			}
			if a.deciding == nil || decidesRow(r, a.deciding) {
				a.deciding = r
			}
		}
	}
	// Completed administrations per order, counted below only inside the order's window
	// (AdministrationCounts).
	adm := map[[2]string][]Administration{}
	for _, x := range admins {
		if x.Status != "completed" {
			continue
		}
		k := [2]string{x.Client, x.OrderKey}
		adm[k] = append(adm[k], x)
	}
	type productPaid struct {
		paid   float64
		latest time.Time
	}
	type paid struct {
		n             int
		paid, allowed float64
		byProduct     map[string]*productPaid
	}
	cl := map[[2]string]*paid{}
	for _, c := range claims {
		k := [2]string{c.Client, c.OrderKey}
		p := cl[k]
		if p == nil {
			p = &paid{}
			cl[k] = p
		}
		p.n++
		p.paid += c.PaidUSD
		p.allowed += c.AllowedUSD
		if c.ProductID != "" {
			if p.byProduct == nil {
				p.byProduct = map[string]*productPaid{}
			}
			pp := p.byProduct[c.ProductID]
			if pp == nil {
				pp = &productPaid{}
				p.byProduct[c.ProductID] = pp
			}
			pp.paid += c.PaidUSD
			if c.ServiceDate.After(pp.latest) {
				pp.latest = c.ServiceDate
			}
		}
	}
	// paidProduct: of the products paid for net, the latest by service date (ties: the larger
	// payment, then the product id, so that the answer does not depend on the rows' order).
	paidProduct := func(p *paid) string {
		best, bestPP := "", (*productPaid)(nil)
		for id, pp := range p.byProduct {
			if Micro(pp.paid) <= 0 {
				continue
			}
			switch {
			case bestPP == nil, pp.latest.After(bestPP.latest),
				pp.latest.Equal(bestPP.latest) && (pp.paid > bestPP.paid || pp.paid == bestPP.paid && id < best):
				best, bestPP = id, pp
			}
		}
		return best
	}

	out := make([]OrderRecord, 0, len(orders))
	for _, k := range keys {
		a := orders[k]
		firstAt := a.first.Decision.At
		if (!from.IsZero() && firstAt.Before(from)) || (!to.IsZero() && !firstAt.Before(to)) {
			continue
		}
		offer := a.first
		if a.deciding != nil {
			offer = a.deciding
		}
		d := &offer.Decision
		o := OrderRecord{Client: d.Client, ServiceID: d.ServiceID, ContractID: d.ContractID, Arrangement: d.Arrangement,
			GroupID: d.GroupID, OrderedProductID: d.OrderedProductID, Prescriber: d.UserID, FirstAt: firstAt,
			Tenant: d.Tenant, Location: d.Location, Therapy: a.first.Decision.Therapy,
			PricePeriod: d.PricePeriod, CatalogVersion: d.CatalogVersion, OrderedRelationship: d.OrderedRelationship,
			Options: d.Options, Answers: divs[d.CardUUID].Answers, DivergenceNotScored: divs[d.CardUUID].NotScored,
			ScoreRequested: len(d.ScoreRequest) > 0}
		if o.Therapy == "" {
			o.Therapy = d.Therapy
		}
		var chain chained
		if a.deciding != nil {
			chain = chainOf(a.cardRows, a.deciding)
			if chain.origin != nil {
				// The order is on a product an earlier card of it had accepted: what it is worth is
				// counted from the product first ordered (finance review F5).
				o.OrderedProductID, o.OrderedRelationship = chain.origin.OrderedProductID, chain.origin.OrderedRelationship
				o.Options = chain.shift(d)
			}
			o.RecommendedProductID = d.BestProductID
			o.Outcome = offer.Outcome
			switch offer.Outcome {
			case "accepted":
				o.AcceptedSuggestionUUID = offer.SuggestionUUID
				o.AcceptedProductID = d.BestProductID
				o.PayerSaved, o.PatientSaved, o.OrgImpact = d.PayerSaving, d.PatientSaving, d.OrgImpact
				for i, sg := range d.Suggestions {
					if sg.UUID != offer.SuggestionUUID {
						continue
					}
					o.AcceptedSuggestion = i + 1
					if sg.ProductID != "" {
						// Book the accepted suggestion's own figures (issue 10 item 7); a v1
						// suggestion stored without a product books the card's.
						o.AcceptedProductID = sg.ProductID
						o.PayerSaved, o.PatientSaved, o.OrgImpact = sg.PayerSaving, sg.PatientSaving, sg.OrgImpact
					}
					y := sg.PerYear
					if y == (Saving{}) {
						if op, ok := optionFor(d.Options, sg.ProductID); ok {
							y = op.PerYear
						}
					}
					o.PayerSavedYear, o.PatientSavedYear, o.OrgImpactYear = y.Payer, y.Patient, y.Org
				}
				if chain.origin != nil {
					o.PayerSaved, o.PatientSaved, o.OrgImpact = o.PayerSaved+chain.course.Payer, o.PatientSaved+chain.course.Patient, o.OrgImpact+chain.course.Org
					o.PayerSavedYear, o.PatientSavedYear, o.OrgImpactYear = o.PayerSavedYear+chain.year.Payer, o.PatientSavedYear+chain.year.Patient, o.OrgImpactYear+chain.year.Org
				}
			case "overridden":
				o.ReasonCode = offer.ReasonCode
				// An order put back on another product after the override (re-signed as the
				// Herceptin first ordered: its latest decision is not on the accepted product)
				// made no switch, and the override, the clinician's last answer, stands (finance
				// review, 6 December 2026: it projected the chain and realised 0).
				if chain.origin != nil && a.latest.Decision.OrderedProductID == d.OrderedProductID {
					// The order stays on the product an earlier card of it accepted (Herceptin
					// accepted on Hercessi at order-select; the sign card's Trazimera declined): it is
					// an accepted switch, worth what the chain is from the product first ordered,
					// not an override worth nothing (finance review, 3 December 2026: it projected 0
					// and realised the switch as "overridden"). The later card's decline is its own
					// feedback, on the decision page: ReasonCode keeps its reason (the deciding
					// card's, none of whose suggestions is AcceptedSuggestionUUID), which the
					// tallies, counting the reasons of overridden orders only, do not count.
					o.Outcome = "accepted"
					o.AcceptedSuggestionUUID, o.AcceptedSuggestion = chain.lastUUID, chain.lastIndex
					o.AcceptedProductID = d.OrderedProductID
					o.PayerSaved, o.PatientSaved, o.OrgImpact = chain.course.Payer, chain.course.Patient, chain.course.Org
					o.PayerSavedYear, o.PatientSavedYear, o.OrgImpactYear = chain.year.Payer, chain.year.Patient, chain.year.Org
				}
			}
		} else {
			o.NoCardReason = a.latest.Decision.NoCardReason
			if o.NoCardReason == "" {
				o.NoCardReason = "unknown"
			}
		}
		if s := a.sign; s != nil {
			o.SignedProductID, o.SignedAt = s.Decision.OrderedProductID, s.Decision.At
			if s.Decision.NoCardReason == "" && s.Outcome == "accepted" {
				for _, sg := range s.Decision.Suggestions {
					if sg.UUID == s.SuggestionUUID && sg.ProductID != "" {
						o.SignedProductID = sg.ProductID
					}
				}
			}
		}
		if as := adm[[2]string{d.Client, d.OrderKey}]; len(as) > 0 && d.OrderKey != "" {
			since := a.first.Decision.At
			if a.firstCard != nil {
				since = a.firstCard.Decision.At
			}
			var last time.Time
			lastKey := ""
			for _, x := range as {
				if !AdministrationCounts(x, since) {
					o.AdministrationsOutOfWindow++
					continue
				}
				o.Administrations++
				if o.FirstAdministeredAt.IsZero() || x.At.Before(o.FirstAdministeredAt) {
					o.FirstAdministeredAt = x.At
				}
				// The latest dose decides; of two at the same time the larger key, so that the
				// answer does not depend on the order the store returns them in.
				if x.At.After(last) || x.At.Equal(last) && x.Key >= lastKey {
					last, lastKey, o.AdministeredProductID = x.At, x.Key, x.ProductID
				}
			}
		}
		if p := cl[[2]string{d.Client, d.OrderKey}]; p != nil && d.OrderKey != "" {
			// Sums of float dollars, to the cent as claims are paid.
			o.ClaimLines, o.PaidUSD, o.AllowedUSD = p.n, math.Round(p.paid*100)/100, math.Round(p.allowed*100)/100
			o.PaidProductID = paidProduct(p)
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.FirstAt.Equal(b.FirstAt) {
			return a.FirstAt.Before(b.FirstAt)
		}
		if a.ContractID != b.ContractID {
			return a.ContractID < b.ContractID
		}
		return a.OrderedProductID < b.OrderedProductID
	})
	return out
}

// AdministrationSkew is how far past its import an administration's time may lie and still be
// taken as given (clocks of the EHR and of valuerx differ by seconds to minutes, not more).
const AdministrationSkew = 10 * time.Minute

// AdministrationCounts reports whether a completed administration joined to an order whose
// first card (or, without one, first decision) was at since counts as given (README "The
// programme report", realised savings): only between the order and its import. It may not lie
// before the UTC day before the card's (a FHIR effectiveDateTime may be a date without a time,
// read as midnight UTC, and the EHR's local date may be a day behind UTC), nor after its own
// import plus AdministrationSkew (a dose cannot be given after the export that reports it). An
// administration imported without an import time (none are: the imports set it) is bounded
// below only. Anything else, a 1990 dose for a draft order of 2026, is not this order's dose
// and would book savings valuerx did not make.
func AdministrationCounts(x Administration, since time.Time) bool {
	lo := since.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	if x.At.Before(lo) {
		return false
	}
	return x.ImportedAt.IsZero() || !x.At.After(x.ImportedAt.Add(AdministrationSkew))
}

// chained is what the accepted cards before an order's deciding card are worth, when the
// deciding card's order is on the product they accepted: accepted Kanjinti for a Herceptin order at
// order-select, the order-sign card of the same order (now on Kanjinti) then accepts Trazimera. The
// sign card's figures are against Kanjinti (60 a year, say), the order's saving is against the
// Herceptin first ordered (300): the acceptances add up, when they were priced alike.
type chained struct {
	origin       *Decision // the first card of the chain: the product first ordered; nil: no chain
	course, year Saving    // the chain's savings before the deciding card, per course and year
	// last is the acceptance the deciding card's order is on (the chain's latest card), by its
	// suggestion's uuid and place (1-based) on that card.
	lastUUID  string
	lastIndex int
}

// chainOf walks back from the deciding card d through the order's accepted cards: each one
// accepted, its accepted suggestion the product the next card's order is on, recorded before it;
// the latest such card at each step. What the chain is worth is counted on the deciding card's
// own figures: its option for the product first ordered, negated. When every card of the chain
// was priced under d's contract, price book and year of therapy and their acceptances add up to
// that figure (to the cents each recorded figure was rounded to), their exact sum counts instead;
// when d has no price for the product first ordered, the sum counts if they were priced alike,
// and there is no chain otherwise.
func chainOf(cards []*DecisionRow, d *DecisionRow) chained {
	var c chained
	at, steps, alike := d, 0, true
	for range cards { // each step goes back in time: at most one step per card
		var prev *DecisionRow
		var sg Suggestion
		place := 0
		for _, r := range cards {
			x, y := &r.Decision, &at.Decision
			if r.Outcome != "accepted" || !x.At.Before(y.At) || x.OrderedProductID == y.OrderedProductID ||
				(prev != nil && !x.At.After(prev.Decision.At)) {
				continue
			}
			for i, s := range x.Suggestions {
				if s.UUID == r.SuggestionUUID && s.ProductID == y.OrderedProductID {
					prev, sg, place = r, s, i+1
				}
			}
		}
		if prev == nil {
			break
		}
		if steps == 0 {
			c.lastUUID, c.lastIndex = sg.UUID, place
		}
		x := &prev.Decision
		alike = alike && x.ContractID == d.Decision.ContractID && x.PricePeriod == d.Decision.PricePeriod &&
			x.AdministrationsPerYear == d.Decision.AdministrationsPerYear
		y := sg.PerYear
		if y == (Saving{}) {
			if op, ok := optionFor(x.Options, sg.ProductID); ok {
				y = op.PerYear
			}
		}
		c.course = Saving{c.course.Payer + sg.PayerSaving, c.course.Patient + sg.PatientSaving, c.course.Org + sg.OrgImpact}
		c.year = Saving{c.year.Payer + y.Payer, c.year.Patient + y.Patient, c.year.Org + y.Org}
		c.origin, at = x, prev
		steps++
	}
	if c.origin == nil {
		return c
	}
	// Priced alike, the acceptances add up: Herceptin -> Hercessi plus Hercessi -> Trazimera is
	// Herceptin -> Trazimera. A dose changed between the cards (a clinician's edit before
	// signing), another price book (the select card on Q1's last minutes, the sign card on Q2's)
	// or contract (a coverage change) makes the sum a figure of two prices or doses; the deciding
	// card's own price of the product first ordered is the order's, so that the product first
	// ordered is worth nothing against itself.
	op, ok := optionFor(d.Decision.Options, c.origin.OrderedProductID)
	if !ok || !op.priced() {
		if !alike {
			return chained{}
		}
		return c
	}
	tol := 0.005*float64(steps+1) + 1e-9
	near := func(a, b Saving) bool {
		return math.Abs(a.Payer+b.Payer) <= tol && math.Abs(a.Patient+b.Patient) <= tol && math.Abs(a.Org+b.Org) <= tol
	}
	if !alike || !near(c.course, op.PerCourse) || !near(c.year, op.PerYear) {
		neg := func(s Saving) Saving { return Saving{-s.Payer, -s.Patient, -s.Org} }
		c.course, c.year = neg(op.PerCourse), neg(op.PerYear)
	}
	return c
}

// shift returns d's options counted from the chain's origin: each one's figures against d's
// ordered product plus the chain's, and d's ordered product itself at the chain's (the order
// given as it realises what the earlier acceptance was worth). The origin's own product, among
// d's options at minus the chain's figures, comes to zero.
func (c chained) shift(d *Decision) []Option {
	add := func(a, b Saving) Saving {
		return Saving{a.Payer + b.Payer, a.Patient + b.Patient, a.Org + b.Org}.Cents()
	}
	out := make([]Option, 0, len(d.Options)+1)
	for _, op := range d.Options {
		if !op.priced() {
			out = append(out, op) // not priced
			continue
		}
		op.PerCourse, op.PerYear = add(op.PerCourse, c.course), add(op.PerYear, c.year)
		out = append(out, op)
	}
	if _, ok := optionFor(d.Options, d.OrderedProductID); !ok {
		out = append(out, Option{ProductID: d.OrderedProductID, Relationship: d.OrderedRelationship, Eligible: true,
			PerCourse: c.course.Cents(), PerYear: c.year.Cents()})
	}
	return out
}

// OptionNotPriced is the exclusion of an option the price book or fee schedule has no price for
// (scoring.ExcludeNotPriced): recorded without figures.
const OptionNotPriced = "not-priced"

// priced reports whether op has figures: every option but one recorded as not priced. An option
// excluded for a clinical reason (off formulary, not labelled) is priced, and may be worth
// exactly nothing against the order (the same payment limit).
func (op Option) priced() bool {
	return !(op.Exclusion == OptionNotPriced && op.PerCourse == (Saving{}) && op.PerYear == (Saving{}))
}

func optionFor(opts []Option, product string) (Option, bool) {
	for _, op := range opts {
		if op.ProductID == product && product != "" {
			return op, true
		}
	}
	return Option{}, false
}

// decidesRow reports whether card r, rather than prev, stands for their order: a card with
// feedback beats one without; between two with feedback the later feedback wins; between two
// without, the later card.
func decidesRow(r, prev *DecisionRow) bool {
	switch {
	case r.Outcome != "" && prev.Outcome == "":
		return true
	case r.Outcome == "" && prev.Outcome != "":
		return false
	case r.Outcome != "":
		return later(r.FeedbackAt, r.FeedbackReceived, prev.FeedbackAt, prev.FeedbackReceived)
	}
	return r.Decision.At.After(prev.Decision.At)
}

// SummarizeOrders is the per-contract summary of orders that got a card (Store.Summary).
func SummarizeOrders(orders []OrderRecord) []ContractSummary {
	by := map[string]*ContractSummary{}
	// Each order's saving booked to the cent (CentsMicro) and summed exactly, as the programme
	// report books them: summed unrounded, two 2,962.125 orders read 5,924.25 here and 5,924.26
	// on the report (finance review, 6 December 2026).
	money := map[string]*[3]int64{}
	for _, r := range orders {
		if !r.Card() {
			continue
		}
		cs := by[r.ContractID]
		if cs == nil {
			cs = &ContractSummary{ContractID: r.ContractID, Arrangement: r.Arrangement, Overrides: map[string]int{}}
			by[r.ContractID] = cs
			money[r.ContractID] = &[3]int64{}
		}
		cs.Cards++
		switch r.Outcome {
		case "accepted":
			cs.Accepted++
			m := money[r.ContractID]
			m[0] += CentsMicro(r.PayerSaved)
			m[1] += CentsMicro(r.PatientSaved)
			m[2] += CentsMicro(r.OrgImpact)
		case "overridden":
			cs.Overridden++
			reason := r.ReasonCode
			if reason == "" {
				reason = "(no reason)"
			}
			if reason == ReasonFiguresWrong {
				cs.DataQualityFlags++
			}
			cs.Overrides[reason]++
		default:
			cs.NoFeedback++
		}
	}
	out := make([]ContractSummary, 0, len(by))
	for id, cs := range by {
		m := money[id]
		cs.PayerSaved, cs.PatientSaved, cs.OrgImpact = MicroToCents(m[0]), MicroToCents(m[1]), MicroToCents(m[2])
		if answered := cs.Accepted + cs.Overridden; answered > 0 {
			cs.Acceptance = float64(cs.Accepted) / float64(answered)
		}
		if len(cs.Overrides) == 0 {
			cs.Overrides = nil
		}
		out = append(out, *cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContractID < out[j].ContractID })
	return out
}
