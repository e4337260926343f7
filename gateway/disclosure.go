package gateway

import (
	"slices"
	"strings"
)

// Disclosure says which prescribers see the organisation's margin and net impact on a card
// (issue 14 item 3). By default nobody does: a prescriber sees clinical equivalence, the
// patient's cost and the total cost of care, because a compliance committee is likely to read an
// organisation's fee-for-service margin on a prescriber's screen as steering by profit. The
// pharmacy and value-based-care teams see every figure on the comparison page.
type Disclosure struct {
	// Contracts are contract ids (scoring configuration) under which every prescriber sees the
	// organisation's figure: an ACO whose clinicians share in its savings, say.
	Contracts []string
	// Users are hook userId references ("PractitionerRole/vbc-lead", "Practitioner/123") who
	// see it under every contract. A PractitionerRole reference stands for a role in FHIR, so
	// listing the pharmacists' and the VBC team's PractitionerRoles discloses per role; an
	// entry ending in "/" ("PractitionerRole/") matches every user of that resource type.
	Users []string
}

// showsOrganisation reports whether a card for contractID shown to userID may carry the
// organisation's figure.
func (d Disclosure) showsOrganisation(contractID, userID string) bool {
	if slices.Contains(d.Contracts, contractID) {
		return true
	}
	for _, u := range d.Users {
		if u == userID || (strings.HasSuffix(u, "/") && strings.HasPrefix(userID, u) && len(userID) > len(u)) {
			return true
		}
	}
	return false
}
