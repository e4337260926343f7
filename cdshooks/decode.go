package cdshooks

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"valuerx/internal/medindex"
	"valuerx/internal/rawjson"
)

// DecodeRequest decodes and validates a CDS Service call for an order hook.
// hook is the hook the invoked service is registered for ("" accepts any
// hook). On success the Request and its validated OrderContext are returned;
// otherwise the error is an *Error:
//
//   - 400 when the body is not JSON, or is JSON but not an object;
//   - 422 (with every issue found, not just the first) when it is a JSON
//     object that does not conform: a required member (hook, hookInstance,
//     context, context.userId, context.patientId, context.draftOrders, and
//     context.selections for order-select) missing, empty or of the wrong JSON
//     type; a hook other than the service's; fhirAuthorization without
//     fhirServer; a userId that is not a Practitioner or PractitionerRole
//     reference; draftOrders not a Bundle; a selection that names no entry of
//     draftOrders.
//
// It is lenient with content that is imperfect but usable, as real clients
// send it: a missing Bundle.type or intent, unknown extension members, a
// "Patient/123" patientId (the prefix is stripped), a hookInstance that is not
// a hookInstance that repeats an earlier one, and optional members sent as
// null or "" (treated as absent).
//
// A hookInstance that is present but not a UUID is a 400 (see LooksLikeUUID),
// and so is any body that has such a hookInstance among its issues; a
// fhirServer longer than MaxFHIRServerLen is a 422 issue.
func DecodeRequest(body []byte, hook string) (*Request, *OrderContext, error) {
	// The Request's raw members (context, prefetch, extension, draftOrders) are slices of one
	// private copy of body, so the caller may reuse body.
	return DecodeRequestOwned(bytes.Clone(body), hook)
}

// DecodeRequestOwned is DecodeRequest for a body the Request may keep: its raw members are
// slices of body itself, which the caller must not change afterwards. A server that reads each
// body into a buffer of its own saves the copy (a quarter of a megabyte for a long medication
// history, and the garbage collection it costs).
func DecodeRequestOwned(body []byte, hook string) (*Request, *OrderContext, error) {
	// The prefetch values are validated by an Indexer, which reads the Bundles among them as it
	// goes (split, resources classified: medindex.Indexer), so that a long history's bytes are
	// walked once, validation included, instead of four times.
	x := medindex.NewIndexer(len(body))
	top, prefetch, serr := cdsDecodeObjectNestedFunc(body, "prefetch", func(_ string, b []byte, i int) int {
		return x.BundleAt(b, i, 2)
	})
	if serr != nil {
		return nil, nil, serr
	}
	var is cdsIssues
	req := &Request{}

	req.Hook, _ = is.stringMember(top, "hook", "hook", true)
	if hook != "" && req.Hook != "" && req.Hook != hook {
		is.add(IssueInvalid, "hook", "hook does not match the hook this service is registered for")
	}
	effHook := hook
	if effHook == "" {
		effHook = req.Hook
	}
	if s, ok := is.stringMember(top, "hookInstance", "hookInstance", true); ok {
		// The spec defines hookInstance as "a universally unique identifier (UUID) for this
		// particular hook call". Anything else is refused with 400 rather than logged or stored:
		// a free-text hookInstance can carry PHI and any length.
		if !LooksLikeUUID(s) {
			is.add(IssueInvalid, "hookInstance", "hookInstance must be a UUID (CDS Hooks 2.0: a universally unique identifier for this particular hook call), e.g. d1577c69-dfbe-44ad-ba6d-3e05e953b2ea")
			is.badRequest = true
		} else {
			req.HookInstance = s
		}
	}

	if s, ok := is.stringMember(top, "fhirServer", "fhirServer", false); ok && s != "" {
		if len(s) > MaxFHIRServerLen {
			is.add(IssueInvalid, "fhirServer", "fhirServer must be at most "+strconv.Itoa(MaxFHIRServerLen)+" characters")
		} else if !cdsIsHTTPURL(s) {
			is.add(IssueInvalid, "fhirServer", "fhirServer must be an absolute http(s) URL")
		} else {
			req.FHIRServer = s
		}
	}
	if raw, ok := top["fhirAuthorization"]; ok && !rawjson.IsNull(raw) {
		req.FHIRAuthorization = is.fhirAuthorization(raw)
		if req.FHIRServer == "" && !is.has("fhirServer") {
			is.add(IssueRequired, "fhirServer", "fhirServer is required when fhirAuthorization is present")
		}
	}
	if raw, ok := top["prefetch"]; ok && !rawjson.IsNull(raw) {
		if rawjson.Kind(raw) != '{' {
			is.add(IssueStructure, "prefetch", "prefetch must be a JSON object")
		} else if m, ok := prefetch, prefetch != nil; !ok { // split with the body (rawjson.ValidObjectNested)
			is.add(IssueStructure, "prefetch", "prefetch must be a JSON object")
		} else {
			req.Prefetch = m
			req.validJSON = true
			req.index = x.Finish()
		}
	}
	if raw, ok := top["extension"]; ok && rawjson.Kind(raw) == '{' {
		req.Extension = raw
	}

	var oc *OrderContext
	raw, ok := top["context"]
	switch {
	case !ok || rawjson.IsNull(raw):
		is.add(IssueRequired, "context", "context is required")
	case rawjson.Kind(raw) != '{':
		is.add(IssueStructure, "context", "context must be a JSON object")
	default:
		req.Context = raw
		oc = is.orderContext(raw, effHook)
	}
	if err := is.err(); err != nil {
		return nil, nil, err
	}
	return req, oc, nil
}

// orderContext validates the context of order-select/order-sign.
func (c *cdsIssues) orderContext(raw json.RawMessage, hook string) *OrderContext {
	ctx, ok := rawjson.Object(raw)
	if !ok {
		c.add(IssueStructure, "context", "context must be a JSON object")
		return nil
	}
	oc := &OrderContext{}
	if s, ok := c.stringMember(ctx, "userId", "context.userId", true); ok {
		typ, id := cdsSplitRef(s)
		if (typ != "Practitioner" && typ != "PractitionerRole") || !cdsPlainID(id) {
			c.add(IssueInvalid, "context.userId", "userId must be a Practitioner/{id} or PractitionerRole/{id} reference")
		} else {
			oc.UserID = s
		}
	}
	if s, ok := c.stringMember(ctx, "patientId", "context.patientId", true); ok {
		s = strings.TrimPrefix(s, "Patient/")
		if !cdsPlainID(s) {
			c.add(IssueInvalid, "context.patientId", "patientId must be a bare Patient id")
		} else {
			oc.PatientID = s
		}
	}
	if s, ok := c.stringMember(ctx, "encounterId", "context.encounterId", false); ok && s != "" {
		s = strings.TrimPrefix(s, "Encounter/")
		if !cdsPlainID(s) {
			c.add(IssueInvalid, "context.encounterId", "encounterId must be a bare Encounter id")
		} else {
			oc.EncounterID = s
		}
	}

	refs, fullURLs, bundleOK := c.draftOrders(ctx, oc)

	selRaw, present := ctx["selections"]
	if present && rawjson.IsNull(selRaw) {
		present = false
	}
	if hook != HookOrderSelect {
		// Only order-select defines selections; keep them if well formed.
		if present {
			var sel []string
			if json.Unmarshal(selRaw, &sel) == nil && len(sel) > 0 {
				oc.Selections = sel
			}
		}
		return oc
	}
	switch {
	case !present:
		c.add(IssueRequired, "context.selections", "selections is required for order-select")
	case rawjson.Kind(selRaw) != '[':
		c.add(IssueStructure, "context.selections", "selections must be an array of strings")
	default:
		var items []json.RawMessage
		if err := json.Unmarshal(selRaw, &items); err != nil {
			c.add(IssueStructure, "context.selections", "selections must be an array of strings")
			break
		}
		if len(items) == 0 {
			c.add(IssueRequired, "context.selections", "selections must name at least one draft order")
		}
		for i, it := range items {
			path := "context.selections[" + strconv.Itoa(i) + "]"
			var s string
			if rawjson.Kind(it) != '"' || json.Unmarshal(it, &s) != nil {
				c.add(IssueStructure, path, "a selection must be a string")
				continue
			}
			if !bundleOK {
				oc.Selections = append(oc.Selections, s)
				continue // the Bundle itself is already reported
			}
			if !cdsSelectionFound(s, refs, fullURLs) {
				c.add(IssueInvalid, path, "selection does not reference an entry of context.draftOrders")
				continue
			}
			oc.Selections = append(oc.Selections, s)
		}
	}
	return oc
}

// draftOrders checks that context.draftOrders is a Bundle of resources and
// returns the "Type/id" of every entry and their fullUrls.
func (c *cdsIssues) draftOrders(ctx map[string]json.RawMessage, oc *OrderContext) (refs map[string]bool, fullURLs []string, ok bool) {
	const path = "context.draftOrders"
	raw, present := ctx["draftOrders"]
	switch {
	case !present || rawjson.IsNull(raw):
		c.add(IssueRequired, path, "draftOrders is required")
		return nil, nil, false
	case rawjson.Kind(raw) != '{':
		c.add(IssueStructure, path, "draftOrders must be a FHIR Bundle")
		return nil, nil, false
	}
	if refs, fullURLs, ok := cdsDraftOrdersFast(raw); ok {
		oc.DraftOrders = raw
		return refs, fullURLs, true
	}
	return c.draftOrdersDetailed(raw, oc)
}

// draftOrdersDetailed is the slow path of draftOrders, naming each problem.
func (c *cdsIssues) draftOrdersDetailed(raw json.RawMessage, oc *OrderContext) (refs map[string]bool, fullURLs []string, ok bool) {
	const path = "context.draftOrders"
	var b struct {
		ResourceType json.RawMessage `json:"resourceType"`
		Entry        json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		c.add(IssueStructure, path, "draftOrders must be a FHIR Bundle")
		return nil, nil, false
	}
	if string(bytes.TrimSpace(b.ResourceType)) != `"Bundle"` {
		c.add(IssueInvalid, path+".resourceType", "draftOrders must be a FHIR Bundle")
		return nil, nil, false
	}
	oc.DraftOrders = raw
	refs = map[string]bool{}
	if len(b.Entry) == 0 || rawjson.IsNull(b.Entry) {
		return refs, nil, true
	}
	var entries []json.RawMessage
	if rawjson.Kind(b.Entry) != '[' || json.Unmarshal(b.Entry, &entries) != nil {
		c.add(IssueStructure, path+".entry", "Bundle.entry must be an array")
		return refs, nil, false
	}
	ok = true
	for i, e := range entries {
		epath := path + ".entry[" + strconv.Itoa(i) + "]"
		var ent struct {
			FullURL  json.RawMessage `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		}
		if rawjson.Kind(e) != '{' || json.Unmarshal(e, &ent) != nil {
			c.add(IssueStructure, epath, "a Bundle entry must be a JSON object")
			ok = false
			continue
		}
		var fu string
		if json.Unmarshal(ent.FullURL, &fu) == nil && fu != "" {
			fullURLs = append(fullURLs, fu)
		}
		if len(ent.Resource) == 0 || rawjson.IsNull(ent.Resource) {
			continue // nothing to act on; tolerated
		}
		var res struct {
			ResourceType json.RawMessage `json:"resourceType"`
			ID           json.RawMessage `json:"id"`
		}
		var typ, id string
		if rawjson.Kind(ent.Resource) != '{' || json.Unmarshal(ent.Resource, &res) != nil ||
			json.Unmarshal(res.ResourceType, &typ) != nil || typ == "" {
			c.add(IssueStructure, epath+".resource", "an entry resource must be a FHIR resource with a resourceType")
			ok = false
			continue
		}
		if json.Unmarshal(res.ID, &id) == nil && id != "" {
			refs[typ+"/"+id] = true
		}
	}
	return refs, fullURLs, ok
}

// cdsDraftOrdersFast indexes a well-formed draftOrders Bundle in one
// decoding pass. It gives up (ok false) on anything unusual, leaving the
// detailed checks of draftOrders to find and name the problem.
func cdsDraftOrdersFast(raw json.RawMessage) (refs map[string]bool, fullURLs []string, ok bool) {
	var f fieldReader
	if refs, fullURLs, ok = draftOrdersWalk(raw, &f); !f.dup {
		return refs, fullURLs, ok
	}
	return draftOrdersDecoded(raw)
}

// draftOrdersWalk is cdsDraftOrdersFast for objects without repeated members; it notes in f
// when it met one.
func draftOrdersWalk(raw json.RawMessage, f *fieldReader) (refs map[string]bool, fullURLs []string, ok bool) {
	// raw is part of a validated body: rawjson walks it with encoding/json's rules for a struct
	// (case-insensitive keys, last match wins, null as absent), and anything of the wrong JSON
	// type sends the caller to the detailed path, as a failed decode did. Each object is walked
	// once for all the members read.
	top := f.fields(raw, bundleMembers)
	if rt, ok := cdsOptStringView(top[0], top[0] != nil); !ok || rt != "Bundle" {
		return nil, nil, false
	}
	e := top[1]
	refs = map[string]bool{}
	if e == nil || rawjson.IsNull(e) {
		return refs, nil, true
	}
	if rawjson.Kind(e) != '[' {
		return nil, nil, false
	}
	okAll := rawjson.EachElement(e, func(e []byte) bool {
		if rawjson.Kind(e) != '{' {
			return false // null or not an object
		}
		m := f.fields(e, entryMembers)
		fuRaw, res := m[0], m[1]
		fu, ok := cdsOptString(fuRaw, fuRaw != nil)
		if !ok {
			return false
		}
		if fu != "" {
			fullURLs = append(fullURLs, fu)
		}
		if res == nil || rawjson.IsNull(res) {
			return true
		}
		if rawjson.Kind(res) != '{' {
			return false
		}
		m = f.fields(res, idMembers)
		typ, ok1 := cdsOptStringView(m[0], m[0] != nil) // views: the concatenation below copies
		id, ok2 := cdsOptStringView(m[1], m[1] != nil)
		if !ok1 || !ok2 || typ == "" {
			return false
		}
		if id != "" {
			refs[typ+"/"+id] = true
		}
		return true
	})
	if !okAll {
		return nil, nil, false
	}
	return refs, fullURLs, true
}

var (
	entryMembers = []string{"fullUrl", "resource"}
	idMembers    = []string{"resourceType", "id"}
)

// draftOrdersDecoded is cdsDraftOrdersFast with encoding/json, for Bundles whose objects repeat
// a member: encoding/json merges repeats in ways rawjson does not follow.
func draftOrdersDecoded(raw []byte) (map[string]bool, []string, bool) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Entry        []*struct {
			FullURL  string `json:"fullUrl"`
			Resource *struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &b) != nil || b.ResourceType != "Bundle" {
		return nil, nil, false
	}
	refs := make(map[string]bool, len(b.Entry))
	var fullURLs []string
	for _, e := range b.Entry {
		if e == nil {
			return nil, nil, false
		}
		if e.FullURL != "" {
			fullURLs = append(fullURLs, e.FullURL)
		}
		if e.Resource == nil {
			continue
		}
		if e.Resource.ResourceType == "" {
			return nil, nil, false
		}
		if e.Resource.ID != "" {
			refs[e.Resource.ResourceType+"/"+e.Resource.ID] = true
		}
	}
	return refs, fullURLs, true
}

// cdsOptString decodes an optional string member: absent or null is "", anything but a string is
// not ok.
func cdsOptString(raw []byte, found bool) (string, bool) {
	if !found || rawjson.IsNull(raw) {
		return "", true
	}
	return rawjson.String(raw)
}

// cdsOptStringView is cdsOptString for a value only compared or copied by the caller: a plain
// ASCII string shares raw's memory (rawjson.StringView).
func cdsOptStringView(raw []byte, found bool) (string, bool) {
	if !found || rawjson.IsNull(raw) {
		return "", true
	}
	return rawjson.StringView(raw)
}

// cdsSelectionFound matches a selection against the draft orders by
// "Type/id", or by fullUrl for clients that select by absolute URL.
func cdsSelectionFound(sel string, refs map[string]bool, fullURLs []string) bool {
	if refs[sel] {
		return true
	}
	for _, fu := range fullURLs {
		if fu == sel || strings.HasSuffix(fu, "/"+sel) {
			return true
		}
	}
	return false
}

// fhirAuthorization checks the fhirAuthorization object. access_token and a
// Bearer token_type are required because the token is unusable without
// them; the other members are type-checked when present.
func (c *cdsIssues) fhirAuthorization(raw json.RawMessage) *FHIRAuthorization {
	const path = "fhirAuthorization"
	m, ok := rawjson.Object(raw)
	if !ok {
		c.add(IssueStructure, path, "fhirAuthorization must be a JSON object")
		return nil
	}
	a := &FHIRAuthorization{}
	a.AccessToken, _ = c.stringMember(m, "access_token", path+".access_token", true)
	if tt, ok := c.stringMember(m, "token_type", path+".token_type", true); ok {
		if !strings.EqualFold(tt, "Bearer") {
			c.add(IssueInvalid, path+".token_type", "token_type must be Bearer")
		}
		a.TokenType = tt
	}
	if v, ok := m["expires_in"]; ok && !rawjson.IsNull(v) {
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if rawjson.Kind(v) != '-' && (rawjson.Kind(v) < '0' || rawjson.Kind(v) > '9') || d.Decode(&n) != nil {
			c.add(IssueStructure, path+".expires_in", "expires_in must be an integer")
		} else if i, err := n.Int64(); err != nil || i < 0 || i > math.MaxInt32 {
			c.add(IssueInvalid, path+".expires_in", "expires_in must be a non-negative integer number of seconds")
		} else {
			a.ExpiresIn = int(i)
		}
	}
	a.Scope, _ = c.stringMember(m, "scope", path+".scope", false)
	a.Subject, _ = c.stringMember(m, "subject", path+".subject", false)
	a.Patient, _ = c.stringMember(m, "patient", path+".patient", false)
	return a
}

// stringMember reads obj[key] as a string. A missing, null or empty member
// is an issue only when required; a non-string is always one. ok reports a
// usable (present, string, and for required members non-empty) value.
func (c *cdsIssues) stringMember(obj map[string]json.RawMessage, key, path string, required bool) (string, bool) {
	raw, present := obj[key]
	if !present || rawjson.IsNull(raw) {
		if required {
			c.add(IssueRequired, path, key+" is required")
		}
		return "", false
	}
	s, ok := rawjson.String(raw)
	if !ok {
		c.add(IssueStructure, path, key+" must be a string")
		return "", false
	}
	if s == "" && required {
		c.add(IssueRequired, path, key+" must not be empty")
		return "", false
	}
	return s, true
}

// has reports whether an issue was already recorded at path.
func (c *cdsIssues) has(path string) bool {
	for _, is := range c.list {
		if is.Expression == path {
			return true
		}
	}
	return false
}

// DecodeFeedback decodes and validates a feedback body
// (https://cds-hooks.hl7.org/2.0/#feedback). The error is an *Error: 400 when
// the body is not a JSON object, 422 when it is one that breaks a rule: each
// item needs card (a string), outcome ("accepted" or "overridden"),
// acceptedSuggestions with at least one {id} when accepted, and an RFC 3339
// outcomeTimestamp. overrideReason is optional; its reason needs a code but
// not a display (clients do not send one). The same card may be reported
// more than once; that is the caller's idempotency concern, not an error.
func DecodeFeedback(body []byte) (*FeedbackRequest, error) {
	top, serr := cdsDecodeObject(body)
	if serr != nil {
		return nil, serr
	}
	var is cdsIssues
	raw, ok := top["feedback"]
	if !ok || rawjson.IsNull(raw) {
		is.add(IssueRequired, "feedback", "feedback is required")
		return nil, is.err()
	}
	var items []json.RawMessage
	if rawjson.Kind(raw) != '[' || json.Unmarshal(raw, &items) != nil {
		is.add(IssueStructure, "feedback", "feedback must be an array")
		return nil, is.err()
	}
	fr := &FeedbackRequest{Feedback: make([]Feedback, 0, len(items))}
	for i, it := range items {
		if f, ok := is.feedbackItem(it, "feedback["+strconv.Itoa(i)+"]"); ok {
			fr.Feedback = append(fr.Feedback, f)
		}
	}
	if err := is.err(); err != nil {
		return nil, err
	}
	return fr, nil
}

func (c *cdsIssues) feedbackItem(raw json.RawMessage, path string) (Feedback, bool) {
	m, ok := rawjson.Object(raw)
	if !ok {
		c.add(IssueStructure, path, "a feedback item must be a JSON object")
		return Feedback{}, false
	}
	before := len(c.list)
	var f Feedback
	f.Card, _ = c.stringMember(m, "card", path+".card", true)
	if o, ok := c.stringMember(m, "outcome", path+".outcome", true); ok {
		if o != OutcomeAccepted && o != OutcomeOverridden {
			c.add(IssueInvalid, path+".outcome", "outcome must be accepted or overridden")
		}
		f.Outcome = o
	}
	if ts, ok := c.stringMember(m, "outcomeTimestamp", path+".outcomeTimestamp", true); ok {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			c.add(IssueInvalid, path+".outcomeTimestamp", "outcomeTimestamp must be an RFC 3339 date-time")
		}
		f.OutcomeTimestamp = ts
	}
	apath := path + ".acceptedSuggestions"
	if as, ok := m["acceptedSuggestions"]; ok && !rawjson.IsNull(as) {
		var list []json.RawMessage
		if rawjson.Kind(as) != '[' || json.Unmarshal(as, &list) != nil {
			c.add(IssueStructure, apath, "acceptedSuggestions must be an array")
		}
		for j, it := range list {
			jpath := apath + "[" + strconv.Itoa(j) + "]"
			sm, ok := rawjson.Object(it)
			if !ok {
				c.add(IssueStructure, jpath, "an accepted suggestion must be a JSON object")
				continue
			}
			if id, ok := c.stringMember(sm, "id", jpath+".id", true); ok {
				f.AcceptedSuggestions = append(f.AcceptedSuggestions, AcceptedSuggestion{ID: id})
			}
		}
	}
	if f.Outcome == OutcomeAccepted && len(f.AcceptedSuggestions) == 0 && !c.hasPrefix(apath) {
		c.add(IssueRequired, apath, "acceptedSuggestions is required when outcome is accepted")
	}
	if orRaw, ok := m["overrideReason"]; ok && !rawjson.IsNull(orRaw) {
		f.OverrideReason = c.overrideReason(orRaw, path+".overrideReason")
	}
	return f, len(c.list) == before
}

func (c *cdsIssues) overrideReason(raw json.RawMessage, path string) *OverrideReason {
	m, ok := rawjson.Object(raw)
	if !ok {
		c.add(IssueStructure, path, "overrideReason must be a JSON object")
		return nil
	}
	or := &OverrideReason{}
	if r, ok := m["reason"]; ok && !rawjson.IsNull(r) {
		if cm, ok := rawjson.Object(r); !ok {
			c.add(IssueStructure, path+".reason", "reason must be a Coding object")
		} else {
			cd := &Coding{}
			cd.Code, _ = c.stringMember(cm, "code", path+".reason.code", true)
			cd.System, _ = c.stringMember(cm, "system", path+".reason.system", false)
			cd.Display, _ = c.stringMember(cm, "display", path+".reason.display", false)
			or.Reason = cd
		}
	}
	or.UserComment, _ = c.stringMember(m, "userComment", path+".userComment", false)
	if or.Reason == nil && or.UserComment == "" {
		return nil // an empty overrideReason says nothing; tolerated (cds-fb-3 is 3.0)
	}
	return or
}

// hasPrefix reports whether an issue was already recorded at or under path.
func (c *cdsIssues) hasPrefix(path string) bool {
	for _, is := range c.list {
		if strings.HasPrefix(is.Expression, path) {
			return true
		}
	}
	return false
}

// MaxFHIRServerLen bounds fhirServer. Real FHIR base URLs are well under 200
// characters; the bound keeps a client from making valuerx hold, key caches
// and breakers by, or log, an arbitrarily long string.
const MaxFHIRServerLen = 2048

// LooksLikeUUID reports whether s has the 8-4-4-4-12 hex form Inferno checks
// hookInstance against (any case, any version). DecodeRequest refuses a
// hookInstance that fails it.
func LooksLikeUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch i {
		case 8, 13, 18, 23:
			if ch != '-' {
				return false
			}
		default:
			if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F') {
				return false
			}
		}
	}
	return true
}

// cdsDecodeObject parses a body that must be a JSON object, returning a 400
// *Error when it is not. The body is validated here, once: the decoders then
// split its members, and theirs, with rawjson.Object and rawjson.String,
// which do not validate or decode the same bytes again.
func cdsDecodeObject(body []byte) (map[string]json.RawMessage, *Error) {
	top, _, err := cdsDecodeObjectNested(body, "")
	return top, err
}

// cdsDecodeObjectNested is cdsDecodeObject that also splits the member nest when it is an object
// (nil otherwise), in the same walk (rawjson.ValidObjectNested).
func cdsDecodeObjectNested(body []byte, nest string) (map[string]json.RawMessage, map[string]json.RawMessage, *Error) {
	return cdsDecodeObjectNestedFunc(body, nest, nil)
}

// cdsDecodeObjectNestedFunc is cdsDecodeObjectNested with each validating the nested object's
// values (rawjson.ValidObjectNestedFunc).
func cdsDecodeObjectNestedFunc(body []byte, nest string, each func(key string, b []byte, i int) int) (map[string]json.RawMessage, map[string]json.RawMessage, *Error) {
	if rawjson.Kind(body) != '{' {
		if !rawjson.Valid(body) {
			return nil, nil, cdsSyntaxError("body is not valid JSON")
		}
		return nil, nil, cdsSyntaxError("body is not a JSON object")
	}
	// Validated and split in one walk (rawjson.ValidObjectNested: FuzzValidObjectNested holds it
	// to Valid and to encoding/json's split).
	top, nested, valid := rawjson.ValidObjectNestedFunc(body, nest, each)
	if !valid {
		return nil, nil, cdsSyntaxError("body is not valid JSON")
	}
	return top, nested, nil
}

// cdsIsHTTPURL reports whether s is an absolute http or https URL with a host.
func cdsIsHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// cdsPlainID reports whether s can serve as a FHIR logical id in a context
// member. FHIR ids are [A-Za-z0-9-.]{1,64}, but ids from real clients stray
// outside that (the 3.0 example uses U+2011), so only what would break a
// reference or a query URL is refused: an empty or overlong value, '/',
// whitespace and control characters, '?', '#', '&' and braces.
func cdsPlainID(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '/' || r == '?' || r == '#' || r == '&' || r == '{' || r == '}' {
			return false
		}
	}
	return true
}
