package gateway

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"valuerx/cdshooks"
	"valuerx/clinical"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
	"valuerx/scoring"
)

// Card vocabulary.
const (
	// CRD card type for "optional therapy alternatives ... better coverage and/or lower cost"
	// (Da Vinci CRD 2.0.1 CRDTempCodes). Inferno requires source.topic on every card.
	topicSystem  = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
	topicCode    = "therapy-alternatives-opt"
	topicDisplay = "Optional therapy alternatives"

	overrideSystem = "https://valuerx.dev/fhir/CodeSystem/override-reason"
	aspSourceURL   = "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files"
	maxSuggestions = 3
)

// valuerxSource is the source of every medication-choice card (CDS Hooks 2.0 card.source);
// Inferno requires source.topic on every card.
var valuerxSource = cdshooks.Source{
	Label: "valuerx value-based medication choice",
	Topic: &cdshooks.Coding{System: topicSystem, Code: topicCode, Display: topicDisplay},
}

// buildCard turns a scoring result with a best option into one card: a summary naming the option
// and the saving under the arrangement, a side-by-side markdown table with the source of every
// figure, and up to three suggestions that update the draft order with the medication swapped.
func buildCard(item orderedItem, res scoring.Result, group scoring.Group, historyKnown bool, view cardView) (*cdshooks.Card, error) {
	best := res.Best
	ordered := res.Ordered
	summary := cardSummary(res)
	card := cdshooks.NewCard(summary, "info", valuerxSource)
	card.Detail = detailMarkdown(item, res, group, historyKnown, view)
	if item.doseAboveLabel {
		// Priced and suggested as ordered (the prescriber may have a reason), but the card's
		// Order check says the dose is above the label: not a card to read as routine.
		card.Indicator = "warning"
	}
	if item.scheduleImplausible {
		// The order's schedule is not one the label allows (IV trastuzumab daily): the figures use
		// the labelled course, but no suggestion may copy the implausible schedule into a one-click
		// order. The card informs; the clinician corrects the order first.
		summary = fmt.Sprintf("Schedule not on the label: check the order. %s is priced below on the labelled course", best.Product.Name)
		if len(summary) > 140 {
			summary = "Schedule not on the label: check the order before switching products"
		}
		card.Summary = summary
		card.Indicator = "warning"
		if err := card.Validate(); err != nil {
			return nil, err
		}
		return card, nil
	}

	opts := []scoring.Option{*best}
	for _, o := range res.Options {
		if len(opts) == maxSuggestions {
			break
		}
		// A PA-free card offers every permitted PA-free option; any other card only the options
		// that beat the order.
		beats := o.PerCourse.NetImpact > ordered.PerCourse.NetImpact || (res.AvoidsPriorAuth && !o.PriorAuth.Required)
		if !o.Eligible || o.Product.ID == best.Product.ID || !beats || o.PerCourse.PatientOOP > ordered.PerCourse.PatientOOP {
			continue
		}
		opts = append(opts, o)
	}
	draft, err := parseDraft(item.raw)
	if err != nil {
		return nil, err
	}
	sched := scheduleOf(item.order)
	suggested := make([]scoring.Option, 0, len(opts))
	for i, o := range opts {
		med, ok := suggestedMedication(o, item, res)
		if !ok {
			continue // no item of the ordered strength can be coded: no suggestion (issue 10)
		}
		suggested = append(suggested, o)
		clone, err := swapMedication(draft, med)
		if err != nil {
			return nil, err
		}
		label := "Switch to " + med.label
		if sched != "" {
			label += " " + sched
		}
		if res.MidCourse == scoring.MidCourseNextCycle {
			label += ", from the next administration"
		}
		action := cdshooks.UpdateAction(fmt.Sprintf("Replace %s with %s in this order; dose and schedule unchanged", ordered.Product.Name, med.label), clone)
		card.AddSuggestion(label, len(card.Suggestions) == 0 && i == 0, action)
	}
	if len(card.Suggestions) == 0 {
		return nil, nil // nothing the clinician could accept safely: no card
	}
	if ro := item.rounding; ro != nil && ro.product.ID == best.Product.ID {
		// A separate suggestion: the recommended product at the whole-vial dose, never applied
		// silently; the label states the change.
		if med, ok := suggestedMedication(ro.option, item, res); ok {
			swapped, err := swapMedication(draft, med)
			if err != nil {
				return nil, err
			}
			var sm map[string]json.RawMessage
			if jsonfast.Unmarshal(swapped, &sm) == nil {
				if rounded, err := withRoundedDose(sm, ro.DoseMg, ro.fromMg, ro.ChangePct); err == nil {
					if raw, err := json.Marshal(rounded); err == nil {
						card.AddSuggestion(roundingLabel(ro, sched, true, res.MidCourse), false, cdshooks.UpdateAction(
							fmt.Sprintf("Replace %s with %s and round the dose from %s mg to %s mg (%s)", ordered.Product.Name, ro.product.Name, fmtMg(ro.fromMg), fmtMg(ro.DoseMg), signedPct(ro.ChangePct)), raw))
					}
				}
			}
		}
	}
	// The figures, machine-readable (README "The economics on every card"): the switch
	// suggestions' products in order; a dose-rounding suggestion is priced at another dose and
	// is described in the detail only.
	ext, err := extensionJSON(economicsOf(res, suggested))
	if err != nil {
		return nil, err
	}
	card.Extension = ext
	for _, r := range overrideReasons {
		card.AddOverrideReason(r.code, overrideSystem, r.display)
	}
	card.AddLink(cdshooks.AbsoluteLink(sourceLink(res.Book)))
	if err := card.Validate(); err != nil {
		return nil, err
	}
	return card, nil
}

// parseDraft splits the draft order into its members once per card; swapMedication builds each
// suggestion's copy from it.
func parseDraft(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := jsonfast.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("clone draft order: %w", err)
	}
	return m, nil
}

// medication is the coded medication a suggestion puts in the draft order.
type medication struct {
	codings []coding
	text    string
	label   string // "Trazimera (trastuzumab-qyyp) 420 mg IV", "atorvastatin 40 mg tablet (generic)"
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// suggestedMedication codes an option in the strength the order keeps. Tablets: the RxNorm
// concept (SCD for a generic, SBD for a brand) of exactly the ordered tablet strength, and its NDC
// where known; no such concept, no suggestion. Vials and syringes: the dose in mg stays as
// ordered and any combination of the option's items delivers it; the medication is coded with the
// largest item the dose uses (a 420 mg dose: the 420 mg vial), its HCPCS code and NDC.
func suggestedMedication(o scoring.Option, item orderedItem, res scoring.Result) (medication, bool) {
	p := o.Product
	var m medication
	if p.MgPerUnit == 0 { // tablets
		// Only the strength the order's code names: an order coded without one (RxNorm brand
		// name "Lipitor") gets no suggestion, never the strength of the group's default dose.
		mg := res.ItemMg
		if mg == 0 {
			return m, false
		}
		pk, ok := p.PackageOfStrength(mg)
		if !ok || pk.RxNorm == "" {
			return m, false
		}
		m.codings = append(m.codings, coding{fhir.SystemRxNorm, pk.RxNorm, pk.RxNormDisplay})
		if n, ok := scoring.NormalizeNDC(pk.NDC); ok {
			m.codings = append(m.codings, coding{fhir.SystemNDC, n, ""})
		}
		name := strings.TrimSuffix(p.Name, " (generic)")
		m.label = fmt.Sprintf("%s %s mg %s", name, fmtMg(mg), p.DosageForm)
		if p.Relationship == scoring.RelABGeneric {
			m.label += " (generic)"
		}
		m.text = m.label
		return m, true
	}
	var pk scoring.Package
	found := false
	for _, u := range o.Packages {
		if found && u.Mg <= pk.Mg {
			continue
		}
		// The package of that size in the ordered device (a 0.48 mg filgrastim vial, not the
		// prefilled syringe of the same strength).
		for _, q := range p.Packages {
			if q.Mg == u.Mg && (item.device == "" || q.Device() == item.device || (q.Device() == "" && item.device == "vial")) {
				pk, found = q, true
				break
			}
		}
	}
	if !found {
		return m, false
	}
	rx, disp := pk.RxNorm, pk.RxNormDisplay
	if rx == "" { // another package of the same item strength and device may carry the concept
		for _, q := range p.Packages {
			if q.Mg == pk.Mg && q.RxNorm != "" && q.Device() == pk.Device() {
				rx, disp = q.RxNorm, q.RxNormDisplay
				break
			}
		}
	}
	if rx != "" {
		m.codings = append(m.codings, coding{fhir.SystemRxNorm, rx, disp})
	}
	if p.HCPCS != "" {
		m.codings = append(m.codings, coding{fhir.SystemHCPCS, p.HCPCS, ""})
	}
	if n, ok := scoring.NormalizeNDC(pk.NDC); ok {
		m.codings = append(m.codings, coding{fhir.SystemNDC, n, ""})
	}
	name := p.Name
	if p.ProperName != "" && !strings.EqualFold(p.ProperName, p.Name) {
		name += " (" + p.ProperName + ")"
	}
	m.label = name + " " + doseAsWritten(item.order, res.DoseMg) + routeAbbrev(p.Route)
	m.text = fmt.Sprintf("%s %s", name, routeText(p.Route, p.DosageForm))
	return m, true
}

func fmtMg(v float64) string { return strconv.FormatFloat(round2(v), 'f', -1, 64) }

// routeAbbrev is the route as a prescriber writes it after a dose ("420 mg IV").
func routeAbbrev(route string) string {
	switch route {
	case "intravenous":
		return " IV"
	case "subcutaneous":
		return " SC"
	case "intravenous, subcutaneous":
		return " IV/SC"
	case "oral":
		return " PO"
	case "":
		return ""
	}
	return " " + route
}

func routeText(route, form string) string {
	switch {
	case route == "" && form == "":
		return ""
	case route == "":
		return form
	}
	return strings.TrimSpace(form + ", " + route)
}

// scheduleOf reads the order's maintenance (last) dosage instruction's timing as a prescriber
// writes it ("q3w", "daily", "twice daily"), "" when it has none valuerx can say briefly. It reads
// the clinical.Order decoded with the draft, not the draft again.
func scheduleOf(o *clinical.Order) string {
	if o == nil || len(o.DosageInstruction) == 0 {
		return ""
	}
	last := o.DosageInstruction[len(o.DosageInstruction)-1] // the maintenance instruction: a loading dose is a one-off
	if last.Timing == nil || last.Timing.Repeat == nil {
		return ""
	}
	r := last.Timing.Repeat
	if onceOnly(r) {
		// One administration in all (a loading dose, timing.repeat.count 1): "once", not the
		// period it was entered with. "8 mg/kg IV q3w" on a loading card beside the maintenance
		// card's "6 mg/kg IV q3w" read as the loading dose repeated (card review, 6 December 2026).
		return "once"
	}
	if r.Frequency == nil || r.Period == nil || *r.Frequency <= 0 || *r.Period <= 0 {
		return ""
	}
	f, per := *r.Frequency, *r.Period
	unit := map[string]string{"h": "h", "d": "d", "wk": "w", "mo": "mo"}[r.PeriodUnit]
	if unit == "" {
		return ""
	}
	switch {
	case f == 1 && per == 1 && unit == "d":
		return "daily"
	case f == 2 && per == 1 && unit == "d":
		return "twice daily"
	case f == 1 && per == 1 && unit == "w":
		return "weekly"
	case f == 1:
		return "q" + strconv.FormatFloat(per, 'f', -1, 64) + unit
	}
	return strconv.FormatFloat(f, 'f', -1, 64) + " times every " + strconv.FormatFloat(per, 'f', -1, 64) + unit
}

// swapMedication clones the draft order as sent (draft is parseDraft's, left unchanged) and
// replaces its medication with the suggested one, keeping id, status, intent, subject,
// requester, dosage and every other member.
func swapMedication(draft map[string]json.RawMessage, med medication) (json.RawMessage, error) {
	m := maps.Clone(draft)
	if ref, ok := m["medicationReference"]; ok {
		var r struct {
			Reference string `json:"reference"`
		}
		_ = jsonfast.Unmarshal(ref, &r)
		delete(m, "medicationReference")
		if strings.HasPrefix(r.Reference, "#") {
			dropContained(m, r.Reference[1:])
		}
	}
	cc, err := json.Marshal(struct {
		Coding []coding `json:"coding"`
		Text   string   `json:"text"`
	}{med.codings, med.text})
	if err != nil {
		return nil, err
	}
	m["medicationCodeableConcept"] = cc
	return json.Marshal(m)
}

func dropContained(m map[string]json.RawMessage, id string) {
	raw, ok := m["contained"]
	if !ok {
		return
	}
	var list []json.RawMessage
	if jsonfast.Unmarshal(raw, &list) != nil {
		return
	}
	kept := list[:0]
	for _, c := range list {
		var h struct {
			ID string `json:"id"`
		}
		if jsonfast.Unmarshal(c, &h) == nil && h.ID == id {
			continue
		}
		kept = append(kept, c)
	}
	if len(kept) == 0 {
		delete(m, "contained")
		return
	}
	m["contained"], _ = json.Marshal(kept)
}

func arrangementLabel(a string) string {
	switch a {
	case "ffs":
		return "fee-for-service"
	case "shared-savings-upside":
		return "shared savings, upside only"
	case "shared-savings-two-sided":
		return "shared savings, two-sided risk"
	case "capitation":
		return "capitation"
	case "episode":
		return "episode budget"
	}
	return a
}

func usd(v float64) string { return "$" + scoring.FormatUSD(math.Abs(v)) }

// signedUSD is "+$1,234.56", "-$1,234.56" or "$0.00".
func signedUSD(v float64) string {
	switch s := scoring.FormatSignedUSD(v); {
	case strings.HasPrefix(s, "+"), strings.HasPrefix(s, "-"):
		return s[:1] + "$" + s[1:]
	default:
		return "$" + s
	}
}

// wholeUSD and signedWholeUSD round to dollars, for the summary line.
// Cents first, so a figure the comparison page shows as $56,214.50 is $56,215 here, not $56,214.
func wholeUSD(v float64) string { return strings.TrimSuffix(usd(math.Round(round2(v))), ".00") }

func signedWholeUSD(v float64) string {
	return strings.TrimSuffix(signedUSD(math.Round(round2(v))), ".00")
}

func round2(v float64) float64 {
	if v < 0 {
		return -round2(-v)
	}
	return float64(int64(v*100+0.5)) / 100
}

// mdEscape keeps table cells intact: a pipe would split a GFM table cell.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// implausibleCard answers an order whose dose is beyond twice the label maximum: valuerx gives no
// figures for it and says why, instead of pricing it silently or saying nothing.
func implausibleCard(item orderedItem, group scoring.Group) *cdshooks.Card {
	summary := fmt.Sprintf("valuerx did not price this %s order: the dose is not one the label allows", group.Name)
	if len(summary) > 140 {
		summary = "valuerx did not price this order: the dose is not one the label allows"
	}
	card := cdshooks.NewCard(summary, "info", valuerxSource)
	card.Detail = "**Order check:** " + mdEscape(strings.Join(item.doseNotes, "; ")) +
		".\n\nNo alternative is suggested and no figures are given until the dose is corrected." +
		"\n\nLabel bounds used: " + mdEscape(group.Label.Source) + "\n"
	if err := card.Validate(); err != nil {
		return nil
	}
	return card
}

// doseAsWritten is the order's dose the way the prescriber wrote it, which a suggestion keeps
// ("8 mg/kg then 6 mg/kg", "375 mg/m2", "300 mcg"); the computed dose in mg (mcg below 1 mg: a
// decimal dose under one is an error-prone way to write it) when the order states none.
func doseAsWritten(o *clinical.Order, computedMg float64) string {
	var parts []string
	if o != nil {
		for _, di := range o.DosageInstruction {
			for _, dr := range di.DoseAndRate {
				q := dr.DoseQuantity
				if q == nil || q.Value == nil {
					continue
				}
				unit := firstNonEmpty(q.Code, q.Unit)
				if strings.HasPrefix(unit, "{") || strings.EqualFold(unit, "tab") { // tablets: no dose for an infusion
					continue
				}
				if unit == "ug" || unit == "ug/kg" {
					unit = strings.Replace(unit, "ug", "mcg", 1)
				}
				parts = append(parts, strconv.FormatFloat(*q.Value, 'f', -1, 64)+" "+unit)
				break
			}
		}
	}
	if len(parts) == 0 {
		if computedMg > 0 && computedMg < 1 {
			return strconv.FormatFloat(math.Round(computedMg*1000*100)/100, 'f', -1, 64) + " mcg"
		}
		return fmtMg(computedMg) + " mg"
	}
	return strings.Join(parts, " then ")
}
