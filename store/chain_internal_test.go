package store

import (
	"math"
	"testing"
	"time"
)

// chainRows: a Herceptin order accepted on Hercessi at order-select (figures at dose 420 mg), its
// order-sign card on Hercessi at 600 mg (the prescriber changed the dose in between) accepted on
// Trazimera. Per course, hand-made figures (per year: ten times as much):
//
//	select at 420 mg: Herceptin -> Hercessi 300, -> Trazimera 500
//	sign at 600 mg:   Hercessi -> Herceptin -450 (Herceptin costs 450 more at 600 mg),
//	                  Hercessi -> Trazimera 300
//
// The order ended on Trazimera at 600 mg: from the Herceptin first ordered, at the dose signed, it
// saves 450 + 300 = 750 a course (7,500 a year), what the sign card's own figures say
// (Trazimera 300 minus Herceptin -450). Adding the select card's 300 (at 420 mg) books 600, and
// leaves Herceptin, the product first ordered, worth -150 against itself.
func chainRows(signOutcome string) []DecisionRow {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	base := func(card, hook, ordered string, at time.Time) Decision {
		return Decision{CardUUID: card, Hook: hook, Client: "a", OrderKey: "k1", ContractID: "mssp-aco", Arrangement: "two-sided",
			GroupID: "trastuzumab", OrderedProductID: ordered, PricePeriod: "cms-asp-2026q1", AdministrationsPerYear: 10, At: at}
	}
	sel := base("sel", "order-select", "herceptin", t0)
	sel.OrderedRelationship, sel.BestProductID = "reference", "trazimera"
	sel.Suggestions = []Suggestion{{UUID: "sel-t", ProductID: "trazimera", PayerSaving: 500, PerYear: Saving{Payer: 5000}},
		{UUID: "sel-h", ProductID: "hercessi", PayerSaving: 300, PerYear: Saving{Payer: 3000}}}
	sel.Options = []Option{{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 500}, PerYear: Saving{Payer: 5000}},
		{ProductID: "hercessi", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 300}, PerYear: Saving{Payer: 3000}}}
	sign := base("sign", "order-sign", "hercessi", t0.Add(10*time.Minute))
	sign.OrderedRelationship, sign.BestProductID = "biosimilar", "trazimera"
	sign.Suggestions = []Suggestion{{UUID: "sign-t", ProductID: "trazimera", PayerSaving: 300, PerYear: Saving{Payer: 3000}}}
	sign.Options = []Option{{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 300}, PerYear: Saving{Payer: 3000}},
		{ProductID: "herceptin", Relationship: "reference", PerCourse: Saving{Payer: -450}, PerYear: Saving{Payer: -4500}}}
	rows := []DecisionRow{
		{Decision: sel, Outcome: "accepted", SuggestionUUID: "sel-h", FeedbackAt: t0.Add(time.Minute), FeedbackReceived: t0.Add(time.Minute)},
		{Decision: sign, Outcome: signOutcome, FeedbackAt: t0.Add(11 * time.Minute), FeedbackReceived: t0.Add(11 * time.Minute)},
	}
	if signOutcome == "accepted" {
		rows[1].SuggestionUUID = "sign-t"
	} else {
		rows[1].ReasonCode = "patient-declines"
	}
	return rows
}

func TestChainAcrossADoseChangeCountsAtTheDoseSigned(t *testing.T) {
	recs := AssembleOrders(chainRows("accepted"), nil, nil, nil, time.Time{}, time.Time{})
	if len(recs) != 1 {
		t.Fatalf("%d orders, want one", len(recs))
	}
	o := recs[0]
	if o.OrderedProductID != "herceptin" || o.AcceptedProductID != "trazimera" {
		t.Fatalf("ordered %s accepted %s, want herceptin, trazimera", o.OrderedProductID, o.AcceptedProductID)
	}
	if math.Abs(o.PayerSaved-750) > 1e-9 || math.Abs(o.PayerSavedYear-7500) > 1e-9 {
		t.Errorf("payer %.2f a course, %.2f a year; want 750 and 7,500 (Herceptin -> Trazimera at 600 mg)", o.PayerSaved, o.PayerSavedYear)
	}
	if op, ok := o.OptionOf("herceptin"); !ok || op.PerCourse != (Saving{}) || op.PerYear != (Saving{}) {
		t.Errorf("the product first ordered is worth %+v / %+v against itself, want zero", op.PerCourse, op.PerYear)
	}
	if op, _ := o.OptionOf("trazimera"); op.PerYear.Payer != 7500 {
		t.Errorf("Trazimera realises %.2f a year, want 7,500 as projected", op.PerYear.Payer)
	}
}

// The sign card overridden, the order signed as Hercessi at 600 mg: it realises Herceptin ->
// Hercessi at 600 mg, 4,500 a year (the sign card's Herceptin option, negated), not the 3,000
// the select card priced at 420 mg.
func TestChainAcrossADoseChangeOverriddenAtSign(t *testing.T) {
	rows := chainRows("overridden")
	recs := AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})
	o := recs[0]
	o.SignedProductID = "hercessi"
	if op, ok := o.OptionOf("hercessi"); !ok || op.PerYear.Payer != 4500 {
		t.Errorf("Hercessi (the product signed) realises %+v, want 4,500 a year", op.PerYear)
	}
	if s := o.OutcomeFigures(); s.RealPayerY != Micro(4500) {
		t.Errorf("realised payer %d micro-dollars a year, want 4,500", s.RealPayerY)
	}
}

// The sign card overridden, the order still on the Hercessi order-select accepted: an accepted
// switch, projected as what it realises (Herceptin -> Hercessi at the dose signed: 450 a course,
// 4,500 a year, the sign card's Herceptin option negated), booked on the select card's suggestion,
// with no override reason. An override on an order no card switched stays an override worth
// nothing.
func TestChainAcceptedAtSelectOverriddenAtSignIsTheSwitch(t *testing.T) {
	o := AssembleOrders(chainRows("overridden"), nil, nil, nil, time.Time{}, time.Time{})[0]
	if o.Outcome != "accepted" || o.AcceptedProductID != "hercessi" || o.OrderedProductID != "herceptin" ||
		o.AcceptedSuggestionUUID != "sel-h" || o.AcceptedSuggestion != 2 || o.ReasonCode != "patient-declines" {
		t.Fatalf("outcome %q accepted %s (%q, #%d) ordered %s reason %q; want accepted hercessi (sel-h, #2) from herceptin, the sign card's reason kept",
			o.Outcome, o.AcceptedProductID, o.AcceptedSuggestionUUID, o.AcceptedSuggestion, o.OrderedProductID, o.ReasonCode)
	}
	if o.PayerSaved != 450 || o.PayerSavedYear != 4500 {
		t.Errorf("projected %.2f a course, %.2f a year; want 450 and 4,500", o.PayerSaved, o.PayerSavedYear)
	}
	o.SignedProductID = "hercessi"
	if s := o.OutcomeFigures(); s.ProjPayerY != Micro(4500) || s.RealPayerY != Micro(4500) {
		t.Errorf("projected %d, realised %d micro-dollars a year; want 4,500 both", s.ProjPayerY, s.RealPayerY)
	}

	rows := chainRows("overridden")
	rows[0].Outcome, rows[0].SuggestionUUID = "overridden", "" // select declined too: the order was never switched
	rows[1].Decision.OrderedProductID = "herceptin"
	o = AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})[0]
	if o.Outcome != "overridden" || o.ReasonCode != "patient-declines" || o.PayerSaved != 0 || o.PayerSavedYear != 0 {
		t.Errorf("never switched: outcome %q reason %q projected %.2f / %.2f; want overridden, patient-declines, 0", o.Outcome, o.ReasonCode, o.PayerSaved, o.PayerSavedYear)
	}
}

// An option priced alike to the product the order is on (its figures zero) but excluded for a
// clinical reason (off formulary here) is priced all the same: from the product first ordered it
// is worth what the chain is. Only "not-priced" options have no figures to shift. Same dose at
// both cards here: select Herceptin -> Hercessi 300 a course (3,000 a year); the sign card on
// Hercessi prices Herceptin at -300 (-3,000), Trazimera at 200, and "hercessi-b" (same payment
// limit as Hercessi, off formulary) at 0. Signed as hercessi-b: 3,000 a year realised, not 0.
func TestChainShiftsAPricedExcludedOptionWorthNothingAgainstTheOrder(t *testing.T) {
	rows := chainRows("overridden")
	sign := &rows[1].Decision
	sign.Suggestions = []Suggestion{{UUID: "sign-t", ProductID: "trazimera", PayerSaving: 200, PerYear: Saving{Payer: 2000}}}
	sign.Options = []Option{{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 200}, PerYear: Saving{Payer: 2000}},
		{ProductID: "herceptin", Relationship: "reference", PerCourse: Saving{Payer: -300}, PerYear: Saving{Payer: -3000}},
		{ProductID: "hercessi-b", Relationship: "biosimilar", Exclusion: "off-formulary"},
		{ProductID: "ogivri", Relationship: "biosimilar", Exclusion: "not-priced"}}
	o := AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})[0]
	if op, _ := o.OptionOf("hercessi-b"); op.PerYear.Payer != 3000 || op.PerCourse.Payer != 300 {
		t.Errorf("hercessi-b from Herceptin: %+v / %+v, want 300 a course, 3,000 a year", op.PerCourse, op.PerYear)
	}
	if op, _ := o.OptionOf("ogivri"); op.PerYear != (Saving{}) {
		t.Errorf("ogivri, not priced, got figures %+v", op.PerYear)
	}
}

// The price book changes between the cards (the select card on the last minutes of Q1, the sign
// card on Q2's book): the acceptances do not add up, but the sign card prices the Herceptin
// first ordered on its own book (Q2: Herceptin 320 a course more than Hercessi, Trazimera 310
// less). Counted from Herceptin on the sign card's book: 320 + 310 = 630 a course, 6,300 a year;
// overridden at sign and signed as Hercessi, 3,200 a year realised. Left unchained, the order
// books Hercessi -> Trazimera (310) as if Hercessi had been ordered, and realises 0 signed as
// Hercessi: the defect chaining was made for (finance review F5).
func TestChainAcrossAPriceBookCountsOnTheDecidingCardsBook(t *testing.T) {
	for _, outcome := range []string{"accepted", "overridden"} {
		rows := chainRows(outcome)
		sign := &rows[1].Decision
		sign.PricePeriod = "cms-asp-2026q2"
		sign.Suggestions = []Suggestion{{UUID: "sign-t", ProductID: "trazimera", PayerSaving: 310, PerYear: Saving{Payer: 3100}}}
		sign.Options = []Option{{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 310}, PerYear: Saving{Payer: 3100}},
			{ProductID: "herceptin", Relationship: "reference", PerCourse: Saving{Payer: -320}, PerYear: Saving{Payer: -3200}}}
		o := AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})[0]
		if o.OrderedProductID != "herceptin" {
			t.Errorf("%s: ordered %s, want herceptin, the product first ordered", outcome, o.OrderedProductID)
		}
		if outcome == "accepted" && (o.PayerSaved != 630 || o.PayerSavedYear != 6300) {
			t.Errorf("accepted: payer %.2f a course, %.2f a year; want 630 and 6,300", o.PayerSaved, o.PayerSavedYear)
		}
		if outcome == "overridden" {
			o.SignedProductID = "hercessi"
			if s := o.OutcomeFigures(); s.RealPayerY != Micro(3200) {
				t.Errorf("overridden, signed Hercessi: realised %d micro-dollars a year, want 3,200", s.RealPayerY)
			}
		}
	}
}

// An order given as a product the card recorded as not priced (no payment limit in the book) is
// realised "unpriced", as tracking.OutcomeRow says (RealisedSwitched: another product the card
// priced; RealisedUnpriced: one it did not), not switched at a saving of 0. Chained or not.
func TestGivenANotPricedOptionIsUnpriced(t *testing.T) {
	plain := OrderRecord{NoCardReason: "", Outcome: "accepted", OrderedProductID: "herceptin", SignedProductID: "ogivri",
		Options: []Option{{ProductID: "trazimera", PerYear: Saving{Payer: 5000}}, {ProductID: "ogivri", Exclusion: OptionNotPriced}}}
	rows := chainRows("overridden")
	rows[1].Decision.Options = append(rows[1].Decision.Options, Option{ProductID: "ogivri", Relationship: "biosimilar", Exclusion: OptionNotPriced})
	chained := AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})[0]
	chained.SignedProductID = "ogivri"
	for name, o := range map[string]OrderRecord{"plain": plain, "chained": chained} {
		if s := o.OutcomeFigures(); s.RealisedUnpriced != 1 || s.RealisedSwitched != 0 || s.RealPayerY != 0 {
			t.Errorf("%s: unpriced %d, switched %d, payer %d; want 1, 0, 0", name, s.RealisedUnpriced, s.RealisedSwitched, s.RealPayerY)
		}
	}
}
