package store

import (
	"testing"
	"time"
)

// Finance review, 6 December 2026: a Herceptin order accepted on Hercessi at order-select
// (chainRows: 300 a course, 3,000 a year), its order-sign card on Hercessi overridden
// (patient-declines), and then the order put back on Herceptin and signed again (a new order-sign
// decision on Herceptin: its card, offering Hercessi and Trazimera, never answered). The order was
// signed as the product first ordered: no switch was made. It is not an accepted switch
// projecting 450 a course and 4,500 a year (the chain's worth at the sign card's dose) and
// realising 0; the clinician's last answer was the override, and the order counts as overridden,
// projecting 0, with its reason tallied, as it did before the chain was taken as an acceptance.
func TestChainAcceptedAtSelectOverriddenAtSignThenRevertedIsNoSwitch(t *testing.T) {
	rows := chainRows("overridden")
	re := rows[1].Decision
	re.CardUUID, re.OrderedProductID, re.OrderedRelationship = "resign", "herceptin", "reference"
	re.At = re.At.Add(10 * time.Minute)
	re.Suggestions = []Suggestion{{UUID: "resign-h", ProductID: "hercessi", PayerSaving: 450, PerYear: Saving{Payer: 4500}}}
	re.Options = []Option{{ProductID: "hercessi", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 450}, PerYear: Saving{Payer: 4500}}}
	rows = append(rows, DecisionRow{Decision: re})
	o := AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})[0]
	if o.SignedProductID != "herceptin" {
		t.Fatalf("signed %q, want herceptin (the re-signed order)", o.SignedProductID)
	}
	if o.Outcome != "overridden" || o.ReasonCode != "patient-declines" || o.PayerSaved != 0 || o.PayerSavedYear != 0 {
		t.Errorf("signed back on Herceptin: outcome %q reason %q projected %.2f a course, %.2f a year; want overridden, patient-declines, 0 and 0",
			o.Outcome, o.ReasonCode, o.PayerSaved, o.PayerSavedYear)
	}
	if s := o.OutcomeFigures(); s.ProjPayerY != 0 || s.RealPayerY != 0 {
		t.Errorf("projected %d, realised %d micro-dollars a year; want 0 and 0", s.ProjPayerY, s.RealPayerY)
	}
}

// Three cards: Herceptin accepted on Hercessi at order-select (300), the order (now Hercessi)
// accepted on Trazimera at a second order-select priced alike (200 a course, 2,000 a year), the
// order-sign card on Trazimera (offering Kanjinti) overridden. An accepted switch Herceptin ->
// Trazimera: 500 a course, 5,000 a year (the sign card's Herceptin option, -500, negated: the
// chain's 300 + 200 agree), on the second select card's suggestion.
func TestThreeCardChainOverriddenAtSign(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	base := func(card, hook, ordered string, at time.Time) Decision {
		return Decision{CardUUID: card, Hook: hook, Client: "a", OrderKey: "k1", ContractID: "mssp-aco", Arrangement: "two-sided",
			GroupID: "trastuzumab", OrderedProductID: ordered, PricePeriod: "cms-asp-2026q1", AdministrationsPerYear: 10, At: at}
	}
	s1 := base("s1", "order-select", "herceptin", t0)
	s1.OrderedRelationship = "reference"
	s1.Suggestions = []Suggestion{{UUID: "s1-h", ProductID: "hercessi", PayerSaving: 300, PerYear: Saving{Payer: 3000}}}
	s1.Options = []Option{{ProductID: "hercessi", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 300}, PerYear: Saving{Payer: 3000}}}
	s2 := base("s2", "order-select", "hercessi", t0.Add(5*time.Minute))
	s2.OrderedRelationship = "biosimilar"
	s2.Suggestions = []Suggestion{{UUID: "s2-k", ProductID: "kanjinti", PayerSaving: 50, PerYear: Saving{Payer: 500}},
		{UUID: "s2-t", ProductID: "trazimera", PayerSaving: 200, PerYear: Saving{Payer: 2000}}}
	s2.Options = []Option{{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 200}, PerYear: Saving{Payer: 2000}},
		{ProductID: "herceptin", Relationship: "reference", PerCourse: Saving{Payer: -300}, PerYear: Saving{Payer: -3000}}}
	sg := base("sg", "order-sign", "trazimera", t0.Add(10*time.Minute))
	sg.OrderedRelationship = "biosimilar"
	sg.Suggestions = []Suggestion{{UUID: "sg-k", ProductID: "kanjinti", PayerSaving: 10, PerYear: Saving{Payer: 100}}}
	sg.Options = []Option{{ProductID: "kanjinti", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 10}, PerYear: Saving{Payer: 100}},
		{ProductID: "herceptin", Relationship: "reference", PerCourse: Saving{Payer: -500}, PerYear: Saving{Payer: -5000}}}
	fb := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	rows := []DecisionRow{
		{Decision: s1, Outcome: "accepted", SuggestionUUID: "s1-h", FeedbackAt: fb(1), FeedbackReceived: fb(1)},
		{Decision: s2, Outcome: "accepted", SuggestionUUID: "s2-t", FeedbackAt: fb(6), FeedbackReceived: fb(6)},
		{Decision: sg, Outcome: "overridden", ReasonCode: "clinical-reason", FeedbackAt: fb(11), FeedbackReceived: fb(11)},
	}
	o := AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})[0]
	if o.Outcome != "accepted" || o.OrderedProductID != "herceptin" || o.AcceptedProductID != "trazimera" ||
		o.AcceptedSuggestionUUID != "s2-t" || o.AcceptedSuggestion != 2 || o.ReasonCode != "clinical-reason" {
		t.Fatalf("%+v", o)
	}
	if o.PayerSaved != 500 || o.PayerSavedYear != 5000 {
		t.Errorf("projected %.2f / %.2f; want 500 a course, 5,000 a year", o.PayerSaved, o.PayerSavedYear)
	}
	o.SignedProductID = "trazimera"
	if s := o.OutcomeFigures(); s.ProjPayerY != Micro(5000) || s.RealPayerY != Micro(5000) {
		t.Errorf("projected %d realised %d; want 5,000 both", s.ProjPayerY, s.RealPayerY)
	}
}
