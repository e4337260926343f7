package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"valuerx/cdshooks"
)

// invoke posts one request to a service and applies every response rule to the answer.
func (s *suite) invoke(ctx context.Context, svc service, req HookRequest) {
	body, err := req.prepare(svc.templates, false)
	if err != nil {
		s.rec.skip(CheckServiceStatus, Evidence{Request: req.Name, Message: "request could not be prepared: " + err.Error()})
		return
	}
	x := s.send(ctx, http.MethodPost, svc.url, body, s.mint(svc.url), nil, req.Name)
	if _, seen := s.valid[svc.key()]; !seen && (req.BuiltIn || s.opts.SkipBuiltin) {
		s.valid[svc.key()] = x.status
	}
	if x.err != nil {
		s.rec.violate(CheckServiceStatus, x.evidence("", x.err.Error()))
		return
	}
	if x.status != http.StatusOK {
		s.rec.violate(CheckServiceStatus, x.evidence("", fmt.Sprintf("answered %d, not 200", x.status)))
		return
	}
	s.rec.pass(CheckServiceStatus, Evidence{})
	s.samples[svc.key()] = append(s.samples[svc.key()], x.elapsed)
	s.allowOrigin(x)
	refs, draftRaw, err := draftOrderRefs(body)
	if err != nil {
		refs, draftRaw = nil, nil
	}
	s.record(x, s.checkBody(x.body, refs, draftRaw))
	s.cards[svc.key()] = append(s.cards[svc.key()], collectCards(x.body)...)
}

// checkBody applies the suite's own response rules and those of cdshooks.CheckResponse, mapping
// each library rule onto the suite's check of the same requirement. A library finding at a path
// the suite already reported under the same check is dropped; one at SHOULD level never fails.
func (s *suite) checkBody(body []byte, refs map[string]bool, draftRaw json.RawMessage) []finding {
	r := &rules{validate: s.fv.Validate}
	r.checkResponse(body, refs)
	seen := map[string]bool{}
	for _, f := range r.out {
		if f.Msg != "" {
			seen[f.ID+"|"+f.Path] = true
		}
	}
	out := r.out
	for _, v := range cdshooks.CheckResponse(body, draftRaw) {
		id := libraryCheck(v)
		path := "$"
		if v.Path != "" {
			path = "$." + v.Path
		}
		if seen[id+"|"+path] || coveredByParent(seen, id, path) {
			continue
		}
		seen[id+"|"+path] = true
		msg := v.Message + " [cdshooks: " + v.Rule + "]"
		if v.Level != cdshooks.LevelSHALL {
			// Advice from the library stays advice even on a SHALL check.
			msg = "(SHOULD) " + msg
			out = append(out, finding{ID: id, Path: path, Msg: msg, advisory: true})
			continue
		}
		out = append(out, finding{ID: id, Path: path, Msg: msg})
	}
	return out
}

// coveredByParent reports whether the suite already flagged the same check at an enclosing path
// (the library sometimes reports one level deeper, e.g. resource.resourceType under resource).
func coveredByParent(seen map[string]bool, id, path string) bool {
	for p := path; ; {
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return false
		}
		p = p[:i]
		if seen[id+"|"+p] {
			return true
		}
	}
}

// libraryCheck maps a cdshooks rule to the suite's check id.
func libraryCheck(v cdshooks.Violation) string {
	switch v.Rule {
	case cdshooks.RuleResponseObject, cdshooks.RuleCardsArray, cdshooks.RuleCardObject:
		return CheckResponseCards
	case cdshooks.RuleSystemActionsArray:
		return CheckSystemActions
	case cdshooks.RuleNoNullOrEmpty:
		return CheckJSONNoNull
	case cdshooks.RuleExtensionObject:
		return CheckExtension
	case cdshooks.RuleCardUUID:
		return CheckCardUUID
	case cdshooks.RuleCardUUIDPresent, cdshooks.RuleSuggestionUUIDSet:
		return CheckUUIDsSet
	case cdshooks.RuleSummary:
		return CheckCardSummary
	case cdshooks.RuleDetail:
		return CheckCardDetail
	case cdshooks.RuleIndicator:
		return CheckCardIndicator
	case cdshooks.RuleSource, cdshooks.RuleSourceLabel, cdshooks.RuleSourceURL, cdshooks.RuleSourceIcon:
		return CheckCardSource
	case cdshooks.RuleSourceTopic:
		return CheckCardTopic
	case cdshooks.RuleSourceTopicCRD:
		return CheckCRDTopic
	case cdshooks.RuleSuggestions, cdshooks.RuleSuggestionObject:
		return CheckCardSuggest
	case cdshooks.RuleSelectionBehavior, cdshooks.RuleSelectionValue:
		return CheckCardSelection
	case cdshooks.RuleAtMostOneRecommend:
		return CheckSugAtMostOne
	case cdshooks.RuleSuggestionLabel:
		return CheckSugLabel
	case cdshooks.RuleSuggestionUUID:
		return CheckSugUUID
	case cdshooks.RuleIsRecommended:
		return CheckSugRecommended
	case cdshooks.RuleActions, cdshooks.RuleActionObject:
		return CheckSugActions
	case cdshooks.RuleActionType:
		return CheckActionType
	case cdshooks.RuleActionDescription:
		return CheckActionDesc
	case cdshooks.RuleActionResource, cdshooks.RuleDeleteNoResource:
		return CheckActionResource
	case cdshooks.RuleResourceIDString, cdshooks.RuleDeleteResourceID:
		return CheckActionResID
	case cdshooks.RuleUpdateTarget, cdshooks.RuleDeleteTarget:
		return CheckActionTarget
	case cdshooks.RuleDeleteWithCreate:
		return CheckActionDelCreate
	case cdshooks.RuleOverrideReasons, cdshooks.RuleOverrideDisplay:
		return CheckCardOverride
	case cdshooks.RuleCoding:
		if strings.Contains(v.Path, "overrideReasons") {
			return CheckCardOverride
		}
		return CheckCardTopic
	case cdshooks.RuleLinks, cdshooks.RuleLinkLabel, cdshooks.RuleLinkURL, cdshooks.RuleLinkType, cdshooks.RuleLinkAutolaunchable:
		return CheckCardLinks
	case cdshooks.RuleLinkAppContext:
		return CheckLinkAppContext
	}
	return CheckLibraryRules
}

// collectCards extracts card and suggestion uuids (and the first override reason) for feedback.
func collectCards(body []byte) []seenCard {
	var resp struct {
		Cards []struct {
			UUID        any `json:"uuid"`
			Suggestions []struct {
				UUID any `json:"uuid"`
			} `json:"suggestions"`
			OverrideReasons []struct {
				Code   any `json:"code"`
				System any `json:"system"`
			} `json:"overrideReasons"`
		} `json:"cards"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return nil
	}
	var out []seenCard
	for _, c := range resp.Cards {
		u, ok := c.UUID.(string)
		if !ok || u == "" {
			continue
		}
		sc := seenCard{uuid: u}
		for _, sg := range c.Suggestions {
			if su, ok := sg.UUID.(string); ok && su != "" {
				sc.suggestions = append(sc.suggestions, su)
			}
		}
		if len(c.OverrideReasons) > 0 {
			code, _ := c.OverrideReasons[0].Code.(string)
			sys, _ := c.OverrideReasons[0].System.(string)
			if code != "" && sys != "" {
				sc.reason = map[string]string{"code": code, "system": sys}
			}
		}
		out = append(out, sc)
	}
	return out
}

// prefetch412 posts the built-in request without prefetch and without fhirServer. A service that
// declared prefetch templates cannot obtain that data, so it SHALL answer 412 if the data is
// required; a 200 is only a warning because the suite cannot know which data the service needs.
func (s *suite) prefetch412(ctx context.Context, svc service) {
	if len(svc.templates) == 0 {
		s.rec.skip(CheckPrefetch412, Evidence{Request: "service " + svc.ID, Message: "the service declares no prefetch, so it may need no data"})
		return
	}
	var req HookRequest
	for _, r := range BuiltinRequests() {
		if r.Hook == svc.Hook {
			req = r
		}
	}
	body, err := req.prepare(nil, true)
	if err != nil {
		s.rec.skip(CheckPrefetch412, Evidence{Request: req.Name, Message: err.Error()})
		return
	}
	x := s.send(ctx, http.MethodPost, svc.url, body, s.mint(svc.url), nil, req.Name+" without prefetch or fhirServer")
	switch {
	case x.err != nil:
		s.rec.violate(CheckPrefetch412, x.evidence("", x.err.Error()))
	case x.status == http.StatusPreconditionFailed:
		s.rec.pass(CheckPrefetch412, Evidence{})
		if v, err := decodeJSON(x.body); err == nil {
			if m, ok := v.(map[string]any); ok && m["resourceType"] == "OperationOutcome" {
				s.rec.pass(CheckErrorOutcome, Evidence{})
				return
			}
		}
		s.rec.violate(CheckErrorOutcome, x.evidence("$", "the 412 body is not a FHIR OperationOutcome"))
	case x.status >= 200 && x.status <= 299:
		s.rec.warn(CheckPrefetch412, x.evidence("", fmt.Sprintf("answered %d although its declared prefetch was missing and no fhirServer was given: "+
			"conformant only if none of that data is required", x.status)))
	case x.status == http.StatusUnauthorized || x.status == http.StatusForbidden:
		s.rec.skip(CheckPrefetch412, x.evidence("", "the suite's token was refused (see auth.valid-token)"))
	default:
		s.rec.violate(CheckPrefetch412, x.evidence("", fmt.Sprintf("answered %d instead of 412 Precondition Failed", x.status)))
	}
}

// malformed posts a body that is not JSON to the first order service: CRD asks for 400.
func (s *suite) malformed(ctx context.Context) {
	if len(s.svcs) == 0 {
		s.rec.skip(CheckMalformed400, Evidence{Message: "no order service"})
		return
	}
	svc := s.svcs[0]
	x := s.send(ctx, http.MethodPost, svc.url, []byte(`{"hook": "`+svc.Hook+`", "context": {`), s.mint(svc.url), nil, "body that is not JSON")
	switch {
	case x.err != nil:
		s.rec.warn(CheckMalformed400, x.evidence("", x.err.Error()))
	case x.status == http.StatusBadRequest:
		s.rec.pass(CheckMalformed400, Evidence{})
	case refused(x):
		s.rec.skip(CheckMalformed400, x.evidence("", "the suite's token was refused (see auth.valid-token)"))
	default:
		s.rec.violate(CheckMalformed400, x.evidence("", fmt.Sprintf("answered %d to a body that is not JSON; 400 is expected", x.status)))
	}
}
