package gateway

import "valuerx/store"

// overrideReasons are the reasons a clinician can pick when declining a valuerx card (CDS Hooks
// 2.0 card.overrideReason), each a code of valuerx's own code system (overrideSystem) with the
// display the EHR shows. They are the reasons a health-system pharmacy hears when a lower-cost
// equivalent is declined, so the pharmacy and value-based-care teams can act on them: a formulary
// or stock gap, a payer rule, an established course, a reaction, a trial, free drug.
//
// "figures-look-wrong" is not a clinical reason: it flags the card's money figures for the
// pharmacy team, and the analytics count it as a data-quality flag (store.ReasonFiguresWrong).
var overrideReasons = []struct{ code, display string }{
	{"continuing-established-course", "Continuing an established course of the ordered product"},
	{"indication-requires-ordered", "Indication or care pathway requires the ordered product"},
	{"payer-requires-ordered", "Payer or prior authorisation requires the ordered product"},
	{"not-on-formulary-or-stock", "Suggested product not on formulary or not stocked here"},
	{"prior-reaction-or-intolerance", "Prior reaction or intolerance (including excipients such as benzyl alcohol)"},
	{"clinical-trial-or-protocol", "Clinical trial or treatment protocol"},
	{"manufacturer-assistance", "Manufacturer assistance or free drug for the ordered product"},
	{"patient-declines", "Patient declines the suggested product"},
	{store.ReasonFiguresWrong, "Figures look wrong (flag for the pharmacy team)"},
}

// reasonOther is what any code outside overrideReasons is stored as: the field is free for the
// EHR to fill, and a code holding a name or an identifier must not reach the analytics.
const reasonOther = "other"

// legacyReasons maps the codes cards carried before this list (still on screens, and in EHR
// feedback queues, after an upgrade) to the new ones.
var legacyReasons = map[string]string{
	"stable-mid-course":      "continuing-established-course",
	"payer-requires-ordered": "payer-requires-ordered",
	"patient-preference":     "patient-declines",
}

// storedReason is the code valuerx stores for a reason the EHR sent back: one of its own codes
// (system valuerx's or absent: the sandbox sometimes omits it), or "other"; "" when no reason
// was picked.
func storedReason(code, system string) string {
	if code == "" {
		return ""
	}
	if system != "" && system != overrideSystem {
		return reasonOther
	}
	for _, r := range overrideReasons {
		if r.code == code {
			return code
		}
	}
	if c, ok := legacyReasons[code]; ok {
		return c
	}
	return reasonOther
}
