package gateway

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"valuerx/cdshooks"
	"valuerx/internal/jsonfast"
	"valuerx/scoring"
)

// roundingOffer is a whole-vial dose the P&T policy allows for a card's product, with that
// product's figures at the rounded dose.
type roundingOffer struct {
	scoring.Rounding
	product  scoring.Product
	option   scoring.Option // the product scored at the rounded dose
	fromMg   float64
	payerCut float64 // per course, the payer's saving of rounding alone
}

// roundingFor scores the rounded dose of product under the same request; nil when the policy
// offers none.
func (g *Gateway) roundingFor(sc *scoring.Scorer, sreq scoring.Request, res scoring.Result, product scoring.Product, pct float64) *roundingOffer {
	r, ok := scoring.RoundToVials(product, res.DoseMg, pct)
	if !ok {
		return nil
	}
	rreq := sreq
	rreq.DoseMg = r.DoseMg
	if rreq.Administrations == 0 {
		rreq.Administrations = res.Administrations
	}
	rres, err := sc.Score(rreq) // the hook's own scorer: one catalog per hook
	if err != nil {
		return nil
	}
	// The last option of the product wins, the ordered one first (as the loops over
	// append([]Option{Ordered}, Options...) had it, without copying every option twice: 19 kB of
	// a 20-draft hook's allocations).
	var at *scoring.Option
	if o := &rres.Ordered; o.Product.ID == product.ID && o.Exclusion != scoring.ExcludeNotPriced {
		at = o
	}
	for i := range rres.Options {
		if o := &rres.Options[i]; o.Product.ID == product.ID && o.Exclusion != scoring.ExcludeNotPriced {
			at = o
		}
	}
	if at == nil {
		return nil
	}
	var none scoring.Option // a product absent from the unrounded result is cut from zero
	before := &none
	if res.Ordered.Product.ID == product.ID {
		before = &res.Ordered
	}
	for i := range res.Options {
		if res.Options[i].Product.ID == product.ID {
			before = &res.Options[i]
		}
	}
	return &roundingOffer{Rounding: r, product: product, option: *at, fromMg: res.DoseMg,
		payerCut: before.PerCourse.PayerAllowed - at.PerCourse.PayerAllowed}
}

func signedPct(v float64) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	if v > 0 {
		s = "+" + s
	}
	return s + "%"
}

// roundingLabel is the suggestion's label: as every suggestion's, product with its FDA suffix,
// dose, route and schedule, then the change ("Switch to Ruxience (rituximab-pvvr) 700 mg IV
// weekly, rounded -0.2% to whole vials").
func roundingLabel(ro *roundingOffer, sched string, switching bool, mid scoring.MidCourse) string {
	verb := "Round to"
	if switching {
		verb = "Switch to"
	}
	name := ro.product.Name
	if p := ro.product.ProperName; p != "" && !strings.EqualFold(p, name) {
		name += " (" + p + ")"
	}
	l := fmt.Sprintf("%s %s %s mg%s", verb, name, fmtMg(ro.DoseMg), routeAbbrev(ro.product.Route))
	if sched != "" {
		l += " " + sched
	}
	l += ", rounded " + signedPct(ro.ChangePct) + " to whole vials"
	if switching && mid == scoring.MidCourseNextCycle {
		l += ", from the next administration"
	}
	return l
}

// withRoundedDose sets the dose of the draft's maintenance instruction (the last one with a dose) to mg,
// written in mg, and says so in its text; every other member is kept.
func withRoundedDose(draft map[string]json.RawMessage, mg, fromMg, pct float64) (map[string]json.RawMessage, error) {
	var dis []map[string]any
	if err := jsonfast.Unmarshal(draft["dosageInstruction"], &dis); err != nil || len(dis) == 0 {
		return nil, fmt.Errorf("round dose: no dosage instruction")
	}
	idx := -1
	for i, di := range dis {
		if dr, ok := di["doseAndRate"].([]any); ok && len(dr) > 0 {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("round dose: no doseAndRate")
	}
	dr := dis[idx]["doseAndRate"].([]any)
	first, _ := dr[0].(map[string]any)
	if first == nil {
		first = map[string]any{}
	}
	delete(first, "doseRange")
	first["doseQuantity"] = map[string]any{"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
	dr[0] = first
	dis[idx]["doseAndRate"] = dr[:1]
	was, _ := dis[idx]["text"].(string)
	text := fmt.Sprintf("%s mg (rounded to whole vials from %s mg, %s, per the dose-rounding policy)", fmtMg(mg), fmtMg(fromMg), signedPct(pct))
	if was != "" {
		text += "; as ordered: " + was
	}
	dis[idx]["text"] = text
	b, err := json.Marshal(dis)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(draft))
	for k, v := range draft {
		out[k] = v
	}
	out["dosageInstruction"] = b
	return out, nil
}

// roundingCard is the card for an order with no better product but a whole-vial dose that saves
// the payer money (the ordered product, rounded): one suggestion, never applied silently.
func roundingCard(item orderedItem, res scoring.Result, ro *roundingOffer) (*cdshooks.Card, error) {
	summary := fmt.Sprintf("Round %s %s mg to %s mg (%s, whole vials): total cost %s lower per course",
		ro.product.Name, fmtMg(ro.fromMg), fmtMg(ro.DoseMg), signedPct(ro.ChangePct), wholeUSD(ro.payerCut))
	card := cdshooks.NewCard(summary, "info", valuerxSource)
	// Written for a sidebar like the switch card (cardtext.go): the reason first, a short table,
	// short lines.
	card.Detail = fmt.Sprintf("- Same product: %s\n- P&T dose-rounding policy\n- %s mg is %s of %s mg\n- Whole single-dose vials\n- Ordered dose discards %s mg\n\n"+
		"| per course | ordered | rounded |\n|---|---:|---:|\n| Dose | %s mg | %s mg |\n| Total cost | %s | %s |\n| Patient | %s | %s |\n\n"+
		"- Confirm it suits the patient\n- Prices: %s\n",
		mdEscape(ro.product.Name), fmtMg(ro.DoseMg), signedPct(ro.ChangePct), fmtMg(ro.fromMg), fmtMg(ro.WastedUnits*ro.product.MgPerUnit),
		fmtMg(ro.fromMg), fmtMg(ro.DoseMg), cardUSD(amountsOf(res.Ordered.PerCourse).Allowed), cardUSD(amountsOf(ro.option.PerCourse).Allowed),
		cardUSD(amountsOf(res.Ordered.PerCourse).Patient), cardUSD(amountsOf(ro.option.PerCourse).Patient), bookShort(res.Book))
	draft, err := parseDraft(item.raw)
	if err != nil {
		return nil, err
	}
	rounded, err := withRoundedDose(draft, ro.DoseMg, ro.fromMg, ro.ChangePct)
	if err != nil {
		return nil, nil // a draft valuerx cannot edit safely gets no rounding card
	}
	raw, err := json.Marshal(rounded)
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("Round to %s mg %s (%s, whole vials: no discarded drug)", fmtMg(ro.DoseMg), ro.product.Name, signedPct(ro.ChangePct))
	card.AddSuggestion(label, true, cdshooks.UpdateAction(fmt.Sprintf("Change the dose of this %s order from %s mg to %s mg", ro.product.Name, fmtMg(ro.fromMg), fmtMg(ro.DoseMg)), raw))
	for _, r := range overrideReasons {
		card.AddOverrideReason(r.code, overrideSystem, r.display)
	}
	if err := card.Validate(); err != nil {
		return nil, err
	}
	return card, nil
}
