package cdshooks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// checkDraft is the draft-order Bundle the check fixtures refer to.
var checkDraft = rawJSON(`{"resourceType":"Bundle","entry":[
 {"resource":{"resourceType":"MedicationRequest","id":"mr1","status":"draft"}},
 {"fullUrl":"https://ehr.example/fhir/ServiceRequest/sr1","resource":{"resourceType":"ServiceRequest","status":"draft"}}]}`)

// checkBase is a response that breaks no rule, SHALL or SHOULD.
const checkBase = `{
 "cards": [{
  "uuid": "c1", "summary": "Lower-cost equivalent available", "indicator": "info", "detail": "**Save**",
  "source": {"label": "valuerx", "url": "https://valuerx.example", "icon": "https://valuerx.example/icon.png",
             "topic": {"code": "therapy-alternatives-opt", "system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "display": "Optional Therapy Alternatives"}},
  "suggestions": [
   {"label": "Switch to A", "uuid": "s1", "isRecommended": true,
    "actions": [{"type": "update", "description": "Order A", "resource": {"resourceType": "MedicationRequest", "id": "mr1"}}]},
   {"label": "Switch to B", "uuid": "s2",
    "actions": [{"type": "delete", "description": "Remove draft", "resourceId": "MedicationRequest/mr1"},
                {"type": "create", "description": "Order B", "resource": {"resourceType": "MedicationRequest", "status": "draft"}}]}],
  "selectionBehavior": "at-most-one",
  "overrideReasons": [{"code": "patient-requested-brand", "system": "http://terminology.cds-hooks.org/CodeSystem/OverrideReasons", "display": "Patient requested brand"}],
  "links": [{"label": "ASP", "url": "https://www.cms.gov/asp", "type": "absolute"},
            {"label": "App", "url": "https://app.example/launch", "type": "smart", "appContext": "{\"a\":1}", "autolaunchable": true}],
  "extension": {"org.example": 1}
 }],
 "systemActions": [{"type": "update", "description": "Annotate", "resource": {"resourceType": "ServiceRequest", "id": "sr1"}}]
}`

func TestCheckResponseBaseIsClean(t *testing.T) {
	if vs := CheckResponse([]byte(checkBase), checkDraft); len(vs) != 0 {
		t.Fatalf("violations in the clean fixture: %v", vs)
	}
}

// TestCheckResponseCatchesEachRule breaks the clean fixture one way at a
// time and expects the named rule at the named path; every Rule constant
// must be exercised.
func TestCheckResponseCatchesEachRule(t *testing.T) {
	base := []byte(checkBase)
	e := func(path string, v any) []byte { return editJSON(t, base, path, v) }
	long := strings.Repeat("é", 140)
	tests := []struct {
		name  string
		body  []byte
		rule  string
		path  string
		level string
	}{
		{"not JSON", []byte(`{"cards":`), RuleResponseObject, "", LevelSHALL},
		{"trailing data", []byte(`{"cards":[]} {}`), RuleResponseObject, "", LevelSHALL},
		{"array body", []byte(`[]`), RuleResponseObject, "", LevelSHALL},
		{"cards missing", []byte(`{}`), RuleCardsArray, "cards", LevelSHALL},
		{"cards null", []byte(`{"cards":null}`), RuleCardsArray, "cards", LevelSHALL},
		{"cards object", []byte(`{"cards":{}}`), RuleCardsArray, "cards", LevelSHALL},
		{"systemActions string", e("systemActions", "x"), RuleSystemActionsArray, "systemActions", LevelSHALL},
		{"systemActions null", e("systemActions", nil), RuleNoNullOrEmpty, "systemActions", LevelSHALL},
		{"systemActions empty", e("systemActions", []any{}), RuleNoNullOrEmpty, "systemActions", LevelSHALL},
		{"detail empty", e("cards.0.detail", ""), RuleNoNullOrEmpty, "cards[0].detail", LevelSHALL},
		{"detail null", e("cards.0.detail", nil), RuleNoNullOrEmpty, "cards[0].detail", LevelSHALL},
		{"source.url null", e("cards.0.source.url", nil), RuleNoNullOrEmpty, "cards[0].source.url", LevelSHALL},
		{"topic null", e("cards.0.source.topic", nil), RuleNoNullOrEmpty, "cards[0].source.topic", LevelSHALL},
		{"isRecommended null", e("cards.0.suggestions.0.isRecommended", nil), RuleNoNullOrEmpty, "cards[0].suggestions[0].isRecommended", LevelSHALL},
		{"unknown card member null", e("cards.0.future", nil), RuleNoNullOrEmpty, "cards[0].future", LevelSHALL},
		{"unknown top-level member null", e("future", nil), RuleNoNullOrEmpty, "future", LevelSHALL},
		{"action resource null", e("cards.0.suggestions.0.actions.0.resource", nil), RuleNoNullOrEmpty, "cards[0].suggestions[0].actions[0].resource", LevelSHALL},
		{"link member null", e("cards.0.links.0.future", nil), RuleNoNullOrEmpty, "cards[0].links[0].future", LevelSHALL},
		{"extension empty", e("cards.0.extension", map[string]any{}), RuleNoNullOrEmpty, "cards[0].extension", LevelSHALL},
		{"extension string", e("cards.0.extension", "x"), RuleExtensionObject, "cards[0].extension", LevelSHALL},
		{"card string", e("cards.0", "x"), RuleCardObject, "cards[0]", LevelSHALL},
		{"card uuid number", e("cards.0.uuid", 1), RuleCardUUID, "cards[0].uuid", LevelSHALL},
		{"card uuid repeated", []byte(`{"cards":[{"uuid":"u","summary":"a","indicator":"info","source":{"label":"l","topic":{"code":"c","system":"s"}}},{"uuid":"u","summary":"b","indicator":"info","source":{"label":"l","topic":{"code":"c","system":"s"}}}]}`), RuleCardUUID, "cards[1].uuid", LevelSHALL},
		{"card uuid missing", e("cards.0.uuid", deleteMember), RuleCardUUIDPresent, "cards[0].uuid", LevelSHOULD},
		{"summary 140 runes", e("cards.0.summary", long), RuleSummary, "cards[0].summary", LevelSHALL},
		{"summary missing", e("cards.0.summary", deleteMember), RuleSummary, "cards[0].summary", LevelSHALL},
		{"summary empty", e("cards.0.summary", ""), RuleSummary, "cards[0].summary", LevelSHALL},
		{"summary array", e("cards.0.summary", []any{"a"}), RuleSummary, "cards[0].summary", LevelSHALL},
		{"detail number", e("cards.0.detail", 3), RuleDetail, "cards[0].detail", LevelSHALL},
		{"indicator hard-stop", e("cards.0.indicator", "hard-stop"), RuleIndicator, "cards[0].indicator", LevelSHALL},
		{"indicator missing", e("cards.0.indicator", deleteMember), RuleIndicator, "cards[0].indicator", LevelSHALL},
		{"source missing", e("cards.0.source", deleteMember), RuleSource, "cards[0].source", LevelSHALL},
		{"source string", e("cards.0.source", "valuerx"), RuleSource, "cards[0].source", LevelSHALL},
		{"source label missing", e("cards.0.source.label", deleteMember), RuleSourceLabel, "cards[0].source.label", LevelSHALL},
		{"source label empty", e("cards.0.source.label", ""), RuleSourceLabel, "cards[0].source.label", LevelSHALL},
		{"source url relative", e("cards.0.source.url", "/about"), RuleSourceURL, "cards[0].source.url", LevelSHALL},
		{"source icon no host", e("cards.0.source.icon", "https:///icon.png"), RuleSourceIcon, "cards[0].source.icon", LevelSHALL},
		{"topic string", e("cards.0.source.topic", "therapy-alternatives-opt"), RuleSourceTopic, "cards[0].source.topic", LevelSHALL},
		{"topic display number", e("cards.0.source.topic.display", 1), RuleSourceTopic, "cards[0].source.topic.display", LevelSHALL},
		{"topic without system", e("cards.0.source.topic.system", deleteMember), RuleCoding, "cards[0].source.topic.system", LevelSHALL},
		{"topic missing", e("cards.0.source.topic", deleteMember), RuleSourceTopicCRD, "cards[0].source.topic", LevelSHOULD},
		{"suggestions empty", e("cards.0.suggestions", []any{}), RuleSuggestions, "cards[0].suggestions", LevelSHALL},
		{"suggestions object", e("cards.0.suggestions", map[string]any{}), RuleSuggestions, "cards[0].suggestions", LevelSHALL},
		{"selectionBehavior missing", e("cards.0.selectionBehavior", deleteMember), RuleSelectionBehavior, "cards[0].selectionBehavior", LevelSHALL},
		{"selectionBehavior all", e("cards.0.selectionBehavior", "all"), RuleSelectionValue, "cards[0].selectionBehavior", LevelSHALL},
		{"two recommended under at-most-one", e("cards.0.suggestions.1.isRecommended", true), RuleAtMostOneRecommend, "cards[0].suggestions", LevelSHALL},
		{"suggestion string", e("cards.0.suggestions.1", "B"), RuleSuggestionObject, "cards[0].suggestions[1]", LevelSHALL},
		{"suggestion label missing", e("cards.0.suggestions.0.label", deleteMember), RuleSuggestionLabel, "cards[0].suggestions[0].label", LevelSHALL},
		{"suggestion uuid repeated", e("cards.0.suggestions.1.uuid", "s1"), RuleSuggestionUUID, "cards[0].suggestions[1].uuid", LevelSHALL},
		{"suggestion uuid number", e("cards.0.suggestions.1.uuid", 2), RuleSuggestionUUID, "cards[0].suggestions[1].uuid", LevelSHALL},
		{"suggestion uuid missing", e("cards.0.suggestions.1.uuid", deleteMember), RuleSuggestionUUIDSet, "cards[0].suggestions[1].uuid", LevelSHOULD},
		{"isRecommended string", e("cards.0.suggestions.0.isRecommended", "true"), RuleIsRecommended, "cards[0].suggestions[0].isRecommended", LevelSHALL},
		{"actions empty", e("cards.0.suggestions.0.actions", []any{}), RuleActions, "cards[0].suggestions[0].actions", LevelSHALL},
		{"action string", e("cards.0.suggestions.0.actions.0", "update"), RuleActionObject, "cards[0].suggestions[0].actions[0]", LevelSHALL},
		{"action type replace", e("cards.0.suggestions.0.actions.0.type", "replace"), RuleActionType, "cards[0].suggestions[0].actions[0].type", LevelSHALL},
		{"action type missing", e("cards.0.suggestions.0.actions.0.type", deleteMember), RuleActionType, "cards[0].suggestions[0].actions[0].type", LevelSHALL},
		{"suggestion action without description", e("cards.0.suggestions.0.actions.0.description", deleteMember), RuleActionDescription, "cards[0].suggestions[0].actions[0].description", LevelSHALL},
		{"system action without description", e("systemActions.0.description", deleteMember), RuleActionDescription, "systemActions[0].description", LevelSHOULD},
		{"update without resource", e("cards.0.suggestions.0.actions.0.resource", deleteMember), RuleActionResource, "cards[0].suggestions[0].actions[0].resource", LevelSHALL},
		{"update resource as id string", e("cards.0.suggestions.0.actions.0.resource", "MedicationRequest/mr1"), RuleActionResource, "cards[0].suggestions[0].actions[0].resource", LevelSHALL},
		{"create resource without resourceType", e("cards.0.suggestions.1.actions.1.resource.resourceType", deleteMember), RuleActionResource, "cards[0].suggestions[1].actions[1].resource.resourceType", LevelSHALL},
		{"resourceId array (CRD 2.0.1 narrative)", e("cards.0.suggestions.1.actions.0.resourceId", []any{"MedicationRequest/mr1"}), RuleResourceIDString, "cards[0].suggestions[1].actions[0].resourceId", LevelSHALL},
		{"delete without resourceId", e("cards.0.suggestions.1.actions.0.resourceId", deleteMember), RuleDeleteResourceID, "cards[0].suggestions[1].actions[0].resourceId", LevelSHALL},
		{"delete with bare id", e("cards.0.suggestions.1.actions.0.resourceId", "mr1"), RuleDeleteResourceID, "cards[0].suggestions[1].actions[0].resourceId", LevelSHALL},
		{"delete with 1.0-style resource", e("cards.0.suggestions.1.actions.0.resource", "mr1"), RuleDeleteNoResource, "cards[0].suggestions[1].actions[0].resource", LevelSHOULD},
		{"update of a non-draft", e("cards.0.suggestions.0.actions.0.resource.id", "mr9"), RuleUpdateTarget, "cards[0].suggestions[0].actions[0].resource", LevelSHALL},
		{"update without id", e("cards.0.suggestions.0.actions.0.resource.id", deleteMember), RuleUpdateTarget, "cards[0].suggestions[0].actions[0].resource.id", LevelSHALL},
		{"delete of a non-draft", e("cards.0.suggestions.1.actions.0.resourceId", "MedicationRequest/mr9"), RuleDeleteTarget, "cards[0].suggestions[1].actions[0].resourceId", LevelSHALL},
		{"delete without create", e("cards.0.suggestions.1.actions.1.resource.resourceType", "Communication"), RuleDeleteWithCreate, "cards[0].suggestions[1].actions[0]", LevelSHOULD},
		{"overrideReasons empty", e("cards.0.overrideReasons", []any{}), RuleOverrideReasons, "cards[0].overrideReasons", LevelSHALL},
		{"overrideReason string", e("cards.0.overrideReasons.0", "busy"), RuleOverrideReasons, "cards[0].overrideReasons[0]", LevelSHALL},
		{"overrideReason without display", e("cards.0.overrideReasons.0.display", deleteMember), RuleOverrideDisplay, "cards[0].overrideReasons[0].display", LevelSHALL},
		{"overrideReason without system", e("cards.0.overrideReasons.0.system", deleteMember), RuleCoding, "cards[0].overrideReasons[0].system", LevelSHALL},
		{"overrideReason code number", e("cards.0.overrideReasons.0.code", 7), RuleCoding, "cards[0].overrideReasons[0].code", LevelSHALL},
		{"links empty", e("cards.0.links", []any{}), RuleLinks, "cards[0].links", LevelSHALL},
		{"link string", e("cards.0.links.0", "https://x"), RuleLinks, "cards[0].links[0]", LevelSHALL},
		{"link label missing", e("cards.0.links.0.label", deleteMember), RuleLinkLabel, "cards[0].links[0].label", LevelSHALL},
		{"link url ftp", e("cards.0.links.0.url", "ftp://files.example/x"), RuleLinkURL, "cards[0].links[0].url", LevelSHALL},
		{"link url relative", e("cards.0.links.0.url", "/asp"), RuleLinkURL, "cards[0].links[0].url", LevelSHALL},
		{"link url missing", e("cards.0.links.0.url", deleteMember), RuleLinkURL, "cards[0].links[0].url", LevelSHALL},
		{"link type web", e("cards.0.links.0.type", "web"), RuleLinkType, "cards[0].links[0].type", LevelSHALL},
		{"appContext on absolute", e("cards.0.links.0.appContext", "x"), RuleLinkAppContext, "cards[0].links[0].appContext", LevelSHALL},
		{"appContext object", e("cards.0.links.1.appContext", map[string]any{"a": 1}), RuleLinkAppContext, "cards[0].links[1].appContext", LevelSHALL},
		{"autolaunchable string", e("cards.0.links.1.autolaunchable", "true"), RuleLinkAutolaunchable, "cards[0].links[1].autolaunchable", LevelSHALL},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.rule] = true
		t.Run(tt.name, func(t *testing.T) {
			vs := CheckResponse(tt.body, checkDraft)
			for _, v := range vs {
				if v.Rule == tt.rule && v.Path == tt.path {
					if v.Level != tt.level {
						t.Errorf("level = %s, want %s", v.Level, tt.level)
					}
					if v.Message == "" {
						t.Error("empty message")
					}
					return
				}
			}
			t.Errorf("no %q at %q in %v", tt.rule, tt.path, vs)
		})
	}
	for _, r := range allRules {
		if !covered[r] {
			t.Errorf("rule %q has no test case", r)
		}
	}
}

// allRules lists every Rule constant, so that a new rule without a test fails.
var allRules = []string{
	RuleResponseObject, RuleCardsArray, RuleSystemActionsArray, RuleNoNullOrEmpty, RuleExtensionObject,
	RuleCardObject, RuleCardUUID, RuleCardUUIDPresent, RuleSummary, RuleDetail, RuleIndicator, RuleSource,
	RuleSourceLabel, RuleSourceURL, RuleSourceIcon, RuleSourceTopic, RuleSourceTopicCRD, RuleSuggestions,
	RuleSelectionBehavior, RuleSelectionValue, RuleAtMostOneRecommend, RuleSuggestionObject, RuleSuggestionLabel,
	RuleSuggestionUUID, RuleSuggestionUUIDSet, RuleIsRecommended, RuleActions, RuleActionObject, RuleActionType,
	RuleActionDescription, RuleActionResource, RuleResourceIDString, RuleDeleteResourceID, RuleDeleteNoResource,
	RuleUpdateTarget, RuleDeleteTarget, RuleDeleteWithCreate, RuleOverrideReasons, RuleOverrideDisplay, RuleCoding,
	RuleLinks, RuleLinkLabel, RuleLinkURL, RuleLinkType, RuleLinkAppContext, RuleLinkAutolaunchable,
}

// TestCheckResponseExamples runs the checker over the published example
// responses: they must break no SHALL rule; the SHOULDs are what the
// examples are known to lack.
func TestCheckResponseExamples(t *testing.T) {
	tests := []struct {
		file    string
		should  []string // rules expected at SHOULD level (at least once each)
		nShould int
	}{
		{"response-cards__cds-hooks-2.0.1-spec.json", []string{RuleSourceTopicCRD, RuleCardUUIDPresent}, 3},
		{"response-systemActions__cds-hooks-2.0.1-spec.json", []string{RuleActionDescription}, 1},
		{"order-sign-response-alternative-generic__HL7-davinci-crd__CRDServiceResponse2.json", []string{RuleSuggestionUUIDSet}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			vs := CheckResponse(exampleFile(t, tt.file), nil)
			got := map[string]bool{}
			n := 0
			for _, v := range vs {
				if v.Level == LevelSHALL {
					t.Errorf("SHALL violation: %v", v)
				}
				if v.Level == LevelSHOULD {
					n++
				}
				got[v.Rule] = true
			}
			for _, r := range tt.should {
				if !got[r] {
					t.Errorf("expected SHOULD %q in %v", r, vs)
				}
			}
			if tt.nShould >= 0 && n != tt.nShould {
				t.Errorf("%d SHOULD violations, want %d: %v", n, tt.nShould, vs)
			}
		})
	}
}

// TestCheckResponseCRDDraftTargets checks the CRD example against draft
// orders that do and do not hold its delete target.
func TestCheckResponseCRDDraftTargets(t *testing.T) {
	body := exampleFile(t, "order-sign-response-alternative-generic__HL7-davinci-crd__CRDServiceResponse2.json")
	with := rawJSON(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"2222"}},{"resource":{"resourceType":"MedicationRequest","id":"1111"}}]}`)
	without := rawJSON(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"1111"}}]}`)
	if err := cdsShallError(CheckResponse(body, with)); err != nil {
		t.Errorf("with the target drafted: %v", err)
	}
	found := false
	for _, v := range CheckResponse(body, without) {
		found = found || (v.Rule == RuleDeleteTarget && v.Level == LevelSHALL)
	}
	if !found {
		t.Error("delete of MedicationRequest/2222 not flagged when it is not a draft order")
	}
}

func TestResponseValidate(t *testing.T) {
	good := goldenCard()
	draft := rawJSON(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"mr-1"}}]}`)
	if err := good.Validate(draft); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := good.Validate(nil); err != nil {
		t.Fatalf("Validate without drafts: %v", err)
	}
	if err := (&Response{}).Validate(nil); err != nil {
		t.Fatalf("empty response: %v", err)
	}
	bad := goldenCard()
	bad.Cards[0].Summary = strings.Repeat("x", 140)
	bad.Cards[0].Suggestions[1].IsRecommended = true
	bad.Cards[0].Indicator = "urgent"
	bad.SystemActions = []Action{{Type: "patch"}}
	err := bad.Validate(rawJSON(`{"resourceType":"Bundle"}`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want *ValidationError", err)
	}
	want := map[string]bool{RuleSummary: true, RuleIndicator: true, RuleAtMostOneRecommend: true, RuleActionType: true, RuleUpdateTarget: true, RuleDeleteTarget: true}
	for _, v := range ve.Violations {
		if v.Level != LevelSHALL {
			t.Errorf("non-SHALL in ValidationError: %v", v)
		}
		delete(want, v.Rule)
	}
	if len(want) != 0 {
		t.Errorf("missing %v in %v", want, ve.Violations)
	}
	if msg := err.Error(); !strings.Contains(msg, "conformance violation") || !strings.Contains(msg, "more") {
		t.Errorf("Error() = %q", msg)
	}
	badRes := goldenCard()
	badRes.Cards[0].Suggestions[0].Actions[0].Resource = rawJSON(`{not json`)
	if err := badRes.Validate(nil); err == nil || errors.As(err, &ve) {
		t.Errorf("unencodable resource: Validate = %v", err)
	}
}

func TestViolationString(t *testing.T) {
	v := Violation{Path: "cards[0].summary", Rule: RuleSummary, Level: LevelSHALL, Message: "too long"}
	if s := v.String(); s != "cards[0].summary: too long ["+RuleSummary+"] (SHALL)" {
		t.Errorf("String = %q", s)
	}
	if s := (Violation{Rule: RuleResponseObject, Level: LevelSHALL, Message: "m"}).String(); !strings.HasPrefix(s, "(body)") {
		t.Errorf("String = %q", s)
	}
}

func TestCheckResponseNumbersAndTypes(t *testing.T) {
	// Large numbers and odd types must not confuse the checker.
	body := []byte(`{"cards":[{"summary":"s","indicator":"info","source":{"label":"l","topic":{"code":"c","system":"s"}},"uuid":"u","extension":{"n":1e400}}]}`)
	if vs := CheckResponse(body, nil); len(vs) != 0 {
		t.Errorf("violations: %v", vs)
	}
	var anyV any
	if err := json.Unmarshal([]byte(`{"a":true}`), &anyV); err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{nil, "s", true, json.Number("1"), 1.5, []any{}, map[string]any{}, struct{}{}} {
		if cdsTypeName(v) == "" {
			t.Errorf("cdsTypeName(%T) empty", v)
		}
	}
}
