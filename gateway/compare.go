package gateway

import (
	"regexp"
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

// dashboardLinkOwner owns the comparisons the dashboard's drill-down links to (web.Links keeps
// each owner's apart; the hooks' are their clients', which are issuer URLs and cannot hold a NUL).
const dashboardLinkOwner = "\x00dashboard"

// linkComparison stores the card's comparison (once per built card, among client's own: another
// client's hooks cannot evict it) and puts a freshly signed link to it on the card: in the
// detail's "Full comparison" line and as the card's first link.
func (g *Gateway) linkComparison(client string, card *cdshooks.Card, page web.ID, eng *engine, item orderedItem, res scoring.Result,
	group scoring.Group, pol *scoring.Policy, products []string, historyKnown bool) string {
	ref := g.links.Issue(client, page, func() *web.Comparison {
		c := &web.Comparison{Result: res, Catalog: eng.cat, Assumptions: assumptionsOf(res),
			PricedAs: withoutMeasurements(pricedAs(item, res, group)), OrderNotes: withoutMeasurements(item.doseNotes), HistoryKnown: historyKnown, Built: g.cfg.Now()}
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

// The dose basis on a card quotes the patient's weight, height and the date they were measured
// (clinical.Dose writes "6 mg/kg x 70 kg (body weight of 2026-01-20)"): right inside the EHR,
// but the comparison page is opened by link, without the EHR's login, and a measurement date tied
// to a person is an identifier (HIPAA Safe Harbor). The page keeps how the dose was reached and
// drops the measurements (issue 11 review).
var (
	weightBasis = regexp.MustCompile(` x [0-9.]+ kg \(body weight(?: of \d{4}-\d{2}-\d{2}|, undated)\)`)
	bsaBasis    = regexp.MustCompile(` \(Mosteller: [0-9.]+ cm, [0-9.]+ kg(?:, weight of \d{4}-\d{2}-\d{2}|, weight undated)\)`)
	anyDate     = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)
)

// withoutMeasurements is lines with the patient's measurements and any date taken out.
func withoutMeasurements(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = weightBasis.ReplaceAllString(l, " x the body weight on record")
		l = bsaBasis.ReplaceAllString(l, " (Mosteller, from the height and weight on record)")
		l = anyDate.ReplaceAllString(l, "(date withheld)")
		out = append(out, l)
	}
	return out
}
