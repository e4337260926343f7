package gateway

import (
	"slices"
	"strings"

	"valuerx/cdshooks"
	"valuerx/scoring"
	"valuerx/web"
)

// comparePath is where the comparison pages are served (package web). The page needs no
// analyst login: the signed, short-lived reference in its URL is the authorisation, and the page
// holds no patient data.
const comparePath = "/compare/"

// linkComparison stores the card's comparison (once per built card) and puts a freshly signed
// link to it on the card: in the detail's "Full comparison" line and as the card's first link.
func (g *Gateway) linkComparison(card *cdshooks.Card, page web.ID, eng *engine, item orderedItem, res scoring.Result,
	group scoring.Group, pol *scoring.Policy, products []string, historyKnown bool) string {
	ref := g.links.Issue(page, func() *web.Comparison {
		c := &web.Comparison{Result: res, Catalog: eng.cat, Assumptions: assumptionsOf(res),
			PricedAs: pricedAs(item, res, group), OrderNotes: item.doseNotes, HistoryKnown: historyKnown, Built: g.cfg.Now()}
		for _, p := range products {
			if p != "" && !slices.Contains(c.Suggested, p) {
				c.Suggested = append(c.Suggested, p)
			}
		}
		for _, id := range res.Indications {
			if ind, ok := pol.Indications().Indication(group.ID, id); ok && ind.Name != "" {
				c.IndicationNames = append(c.IndicationNames, ind.Name)
			} else {
				c.IndicationNames = append(c.IndicationNames, id)
			}
		}
		return c
	})
	url := g.cfg.ExternalURL + comparePath + ref
	applyCompareLink(card, url)
	return url
}

// applyCompareLink puts the comparison URL into the card's detail (at its marker) and as its
// first link. The card templates (cardenc.go) apply it with a placeholder URL.
func applyCompareLink(card *cdshooks.Card, url string) {
	card.Detail = strings.Replace(card.Detail, compareMarker, url, 1)
	card.Links = append([]cdshooks.Link{cdshooks.AbsoluteLink("Full comparison: every option, charts, sources", url)}, card.Links...)
}
