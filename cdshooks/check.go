package cdshooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"valuerx/internal/rawjson"
)

// Violation is one breach of a response rule found by CheckResponse.
type Violation struct {
	Path    string // JSON path, e.g. "cards[0].suggestions[1].actions[0].resourceId"
	Rule    string // one of the Rule constants: the rule and where it comes from
	Level   string // LevelSHALL (a conformance failure) or LevelSHOULD (advice)
	Message string // what is wrong, in words; never a value from the body
}

// String renders "path: message [rule] (level)".
func (v Violation) String() string {
	p := v.Path
	if p == "" {
		p = "(body)"
	}
	return fmt.Sprintf("%s: %s [%s] (%s)", p, v.Message, v.Rule, v.Level)
}

// Violation levels.
const (
	LevelSHALL  = "SHALL"
	LevelSHOULD = "SHOULD"
)

// Response rules. Each names its source: S2 is the CDS Hooks 2.0.1 text,
// cds-hooks_2.0@N Inferno's numbered requirement, cds-resp-N a 3.0-ballot
// invariant, INF a check of the Inferno CRD server suite, CRD the Da Vinci
// CRD IG. The strings are stable: the conformance suite reports them.
const (
	RuleResponseObject     = "S2 response is a JSON object (cds-hooks_2.0@74)"
	RuleCardsArray         = "S2 response.cards is an array (cds-hooks_2.0@74)"
	RuleSystemActionsArray = "S2 response.systemActions is an array of actions (cds-hooks_2.0@75)"
	RuleNoNullOrEmpty      = "S2 no null or empty optional members (S2 L45-52)"
	RuleExtensionObject    = "S2 extension is a JSON object (cds-hooks_2.0@214)"
	RuleCardObject         = "S2 card is a JSON object (cds-hooks_2.0@74)"
	RuleCardUUID           = "S2 card.uuid is a unique string (cds-hooks_2.0@80)"
	RuleCardUUIDPresent    = "S2 card.uuid present so feedback can be sent (S2 L880)"
	RuleSummary            = "S2 card.summary <140 (cds-hooks_2.0@83)"
	RuleDetail             = "S2 card.detail is a Markdown string (cds-hooks_2.0@85)"
	RuleIndicator          = "S2 card.indicator info|warning|critical (cds-hooks_2.0@88)"
	RuleSource             = "S2 card.source is an object (cds-hooks_2.0@90)"
	RuleSourceLabel        = "S2 source.label is a string (cds-hooks_2.0@105)"
	RuleSourceURL          = "S2 source.url is an absolute URL (cds-hooks_2.0@107)"
	RuleSourceIcon         = "S2 source.icon is an absolute URL (cds-hooks_2.0@111)"
	RuleSourceTopic        = "S2 source.topic is a Coding (cds-hooks_2.0@115)"
	RuleSourceTopicCRD     = "CRD source.topic present (INF crd_service_response_validation)"
	RuleSuggestions        = "S2 card.suggestions is a non-empty array (cds-hooks_2.0@92)"
	RuleSelectionBehavior  = "S2 card.selectionBehavior present with suggestions (cds-hooks_2.0@93)"
	RuleSelectionValue     = "S2 card.selectionBehavior at-most-one|any (cds-hooks_2.0@95)"
	RuleAtMostOneRecommend = "S2 at-most-one allows one isRecommended (cds-hooks_2.0@122, cds-resp-1)"
	RuleSuggestionObject   = "S2 suggestion is a JSON object (cds-hooks_2.0@92)"
	RuleSuggestionLabel    = "S2 suggestion.label is a string (cds-hooks_2.0@117)"
	RuleSuggestionUUID     = "S2 suggestion.uuid is a unique string (cds-hooks_2.0@119)"
	RuleSuggestionUUIDSet  = "S2 suggestion.uuid present so acceptance can be reported (S2 L880)"
	RuleIsRecommended      = "S2 suggestion.isRecommended is a boolean (cds-hooks_2.0@121)"
	RuleActions            = "S2 suggestion.actions is a non-empty array (cds-hooks_2.0@124)"
	RuleActionObject       = "S2 action is a JSON object (cds-hooks_2.0@124)"
	RuleActionType         = "S2 action.type create|update|delete (cds-hooks_2.0@127)"
	RuleActionDescription  = "S2 action.description is a string (cds-hooks_2.0@128)"
	RuleActionResource     = "S2 create/update action.resource is a FHIR resource (cds-hooks_2.0@130)"
	RuleResourceIDString   = "S2 action.resourceId is a string (cds-hooks_2.0@135)"
	RuleDeleteResourceID   = "S2 delete names its target in resourceId Type/id (cds-hooks_2.0@133-134)"
	RuleDeleteNoResource   = "S2 delete carries no resource (cds-resp-2)"
	RuleUpdateTarget       = "INF update of an order targets context.draftOrders"
	RuleDeleteTarget       = "INF delete of an order targets context.draftOrders"
	RuleDeleteWithCreate   = "INF delete paired with a create of the same type"
	RuleOverrideReasons    = "S2 card.overrideReasons is a non-empty array of Coding (cds-hooks_2.0@98)"
	RuleOverrideDisplay    = "S2 overrideReasons display present (cds-hooks_2.0@100)"
	RuleCoding             = "S2 Coding has code and system strings (cds-hooks_2.0@216-217)"
	RuleLinks              = "S2 card.links is a non-empty array (cds-hooks_2.0@103)"
	RuleLinkLabel          = "S2 link.label is a string (cds-hooks_2.0@138)"
	RuleLinkURL            = "S2 link.url is an absolute http(s) URL (cds-hooks_2.0@139)"
	RuleLinkType           = "S2 link.type absolute|smart (cds-hooks_2.0@142)"
	RuleLinkAppContext     = "S2 link.appContext only on smart links (cds-hooks_2.0@144-147)"
	RuleLinkAutolaunchable = "S2 link.autolaunchable is a boolean (S2 L709)"
)

// cardSummaryMaxRunes is the longest summary allowed: "<140 characters",
// and Inferno errors at 140.
const cardSummaryMaxRunes = 139

// CheckResponse checks a CDS Service response body against every rule of
// CDS Hooks 2.0 for responses (plus the Inferno checks noted in the Rule
// strings), working on the raw JSON so that nulls, empty arrays and strings,
// and wrongly typed members that a typed decode would hide are all seen.
// draftOrders, the request's context.draftOrders Bundle, enables the checks
// that updates and deletes of order resources (MedicationRequest,
// ServiceRequest, ... or any type among the drafts) target a draft order;
// pass nil to skip them. Updates of other resources, such as a Coverage,
// are not checked against the drafts.
// It returns nil for a conformant body and never panics.
func CheckResponse(body []byte, draftOrders json.RawMessage) []Violation {
	c := &respChecker{}
	c.loadDraftOrders(draftOrders)
	v, err := cdsParseAny(body)
	if err != nil {
		c.add("", RuleResponseObject, LevelSHALL, "body is not valid JSON")
		return c.out
	}
	top, ok := v.(map[string]any)
	if !ok {
		c.add("", RuleResponseObject, LevelSHALL, "body is not a JSON object")
		return c.out
	}
	cards, present := top["cards"]
	switch cs := cards.(type) {
	case []any:
		for i, card := range cs {
			c.card(card, "cards["+strconv.Itoa(i)+"]")
		}
	default:
		if !present {
			c.add("cards", RuleCardsArray, LevelSHALL, "cards is required")
		} else {
			c.add("cards", RuleCardsArray, LevelSHALL, "cards must be an array (send [] for no guidance)")
		}
	}
	if sa, present := top["systemActions"]; present {
		switch list := sa.(type) {
		case nil:
			c.add("systemActions", RuleNoNullOrEmpty, LevelSHALL, "systemActions is null; omit it instead")
		case []any:
			if len(list) == 0 {
				c.add("systemActions", RuleNoNullOrEmpty, LevelSHALL, "systemActions is an empty array; omit it instead")
			}
			for i, a := range list {
				c.action(a, "systemActions["+strconv.Itoa(i)+"]", false)
			}
		default:
			c.add("systemActions", RuleSystemActionsArray, LevelSHALL, "systemActions must be an array")
		}
	}
	c.extension(top, "extension")
	c.otherNulls(top, "", "cards", "systemActions", "extension")
	return c.out
}

// Validate checks the card alone (no draft orders to compare against) with
// the rules of CheckResponse and returns a *ValidationError listing the
// SHALL violations, or nil.
func (c *Card) Validate() error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("cdshooks: card does not encode: %w", err)
	}
	v, err := cdsParseAny(b)
	if err != nil {
		return fmt.Errorf("cdshooks: card does not encode: %w", err)
	}
	rc := &respChecker{}
	rc.card(v, "card")
	return cdsShallError(rc.out)
}

// Validate checks the whole response with CheckResponse, including that
// update and delete targets are in draftOrders (nil skips that), and returns
// a *ValidationError listing the SHALL violations, or nil.
func (r *Response) Validate(draftOrders json.RawMessage) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("cdshooks: response does not encode: %w", err)
	}
	return cdsShallError(CheckResponse(b, draftOrders))
}

// ValidationError lists the SHALL violations that make a card, response or
// discovery document non-conformant.
type ValidationError struct {
	Violations []Violation
}

func (e *ValidationError) Error() string {
	const shown = 5
	var b strings.Builder
	fmt.Fprintf(&b, "cdshooks: %d conformance violation(s)", len(e.Violations))
	for i, v := range e.Violations {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Violations)-shown)
			break
		}
		b.WriteString("; ")
		b.WriteString(v.String())
	}
	return b.String()
}

func cdsShallError(vs []Violation) error {
	var shall []Violation
	for _, v := range vs {
		if v.Level == LevelSHALL {
			shall = append(shall, v)
		}
	}
	if len(shall) == 0 {
		return nil
	}
	return &ValidationError{Violations: shall}
}

// cdsParseAny decodes JSON keeping numbers as json.Number and rejecting
// trailing data.
func cdsParseAny(body []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	// Only JSON's own whitespace may follow (RFC 8259 §2); bytes.TrimSpace would also
	// accept \v, \f and Unicode spaces, which json.Valid rejects.
	if len(bytes.Trim(body[d.InputOffset():], " \t\r\n")) != 0 {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// respChecker walks a decoded response, collecting violations.
type respChecker struct {
	out        []Violation
	haveDraft  bool
	draftRefs  map[string]bool
	draftURLs  []string
	draftTypes map[string]bool
	cardUUIDs  map[string]bool
	suggUUIDs  map[string]bool
}

func (c *respChecker) add(path, rule, level, msg string) {
	c.out = append(c.out, Violation{Path: path, Rule: rule, Level: level, Message: msg})
}

// loadDraftOrders indexes the request's draft orders by "Type/id" and fullUrl.
func (c *respChecker) loadDraftOrders(raw json.RawMessage) {
	if len(raw) == 0 || rawjson.IsNull(raw) {
		return
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			FullURL  string `json:"fullUrl"`
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &b) != nil || b.ResourceType != "Bundle" {
		return
	}
	c.haveDraft = true
	c.draftRefs = map[string]bool{}
	c.draftTypes = map[string]bool{}
	for _, e := range b.Entry {
		if e.Resource.ResourceType != "" {
			c.draftTypes[e.Resource.ResourceType] = true
		}
		if e.Resource.ResourceType != "" && e.Resource.ID != "" {
			c.draftRefs[e.Resource.ResourceType+"/"+e.Resource.ID] = true
		}
		if e.FullURL != "" {
			c.draftURLs = append(c.draftURLs, e.FullURL)
		}
	}
}

// draftScoped reports whether an update or delete of resourceType must
// target a draft order: when draft orders are known and the type is an
// order type (the request types the order hooks carry) or a type found
// among the drafts. Updating, say, a Coverage is legitimate and unchecked.
func (c *respChecker) draftScoped(resourceType string) bool {
	if !c.haveDraft {
		return false
	}
	if c.draftTypes[resourceType] {
		return true
	}
	switch resourceType {
	case "MedicationRequest", "ServiceRequest", "DeviceRequest", "NutritionOrder", "VisionPrescription", "CommunicationRequest":
		return true
	}
	return false
}

// str checks an optional (required=false) or required string member and
// returns it with whether it was a usable, non-empty string. A null or an
// empty optional string breaks RuleNoNullOrEmpty; anything else is reported
// under rule.
func (c *respChecker) str(obj map[string]any, key, path, rule string, required bool) (string, bool) {
	v, present := obj[key]
	if !present {
		if required {
			c.add(path, rule, LevelSHALL, key+" is required")
		}
		return "", false
	}
	switch s := v.(type) {
	case nil:
		if required {
			c.add(path, rule, LevelSHALL, key+" is required but null")
		} else {
			c.add(path, RuleNoNullOrEmpty, LevelSHALL, key+" is null; omit it instead")
		}
	case string:
		if s != "" {
			return s, true
		}
		if required {
			c.add(path, rule, LevelSHALL, key+" must not be empty")
		} else {
			c.add(path, RuleNoNullOrEmpty, LevelSHALL, key+" is an empty string; omit it instead")
		}
	default:
		c.add(path, rule, LevelSHALL, key+" must be a string, not "+cdsTypeName(v))
	}
	return "", false
}

// arr checks an optional array member: null is RuleNoNullOrEmpty, a
// non-array or an empty array is reported under rule.
func (c *respChecker) arr(obj map[string]any, key, path, rule string) ([]any, bool) {
	v, present := obj[key]
	if !present {
		return nil, false
	}
	switch a := v.(type) {
	case nil:
		c.add(path, RuleNoNullOrEmpty, LevelSHALL, key+" is null; omit it instead")
	case []any:
		if len(a) == 0 {
			c.add(path, rule, LevelSHALL, key+" is an empty array; omit it instead")
			return nil, false
		}
		return a, true
	default:
		c.add(path, rule, LevelSHALL, key+" must be an array, not "+cdsTypeName(v))
	}
	return nil, false
}

// boolean checks an optional boolean member.
func (c *respChecker) boolean(obj map[string]any, key, path, rule string) (bool, bool) {
	v, present := obj[key]
	if !present {
		return false, false
	}
	switch b := v.(type) {
	case nil:
		c.add(path, RuleNoNullOrEmpty, LevelSHALL, key+" is null; omit it instead")
	case bool:
		return b, true
	default:
		c.add(path, rule, LevelSHALL, key+" must be a boolean, not "+cdsTypeName(v))
	}
	return false, false
}

// otherNulls reports null members other than the known ones, which their
// own checks handle: the no-null rule covers unknown members too.
func (c *respChecker) otherNulls(obj map[string]any, path string, known ...string) {
	var keys []string
	for k, v := range obj {
		if v == nil && !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		at := k
		if path != "" {
			at = path + "." + k
		}
		c.add(at, RuleNoNullOrEmpty, LevelSHALL, "a member is null; omit it instead")
	}
}

// extension checks that an extension member, if present, is a JSON object.
func (c *respChecker) extension(obj map[string]any, path string) {
	v, present := obj["extension"]
	if !present {
		return
	}
	switch e := v.(type) {
	case nil:
		c.add(path, RuleNoNullOrEmpty, LevelSHALL, "extension is null; omit it instead")
	case map[string]any:
		if len(e) == 0 {
			c.add(path, RuleNoNullOrEmpty, LevelSHALL, "extension is an empty object; omit it instead")
		}
	default:
		c.add(path, RuleExtensionObject, LevelSHALL, "extension must be a JSON object, not "+cdsTypeName(v))
	}
}

func (c *respChecker) card(v any, path string) {
	card, ok := v.(map[string]any)
	if !ok {
		c.add(path, RuleCardObject, LevelSHALL, "a card must be a JSON object, not "+cdsTypeName(v))
		return
	}
	if id, ok := c.str(card, "uuid", path+".uuid", RuleCardUUID, false); ok {
		if c.cardUUIDs == nil {
			c.cardUUIDs = map[string]bool{}
		}
		if c.cardUUIDs[id] {
			c.add(path+".uuid", RuleCardUUID, LevelSHALL, "uuid repeats another card's uuid")
		}
		c.cardUUIDs[id] = true
	} else if _, present := card["uuid"]; !present {
		c.add(path+".uuid", RuleCardUUIDPresent, LevelSHOULD, "a card without uuid can receive no feedback")
	}
	if s, ok := c.str(card, "summary", path+".summary", RuleSummary, true); ok {
		if n := utf8.RuneCountInString(s); n > cardSummaryMaxRunes {
			c.add(path+".summary", RuleSummary, LevelSHALL, "summary has "+strconv.Itoa(n)+" characters; it must have fewer than 140")
		}
	}
	c.str(card, "detail", path+".detail", RuleDetail, false)
	if s, ok := c.str(card, "indicator", path+".indicator", RuleIndicator, true); ok {
		if s != IndicatorInfo && s != IndicatorWarning && s != IndicatorCritical {
			c.add(path+".indicator", RuleIndicator, LevelSHALL, "indicator must be info, warning or critical")
		}
	}
	c.source(card, path+".source")

	sb, sbOK := c.str(card, "selectionBehavior", path+".selectionBehavior", RuleSelectionValue, false)
	if sbOK && sb != SelectionAtMostOne && sb != SelectionAny {
		c.add(path+".selectionBehavior", RuleSelectionValue, LevelSHALL, "selectionBehavior must be at-most-one or any")
	}
	if suggs, ok := c.arr(card, "suggestions", path+".suggestions", RuleSuggestions); ok {
		if _, present := card["selectionBehavior"]; !present {
			c.add(path+".selectionBehavior", RuleSelectionBehavior, LevelSHALL, "selectionBehavior is required when suggestions are present")
		}
		recommended := 0
		for i, s := range suggs {
			if c.suggestion(s, path+".suggestions["+strconv.Itoa(i)+"]") {
				recommended++
			}
		}
		if sb == SelectionAtMostOne && recommended > 1 {
			c.add(path+".suggestions", RuleAtMostOneRecommend, LevelSHALL, strconv.Itoa(recommended)+" suggestions are recommended under at-most-one")
		}
	}
	if reasons, ok := c.arr(card, "overrideReasons", path+".overrideReasons", RuleOverrideReasons); ok {
		for i, r := range reasons {
			rp := path + ".overrideReasons[" + strconv.Itoa(i) + "]"
			if m, ok := c.coding(r, rp, RuleOverrideReasons); ok {
				c.str(m, "display", rp+".display", RuleOverrideDisplay, true)
			}
		}
	}
	if links, ok := c.arr(card, "links", path+".links", RuleLinks); ok {
		for i, l := range links {
			c.link(l, path+".links["+strconv.Itoa(i)+"]")
		}
	}
	c.extension(card, path+".extension")
	c.otherNulls(card, path, "uuid", "summary", "detail", "indicator", "source", "suggestions",
		"selectionBehavior", "overrideReasons", "links", "extension")
}

func (c *respChecker) source(card map[string]any, path string) {
	v, present := card["source"]
	src, ok := v.(map[string]any)
	if !ok {
		msg := "source is required"
		if present {
			msg = "source must be a JSON object, not " + cdsTypeName(v)
		}
		c.add(path, RuleSource, LevelSHALL, msg)
		return
	}
	c.otherNulls(src, path, "label", "url", "icon", "topic")
	c.str(src, "label", path+".label", RuleSourceLabel, true)
	if u, ok := c.str(src, "url", path+".url", RuleSourceURL, false); ok && !cdsIsHTTPURL(u) {
		c.add(path+".url", RuleSourceURL, LevelSHALL, "url must be an absolute http(s) URL")
	}
	if u, ok := c.str(src, "icon", path+".icon", RuleSourceIcon, false); ok && !cdsIsHTTPURL(u) {
		c.add(path+".icon", RuleSourceIcon, LevelSHALL, "icon must be an absolute http(s) URL")
	}
	topic, present := src["topic"]
	switch {
	case !present:
		c.add(path+".topic", RuleSourceTopicCRD, LevelSHOULD, "Da Vinci CRD and Inferno require source.topic")
	case topic == nil:
		c.add(path+".topic", RuleNoNullOrEmpty, LevelSHALL, "topic is null; omit it instead")
	default:
		if m, ok := c.coding(topic, path+".topic", RuleSourceTopic); ok {
			c.str(m, "display", path+".topic.display", RuleSourceTopic, false)
		}
	}
}

// coding checks a Coding's code and system; it returns the object for
// checks on display.
func (c *respChecker) coding(v any, path, objRule string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(path, objRule, LevelSHALL, "a Coding must be a JSON object, not "+cdsTypeName(v))
		return nil, false
	}
	c.otherNulls(m, path, "code", "system", "display")
	c.str(m, "code", path+".code", RuleCoding, true)
	c.str(m, "system", path+".system", RuleCoding, true)
	return m, true
}

func (c *respChecker) link(v any, path string) {
	l, ok := v.(map[string]any)
	if !ok {
		c.add(path, RuleLinks, LevelSHALL, "a link must be a JSON object, not "+cdsTypeName(v))
		return
	}
	c.otherNulls(l, path, "label", "url", "type", "appContext", "autolaunchable")
	c.str(l, "label", path+".label", RuleLinkLabel, true)
	if u, ok := c.str(l, "url", path+".url", RuleLinkURL, true); ok && !cdsIsHTTPURL(u) {
		c.add(path+".url", RuleLinkURL, LevelSHALL, "url must be an absolute http(s) URL with a host")
	}
	typ, typOK := c.str(l, "type", path+".type", RuleLinkType, true)
	if typOK && typ != LinkAbsolute && typ != LinkSmart {
		c.add(path+".type", RuleLinkType, LevelSHALL, "type must be absolute or smart")
	}
	if _, ok := c.str(l, "appContext", path+".appContext", RuleLinkAppContext, false); ok && typ == LinkAbsolute {
		c.add(path+".appContext", RuleLinkAppContext, LevelSHALL, "appContext is not allowed on an absolute link")
	}
	c.boolean(l, "autolaunchable", path+".autolaunchable", RuleLinkAutolaunchable)
}

// suggestion checks one suggestion and reports whether it is recommended.
func (c *respChecker) suggestion(v any, path string) bool {
	s, ok := v.(map[string]any)
	if !ok {
		c.add(path, RuleSuggestionObject, LevelSHALL, "a suggestion must be a JSON object, not "+cdsTypeName(v))
		return false
	}
	c.otherNulls(s, path, "label", "uuid", "isRecommended", "actions")
	c.str(s, "label", path+".label", RuleSuggestionLabel, true)
	if id, ok := c.str(s, "uuid", path+".uuid", RuleSuggestionUUID, false); ok {
		if c.suggUUIDs == nil {
			c.suggUUIDs = map[string]bool{}
		}
		if c.suggUUIDs[id] {
			c.add(path+".uuid", RuleSuggestionUUID, LevelSHALL, "uuid repeats another suggestion's uuid")
		}
		c.suggUUIDs[id] = true
	} else if _, present := s["uuid"]; !present {
		c.add(path+".uuid", RuleSuggestionUUIDSet, LevelSHOULD, "a suggestion without uuid cannot be reported as accepted")
	}
	rec, _ := c.boolean(s, "isRecommended", path+".isRecommended", RuleIsRecommended)
	actions, ok := c.arr(s, "actions", path+".actions", RuleActions)
	if !ok {
		return rec
	}
	var deletes []struct{ typ, path string }
	created := map[string]bool{}
	for i, a := range actions {
		ap := path + ".actions[" + strconv.Itoa(i) + "]"
		typ, resType := c.action(a, ap, true)
		switch typ {
		case ActionCreate:
			created[resType] = true
		case ActionDelete:
			if resType != "" {
				deletes = append(deletes, struct{ typ, path string }{resType, ap})
			}
		}
	}
	for _, d := range deletes {
		if !created[d.typ] {
			c.add(d.path, RuleDeleteWithCreate, LevelSHOULD, "a delete of a draft order should come with a create of the same resource type (propose alternate request)")
		}
	}
	return rec
}

// action checks one action and returns its type and the resource type it
// creates, updates or deletes ("" when unknown).
func (c *respChecker) action(v any, path string, inSuggestion bool) (typ, resType string) {
	a, ok := v.(map[string]any)
	if !ok {
		c.add(path, RuleActionObject, LevelSHALL, "an action must be a JSON object, not "+cdsTypeName(v))
		return "", ""
	}
	c.otherNulls(a, path, "type", "description", "resourceId")
	typ, typOK := c.str(a, "type", path+".type", RuleActionType, true)
	if typOK && typ != ActionCreate && typ != ActionUpdate && typ != ActionDelete {
		c.add(path+".type", RuleActionType, LevelSHALL, "type must be create, update or delete")
		typ = ""
	}
	if _, present := a["description"]; !present && !inSuggestion {
		// The 2.0 systemActions example has none and 3.0 makes it optional
		// there, but Inferno requires it.
		c.add(path+".description", RuleActionDescription, LevelSHOULD, "a system action should have a description")
	} else {
		c.str(a, "description", path+".description", RuleActionDescription, true)
	}
	rid, ridOK := c.str(a, "resourceId", path+".resourceId", RuleResourceIDString, false)
	res, resPresent := a["resource"]

	switch typ {
	case ActionCreate, ActionUpdate:
		rm, ok := res.(map[string]any)
		if !resPresent {
			c.add(path+".resource", RuleActionResource, LevelSHALL, typ+" needs the whole FHIR resource")
			return typ, ""
		}
		if !ok {
			c.add(path+".resource", RuleActionResource, LevelSHALL, "resource must be a FHIR resource object, not "+cdsTypeName(res))
			return typ, ""
		}
		rt, _ := rm["resourceType"].(string)
		if rt == "" {
			c.add(path+".resource.resourceType", RuleActionResource, LevelSHALL, "resource needs a resourceType")
			return typ, ""
		}
		if typ == ActionUpdate {
			id, _ := rm["id"].(string)
			switch {
			case id == "":
				c.add(path+".resource.id", RuleUpdateTarget, LevelSHALL, "an updated resource needs the id of the resource it replaces")
			case c.draftScoped(rt) && !cdsSelectionFound(rt+"/"+id, c.draftRefs, c.draftURLs):
				c.add(path+".resource", RuleUpdateTarget, LevelSHALL, "update target is not an entry of context.draftOrders")
			}
		}
		return typ, rt
	case ActionDelete:
		if resPresent {
			c.add(path+".resource", RuleDeleteNoResource, LevelSHOULD, "delete should name its target in resourceId, not resource (the 1.0 style is deprecated)")
		}
		if _, present := a["resourceId"]; !present {
			c.add(path+".resourceId", RuleDeleteResourceID, LevelSHALL, "delete needs resourceId")
			return typ, ""
		}
		if !ridOK {
			return typ, ""
		}
		rt, id := cdsSplitRef(rid)
		if rt == "" || id == "" {
			c.add(path+".resourceId", RuleDeleteResourceID, LevelSHALL, "resourceId must be a relative reference Type/id")
			return typ, ""
		}
		if c.draftScoped(rt) && !cdsSelectionFound(rid, c.draftRefs, c.draftURLs) {
			c.add(path+".resourceId", RuleDeleteTarget, LevelSHALL, "delete target is not an entry of context.draftOrders")
		}
		return typ, rt
	}
	return typ, ""
}

// cdsTypeName names the JSON type of a decoded value for messages.
func cdsTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unknown type"
}
