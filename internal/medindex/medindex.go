// Package medindex classifies a patient's medication record — a FHIR Bundle of
// MedicationRequests (or dispenses) or a JSON array of such resources — without decoding whole
// resources: resourceType, id, status, authoredOn and the medicationCodeableConcept codings of
// every entry, read in one walk over JSON already validated (each byte of a Bundle is scanned
// once: the resources are classified as the bundle is split), with a handful of allocations for
// the whole record (one string holds every value read).
//
// It stands in for decoding each entry with encoding/json into a struct with these members
// (issue 15 item 2: with 500 history entries and 20 draft orders valuerx spent 61.6 ms of CPU per
// hook, 83 % of it decoding the whole history again for every draft). Its answers are
// encoding/json's for that struct, member for member (FuzzClassifyOracle holds it to that):
// keys match case-insensitively, JSON null leaves a member empty, and a member of the wrong JSON
// type makes the entry not OK, as it makes json.Unmarshal fail. Members it does not read are not
// checked. An entry with a member of interest spelled twice (which encoding/json merges in ways
// a last-match reader cannot follow) is decoded with encoding/json instead.
//
// The input must be valid JSON (json.Valid, or part of a document encoding/json accepted), as
// for package rawjson; on other input the answers mean nothing, but nothing panics.
package medindex

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
	"unsafe"

	"valuerx/internal/rawjson"
)

// Coding is one medicationCodeableConcept.coding element. A missing or null system or code is
// the empty string (FHIR strings are never empty, so an empty one never matches a code system
// or a catalog code).
type Coding struct {
	System string
	Code   string
}

// Entry is one resource of the record.
type Entry struct {
	ResourceType string
	ID           string
	Status       string
	AuthoredOn   string
	// Codings are medicationCodeableConcept.coding in order; nil or empty when there are none.
	// The slices of one Classify call share one backing array (capacity-limited: appending to
	// one cannot overwrite the next).
	Codings []Coding
	// Raw is the whole resource, sharing the input's memory (a copy only for a Bundle with a
	// repeated entry member, which encoding/json splits): decode it further only for the
	// entries that matter (a tracked drug family).
	Raw json.RawMessage
	// OK is false when json.Unmarshal of Raw into a struct with these members would fail (a
	// member of the wrong JSON type, or a resource that is not an object): skip the entry, as a
	// caller that decoded it would have. The other fields are then not to be used.
	OK bool
}

// Classify reads a record: a Bundle object (the resources of its entry array) or an array of
// resources. Null resources (and bundle entries without one) are skipped. It fails as
// json.Unmarshal of the record into a Bundle struct ({"entry":[{"resource":RawMessage}]}) or a
// []json.RawMessage would, and when b is neither an object nor an array. Every byte is walked
// once: the members of each resource are classified as the bundle is split.
func Classify(b []byte) ([]Entry, error) {
	bd := newBuilder(len(b), -1)
	i := rawjson.SkipSpace(b, 0)
	if i >= len(b) {
		return nil, errNotRecord
	}
	switch b[i] {
	case '{':
		if err := bd.bundle(b, i); err != nil {
			if err != errRepeatedEntry {
				return nil, err
			}
			// Repeated "entry" arrays decode into each other's elements: let encoding/json
			// split the bundle, and classify what it found.
			res, err := bundleViaEncodingJSON(b)
			if err != nil {
				return nil, err
			}
			return ClassifyResources(res), nil
		}
	case '[':
		if err := bd.array(b, i); err != nil {
			return nil, err
		}
	default:
		return nil, errNotRecord
	}
	return bd.finish(), nil
}

var (
	errNotRecord     = errors.New("medindex: record is neither a Bundle object nor an array")
	errEntryType     = errors.New("medindex: Bundle.entry is not an array of objects")
	errRepeatedEntry = errors.New("medindex: Bundle.entry repeated")
	errMalformed     = errors.New("medindex: malformed JSON")
)

// ClassifyResources classifies resources already split out of their Bundle (as the gateway holds
// a prefetched or fetched history), one Entry per element in order. A null element is an OK
// entry with every member empty, as json.Unmarshal of null into a struct leaves it.
func ClassifyResources(resources []json.RawMessage) []Entry {
	n := 0
	for _, r := range resources {
		n += len(r)
	}
	bd := newBuilder(n, len(resources))
	for _, raw := range resources {
		p, _ := bd.resourceAt(raw, rawjson.SkipSpace(raw, 0))
		bd.pend = append(bd.pend, p)
		bd.raws = append(bd.raws, raw)
	}
	return bd.finish()
}

func newBuilder(inputLen, entries int) *builder {
	// The members read are up to half a history entry's bytes (a coding's system URL is long),
	// and an entry is a few hundred bytes; both are guesses that spare most of the growth, not
	// limits.
	if entries < 0 {
		entries = inputLen/400 + 1
	}
	return &builder{buf: make([]byte, 0, inputLen/2+64), pend: make([]pending, 0, entries), raws: make([]json.RawMessage, 0, entries)}
}

// bundle walks a Bundle object at b[i], classifying the resource of every entry in place.
func (bd *builder) bundle(b []byte, i int) error {
	var err error
	seen := false
	end := object(b, i, func(key []byte, v int) int {
		if matchKey(key, entryKey) != 0 {
			return rawjson.ValueEnd(b, v)
		}
		if seen {
			err = errRepeatedEntry
			return -1
		}
		seen = true
		switch b[v] {
		case 'n':
			return v + 4
		case '[':
		default:
			err = errEntryType
			return -1
		}
		e := elements(b, v, func(el int) int {
			switch b[el] {
			case 'n':
				return el + 4 // a null element decodes to an entry without a resource
			case '{':
			default:
				err = errEntryType
				return -1
			}
			// json.RawMessage takes any value, and of repeated members the last.
			had := false
			mark, cmark := len(bd.buf), len(bd.codings)
			return object(b, el, func(key []byte, rv int) int {
				if matchKey(key, resourceKey) != 0 {
					return rawjson.ValueEnd(b, rv)
				}
				if had { // an earlier "resource" of this entry is replaced
					bd.pend, bd.raws = bd.pend[:len(bd.pend)-1], bd.raws[:len(bd.raws)-1]
					bd.buf, bd.codings = bd.buf[:mark], bd.codings[:cmark]
					had = false
				}
				p, re := bd.resourceAt(b, rv)
				if b[rv] != 'n' {
					bd.pend = append(bd.pend, p)
					bd.raws = append(bd.raws, b[rv:re:re])
					had = true
				}
				return re
			})
		})
		if e < 0 && err == nil {
			err = errMalformed
		}
		return e
	})
	if err != nil {
		return err
	}
	if end < 0 {
		return errMalformed
	}
	return nil
}

// array walks an array of resources at b[i], skipping null elements.
func (bd *builder) array(b []byte, i int) error {
	end := elements(b, i, func(el int) int {
		if b[el] == 'n' {
			return el + 4
		}
		p, e := bd.resourceAt(b, el)
		bd.pend = append(bd.pend, p)
		bd.raws = append(bd.raws, b[el:e:e])
		return e
	})
	if end < 0 {
		return errMalformed
	}
	return nil
}

// bundleViaEncodingJSON splits a Bundle as json.Unmarshal into {Entry []struct{Resource
// json.RawMessage}} does, skipping entries without a resource or with a null one.
func bundleViaEncodingJSON(b []byte) ([]json.RawMessage, error) {
	var bun struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &bun); err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, e := range bun.Entry {
		if len(e.Resource) > 0 && !rawjson.IsNull(e.Resource) {
			out = append(out, e.Resource)
		}
	}
	return out, nil
}

// object calls fn for every member of the object starting at b[i] == '{', with the key token
// (quotes included) and the index of its value; fn returns the index just after the value, or
// -1 to stop. object returns the index after the closing brace, or -1.
func object(b []byte, i int, fn func(key []byte, v int) int) int {
	i = rawjson.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) && b[i] == '"' {
		kEnd := rawjson.ValueEnd(b, i)
		key := b[i:kEnd]
		i = rawjson.SkipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		end := fn(key, rawjson.SkipSpace(b, i+1))
		if end < 0 || end > len(b) {
			return -1
		}
		i = rawjson.SkipSpace(b, end)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = rawjson.SkipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
	return -1
}

// elements calls fn for every element of the array starting at b[i] == '[', with the index of
// the element; fn returns the index just after it, or -1 to stop. elements returns the index
// after the closing bracket, or -1.
func elements(b []byte, i int, fn func(el int) int) int {
	i = rawjson.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for i < len(b) {
		end := fn(i)
		if end < 0 || end > len(b) {
			return -1
		}
		i = rawjson.SkipSpace(b, end)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = rawjson.SkipSpace(b, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
	return -1
}

// The members read, in the order of their spans.
const (
	fResourceType = iota
	fID
	fStatus
	fAuthoredOn
	fMedication
	nFields
)

var fieldNames = [nFields]string{"resourceType", "id", "status", "authoredOn", "medicationCodeableConcept"}

var (
	codingNames = []string{"system", "code"}
	codingKey   = []string{"coding"}
	entryKey    = []string{"entry"}
	resourceKey = []string{"resource"}
)

// span is a string's place in builder.buf, or (start < 0: inSpan) in builder.input.
type span struct{ start, end int }

// inSpan is the span of input[s:e]: an Indexer leaves a string that needs no decoding where it is
// in the request body, which its entries' Raw already share.
func inSpan(s, e int) span { return span{-s - 1, -e - 1} }

// text returns the bytes of the span.
func (bd *builder) text(s span) []byte {
	if s.start < 0 {
		return bd.input[-s.start-1 : -s.end-1]
	}
	return bd.buf[s.start:s.end]
}

// strOf is the span's string in finish: all is buf's string, in input's.
func strOf(all, in string, s span) string {
	if s.start < 0 {
		return in[-s.start-1 : -s.end-1]
	}
	return all[s.start:s.end]
}

// pending is one entry before the final string exists: spans into the buffer, or an entry
// encoding/json decoded (fallback), or not OK.
type pending struct {
	ok       bool
	fallback *Entry
	fields   [fMedication]span
	// codings are builder.codings[c0:c1]
	c0, c1 int
	ref    bool // the resource's text holds refNeedle (set by an Indexer only)
}

type builder struct {
	buf     []byte
	codings [][2]span
	pend    []pending
	raws    []json.RawMessage
	input   []byte // what inSpans index (an Indexer's request body), never changed
}

// resourceAt reads the members of interest of the resource starting at b[i], in one pass, and
// returns the index after it.
func (bd *builder) resourceAt(b []byte, i int) (pending, int) {
	p := pending{c0: len(bd.codings), c1: len(bd.codings)}
	if i >= len(b) {
		return p, len(b)
	}
	switch b[i] {
	case 'n':
		p.ok = true // null decodes into an empty struct without error
		return p, i + 4
	case '{':
	default:
		return p, rawjson.ValueEnd(b, i)
	}
	var vals [nFields][]byte
	var count [nFields]int
	end := object(b, i, func(key []byte, v int) int {
		e := rawjson.ValueEnd(b, v)
		if f := matchKey(key, fieldNames[:]); f >= 0 {
			vals[f] = b[v:e:e]
			count[f]++
		}
		return e
	})
	if end < 0 {
		return p, rawjson.ValueEnd(b, i)
	}
	raw := b[i:end:end]
	for _, c := range count {
		if c > 1 {
			return bd.viaEncodingJSON(raw), end
		}
	}
	mark, cmark := len(bd.buf), len(bd.codings)
	for f := range fMedication {
		if count[f] == 0 {
			continue
		}
		s, ok := bd.str(vals[f])
		if !ok {
			bd.buf, bd.codings = bd.buf[:mark], bd.codings[:cmark]
			return p, end
		}
		p.fields[f] = s
	}
	if count[fMedication] == 1 {
		switch r := bd.medication(vals[fMedication]); r {
		case medOK:
		case medRepeat:
			bd.buf, bd.codings = bd.buf[:mark], bd.codings[:cmark]
			return bd.viaEncodingJSON(raw), end
		default:
			bd.buf, bd.codings = bd.buf[:mark], bd.codings[:cmark]
			return p, end
		}
	}
	p.c1 = len(bd.codings)
	p.ok = true
	return p, end
}

type medResult int

const (
	medOK medResult = iota
	medTypeError
	medRepeat
)

// medication reads medicationCodeableConcept.coding[].system and .code.
func (bd *builder) medication(v []byte) medResult {
	switch rawjson.Kind(v) {
	case 'n':
		return medOK
	case '{':
	default:
		return medTypeError
	}
	var coding []byte
	n := 0
	rawjson.EachMember(v, func(key, val []byte) bool {
		if matchKey(key, codingKey) == 0 {
			coding = val
			n++
		}
		return true
	})
	switch {
	case n > 1:
		return medRepeat
	case n == 0 || rawjson.IsNull(coding):
		return medOK
	case rawjson.Kind(coding) != '[':
		return medTypeError
	}
	res := medOK
	elements(coding, rawjson.SkipSpace(coding, 0), func(i int) int {
		switch coding[i] {
		case 'n':
			bd.codings = append(bd.codings, [2]span{}) // a null element decodes to an empty coding
			return i + 4
		case '{':
		default:
			res = medTypeError
			return -1
		}
		var cv [2][]byte
		var cc [2]int
		end := object(coding, i, func(key []byte, v int) int {
			e := rawjson.ValueEnd(coding, v)
			if f := matchKey(key, codingNames); f >= 0 {
				cv[f] = coding[v:e:e]
				cc[f]++
			}
			return e
		})
		if end < 0 {
			res = medTypeError
			return -1
		}
		if cc[0] > 1 || cc[1] > 1 {
			res = medRepeat
			return -1
		}
		var sp [2]span
		for f := range 2 {
			if cc[f] == 0 {
				continue
			}
			s, ok := bd.str(cv[f])
			if !ok {
				res = medTypeError
				return -1
			}
			sp[f] = s
		}
		bd.codings = append(bd.codings, sp)
		return end
	})
	return res
}

// str appends the string value v to the buffer: null is the empty string, a non-string is a type
// error.
func (bd *builder) str(v []byte) (span, bool) {
	switch rawjson.Kind(v) {
	case 'n':
		return span{}, true
	case '"':
	default:
		return span{}, false
	}
	start := len(bd.buf)
	inner := v[1 : len(v)-1]
	if plain(inner) {
		bd.buf = append(bd.buf, inner...)
	} else {
		s, ok := rawjson.String(v)
		if !ok {
			return span{}, false
		}
		bd.buf = append(bd.buf, s...)
	}
	return span{start, len(bd.buf)}, true
}

// viaEncodingJSON decodes raw with encoding/json into the same members (the answer the fast path
// stands in for), for the entries it cannot read with last-match rules.
func (bd *builder) viaEncodingJSON(raw []byte) pending {
	var d doc
	if err := json.Unmarshal(raw, &d); err != nil {
		return pending{c0: len(bd.codings), c1: len(bd.codings)}
	}
	e := &Entry{ResourceType: d.ResourceType, ID: d.ID, Status: d.Status, AuthoredOn: d.AuthoredOn, OK: true}
	if d.MedicationCodeableConcept != nil && d.MedicationCodeableConcept.Coding != nil {
		e.Codings = make([]Coding, len(d.MedicationCodeableConcept.Coding))
		for i, c := range d.MedicationCodeableConcept.Coding {
			if c.System != nil {
				e.Codings[i].System = *c.System
			}
			if c.Code != nil {
				e.Codings[i].Code = *c.Code
			}
		}
	}
	return pending{ok: true, fallback: e, c0: len(bd.codings), c1: len(bd.codings)}
}

// doc is what the classifier reads, as encoding/json decodes it (the shape of the gateway's
// history documents: strings for the scalar members, pointers for a coding's system and code).
type doc struct {
	ResourceType              string `json:"resourceType"`
	ID                        string `json:"id"`
	Status                    string `json:"status"`
	AuthoredOn                string `json:"authoredOn"`
	MedicationCodeableConcept *struct {
		Coding []struct {
			System *string `json:"system"`
			Code   *string `json:"code"`
		} `json:"coding"`
	} `json:"medicationCodeableConcept"`
}

// finish turns the buffer into one string and the spans into the entries' strings: one string
// and one codings array for the whole record.
func (bd *builder) finish() []Entry {
	resources, pend := bd.raws, bd.pend
	// The buffer is the record's one string: never written again (the builder is dropped), so
	// it is shared rather than copied.
	all := unsafe.String(unsafe.SliceData(bd.buf), len(bd.buf))
	in := unsafe.String(unsafe.SliceData(bd.input), len(bd.input)) // the request body: never changed either
	var codings []Coding
	if len(bd.codings) > 0 {
		codings = make([]Coding, len(bd.codings))
		for i, c := range bd.codings {
			codings[i] = Coding{System: strOf(all, in, c[0]), Code: strOf(all, in, c[1])}
		}
	}
	out := make([]Entry, len(pend))
	for i, p := range pend {
		switch {
		case p.fallback != nil:
			out[i] = *p.fallback
		case p.ok:
			f := p.fields
			out[i] = Entry{
				ResourceType: strOf(all, in, f[fResourceType]),
				ID:           strOf(all, in, f[fID]),
				Status:       strOf(all, in, f[fStatus]),
				AuthoredOn:   strOf(all, in, f[fAuthoredOn]),
				OK:           true,
			}
			if p.c1 > p.c0 {
				out[i].Codings = codings[p.c0:p.c1:p.c1]
			}
		}
		out[i].Raw = resources[i]
	}
	return out
}

// matchKey returns the index of the name the key token (quotes included) stands for in
// encoding/json's matching (exact, else case-insensitive after unescaping), or -1.
func matchKey(quoted []byte, names []string) int {
	inner := quoted[1 : len(quoted)-1]
	for i, n := range names {
		if string(inner) == n {
			return i
		}
	}
	if plain(inner) {
		for i, n := range names {
			if asciiEqualFold(inner, n) {
				return i
			}
		}
		return -1
	}
	k, ok := rawjson.String(quoted)
	if !ok {
		return -1
	}
	for i, n := range names {
		if strings.EqualFold(k, n) {
			return i
		}
	}
	return -1
}

// asciiEqualFold is strings.EqualFold for an ASCII b (where only ASCII letters fold).
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// plain reports whether string content needs no unescaping or UTF-8 repair.
func plain(b []byte) bool {
	for _, x := range b {
		if x == '\\' || x >= utf8.RuneSelf || x < 0x20 {
			return false
		}
	}
	return true
}
