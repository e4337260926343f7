package gateway

import (
	"net/http"
	"regexp"
	"testing"
)

// README ("Chained acceptances"): an order accepted on Hercessi at order-select whose order-sign
// card is overridden counts as the accepted switch, and "the later card's decline stays that
// card's feedback, on the decision page". The sign card's page must then say that this card was
// overridden (patient-declines); it said "accepted: Hercessi", a product the card never offered,
// and the decline, with its reason, was shown nowhere.
func TestChainOverriddenSignCardPageShowsItsDecline(t *testing.T) {
	e := newEnv(t)
	sel := e.demoRequest("aco-herceptin-order-select")
	a := e.hook("order-select", sel).Cards[0]
	e.feedback("order-select", map[string]any{"card": a.UUID, "outcome": "accepted",
		"acceptedSuggestions": []any{map[string]any{"id": a.Suggestions[2].UUID}}})
	sign := e.hook("order-sign", withDraft(t, e.demoRequest("aco-herceptin-order-sign-noprefetch"), a.Suggestions[2].Actions[0].Resource, ""))
	if len(sign.Cards) != 1 {
		t.Fatalf("order-sign on Hercessi: %+v", sign.Cards)
	}
	b := sign.Cards[0]
	e.feedback("order-sign", map[string]any{"card": b.UUID, "outcome": "overridden",
		"overrideReason": map[string]any{"reason": map[string]any{"code": "patient-declines", "system": overrideSystem}}})

	outcome := regexp.MustCompile(`<dd id="decision-outcome">([^<]*)</dd>`)
	page := func(card string) string {
		st, body, _ := e.do(http.MethodGet, "/analytics/decisions/"+card, nil, analystHeader())
		if st != http.StatusOK {
			t.Fatalf("decision page %s: %d %s", card, st, body)
		}
		m := outcome.FindSubmatch(body)
		if m == nil {
			t.Fatalf("decision page %s: no outcome in %s", card, body)
		}
		return string(m[1])
	}
	if got := page(b.UUID); !regexp.MustCompile(`overridden.*patient-declines`).MatchString(got) {
		t.Errorf("order-sign card page: outcome %q; want the card's own override (patient-declines)", got)
	}
	if got := page(a.UUID); !regexp.MustCompile(`^accepted`).MatchString(got) {
		t.Errorf("order-select card page: outcome %q; want accepted", got)
	}
}
