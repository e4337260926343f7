package gateway

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"valuerx/scoring"
)

// The card a prescriber reads (issue 14). EHRs show CDS cards in a sidebar about an eighth of the
// screen wide, roughly 30 characters a line, and a physician gives a card a few seconds. So:
//
//   - the summary (under 140 characters) names the option, its FDA relationship and that the dose
//     is kept, then what matters to the prescriber and the patient (the patient's cost, or the
//     prior authorisation it avoids, or the total cost of care);
//   - the detail gives the reason first (same molecule, FDA relationship, indications, new start
//     or next cycle, the dose), then a table of two product columns and at most five rows, one
//     line on the arrangement, the price period, the assumptions that matter and the link to the
//     full comparison. Every line of prose valuerx writes is no longer than the table's widest
//     row (TestCardLinesFitTheTable); the order-check notes of the clinical package are quoted
//     as they are, because a safety note is not shortened for layout.
//   - provenance, the other options and the figures per dose and per year are on the comparison
//     page (package web), one link away.
//
// The organisation's margin and net impact are shown to the prescriber only where the
// configuration says so (Disclosure): a compliance committee may read a margin on a prescriber's
// screen as steering by profit. Pharmacists and the value-based-care team see everything on the
// comparison page.

// compareMarker stands in the cached card's detail for the comparison page's URL, which is
// signed per response (the card cache keeps one card for many responses).
const compareMarker = "valuerx:compare-link"

// cardView is what a card shows beyond its score: whether the prescriber sees the
// organisation's figures, and whether a comparison link will be added.
type cardView struct {
	showOrganisation bool
	compareLink      bool
}

// sourceLink is the price source's own publication, named as the card names the prices.
func sourceLink(book scoring.PriceBook) (label, url string) {
	if book.Source == scoring.SourceNADAC {
		return "NADAC prices used (CommunityMeds summary)", nadacSourceURL
	}
	return "CMS ASP payment limits (prices used)", aspSourceURL
}

// nadacSourceURL is the file the retail book is read from (scoring/data/README.md): a third
// party's summary of NADAC, not the CMS NADAC file, so the link names that file.
const nadacSourceURL = "https://github.com/schylerchase/CommunityMeds/blob/48e130043a7998d09df64fbef3d8a8a253540726/src/data/nadacPrices.json"

// relationshipPhrase is the product's FDA relationship as the summary says it.
func relationshipPhrase(r scoring.Relationship) string {
	switch r {
	case scoring.RelBiosimilar:
		return "FDA biosimilar"
	case scoring.RelInterchangeable:
		return "FDA interchangeable biosimilar"
	case scoring.RelABGeneric:
		return "FDA AB-rated generic"
	case scoring.RelReference:
		return "FDA reference product"
	case scoring.RelBrand:
		return "brand (reference listed drug)"
	case scoring.RelTherapeutic:
		return "P&T therapeutic alternative"
	}
	return string(r)
}

// relationshipLine is the detail's line on the FDA relationship, named against the group's
// reference product: a biosimilar is biosimilar to (and an interchangeable one interchangeable
// with) the reference product it was licensed against, and an AB-rated generic is rated against
// the reference listed drug, never against another biosimilar or generic. A card on an order for
// Kanjinti said "FDA biosimilar to Kanjinti" for Trazimera (card review, 6 December 2026).
// reference is the reference product's name; the ordered product's when unknown.
func relationshipLine(best scoring.Product, reference string) string {
	switch best.Relationship {
	case scoring.RelBiosimilar:
		return "FDA biosimilar to " + reference
	case scoring.RelInterchangeable:
		return "FDA interchangeable with " + reference
	case scoring.RelABGeneric:
		return "AB-rated generic of " + reference
	case scoring.RelReference:
		return "FDA reference product"
	case scoring.RelBrand:
		return "Brand (reference listed drug)"
	case scoring.RelTherapeutic:
		return "P&T therapeutic alternative"
	}
	return string(best.Relationship)
}

// ingredientLine is the detail's line on what the suggested product has in common with the
// ordered one. An AB-rated generic has the brand's active ingredient. A biosimilar is not the same
// molecule (highly similar, with its own FDA suffix): the relationship line below says what it
// is, and the summary and every suggestion name its proper name. A therapeutic alternative has
// none either.
func ingredientLine(p scoring.Product) string {
	switch p.Relationship {
	case scoring.RelABGeneric, scoring.RelBrand:
		return "Same active ingredient: " + molecule(p)
	}
	return ""
}

// molecule is the active ingredient without the FDA suffix and salt ("trastuzumab",
// "atorvastatin").
func molecule(p scoring.Product) string {
	name := p.ProperName
	if s := p.Suffix(); s != "" {
		name = strings.TrimSuffix(name, "-"+s)
	}
	name = strings.TrimSuffix(name, " calcium")
	if name == "" {
		name = strings.TrimSuffix(p.Name, " (generic)")
	}
	return name
}

// displayName is the product as a prescriber knows it: brand with the proper name of a
// biological ("Trazimera (trastuzumab-qyyp)"), a generic tablet by its strength.
func displayName(p scoring.Product, itemMg float64) string {
	if p.MgPerUnit == 0 && itemMg > 0 {
		name := strings.TrimSuffix(p.Name, " (generic)")
		if p.Relationship == scoring.RelABGeneric {
			return fmt.Sprintf("generic %s %s mg", name, fmtMg(itemMg))
		}
		return fmt.Sprintf("%s %s mg", name, fmtMg(itemMg))
	}
	if p.ProperName != "" && !strings.EqualFold(p.ProperName, p.Name) {
		return p.Name + " (" + p.ProperName + ")"
	}
	return p.Name
}

// cardUSD is money for a sidebar: whole dollars, cents below $100 ("$0.44", "$1,398").
func cardUSD(v float64) string {
	if math.Abs(v) < 100 {
		return usd(v)
	}
	return wholeUSD(v)
}

func signedCardUSD(v float64) string {
	if math.Abs(v) < 100 {
		return signedUSD(v)
	}
	return signedWholeUSD(v)
}

// coursePer is the unit the card's per-course figures are given in ("course", "90 days").
func coursePer(res scoring.Result) string {
	if res.Group.Benefit == scoring.PharmacyBenefit {
		return fmt.Sprintf("%d days", res.Administrations)
	}
	return "course"
}

// medicarePays reports whether the payer is Medicare paying per claim (the ASP basis outside
// capitation), which the card names as such. A pharmacy-benefit drug is a Part D claim, which
// a Part D plan pays (with its own cost sharing, not the Part B coinsurance): "Plan".
func medicarePays(res scoring.Result) bool {
	k := res.Contract
	return k.Reimbursement.Basis == scoring.BasisMedicareASP && k.Arrangement != scoring.Capitation &&
		res.Group.Benefit != scoring.PharmacyBenefit
}

// partDOutsideACO reports a pharmacy-benefit (Part D) drug under a Medicare ACO: its cost is
// outside the Parts A and B expenditure the ACO is measured on (scoring shares none of it).
func partDOutsideACO(res scoring.Result) bool {
	k := res.Contract
	return res.Group.Benefit == scoring.PharmacyBenefit && k.Reimbursement.Basis == scoring.BasisMedicareASP &&
		(k.Arrangement == scoring.SharedSavingsTwoSided || k.Arrangement == scoring.SharedSavingsUpside)
}

func capitatedInBudget(k scoring.Contract) bool {
	return k.Arrangement == scoring.Capitation && k.DrugsInBudget
}

// cardSummary is the card's summary: option, FDA relationship, dose kept, then the patient's
// cost (or the prior authorisation avoided, or the total cost of care). Under 140 characters:
// the longest form that fits is used.
func cardSummary(res scoring.Result) string {
	best, ordered := res.Best, res.Ordered
	keep := "same dose"
	if best.Product.MgPerUnit == 0 {
		keep = "same strength"
	}
	if res.MidCourse == scoring.MidCourseNextCycle {
		keep += ", from next cycle"
	}
	per := coursePer(res)
	// "Coinsurance" only when the figure is the coinsurance alone: with the Part B deductible
	// assumed unmet, or after supplemental coverage, it is not (20 % of Trazimera's 5,858.37 is
	// 1,171.67; the patient figure 1,398.07).
	patient := "patient cost"
	src := ordered.Sources["patientOOP"] + " " + best.Sources["patientOOP"]
	if medicarePays(res) && res.Secondary == nil && !strings.Contains(src, "assumed not yet met") {
		patient = "patient coinsurance"
	}
	var matters string
	patientLower := round2(best.PerCourse.PatientOOP) < round2(ordered.PerCourse.PatientOOP)
	switch {
	case res.AvoidsPriorAuth && patientLower:
		matters = fmt.Sprintf("no prior auth; %s %s vs %s/%s", patient, cardUSD(best.PerCourse.PatientOOP), cardUSD(ordered.PerCourse.PatientOOP), per)
	case res.AvoidsPriorAuth:
		matters = fmt.Sprintf("no prior auth; total cost %s vs %s/%s", cardUSD(best.PerCourse.PayerAllowed), cardUSD(ordered.PerCourse.PayerAllowed), per)
	case patientLower:
		matters = fmt.Sprintf("%s %s vs %s/%s", patient, cardUSD(best.PerCourse.PatientOOP), cardUSD(ordered.PerCourse.PatientOOP), per)
	default:
		matters = fmt.Sprintf("total cost %s vs %s/%s", cardUSD(best.PerCourse.PayerAllowed), cardUSD(ordered.PerCourse.PayerAllowed), per)
	}
	name := displayName(best.Product, res.ItemMg)
	for _, s := range []string{
		fmt.Sprintf("Consider %s, %s, %s: %s", name, relationshipPhrase(best.Product.Relationship), keep, matters),
		fmt.Sprintf("Consider %s, %s: %s", name, keep, matters),
		fmt.Sprintf("Consider %s: %s", best.Product.Name, matters),
	} {
		if utf8.RuneCountInString(s) < 140 {
			return s
		}
	}
	return fmt.Sprintf("Consider %s instead of %s", best.Product.Name, ordered.Product.Name)
}

// exclusionShort says in a few words why the P&T policy kept an option off the card; the
// comparison page has the full reason.
var exclusionShort = map[string]string{
	scoring.ExcludeOffFormulary: "off formulary here",
	scoring.ExcludeNotLabelled:  "not labelled for it",
	scoring.ExcludeStrength:     "no such strength",
	scoring.ExcludeRouteForm:    "other route or form",
	scoring.ExcludeDevice:       "other device",
	scoring.ExcludeMidCourse:    "mid-course",
}

// detailMarkdown is the card's detail for a sidebar (see the top of this file).
func detailMarkdown(item orderedItem, res scoring.Result, group scoring.Group, historyKnown bool, view cardView) string {
	best, ordered := res.Best, res.Ordered
	var reason []string
	if line := ingredientLine(best.Product); line != "" {
		reason = append(reason, line)
	}
	reference := item.referenceName
	if reference == "" {
		reference = ordered.Product.Name // a card built without the cache (benchmarks)
	}
	reason = append(reason, relationshipLine(best.Product, reference))
	switch {
	case len(res.Indications) > 0:
		labels := item.indicationLabels
		if len(labels) != len(res.Indications) {
			labels = res.Indications // a card built without the cache (benchmarks): the ids
		}
		reason = append(reason, "Labelled for: "+strings.Join(labels, ", "))
	case res.IndicationUnknown && item.unlabelledReason:
		reason = append(reason, "Reason not a labelled use: check label")
	case res.IndicationUnknown:
		reason = append(reason, "Indication unknown: check label")
	default:
		reason = append(reason, "No known label differences")
	}
	switch {
	case res.MidCourse == scoring.MidCourseNextCycle:
		reason = append(reason, "On therapy: switch next cycle only")
	case res.MidCourse != "":
		reason = append(reason, "On therapy: P&T allows switch")
	case !historyKnown:
		reason = append(reason, "Medication history was not available", "Confirm this is a new start")
	default:
		reason = append(reason, "New start (no therapy on record)")
	}
	switch n := len(item.alsoDrafted); {
	case n == 1:
		reason = append(reason, "Also drafted: "+item.alsoDrafted[0], "Check for duplicate therapy")
	case n > 1:
		reason = append(reason, fmt.Sprintf("Also drafted: %d more %s", n, molecule(ordered.Product)), "Check for duplicate therapy")
	}
	reason = append(reason, doseLine(item, res, group))
	if item.device == "" && hasDevice(ordered.Product, "kit") && !hasDevice(best.Product, "kit") {
		// A Neulasta order by its HCPCS code alone may be for the Onpro on-body injector, which
		// the patient wears home to get the dose the next day; the biosimilar comes as a syringe
		// only, so the switch may mean a return visit (card review, 3 December 2026).
		reason = append(reason, "Order names no device: "+best.Product.Name+" has no on-body injector")
	}

	var b strings.Builder
	for _, l := range reason {
		fmt.Fprintf(&b, "- %s\n", mdEscape(l))
	}
	b.WriteString("\n")
	if res.Stale {
		b.WriteString("**Prices may be stale:** the order date is past the newest price book.\n\n")
	}
	if priced := pricedAs(item, res, group); len(priced) > 0 {
		b.WriteString("**Priced as:**\n\n")
		for _, p := range priced {
			fmt.Fprintf(&b, "- %s\n", mdEscape(p))
		}
		b.WriteString("\n")
	}
	if len(item.doseNotes) > 0 {
		fmt.Fprintf(&b, "**Order check:** %s.\n\n", mdEscape(strings.Join(item.doseNotes, "; ")))
	}
	b.WriteString(cardTable(res))
	b.WriteString("\n")

	var notes []string
	notes = append(notes, arrangementLines(res, item.date.Year(), view)...)
	notes = append(notes, "Prices: "+bookShort(res.Book))
	notes = append(notes, assumptionLines(res, view)...)
	if res.MidCourse == scoring.MidCourseNextCycle {
		notes = append(notes, "Confirm the switch with the patient")
	}
	if res.OrderedOffFormulary {
		notes = append(notes, ordered.Product.Name+": not on formulary here")
		// The formulary alternative is suggested whatever the money says: when it costs the
		// patient or the total cost more, the card says so (pharmacist review M6).
		if d := round2(res.Best.PerCourse.PatientOOP - ordered.PerCourse.PatientOOP); d > 0 {
			notes = append(notes, "Patient pays "+cardUSD(d)+" more/"+coursePer(res))
		}
		if d := round2(res.Best.PerCourse.PayerAllowed - ordered.PerCourse.PayerAllowed); d > 0 {
			notes = append(notes, "Total cost "+cardUSD(d)+" more/"+coursePer(res))
		}
	}
	// Clinically excluded options, best ranked first, by reason; beyond three of one reason the
	// rest are counted (the comparison page names them all).
	byReason := map[string][]string{}
	var reasons []string
	for _, o := range res.Options {
		if t, ok := exclusionShort[o.Exclusion]; ok {
			if o.Exclusion == scoring.ExcludeNotLabelled && slices.Contains(item.labelUnconfirmed, o.Product.ID) {
				t = "label unconfirmed" // the table marks its label unknown for it, not "no"
			}
			if len(byReason[t]) == 0 {
				reasons = append(reasons, t)
			}
			byReason[t] = append(byReason[t], o.Product.Name)
		}
	}
	var excl []string
	for _, t := range reasons {
		names := byReason[t]
		for i, n := range names {
			if i == 2 && len(names) > 3 {
				excl = append(excl, fmt.Sprintf("%d more (%s)", len(names)-2, t))
				break
			}
			excl = append(excl, n+" ("+t+")")
		}
	}
	if len(excl) > 0 {
		notes = append(notes, "Not suggested:")
		for _, e := range excl {
			notes = append(notes, "  "+e)
		}
	}
	for _, n := range notes {
		if strings.HasPrefix(n, "  ") {
			fmt.Fprintf(&b, "  - %s\n", mdEscape(strings.TrimSpace(n)))
			continue
		}
		fmt.Fprintf(&b, "- %s\n", mdEscape(n))
	}
	if view.compareLink {
		fmt.Fprintf(&b, "\n[Full comparison](%s)\n", compareMarker)
	}
	return b.String()
}

// doseLine says the dose is kept: "Same dose: 420 mg IV q3w", "Same strength: 40 mg a day".
func doseLine(item orderedItem, res scoring.Result, group scoring.Group) string {
	if group.Benefit == scoring.PharmacyBenefit || res.Best.Product.MgPerUnit == 0 {
		s := fmt.Sprintf("Same strength: %s mg a day", fmtMg(res.DoseMg))
		if res.ItemMg > 0 && res.ItemMg != res.DoseMg {
			s = fmt.Sprintf("Same strength: %s mg tablets", fmtMg(res.ItemMg))
		}
		return s
	}
	// A weight- or BSA-based order keeps its dose as written ("6 mg/kg", "375 mg/m2"), as the
	// suggestions' labels do; the mg it comes to is in "Priced as" and the table.
	dose := fmtMg(res.DoseMg) + " mg"
	if m := perBodyRE.FindStringSubmatch(item.doseText); m != nil && !slices.Contains(res.Defaulted, "dose") {
		dose = m[1]
	}
	s := fmt.Sprintf("Same dose: %s%s", dose, routeAbbrev(res.Best.Product.Route))
	if sched := scheduleOf(item.order); sched != "" {
		s += " " + sched
	}
	return s
}

// pricedAs says how the dose and course were read when valuerx did not take them as written,
// or how a calculated dose was worked out ("375 mg/m2 x BSA 1.87 m2 ..."); none when the order
// gave both plainly. The words are the clinical package's, quoted as they are.
func pricedAs(item orderedItem, res scoring.Result, group scoring.Group) []string {
	dose, course, _ := strings.Cut(item.doseText, "\x00")
	var parts []string
	switch {
	case slices.Contains(res.Defaulted, "dose") || dose == "":
		if group.Benefit == scoring.PharmacyBenefit {
			parts = append(parts, fmt.Sprintf("%s mg a day, the group's default dose", fmtMg(res.DoseMg)))
		} else {
			parts = append(parts, fmt.Sprintf("%s mg, the group's default dose", fmtMg(res.DoseMg)))
		}
	default:
		main, phases, _ := strings.Cut(dose, "; ")
		if i := strings.Index(main, " ("); i >= 0 && !strings.HasPrefix(main[i:], " (from the order)") && !strings.HasPrefix(main[i:], " (1 tablet x ") {
			parts = append(parts, main)
		}
		if phases != "" {
			parts = append(parts, phases)
		}
	}
	switch {
	case strings.HasPrefix(course, "the labelled course"):
		parts = append(parts, fmt.Sprintf("%d administrations, %s", res.Administrations, course))
	case slices.Contains(res.Defaulted, "administrations") || course == "":
		unit := "administrations per course"
		if group.Benefit == scoring.PharmacyBenefit {
			unit = "days of supply"
		}
		parts = append(parts, fmt.Sprintf("%d %s, the group's default course", res.Administrations, unit))
	}
	return parts
}

// cardTable is the two-column table: the ordered and the recommended product, per course
// (retail: per days of supply), and the items per dose with what is discarded.
func cardTable(res scoring.Result) string {
	best, ordered := res.Best, res.Ordered
	per := "course"
	if res.Group.Benefit == scoring.PharmacyBenefit {
		per = fmt.Sprintf("%dd", res.Administrations)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| per %s | %s | %s |\n|---|---:|---:|\n", per, mdEscape(ordered.Product.Name), mdEscape(strings.TrimSuffix(best.Product.Name, " (generic)")))
	row := func(label string, f func(o scoring.Option) string) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", label, f(ordered), f(*best))
	}
	// The money rows print the extension's own rounded amounts (amountsOf), so the table and
	// valuerx-economics cannot disagree.
	row("Patient", func(o scoring.Option) string { return cardUSD(amountsOf(o.PerCourse).Patient) })
	switch {
	case capitatedInBudget(res.Contract):
		// The plan pays no claim: the capitated budget bears the total cost of care.
	case medicarePays(res):
		row("Medicare", func(o scoring.Option) string { return cardUSD(amountsOf(o.PerCourse).PayerPaid) })
	default:
		row("Plan", func(o scoring.Option) string { return cardUSD(amountsOf(o.PerCourse).PayerPaid) })
	}
	sc := res.Secondary // nil: no supplemental coverage on record
	if sc != nil {
		row(mdEscape(secondaryLabel(sc)), func(o scoring.Option) string { return cardUSD(amountsOf(o.PerCourse).Secondary) })
	}
	row("Total cost", func(o scoring.Option) string { return cardUSD(amountsOf(o.PerCourse).Allowed) })
	if best.Product.MgPerUnit > 0 {
		discarded := func(o scoring.Option) string {
			if o.PerDose.WastedUnits == 0 {
				return "none"
			}
			return fmtMg(o.PerDose.WastedUnits*o.Product.MgPerUnit) + " mg"
		}
		items := itemsLabel(ordered, *best)
		if sc == nil {
			row(items, vialsText)
			row("Discarded", discarded)
		} else {
			// Five rows at most: the secondary payer's row takes the discarded drug's, which
			// joins the vials.
			row(items, func(o scoring.Option) string {
				if o.PerDose.WastedUnits == 0 {
					return vialsText(o)
				}
				return vialsText(o) + " (" + discarded(o) + " waste)"
			})
		}
	}
	return b.String()
}

// itemsLabel names the row of the items a dose uses by what they are: "Syringes/dose" when
// every item of both products is a prefilled syringe (pegfilgrastim has no vial), "Kits/dose"
// for kits, else "Vials/dose".
func itemsLabel(opts ...scoring.Option) string {
	kind := ""
	for _, o := range opts {
		for _, u := range o.Packages {
			d := ""
			for _, pk := range o.Product.Packages {
				if pk.NDC == u.NDC {
					d = pk.Device()
					break
				}
			}
			switch {
			case d != "syringe" && d != "kit":
				return "Vials/dose"
			case kind == "":
				kind = d
			case kind != d:
				return "Items/dose"
			}
		}
	}
	switch kind {
	case "syringe":
		return "Syringes/dose"
	case "kit":
		return "Kits/dose"
	}
	return "Vials/dose"
}

// vialsText is the items one dose uses, "3×150" or "3×100 + 1×500" (mg per item; the spaces
// let a 300 px sidebar wrap the cell, TestBrowser).
func vialsText(o scoring.Option) string {
	var parts []string
	for _, u := range o.Packages {
		parts = append(parts, fmt.Sprintf("%d×%s", u.Count, fmtMg(u.Mg)))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " + ")
}

// secondaryLabel is the supplemental coverage as a sidebar's row names it: its configured name
// when short ("Medigap (Plan G)"), else its kind in a word ("Medicaid, Qualified Medicare
// Beneficiary" is 40 characters in a sidebar of about 30). The comparison page has the name.
func secondaryLabel(sc *scoring.SecondaryCoverage) string {
	if utf8.RuneCountInString(sc.Name) <= 16 {
		return sc.Name
	}
	switch sc.Kind {
	case scoring.Medicaid:
		return "Medicaid"
	case scoring.Medigap:
		return "Medigap"
	case scoring.Retiree:
		return "Retiree plan"
	}
	return sc.Name
}

// bookShort is the price period as the card names it.
func bookShort(book scoring.PriceBook) string {
	if book.Source == scoring.SourceNADAC {
		return "NADAC of " + book.Start.Format("2006-01-02")
	}
	return book.Label
}

// arrangementLines is the one line on the arrangement (and the prior authorisation a payer
// states), plus the organisation's figure where the configuration shows it to prescribers.
//
// An ACO is measured on its performance year's spending against its benchmark: the year is the
// order's (a stale or retail book can be of another year), and a Part D drug is outside it.
func arrangementLines(res scoring.Result, orderYear int, view cardView) []string {
	k := res.Contract
	best, ordered := res.Best, res.Ordered
	var out []string
	switch k.Arrangement {
	case scoring.SharedSavingsTwoSided, scoring.SharedSavingsUpside:
		if partDOutsideACO(res) {
			out = append(out, "Part D: outside ACO spending")
		} else {
			out = append(out, fmt.Sprintf("ACO: %d spend vs benchmark", orderYear))
		}
	case scoring.Capitation:
		if k.DrugsInBudget {
			out = append(out, "Paid from the capitated budget")
		} else {
			out = append(out, "Capitated plan; drug billed apart")
		}
	case scoring.Episode:
		out = append(out, "Counts toward the episode budget")
	default:
		if medicarePays(res) {
			out = append(out, "Medicare Part B, fee-for-service")
		} else {
			out = append(out, "Plan pays fee-for-service")
		}
	}
	if res.AvoidsPriorAuth || (ordered.PriorAuth.Required && !best.PriorAuth.Required) {
		out = append(out, fmt.Sprintf("%s: PA, ~%g days, %g%% denied", ordered.Product.Name, ordered.PriorAuth.ExpectedDelayDays, ordered.PriorAuth.DenialRate*100),
			fmt.Sprintf("%s: no prior auth", strings.TrimSuffix(best.Product.Name, " (generic)")))
	}
	if view.showOrganisation {
		d := best.PerCourse.NetImpact - ordered.PerCourse.NetImpact
		out = append(out, fmt.Sprintf("Organisation: %s/%s", signedCardUSD(d), coursePer(res)))
	}
	return out
}

// assumptionLines are the assumptions that change the figures a prescriber reads: the Part B
// deductible, supplemental coverage, a maximum out-of-pocket reached, an estimated price.
// The sources of every figure are on the comparison page.
func assumptionLines(res scoring.Result, view cardView) []string {
	// The deductible and the maximum out-of-pocket are read from the patient figure's source,
	// which scoring words for each.
	src := res.Ordered.Sources["patientOOP"] + " " + res.Best.Sources["patientOOP"]
	var out []string
	switch {
	case strings.Contains(src, "met on other orders of the same hook"):
		// Another draft of the signing meets part of it (Request.DeductibleMet).
		out = append(out, "Deductible partly met by other draft")
	case strings.Contains(src, "assumed not yet met"):
		// Part B's under Medicare's payment rules; a commercial contract's own deductible is the
		// plan's (it read "Part B" too: card review, 6 December 2026).
		if res.Contract.Reimbursement.Basis == scoring.BasisMedicareASP {
			out = append(out, "Assumes Part B deductible unmet")
		} else {
			out = append(out, "Assumes plan deductible unmet")
		}
	case strings.Contains(src, "deductible counted on another order"):
		// Another draft of the signing bears it (Request.DeductibleCounted).
		out = append(out, "Deductible counted on other draft")
	}
	switch sc := res.Secondary; {
	case sc == nil:
		out = append(out, "No supplemental coverage known")
	case sc.QMB:
		out = append(out, "QMB: no cost sharing billed")
	default:
		out = append(out, "Patient after "+secondaryLabel(sc))
	}
	if strings.Contains(src, "maximum out-of-pocket") {
		counted := strings.Contains(src, "other orders of the same hook count toward it")
		for _, o := range []scoring.Option{res.Ordered, *res.Best} {
			if o.PerCourse.PatientOOP > 0 && k2(o.PerCourse.PatientOOP) == k2(res.Contract.OOPMaxPerYear) {
				out = append(out, fmt.Sprintf("%s capped at %s MOOP", o.Product.Name, cardUSD(res.Contract.OOPMaxPerYear)))
			}
		}
		if counted {
			// Another draft of the signing counts toward the year's maximum (Request.OOPCounted).
			out = append(out, "MOOP partly used by other draft")
		}
	}
	price := res.Ordered.Sources["price"] + " " + res.Best.Sources["price"]
	if strings.Contains(price, "summarised by a third party") {
		out = append(out, "NADAC via a third-party summary")
	}
	if m := flatPriceRE.FindStringSubmatch(price); m != nil {
		// The ordered strength at another's price: "40 mg at the 10 mg tablet's price" (not
		// "priced as the 10 mg tablet", which reads as a quarter of the dose).
		out = append(out, fmt.Sprintf("%s mg at the %s mg tablet's price", fmtMg(res.ItemMg), m[1]))
	}
	if view.showOrganisation && strings.Contains(res.Best.Sources["acquisition"], "estimated") {
		out = append(out, "Org cost: estimated (derived ASP)")
	}
	return out
}

// perBodyRE finds a dose ordered per body weight or surface in the dose's basis ("420 mg per
// dose (6 mg/kg x 70 kg ...)").
var perBodyRE = regexp.MustCompile(`^[0-9.]+ mg per dose \(([0-9.]+ (?:mg|mcg)/(?:kg|m2)) x `)

// flatPriceRE finds the tablet a retail price was published for when another strength is
// priced at it ("the 10 mg tablet's price (flat pricing across strengths)").
var flatPriceRE = regexp.MustCompile(`the ([0-9.]+) mg tablet's price \(flat pricing across strengths\)`)

func k2(v float64) float64 { return math.Round(v * 100) }

// hasDevice reports whether some package of p is of device kind d (scoring.Package.Device).
func hasDevice(p scoring.Product, d string) bool {
	return slices.ContainsFunc(p.Packages, func(pk scoring.Package) bool { return pk.Device() == d })
}
