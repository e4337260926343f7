package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"sync"

	"github.com/google/uuid"

	"valuerx/cdshooks"
)

// cardTemplate is a cached card's JSON with holes for what changes per response: the card's
// UUID, each suggestion's UUID and the signed comparison link (in the detail and the first
// link). Encoding a response's cards with encoding/json was a fifth of the CPU of a hook with 20
// draft orders (its RawMessage members — the extension, every suggested resource — are
// re-validated and compacted on every Marshal); filling the holes of bytes encoded once per
// built card writes the same bytes (TestResponseBytesFromTemplates).
type cardTemplate struct {
	parts [][]byte // text between the holes
	holes []hole   // len(parts)-1 of them
	fixed int      // the bytes of parts
}

// preCard is how encodeResponse writes one card of a response: from its card cache template,
// with the comparison URL the card's copy received; tmpl nil: with encoding/json.
type preCard struct {
	tmpl *cardTemplate
	url  string
}

// size is about the length of the template's encoding with url in its holes (a UUID is 36 bytes;
// the URL's escaping may add a little).
func (t *cardTemplate) size(url string) int { return t.fixed + len(t.holes)*(len(url)+40) }

type hole struct {
	kind  int // holeCard, holeSuggestion or holeURL
	index int // the suggestion, for holeSuggestion
}

const (
	holeCard = iota
	holeSuggestion
	holeURL
)

// compareURLHole stands for the comparison URL while the template is encoded: JSON-safe, and
// made unique per template by a random UUID.
const compareURLHole = "https://valuerx.invalid/compare-hole/"

// newCardTemplate encodes card (as cached: before its comparison link) with placeholders for
// the per-response values. The placeholders are fresh random UUIDs, so they occur in the
// encoding only where the template put them.
func newCardTemplate(card *cdshooks.Card) (*cardTemplate, error) {
	tc := freshCopy(card) // random UUIDs: the placeholders
	url := compareURLHole + uuid.NewString()
	applyCompareLink(tc, url)
	enc, err := json.Marshal(tc)
	if err != nil {
		return nil, err
	}
	type mark struct {
		text []byte
		h    hole
	}
	marks := []mark{{[]byte(tc.UUID), hole{kind: holeCard}}, {[]byte(url), hole{kind: holeURL}}}
	for i, s := range tc.Suggestions {
		marks = append(marks, mark{[]byte(s.UUID), hole{kind: holeSuggestion, index: i}})
	}
	t := &cardTemplate{}
	rest := enc
	for {
		first, at := -1, len(rest)
		for m, mk := range marks {
			if i := bytes.Index(rest, mk.text); i >= 0 && i < at {
				first, at = m, i
			}
		}
		if first < 0 {
			break
		}
		t.parts = append(t.parts, rest[:at])
		t.holes = append(t.holes, marks[first].h)
		rest = rest[at+len(marks[first].text):]
	}
	t.parts = append(t.parts, rest)
	for _, p := range t.parts {
		t.fixed += len(p)
	}
	if len(t.holes) == 0 || t.holes[0].kind != holeCard {
		return nil, errors.New("gateway: card template without its uuid")
	}
	return t, nil
}

// render appends the encoding of card — a fresh copy of the template's card with its comparison
// link applied — to dst. url is the comparison URL that copy received.
func (t *cardTemplate) render(dst []byte, card *cdshooks.Card, url string) ([]byte, bool) {
	var escURL []byte
	if dst == nil {
		dst = make([]byte, 0, t.size(url))
	}
	for i, h := range t.holes {
		dst = append(dst, t.parts[i]...)
		switch h.kind {
		case holeCard:
			dst = append(dst, card.UUID...)
		case holeSuggestion:
			if h.index >= len(card.Suggestions) {
				return dst, false
			}
			dst = append(dst, card.Suggestions[h.index].UUID...)
		case holeURL:
			if escURL == nil {
				b, err := json.Marshal(url) // the same escaping as the rest of the encoding
				if err != nil {
					return dst, false
				}
				escURL = b[1 : len(b)-1]
			}
			dst = append(dst, escURL...)
		}
	}
	return append(dst, t.parts[len(t.parts)-1]...), true
}

// encodeResponse is Response.MarshalJSON with the cards that have a template (pre[i].tmpl) written
// from it, straight into the response's buffer (rendering each card into a buffer of its own and
// copying it here was 40 % of the bytes a 20-draft hook allocated); resp must have no system
// actions.
func encodeResponse(resp *cdshooks.Response, pre []preCard) ([]byte, error) {
	return appendResponse(nil, resp, pre)
}

// appendResponse is encodeResponse appending to dst (handleHook's pooled buffer).
func appendResponse(dst []byte, resp *cdshooks.Response, pre []preCard) ([]byte, error) {
	if len(resp.SystemActions) > 0 || len(pre) != len(resp.Cards) {
		b, err := resp.MarshalJSON()
		return append(dst, b...), err
	}
	n := 16
	for _, p := range pre {
		if p.tmpl != nil {
			n += p.tmpl.size(p.url)
		}
		n++
	}
	out := slices.Grow(dst, n)
	out = append(out, `{"cards":[`...)
	for i := range resp.Cards {
		if i > 0 {
			out = append(out, ',')
		}
		if t := pre[i].tmpl; t != nil {
			mark := len(out)
			var ok bool
			if out, ok = t.render(out, &resp.Cards[i], pre[i].url); ok {
				continue
			}
			out = out[:mark] // a card that does not fit its template: encoding/json writes it
		}
		b, err := json.Marshal(&resp.Cards[i])
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return append(out, "]}"...), nil
}

// responseBuffers keeps the buffers handleHook encodes its responses into: a 20-draft response is
// about 300 kB, a third of everything such a hook allocated, and the collector paid for each one
// again. A buffer is returned once the response is written (http.ResponseWriter's Write does not
// keep it); one grown past maxPooledResponse is left to the collector.
var responseBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledResponse = 1 << 20
