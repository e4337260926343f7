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
	"valuerx/fhir"
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

// buildCard turns a scoring result with a best option into one card: a summary naming the option
// and the saving under the arrangement, a side-by-side markdown table with the source of every
// figure, and up to three suggestions that update the draft order with the medication swapped.
func buildCard(item orderedItem, res scoring.Result, group scoring.Group, historyKnown bool) (*cdshooks.Card, error) {
	best := res.Best
	ordered := res.Ordered
	// The payer's own payment (after cost sharing and sequestration), not the allowed amount:
	// the patient's coinsurance is not the payer's money.
	payerSave := ordered.PerCourse.PayerPaid - best.PerCourse.PayerPaid
	orgDelta := best.PerCourse.NetImpact - ordered.PerCourse.NetImpact
	capitated := res.Contract.Arrangement == scoring.Capitation && res.Contract.DrugsInBudget
	// Whole dollars: the summary has 139 characters and the table below has the cents.
	summary := fmt.Sprintf("%s instead of %s: payer saves %s/course, organisation %s (%s)",
		best.Product.Name, ordered.Product.Name, wholeUSD(payerSave), signedWholeUSD(orgDelta), res.Contract.Name)
	switch {
	case res.AvoidsPriorAuth:
		// A PA-free option the contract prefers, suggested although the organisation's figure
		// falls: the summary says both.
		summary = fmt.Sprintf("%s instead of %s: no prior auth; payer saves %s/course, organisation %s (%s)",
			best.Product.Name, ordered.Product.Name, wholeUSD(payerSave), signedWholeUSD(orgDelta), res.Contract.Name)
	case capitated:
		// One saving, to the capitated budget: the plan pays no claim, so there is no payer saving beside it.
		summary = fmt.Sprintf("%s instead of %s: capitated budget saves %s/course (%s)",
			best.Product.Name, ordered.Product.Name, wholeUSD(orgDelta), res.Contract.Name)
	case round2(orgDelta) == 0:
		summary = fmt.Sprintf("%s instead of %s: payer saves %s/course, patient %s (%s)",
			best.Product.Name, ordered.Product.Name, wholeUSD(payerSave),
			wholeUSD(ordered.PerCourse.PatientOOP-best.PerCourse.PatientOOP), res.Contract.Name)
	case payerSave <= 0:
		summary = fmt.Sprintf("%s instead of %s: organisation %s/course (%s)",
			best.Product.Name, ordered.Product.Name, signedWholeUSD(orgDelta), res.Contract.Name)
	}
	card := cdshooks.NewCard(summary, "info", cdshooks.Source{
		Label: "valuerx value-based medication choice",
		Topic: &cdshooks.Coding{System: topicSystem, Code: topicCode, Display: topicDisplay},
	})
	card.Detail = detailMarkdown(item, res, group, historyKnown)

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
	sched := scheduleOf(draft)
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
			if json.Unmarshal(swapped, &sm) == nil {
				if rounded, err := withRoundedDose(sm, ro.DoseMg, ro.fromMg, ro.ChangePct); err == nil {
					if raw, err := json.Marshal(rounded); err == nil {
						card.AddSuggestion(roundingLabel(ro, med, true), false, cdshooks.UpdateAction(
							fmt.Sprintf("Replace %s with %s and change the dose from %s mg to %s mg (%s)", ordered.Product.Name, med.label, fmtMg(ro.fromMg), fmtMg(ro.DoseMg), signedPct(ro.ChangePct)), raw))
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
	card.AddLink(cdshooks.AbsoluteLink("CMS ASP pricing files (source of payment limits)", aspSourceURL))
	if err := card.Validate(); err != nil {
		return nil, err
	}
	return card, nil
}

func detailMarkdown(item orderedItem, res scoring.Result, group scoring.Group, historyKnown bool) string {
	var b strings.Builder
	best := res.Best
	fmt.Fprintf(&b, "**Arrangement:** %s (`%s`, %s). **Price period:** %s.", res.Contract.Name, res.Contract.ID,
		arrangementLabel(string(res.Contract.Arrangement)), res.Book.Label)
	if res.Stale {
		b.WriteString(" **Warning: the order date is outside the newest price book; figures use the nearest book and may be stale.**")
	}
	b.WriteString("\n\n")
	dose, course, _ := strings.Cut(item.doseText, "\x00")
	if slices.Contains(res.Defaulted, "dose") || dose == "" {
		dose = fmt.Sprintf("%s mg, the group's default dose", fmtMg(res.DoseMg))
		if group.Benefit == scoring.PharmacyBenefit {
			dose = fmt.Sprintf("%s mg a day, the group's default dose", fmtMg(res.DoseMg))
		}
	}
	if slices.Contains(res.Defaulted, "administrations") || course == "" {
		unit := "administrations per course"
		if group.Benefit == scoring.PharmacyBenefit {
			unit = "days of supply"
		}
		why := "the group's default course"
		if strings.HasPrefix(course, "the labelled course") {
			why = course
		}
		course = fmt.Sprintf("%d %s, %s", res.Administrations, unit, why)
	}
	fmt.Fprintf(&b, "Dose: %s; %s.", mdEscape(dose), mdEscape(course))
	fmt.Fprintf(&b, " A year of therapy is %d administrations (%s).\n\n", res.AdministrationsPerYear, res.PerYearSource)
	if len(item.doseNotes) > 0 {
		fmt.Fprintf(&b, "**Order check:** %s.\n\n", mdEscape(strings.Join(item.doseNotes, "; ")))
	}

	cols := []scoring.Option{res.Ordered}
	cols = append(cols, *best)
	for _, o := range res.Options {
		if len(cols) == maxSuggestions+1 {
			break
		}
		if o.Product.ID != best.Product.ID {
			cols = append(cols, o)
		}
	}
	b.WriteString("| |")
	for i, o := range cols {
		name := o.Product.Name
		if i == 0 {
			name += " (ordered)"
		} else if o.Product.ID == best.Product.ID {
			name += " (recommended)"
		}
		fmt.Fprintf(&b, " %s |", mdEscape(name))
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	row := func(label string, f func(o scoring.Option) string) {
		fmt.Fprintf(&b, "| %s |", label)
		for _, o := range cols {
			fmt.Fprintf(&b, " %s |", f(o))
		}
		b.WriteString("\n")
	}
	// Money rows print the extension's own rounded amounts (amountsOf), so the table and the
	// machine-readable figures cannot disagree.
	row("FDA relationship", func(o scoring.Option) string { return mdEscape(string(o.Product.Relationship)) })
	row("Billing units per dose (wasted)", func(o scoring.Option) string {
		return fmt.Sprintf("%g (%g)", o.PerDose.Units, o.PerDose.WastedUnits)
	})
	row("Allowed (total cost) per dose", func(o scoring.Option) string { return usd(amountsOf(o.PerDose).Allowed) })
	row("Allowed (total cost) per course", func(o scoring.Option) string { return usd(amountsOf(o.PerCourse).Allowed) })
	row("Allowed (total cost) per year", func(o scoring.Option) string { return usd(amountsOf(o.PerYear).Allowed) })
	if !(res.Contract.Arrangement == scoring.Capitation && res.Contract.DrugsInBudget) {
		row("Payer pays per course", func(o scoring.Option) string { return usd(amountsOf(o.PerCourse).PayerPaid) })
		row("Payer pays per year", func(o scoring.Option) string { return usd(amountsOf(o.PerYear).PayerPaid) })
	}
	// The patient figure says what it assumes: without supplemental coverage on record it is the
	// cost sharing before any Medigap, retiree plan or Medicaid pays part of it.
	var after string
	switch sc := res.Secondary; {
	case sc == nil:
		after = " (before supplemental coverage)"
	case sc.QMB:
		after = " (QMB: none may be billed)"
	default:
		after = " (after " + mdEscape(sc.Name) + ")"
	}
	row("Patient cost per dose"+after, func(o scoring.Option) string { return usd(amountsOf(o.PerDose).Patient) })
	row("Patient cost per course"+after, func(o scoring.Option) string { return usd(amountsOf(o.PerCourse).Patient) })
	row("Patient cost per year"+after, func(o scoring.Option) string { return usd(amountsOf(o.PerYear).Patient) })
	if sc := res.Secondary; sc != nil {
		row(mdEscape(sc.Name)+" pays per course", func(o scoring.Option) string { return usd(amountsOf(o.PerCourse).Secondary) })
		if sc.QMB {
			row("Cost sharing not collectable per course", func(o scoring.Option) string { return usd(amountsOf(o.PerCourse).Uncollected) })
		}
	}
	row("Organisation impact per dose", func(o scoring.Option) string { return signedUSD(amountsOf(o.PerDose).Organisation) })
	row("Organisation impact per course", func(o scoring.Option) string { return signedUSD(amountsOf(o.PerCourse).Organisation) })
	row("Organisation impact per year", func(o scoring.Option) string { return signedUSD(amountsOf(o.PerYear).Organisation) })
	row("Payer-preferred", func(o scoring.Option) string {
		if o.PayerPreferred {
			return "yes"
		}
		return "no"
	})
	if res.Contract.PriorAuth != nil && len(res.Contract.Preferred[res.Group.ID]) > 0 {
		row("Prior authorisation", func(o scoring.Option) string {
			if !o.PriorAuth.Required {
				return "not needed"
			}
			return fmt.Sprintf("needs PA (about %g days, %g%% denied)", o.PriorAuth.ExpectedDelayDays, o.PriorAuth.DenialRate*100)
		})
	}
	row("Price period", func(scoring.Option) string { return mdEscape(res.Book.Label) })
	if res.AvoidsPriorAuth {
		fmt.Fprintf(&b, "\n**Prior authorisation:** %s needs the payer's prior authorisation (the contract states about %g days and %g%% of requests denied); %s does not. The organisation's figures carry no expected loss for it: the switch changes the organisation's result by %s per course.\n",
			mdEscape(res.Ordered.Product.Name), res.Ordered.PriorAuth.ExpectedDelayDays, res.Ordered.PriorAuth.DenialRate*100,
			mdEscape(best.Product.Name), signedUSD(best.PerCourse.NetImpact-res.Ordered.PerCourse.NetImpact))
	}

	b.WriteString("\n**Where the figures come from**\n\n")
	seen := map[string]bool{}
	for _, o := range cols[:2] { // the ordered and the recommended product; the others share their sources
		for _, k := range sortedKeys(o.Sources) {
			line := fmt.Sprintf("- %s, %s: %s\n", mdEscape(o.Product.Name), k, mdEscape(o.Sources[k]))
			if !seen[line] {
				seen[line] = true
				b.WriteString(line)
			}
		}
	}
	if group.SwitchRule != "" {
		fmt.Fprintf(&b, "\n**Switching:** %s\n", mdEscape(group.SwitchRule))
	}
	for _, n := range group.Notes {
		fmt.Fprintf(&b, "\n**Clinical note:** %s\n", mdEscape(n))
	}
	if !historyKnown {
		b.WriteString("\nMedication history was not available, so valuerx could not check for therapy in progress: confirm this is a new start.\n")
	}
	writePolicyNotes(&b, res, group)
	return b.String()
}

// parseDraft splits the draft order into its members once per card; swapMedication builds each
// suggestion's copy from it.
func parseDraft(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
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
		mg := res.ItemMg
		if mg == 0 && len(o.Packages) == 1 {
			mg = o.Packages[0].Mg
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
		if !found || u.Mg > pk.Mg {
			pk, found = p.PackageOfStrength(u.Mg)
		}
	}
	if !found {
		return m, false
	}
	rx, disp := pk.RxNorm, pk.RxNormDisplay
	if rx == "" { // another package of the same item strength may carry the concept
		for _, q := range p.Packages {
			if q.Mg == pk.Mg && q.RxNorm != "" {
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
	m.label = fmt.Sprintf("%s %s mg%s", name, fmtMg(res.DoseMg), routeAbbrev(p.Route))
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

// scheduleOf reads the draft's first dosage instruction's timing as a prescriber writes it
// ("q3w", "daily", "twice daily"), "" when it has none valuerx can say briefly.
func scheduleOf(draft map[string]json.RawMessage) string {
	var di []struct {
		Timing *timing `json:"timing"`
	}
	if json.Unmarshal(draft["dosageInstruction"], &di) != nil || len(di) == 0 || di[0].Timing == nil || di[0].Timing.Repeat == nil {
		return ""
	}
	r := di[0].Timing.Repeat
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
		_ = json.Unmarshal(ref, &r)
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
	if json.Unmarshal(raw, &list) != nil {
		return
	}
	kept := list[:0]
	for _, c := range list {
		var h struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(c, &h) == nil && h.ID == id {
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
func wholeUSD(v float64) string { return strings.TrimSuffix(usd(math.Round(v)), ".00") }

func signedWholeUSD(v float64) string { return strings.TrimSuffix(signedUSD(math.Round(v)), ".00") }

func round2(v float64) float64 {
	if v < 0 {
		return -round2(-v)
	}
	return float64(int64(v*100+0.5)) / 100
}

// mdEscape keeps table cells intact: a pipe would split a GFM table cell.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// exclusionText says in a few words why the P&T policy kept an option off the card.
var exclusionText = map[string]string{
	scoring.ExcludeOffFormulary: "not on formulary or not stocked here",
	scoring.ExcludeNotLabelled:  "not labelled (or not known to be) for the order's indication",
	scoring.ExcludeStrength:     "no tablet of the ordered strength",
	scoring.ExcludeRouteForm:    "another route or dosage form",
	scoring.ExcludeMidCourse:    "patient mid-course; the P&T policy does not switch",
}

// writePolicyNotes adds what the P&T policy decided: the mid-course acknowledgement, the
// formulary, the indication check, and the clinically excluded options.
func writePolicyNotes(b *strings.Builder, res scoring.Result, group scoring.Group) {
	if res.MidCourse == scoring.MidCourseNextCycle {
		fmt.Fprintf(b, "\n**Mid-course:** the patient is already receiving %s. The P&T policy allows a switch at the next administration only: confirm with the patient and the treatment plan before accepting.\n", mdEscape(group.Name))
	}
	if res.OrderedOffFormulary {
		fmt.Fprintf(b, "\n**Formulary:** %s is not on this site's formulary (or not stocked here); the formulary alternative is suggested.\n", mdEscape(res.Ordered.Product.Name))
	}
	switch {
	case len(res.Indications) > 0:
		fmt.Fprintf(b, "\n**Indication:** checked against each product's FDA label for: %s.\n", mdEscape(strings.Join(res.Indications, ", ")))
	case res.IndicationUnknown:
		b.WriteString("\n**Indication:** none in the order or the problem list. The labels of these products differ by indication: confirm the suggested product is labelled for this patient's.\n")
	}
	var excl []string
	for _, o := range res.Options {
		if t, ok := exclusionText[o.Exclusion]; ok {
			excl = append(excl, o.Product.Name+" ("+t+")")
		}
	}
	if len(excl) > 0 {
		fmt.Fprintf(b, "\n**Not suggested:** %s.\n", mdEscape(strings.Join(excl, "; ")))
	}
}

// implausibleCard answers an order whose dose is beyond twice the label maximum: valuerx gives no
// figures for it and says why, instead of pricing it silently or saying nothing.
func implausibleCard(item orderedItem, group scoring.Group) *cdshooks.Card {
	summary := fmt.Sprintf("valuerx did not price this %s order: the dose is not one the label allows", group.Name)
	if len(summary) > 140 {
		summary = "valuerx did not price this order: the dose is not one the label allows"
	}
	card := cdshooks.NewCard(summary, "info", cdshooks.Source{
		Label: "valuerx value-based medication choice",
		Topic: &cdshooks.Coding{System: topicSystem, Code: topicCode, Display: topicDisplay},
	})
	card.Detail = "**Order check:** " + mdEscape(strings.Join(item.doseNotes, "; ")) +
		".\n\nNo alternative is suggested and no figures are given until the dose is corrected." +
		"\n\nLabel bounds used: " + mdEscape(group.Label.Source) + "\n"
	if err := card.Validate(); err != nil {
		return nil
	}
	return card
}
