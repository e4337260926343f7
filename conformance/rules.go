package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// finding is one evaluation of a response rule: ok, or a violation at a JSON path.
type finding struct {
	ID   string
	Path string
	Msg  string // empty when ok
	// advisory findings are SHOULD-level advice reported under a check of any level: a warning,
	// never a failure.
	advisory bool
}

// rules collects findings for one response body.
type rules struct {
	out []finding
	// validate strictly validates one FHIR resource; nil skips the FHIR check.
	validate func(raw json.RawMessage) error
}

func (r *rules) ok(id string) { r.out = append(r.out, finding{ID: id}) }
func (r *rules) bad(id, path, msg string) {
	r.out = append(r.out, finding{ID: id, Path: path, Msg: msg})
}
func (r *rules) badf(id, path, f string, a ...any) { r.bad(id, path, fmt.Sprintf(f, a...)) }

// decodeJSON decodes with numbers kept as json.Number so that nothing is lost or reformatted.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// kind names a JSON value's type for messages ("null", "string", "array", ...), never its value.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// ak is kind with its indefinite article, for messages.
func ak(v any) string {
	k := kind(v)
	if strings.IndexByte("aeiou", k[0]) >= 0 {
		return "an " + k
	}
	return "a " + k
}

// get returns a member, treating an explicit null like an absent member: nulls are the business of
// the json.no-null check alone, so a null optional member breaks exactly one rule.
func get(m map[string]any, key string) (any, bool) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// checkResponse applies every response rule to a 200 body. draft holds the draft order references
// of the request ("Type/id"); nil means the request had none to compare with.
func (r *rules) checkResponse(body []byte, draft map[string]bool) {
	v, err := decodeJSON(body)
	if err != nil {
		r.bad(CheckResponseCards, "$", "body is not JSON")
		return
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		r.badf(CheckResponseCards, "$", "body is a JSON %s, not an object", kind(v))
		return
	}
	r.noNull(obj, "$", true, nil)
	cards, present := get(obj, "cards")
	arr, isArr := cards.([]any)
	switch {
	case !present:
		r.bad(CheckResponseCards, "$.cards", "cards is missing")
	case !isArr:
		r.badf(CheckResponseCards, "$.cards", "cards is %s, not an array", ak(cards))
	default:
		good := true
		for i, c := range arr {
			if _, ok := c.(map[string]any); !ok {
				r.badf(CheckResponseCards, fmt.Sprintf("$.cards[%d]", i), "card is %s, not an object", ak(c))
				good = false
			}
		}
		if good {
			r.ok(CheckResponseCards)
		}
	}
	uuids := map[string]string{}
	for i, c := range arr {
		if card, ok := c.(map[string]any); ok {
			r.card(card, fmt.Sprintf("$.cards[%d]", i), draft, uuids)
		}
	}
	if sa, ok := get(obj, "systemActions"); ok {
		acts, isArr := sa.([]any)
		if !isArr {
			r.badf(CheckSystemActions, "$.systemActions", "systemActions is %s, not an array", ak(sa))
			return
		}
		r.ok(CheckSystemActions)
		for i, a := range acts {
			p := fmt.Sprintf("$.systemActions[%d]", i)
			act, ok := a.(map[string]any)
			if !ok {
				r.badf(CheckSystemActions, p, "action is %s, not an object", ak(a))
				continue
			}
			r.action(act, p, true)
		}
	}
}

// noNull walks CDS Hooks members (not the insides of FHIR resources, which the FHIR validator
// owns, nor extension values, which are free-form) for null or empty values. cards is the one
// member allowed to be an empty array.
func (r *rules) noNull(v any, path string, top bool, found *bool) {
	var own bool
	if found == nil {
		found = &own
	}
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedIDs(t) {
			c := t[k]
			p := path + "." + k
			if k == "resource" || k == "extension" {
				if c == nil {
					r.bad(CheckJSONNoNull, p, "member is null; omit it instead")
					*found = true
					continue
				}
				if k == "extension" {
					if _, isObj := c.(map[string]any); isObj {
						r.ok(CheckExtension)
					} else {
						r.badf(CheckExtension, p, "extension is %s, not an object", ak(c))
					}
				}
				continue
			}
			switch cv := c.(type) {
			case nil:
				r.bad(CheckJSONNoNull, p, "member is null; omit it instead")
				*found = true
			case string:
				if cv == "" {
					r.bad(CheckJSONNoNull, p, "member is an empty string; omit it instead")
					*found = true
				}
			case []any:
				if len(cv) == 0 && !(top && k == "cards") && !(top && k == "services") {
					r.bad(CheckJSONNoNull, p, "member is an empty array; omit it instead")
					*found = true
				}
				r.noNull(cv, p, false, found)
			case map[string]any:
				if len(cv) == 0 {
					r.bad(CheckJSONNoNull, p, "member is an empty object; omit it instead")
					*found = true
				}
				r.noNull(cv, p, false, found)
			}
		}
	case []any:
		for i, c := range t {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c == nil {
				r.bad(CheckJSONNoNull, p, "array element is null")
				*found = true
				continue
			}
			r.noNull(c, p, false, found)
		}
	}
	if top && !*found {
		r.ok(CheckJSONNoNull)
	}
}

func (r *rules) card(card map[string]any, p string, draft map[string]bool, uuids map[string]string) {
	// uuid
	if u, ok := get(card, "uuid"); ok {
		s, isStr := u.(string)
		switch {
		case !isStr:
			r.badf(CheckCardUUID, p+".uuid", "uuid is %s, not a string", ak(u))
		case uuids[s] != "":
			r.bad(CheckCardUUID, p+".uuid", "uuid repeats the one at "+uuids[s])
		default:
			uuids[s] = p
			r.ok(CheckCardUUID)
		}
	}
	if _, ok := get(card, "uuid"); ok {
		r.ok(CheckUUIDsSet)
	} else {
		r.bad(CheckUUIDsSet, p+".uuid", "a card without uuid can receive no feedback")
	}
	// summary
	if s, ok := get(card, "summary"); !ok {
		r.bad(CheckCardSummary, p+".summary", "summary is missing")
	} else if str, isStr := s.(string); !isStr {
		r.badf(CheckCardSummary, p+".summary", "summary is %s, not a string", ak(s))
	} else if n := utf8.RuneCountInString(str); n >= 140 {
		r.badf(CheckCardSummary, p+".summary", "summary has %d characters; it must have fewer than 140", n)
	} else {
		r.ok(CheckCardSummary)
	}
	// detail
	if d, ok := get(card, "detail"); ok {
		if _, isStr := d.(string); !isStr {
			r.badf(CheckCardDetail, p+".detail", "detail is %s, not a string", ak(d))
		} else {
			r.ok(CheckCardDetail)
		}
	}
	// indicator
	if ind, ok := get(card, "indicator"); !ok {
		r.bad(CheckCardIndicator, p+".indicator", "indicator is missing")
	} else if s, isStr := ind.(string); !isStr {
		r.badf(CheckCardIndicator, p+".indicator", "indicator is %s, not a string", ak(ind))
	} else if s != "info" && s != "warning" && s != "critical" {
		r.bad(CheckCardIndicator, p+".indicator", "indicator is not one of info, warning, critical")
	} else {
		r.ok(CheckCardIndicator)
	}
	r.source(card, p)
	// suggestions and selectionBehavior
	sugs, hasSugs := get(card, "suggestions")
	sb, hasSB := get(card, "selectionBehavior")
	var sbStr string
	if hasSB {
		s, isStr := sb.(string)
		if !isStr || (s != "at-most-one" && s != "any") {
			r.bad(CheckCardSelection, p+".selectionBehavior", "selectionBehavior is not at-most-one or any")
		} else {
			sbStr = s
			if hasSugs {
				r.ok(CheckCardSelection)
			}
		}
	}
	if hasSugs {
		if !hasSB {
			r.bad(CheckCardSelection, p+".selectionBehavior", "card has suggestions but no selectionBehavior")
		}
		arr, isArr := sugs.([]any)
		switch {
		case !isArr:
			r.badf(CheckCardSuggest, p+".suggestions", "suggestions is %s, not an array", ak(sugs))
		case len(arr) == 0:
			r.bad(CheckCardSuggest, p+".suggestions", "suggestions is an empty array")
		default:
			r.ok(CheckCardSuggest)
			recommended := 0
			for i, s := range arr {
				sp := fmt.Sprintf("%s.suggestions[%d]", p, i)
				sug, ok := s.(map[string]any)
				if !ok {
					r.badf(CheckCardSuggest, sp, "suggestion is %s, not an object", ak(s))
					continue
				}
				if r.suggestion(sug, sp, draft) {
					recommended++
				}
			}
			if sbStr == "at-most-one" {
				if recommended > 1 {
					r.badf(CheckSugAtMostOne, p+".suggestions", "%d suggestions are recommended with selectionBehavior at-most-one", recommended)
				} else {
					r.ok(CheckSugAtMostOne)
				}
			}
		}
	}
	// overrideReasons
	if or, ok := get(card, "overrideReasons"); ok {
		arr, isArr := or.([]any)
		if !isArr {
			r.badf(CheckCardOverride, p+".overrideReasons", "overrideReasons is %s, not an array", ak(or))
		} else {
			good := true
			for i, c := range arr {
				cp := fmt.Sprintf("%s.overrideReasons[%d]", p, i)
				if msg := codingProblem(c, true); msg != "" {
					r.bad(CheckCardOverride, cp, msg)
					good = false
				}
			}
			if good {
				r.ok(CheckCardOverride)
			}
		}
	}
	// links
	if ls, ok := get(card, "links"); ok {
		arr, isArr := ls.([]any)
		if !isArr {
			r.badf(CheckCardLinks, p+".links", "links is %s, not an array", ak(ls))
		} else {
			for i, l := range arr {
				r.link(l, fmt.Sprintf("%s.links[%d]", p, i))
			}
		}
	}
}

func (r *rules) source(card map[string]any, p string) {
	src, ok := get(card, "source")
	if !ok {
		r.bad(CheckCardSource, p+".source", "source is missing")
		return
	}
	m, isObj := src.(map[string]any)
	if !isObj {
		r.badf(CheckCardSource, p+".source", "source is %s, not an object", ak(src))
		return
	}
	good := true
	if l, ok := get(m, "label"); !ok {
		r.bad(CheckCardSource, p+".source.label", "source.label is missing")
		good = false
	} else if _, isStr := l.(string); !isStr {
		r.badf(CheckCardSource, p+".source.label", "source.label is %s, not a string", ak(l))
		good = false
	}
	for _, k := range []string{"url", "icon"} {
		if u, ok := get(m, k); ok {
			if msg := absoluteURLProblem(u); msg != "" {
				r.bad(CheckCardSource, p+".source."+k, "source."+k+" "+msg)
				good = false
			}
		}
	}
	if good {
		r.ok(CheckCardSource)
	}
	if _, ok := get(m, "topic"); !ok {
		r.bad(CheckCRDTopic, p+".source.topic", "no source.topic (Da Vinci CRD requires it)")
	} else {
		r.ok(CheckCRDTopic)
	}
	if t, ok := get(m, "topic"); ok {
		if msg := codingProblem(t, false); msg != "" {
			r.bad(CheckCardTopic, p+".source.topic", msg)
		} else {
			r.ok(CheckCardTopic)
		}
	}
}

// codingProblem describes what is wrong with a CDS Hooks Coding ("" if nothing): code and system
// are required strings, display is a string, required when needDisplay (override reasons).
func codingProblem(c any, needDisplay bool) string {
	m, ok := c.(map[string]any)
	if !ok {
		return "Coding is " + ak(c) + ", not an object"
	}
	var missing []string
	for _, k := range []string{"code", "system", "display"} {
		v, present := get(m, k)
		if !present {
			if k != "display" || needDisplay {
				missing = append(missing, k)
			}
			continue
		}
		if _, isStr := v.(string); !isStr {
			return "Coding." + k + " is " + ak(v) + ", not a string"
		}
	}
	if len(missing) > 0 {
		return "Coding lacks " + strings.Join(missing, ", ")
	}
	return ""
}

// absoluteURLProblem describes why v is not an absolute http(s) URL with a host ("" if it is).
func absoluteURLProblem(v any) string {
	s, ok := v.(string)
	if !ok {
		return "is " + ak(v) + ", not a string"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "is not a URL"
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "is not an absolute http(s) URL with a host"
	}
	return ""
}

func (r *rules) link(l any, p string) {
	m, ok := l.(map[string]any)
	if !ok {
		r.badf(CheckCardLinks, p, "link is %s, not an object", ak(l))
		return
	}
	good := true
	if v, ok := get(m, "label"); !ok {
		r.bad(CheckCardLinks, p+".label", "label is missing")
		good = false
	} else if _, isStr := v.(string); !isStr {
		r.bad(CheckCardLinks, p+".label", "label is not a string")
		good = false
	}
	if v, ok := get(m, "url"); !ok {
		r.bad(CheckCardLinks, p+".url", "url is missing")
		good = false
	} else if msg := absoluteURLProblem(v); msg != "" {
		r.bad(CheckCardLinks, p+".url", "url "+msg)
		good = false
	}
	typ, _ := get(m, "type")
	ts, _ := typ.(string)
	if ts != "absolute" && ts != "smart" {
		r.bad(CheckCardLinks, p+".type", "type is not absolute or smart")
		good = false
	}
	if good {
		r.ok(CheckCardLinks)
	}
	if ac, ok := get(m, "appContext"); ok {
		if _, isStr := ac.(string); !isStr {
			r.badf(CheckLinkAppContext, p+".appContext", "appContext is %s, not a string", ak(ac))
		} else if ts == "absolute" {
			r.bad(CheckLinkAppContext, p+".appContext", "appContext on an absolute link")
		} else {
			r.ok(CheckLinkAppContext)
		}
	}
}

// suggestion checks one suggestion and reports whether it is recommended.
func (r *rules) suggestion(s map[string]any, p string, draft map[string]bool) bool {
	if v, ok := get(s, "label"); !ok {
		r.bad(CheckSugLabel, p+".label", "label is missing")
	} else if _, isStr := v.(string); !isStr {
		r.badf(CheckSugLabel, p+".label", "label is %s, not a string", ak(v))
	} else {
		r.ok(CheckSugLabel)
	}
	if _, ok := get(s, "uuid"); !ok {
		r.bad(CheckUUIDsSet, p+".uuid", "a suggestion without uuid cannot be reported as accepted")
	}
	if v, ok := get(s, "uuid"); ok {
		if _, isStr := v.(string); !isStr {
			r.badf(CheckSugUUID, p+".uuid", "uuid is %s, not a string", ak(v))
		} else {
			r.ok(CheckSugUUID)
		}
	}
	recommended := false
	if v, ok := get(s, "isRecommended"); ok {
		b, isBool := v.(bool)
		if !isBool {
			r.badf(CheckSugRecommended, p+".isRecommended", "isRecommended is %s, not a boolean", ak(v))
		} else {
			recommended = b
			r.ok(CheckSugRecommended)
		}
	}
	acts, ok := get(s, "actions")
	if !ok {
		return recommended
	}
	arr, isArr := acts.([]any)
	switch {
	case !isArr:
		r.badf(CheckSugActions, p+".actions", "actions is %s, not an array", ak(acts))
		return recommended
	case len(arr) == 0:
		r.bad(CheckSugActions, p+".actions", "actions is an empty array")
		return recommended
	}
	r.ok(CheckSugActions)
	var deletes []string         // types of deleted draft orders
	created := map[string]bool{} // types created in this suggestion
	for i, a := range arr {
		ap := fmt.Sprintf("%s.actions[%d]", p, i)
		act, ok := a.(map[string]any)
		if !ok {
			r.badf(CheckSugActions, ap, "action is %s, not an object", ak(a))
			continue
		}
		typ, target := r.action(act, ap, false)
		if target == "" {
			continue
		}
		if typ == "create" {
			created[strings.SplitN(target, "/", 2)[0]] = true
			continue
		}
		// update or delete: the target must be a draft order.
		if draft == nil {
			continue
		}
		if draft[target] {
			r.ok(CheckActionTarget)
		} else {
			field := "resource"
			if typ == "delete" {
				field = "resourceId"
			}
			r.bad(CheckActionTarget, ap+"."+field, "the "+typ+" targets a "+strings.SplitN(target, "/", 2)[0]+" that is not among context.draftOrders")
		}
		if typ == "delete" && draft[target] {
			deletes = append(deletes, strings.SplitN(target, "/", 2)[0])
		}
	}
	for _, t := range deletes {
		if created[t] {
			r.ok(CheckActionDelCreate)
		} else {
			r.bad(CheckActionDelCreate, p+".actions", "a draft "+t+" is deleted without a create of the same type")
		}
	}
	return recommended
}

var refRE = regexp.MustCompile(`^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$`)

// action checks one action and returns its type and its target ("Type/id": the resource's type
// and id for create and update, resourceId for delete; "" when unknown or malformed).
func (r *rules) action(a map[string]any, p string, system bool) (typ, target string) {
	tv, ok := get(a, "type")
	typ, _ = tv.(string)
	switch {
	case !ok:
		r.bad(CheckActionType, p+".type", "type is missing")
	case typ != "create" && typ != "update" && typ != "delete":
		r.bad(CheckActionType, p+".type", "type is not create, update or delete")
		typ = ""
	default:
		r.ok(CheckActionType)
	}
	if d, ok := get(a, "description"); !ok {
		if !system {
			r.bad(CheckActionDesc, p+".description", "description is missing")
		}
	} else if _, isStr := d.(string); !isStr {
		r.badf(CheckActionDesc, p+".description", "description is %s, not a string", ak(d))
	} else {
		r.ok(CheckActionDesc)
	}
	resourceID := ""
	if rid, ok := get(a, "resourceId"); ok {
		s, isStr := rid.(string)
		switch {
		case !isStr:
			r.badf(CheckActionResID, p+".resourceId", "resourceId is %s, not a string", ak(rid))
		case !refRE.MatchString(s):
			r.bad(CheckActionResID, p+".resourceId", "resourceId is not a relative reference Type/id")
		default:
			resourceID = s
			r.ok(CheckActionResID)
		}
	} else if typ == "delete" {
		r.bad(CheckActionResID, p+".resourceId", "a delete action has no resourceId")
	}
	res, hasRes := get(a, "resource")
	switch typ {
	case "create", "update":
		m, isObj := res.(map[string]any)
		rt, _ := m["resourceType"].(string)
		if !hasRes || !isObj || rt == "" {
			what := "missing"
			if hasRes {
				what = ak(res) + " without resourceType"
			}
			r.bad(CheckActionResource, p+".resource", "a "+typ+" action's resource is "+what)
			return typ, ""
		}
		r.ok(CheckActionResource)
		if r.validate != nil {
			raw, _ := json.Marshal(m)
			if err := r.validate(raw); err != nil {
				r.bad(CheckActionFHIR, p+".resource", err.Error())
			} else {
				r.ok(CheckActionFHIR)
			}
		}
		id, _ := m["id"].(string)
		if id == "" {
			if typ == "update" {
				r.bad(CheckActionResource, p+".resource.id", "an update's resource has no id")
				return typ, ""
			}
			return typ, rt + "/"
		}
		return typ, rt + "/" + id
	case "delete":
		if hasRes {
			r.bad(CheckActionResource, p+".resource", "a delete action uses resource; use resourceId")
		} else {
			r.ok(CheckActionResource)
		}
		return typ, resourceID
	}
	return typ, ""
}
