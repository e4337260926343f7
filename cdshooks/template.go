package cdshooks

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The prefetch tokens of CDS Hooks 2.0
// (https://cds-hooks.hl7.org/2.0/#prefetch-tokens): the first-level
// primitive context members the order hooks mark "Prefetch Token: Yes", and
// the four user-identity tokens derived from context.userId (new in 2.0).
const (
	tokenContextUserID      = "context.userId"
	tokenContextPatientID   = "context.patientId"
	tokenContextEncounterID = "context.encounterId"
	tokenUserPractitioner   = "userPractitionerId"
	tokenUserPractRole      = "userPractitionerRoleId"
	tokenUserPatient        = "userPatientId"
	tokenUserRelatedPerson  = "userRelatedPersonId"
)

// cdsTemplatePart is a piece of a parsed template: literal text, or a token.
type cdsTemplatePart struct {
	text  string
	token bool
}

// cdsParseTemplate splits a template into literal text and tokens, checking
// that every token is a CDS Hooks 2.0 token. Whitespace inside the braces is
// tolerated. Errors name the offending token (template text is service
// configuration, not PHI).
func cdsParseTemplate(tmpl string) ([]cdsTemplatePart, error) {
	var parts []cdsTemplatePart
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				parts = append(parts, cdsTemplatePart{text: rest})
			}
			return parts, nil
		}
		if i > 0 {
			parts = append(parts, cdsTemplatePart{text: rest[:i]})
		}
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, errors.New("cdshooks: prefetch template has an unterminated {{")
		}
		name := strings.TrimSpace(rest[:j])
		rest = rest[j+2:]
		switch name {
		case tokenContextUserID, tokenContextPatientID, tokenContextEncounterID,
			tokenUserPractitioner, tokenUserPractRole, tokenUserPatient, tokenUserRelatedPerson:
		case "":
			return nil, errors.New("cdshooks: prefetch template has an empty {{}} token")
		default:
			if strings.HasPrefix(name, "context.") && strings.ContainsAny(name[len("context."):], ".()[]") {
				return nil, fmt.Errorf("cdshooks: prefetch token %q: only first-level context members are tokens in CDS Hooks 2.0", cdsClip(name))
			}
			return nil, fmt.Errorf("cdshooks: prefetch token %q is not a CDS Hooks 2.0 token for the order hooks", cdsClip(name))
		}
		parts = append(parts, cdsTemplatePart{text: name, token: true})
	}
}

// ValidateTemplate checks a prefetch template for discovery: a non-empty
// FHIR read or search URL relative to fhirServer, whose tokens are all
// CDS Hooks 2.0 tokens ({{context.userId}}, {{context.patientId}},
// {{context.encounterId}}, {{userPractitionerId}}, {{userPractitionerRoleId}},
// {{userPatientId}}, {{userRelatedPersonId}}). 3.0-ballot FHIRPath tokens
// such as {{context.draftOrders.entry...}} or {{today()}} are refused.
func ValidateTemplate(tmpl string) error {
	if strings.TrimSpace(tmpl) == "" {
		return errors.New("cdshooks: prefetch template is empty")
	}
	parts, err := cdsParseTemplate(tmpl)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.token {
			continue
		}
		if strings.ContainsAny(p.text, " \t\r\n") {
			return errors.New("cdshooks: prefetch template contains whitespace outside a token")
		}
	}
	if first := parts[0]; !first.token && (strings.Contains(first.text, "://") || strings.HasPrefix(first.text, "/")) {
		return errors.New("cdshooks: prefetch template must be relative to fhirServer")
	}
	return nil
}

// ExpandTemplate replaces the tokens of a prefetch template with values from
// ctx, query-escaped, giving the query a service runs against fhirServer
// when the client did not prefetch. A token that cannot be resolved (no
// encounter, or a user token for another kind of user, e.g.
// {{userPractitionerId}} when userId is a PractitionerRole) is an error, as
// is any token outside CDS Hooks 2.0: the client would have skipped such a
// template too. Errors name tokens, never values.
func ExpandTemplate(tmpl string, ctx *OrderContext) (string, error) {
	parts, err := cdsParseTemplate(tmpl)
	if err != nil {
		return "", err
	}
	if ctx == nil {
		ctx = &OrderContext{}
	}
	userType, userID := cdsSplitRef(ctx.UserID)
	var b strings.Builder
	for _, p := range parts {
		if !p.token {
			b.WriteString(p.text)
			continue
		}
		var v string
		switch p.text {
		case tokenContextUserID:
			v = ctx.UserID
		case tokenContextPatientID:
			v = ctx.PatientID
		case tokenContextEncounterID:
			v = ctx.EncounterID
		case tokenUserPractitioner:
			v = cdsIf(userType == "Practitioner", userID)
		case tokenUserPractRole:
			v = cdsIf(userType == "PractitionerRole", userID)
		case tokenUserPatient:
			v = cdsIf(userType == "Patient", userID)
		case tokenUserRelatedPerson:
			v = cdsIf(userType == "RelatedPerson", userID)
		}
		if v == "" {
			return "", fmt.Errorf("cdshooks: prefetch token %q has no value in this context", p.text)
		}
		b.WriteString(url.QueryEscape(v))
	}
	return b.String(), nil
}

func cdsIf(cond bool, v string) string {
	if cond {
		return v
	}
	return ""
}

// cdsClip bounds a string quoted into an error message.
func cdsClip(s string) string {
	const limit = 64
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit]) + "…"
}
