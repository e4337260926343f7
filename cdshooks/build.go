package cdshooks

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// NewCard starts a card with a fresh v4 uuid (so feedback can name it), a
// summary that fits the "<140 characters" rule, and a valid indicator. The
// summary's line breaks and tabs become spaces; if it is longer than 139
// characters (runes, not bytes) it is cut at the last word boundary that
// leaves room for "…". An indicator other than info, warning or critical
// becomes info, the indicator CRD asks cost cards to use. An empty summary
// or source label cannot be repaired; Validate reports them.
func NewCard(summary, indicator string, src Source) *Card {
	switch indicator {
	case IndicatorInfo, IndicatorWarning, IndicatorCritical:
	default:
		indicator = IndicatorInfo
	}
	return &Card{
		UUID:      NewCardUUID(),
		Summary:   cardFitSummary(summary),
		Indicator: indicator,
		Source:    src,
	}
}

// NewCardUUID is a card's uuid: a version 7 UUID (RFC 9562), whose leading 48 bits are the
// millisecond it was made and the other 74 random. The store keys each card's decision by it, and
// time-ordered keys land on the last page of that index: random version 4 ones put each of a
// hook's decisions on a page of its own, every page one more WAL frame in the hook's commit
// (store.BenchmarkSQLiteRecordHook, 20 decisions: 35.4 frames per hook with v4, 13.5 with v7).
// Its time says when the card was made, which the EHR that asked for it knows.
func NewCardUUID() string { return uuid.Must(uuid.NewV7()).String() }

// cardFitSummary flattens whitespace controls and shortens s to at most
// cardSummaryMaxRunes runes.
func cardFitSummary(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' || r == '\v' || r == '\f' {
			return ' '
		}
		if r == utf8.RuneError {
			return '\uFFFD'
		}
		return r
	}, s)
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if utf8.RuneCountInString(s) <= cardSummaryMaxRunes {
		return s
	}
	full := []rune(s)
	runes := full[:cardSummaryMaxRunes-1] // room for the ellipsis
	cut := len(runes)
	// Prefer a word boundary, unless that would throw away more than a
	// third. A space between digits ("4 210 €") is a thousands separator,
	// not a boundary: cutting there would leave a wrong amount.
	for i := len(runes) - 1; i >= len(runes)*2/3; i-- {
		if unicode.IsSpace(runes[i]) && !(unicode.IsDigit(runes[i-1]) && unicode.IsDigit(full[i+1])) {
			cut = i
			break
		}
	}
	out := strings.TrimRightFunc(string(runes[:cut]), func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == ';' || r == ':' || r == '-' || r == '.'
	})
	return out + "…"
}

// AddSuggestion appends a suggestion with a fresh v4 uuid and returns it;
// the pointer is valid until the next AddSuggestion. It sets
// selectionBehavior to at-most-one when the card has none (a card with
// suggestions must have one). Under at-most-one only one suggestion may be
// recommended, so recommending this one un-recommends the others.
func (c *Card) AddSuggestion(label string, recommended bool, actions ...Action) *Suggestion {
	if c.SelectionBehavior == "" {
		c.SelectionBehavior = SelectionAtMostOne
	}
	if recommended && c.SelectionBehavior == SelectionAtMostOne {
		for i := range c.Suggestions {
			c.Suggestions[i].IsRecommended = false
		}
	}
	s := Suggestion{Label: label, UUID: uuid.NewString(), IsRecommended: recommended}
	if len(actions) > 0 {
		s.Actions = append([]Action(nil), actions...)
	}
	c.Suggestions = append(c.Suggestions, s)
	return &c.Suggestions[len(c.Suggestions)-1]
}

// AddLink appends a link (build it with AbsoluteLink or SmartLink).
func (c *Card) AddLink(l Link) {
	c.Links = append(c.Links, l)
}

// AddOverrideReason appends a reason the user may give for overriding the
// card. The spec requires a display for every override reason; when display
// is empty the code stands in for it.
func (c *Card) AddOverrideReason(code, system, display string) {
	if display == "" {
		display = code
	}
	c.OverrideReasons = append(c.OverrideReasons, Coding{Code: code, System: system, Display: display})
}

// UpdateAction replaces a draft order with resource, which must be the
// whole updated resource carrying the draft's resourceType and id (the
// client finds its target that way; resourceId is not used for updates).
func UpdateAction(desc string, resource json.RawMessage) Action {
	return Action{Type: ActionUpdate, Description: desc, Resource: resource}
}

// CreateAction adds a new resource, e.g. the alternative order that
// replaces a deleted draft.
func CreateAction(desc string, resource json.RawMessage) Action {
	return Action{Type: ActionCreate, Description: desc, Resource: resource}
}

// DeleteAction removes the resource named by resourceID, a relative
// reference "Type/id" (2.0 style; 1.0's id-in-resource is deprecated).
func DeleteAction(desc, resourceID string) Action {
	return Action{Type: ActionDelete, Description: desc, ResourceID: resourceID}
}

// AbsoluteLink is a plain link the client opens as-is.
func AbsoluteLink(label, url string) Link {
	return Link{Label: label, URL: url, Type: LinkAbsolute}
}

// SmartLink launches a SMART app; appContext (optional) is passed to it.
func SmartLink(label, url, appContext string) Link {
	return Link{Label: label, URL: url, Type: LinkSmart, AppContext: appContext}
}
