package medindex

import (
	"encoding/json"
	"sync"

	"valuerx/internal/rawjson"
)

// Bundle is one prefetched Bundle as an Indexer read it in the walk that validated it: the
// answers of fhir.ScanValidBundle (its resources, next link and scan) and, for its resources,
// ClassifyResources' entries and whether each resource's text holds the member name
// medicationReference, without walking the Bundle again for any of them
// (FuzzIndexerMatchesWalks holds the four together).
type Bundle struct {
	// Raw is the Bundle's bytes: the value it was read from.
	Raw json.RawMessage
	// Resources are fhir.ScanValidBundle's resources (capacity-limited: appending copies).
	Resources []json.RawMessage
	// Next is the url of the first link whose relation is "next" ("" for none).
	Next string
	// Entries counts the elements of Bundle.entry, null ones included; OnlyOutcomes says every
	// one holds a resource of resourceType OperationOutcome (fhir.BundleScan).
	Entries      int
	OnlyOutcomes bool
	// Classified is ClassifyResources(Resources). Its strings without escapes share the request
	// body's memory, as Raw and Resources do.
	Classified []Entry
	// Refs[i] is bytes.Contains(Resources[i], `"medicationReference"`); nil when no resource
	// holds it.
	Refs []bool
}

// Indexer validates the prefetch values of one request and reads the Bundles among them as it
// does (BundleAt): one walk over each byte where validating, splitting each Bundle, classifying
// its resources and looking for medication references walked a long history four times (issue
// 15). A Bundle it cannot read with certainty (a member of interest spelled twice or in another
// case, of an unexpected JSON type, a resourceType that is not Bundle: anything fhir's and this
// package's fallbacks to encoding/json would decide) is validated and not indexed; the caller
// reads it as before. The entries of all its Bundles share one buffer.
type Indexer struct {
	bd    builder
	hint  int
	init  bool
	marks []bundleMark
	sc    *scratch // bd.pend's and bd.codings' arrays, back to scratchPool in Finish
}

// scratch is an Indexer's working space that no answer keeps: the entries before Finish makes
// them, and their codings' spans. Kept between requests (scratchPool), since with a long history
// they are a hundred kilobytes a hook.
type scratch struct {
	pend    []pending
	codings [][2]span
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

type bundleMark struct {
	raw          []byte
	p0, p1       int // bd.pend[p0:p1]
	next         string
	entries      int
	onlyOutcomes bool
}

// NewIndexer returns an Indexer for a request of about hint bytes (its buffers are sized from it).
func NewIndexer(hint int) *Indexer { return &Indexer{hint: hint} }

// refNeedle is what gateway's referencesMedications looks for in a history entry.
const refNeedle = `"medicationReference"`

// BundleAt validates the JSON value at b[i] (i at its first byte, depth arrays and objects open
// around it) exactly as rawjson.ValidValueAt does and returns what it returns: the index after
// the value, -1 when it is not valid JSON. A regular Bundle is indexed on the way (Finish).
func (x *Indexer) BundleAt(b []byte, i, depth int) int {
	if i >= len(b) || b[i] != '{' {
		return rawjson.ValidValueAt(b, i, depth)
	}
	if !x.init {
		x.init = true
		// Strings that need decoding (escapes, non-ASCII) are rare: the buffer starts small. About
		// one entry per 400 bytes, two codings each (guesses that spare most of the growth).
		n := x.hint/400 + 4
		sc := scratchPool.Get().(*scratch)
		if cap(sc.pend) < n { // a new one, or smaller than this request needs: no growth step by step
			sc.pend, sc.codings = make([]pending, 0, n), make([][2]span, 0, 2*n)
		}
		x.sc = sc
		x.bd = builder{buf: make([]byte, 0, 256), pend: sc.pend[:0], codings: sc.codings[:0], raws: make([]json.RawMessage, 0, n), input: b}
	}
	buf, cod, pend := len(x.bd.buf), len(x.bd.codings), len(x.bd.pend)
	w := walk{bd: &x.bd, b: b, onlyOutcomes: true, direct: len(b) == len(x.bd.input) && &b[0] == &x.bd.input[0]}
	end := w.bundle(i, depth)
	if end < 0 || w.bad || !w.isBundle {
		x.bd.buf, x.bd.codings, x.bd.pend, x.bd.raws = x.bd.buf[:buf], x.bd.codings[:cod], x.bd.pend[:pend], x.bd.raws[:pend]
		return end
	}
	x.marks = append(x.marks, bundleMark{raw: b[i:end:end], p0: pend, p1: len(x.bd.pend), next: w.next, entries: w.entries, onlyOutcomes: w.onlyOutcomes})
	return end
}

// Finish returns the Bundles indexed, in the order they were read. The Indexer is not to be
// used after.
func (x *Indexer) Finish() []Bundle {
	if len(x.marks) == 0 {
		x.release()
		return nil
	}
	entries := x.bd.finish()
	defer x.release()
	out := make([]Bundle, len(x.marks))
	for k, m := range x.marks {
		res := x.bd.raws[m.p0:m.p1:m.p1]
		if res == nil {
			res = []json.RawMessage{}
		}
		out[k] = Bundle{Raw: m.raw, Resources: res, Next: m.next, Entries: m.entries, OnlyOutcomes: m.onlyOutcomes, Classified: entries[m.p0:m.p1:m.p1]}
		for j, p := range x.bd.pend[m.p0:m.p1] {
			if p.ref {
				if out[k].Refs == nil {
					out[k].Refs = make([]bool, m.p1-m.p0)
				}
				out[k].Refs[j] = true
			}
		}
	}
	return out
}

// walk is one Bundle's walk. Every method validates the value it is given completely (returning
// -1 when it is not valid JSON), whatever it finds in it; bad notes that the Bundle is not one to
// index.
type walk struct {
	bd *builder
	b  []byte

	bad, isBundle bool
	direct        bool // b is the builder's input: plain strings are spans of it
	next          string
	foundNext     bool
	entries       int
	onlyOutcomes  bool
	ref           bool // the resource being read holds refNeedle
}

var (
	bundleNames = []string{"resourceType", "type", "link", "entry"}
	linkNames   = []string{"relation", "url"}
	entryNames  = []string{"fullUrl", "resource", "search", "request"}
	searchNames = []string{"mode"}
	reqNames    = []string{"method", "url"}
)

// any validates any value.
func (w *walk) any(v, depth int) int { return rawjson.ValidValueAt(w.b, v, depth) }

// refAny validates any value of a resource, noting a medication reference in it.
func (w *walk) refAny(v, depth int) int {
	e, found := rawjson.ValidValueSuffixAt(w.b, v, depth, refNeedle)
	if found {
		w.ref = true
	}
	return e
}

// isRef reports whether the string token b[s:e] ends with refNeedle.
func isRef(b []byte, s, e int) bool {
	return e-s >= len(refNeedle) && b[e-2] == 'e' && string(b[e-len(refNeedle):e]) == refNeedle
}

// field returns the index of names the member name b[k0:k1] is spelled exactly as, else -1; a
// name encoding/json would match to one of them otherwise (another case, escapes) makes the
// Bundle irregular.
func (w *walk) field(k0, k1 int, names []string) int {
	inner := w.b[k0+1 : k1-1]
	for f, n := range names {
		if string(inner) == n {
			return f
		}
	}
	if matchKey(w.b[k0:k1], names) >= 0 {
		w.bad = true
	}
	return -1
}

// object validates the object at b[i] == '{', calling fn with each member's name token
// b[k0:k1] and the index of its value; fn validates the value and returns the index after it
// (-1: not valid). object returns the index after the object, or -1 (rawjson.ValidMembers).
func (w *walk) object(i int, fn func(k0, k1, v int) int) int {
	return rawjson.ValidMembers(w.b, i, fn)
}

// array validates the array at b[i] == '[', calling fn with the index of each element; fn
// validates it and returns the index after it (-1: not valid). array returns the index after the
// array, or -1.
func (w *walk) array(i int, fn func(el int) int) int {
	b := w.b
	i = rawjson.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i >= len(b) {
			return -1
		}
		if i = fn(i); i < 0 {
			return -1
		}
		i = rawjson.SkipSpace(b, i)
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
}

// optString validates a member that must be a string or null (anything else makes the Bundle
// irregular) and returns the index after it and, for a string, its token's end (0 for null).
func (w *walk) optString(v, depth int) (end, strEnd int) {
	end, strEnd, _ = w.optStringPlain(v, depth)
	return end, strEnd
}

// optStringPlain is optString that also says whether the string is plain (rawjson.ValidStringPlain).
func (w *walk) optStringPlain(v, depth int) (end, strEnd int, plain bool) {
	switch w.b[v] {
	case '"':
		e, p := rawjson.ValidStringPlain(w.b, v)
		return e, e, p
	case 'n':
		return w.any(v, depth), 0, false
	}
	w.bad = true
	return w.any(v, depth), 0, false
}

// bundle reads the Bundle object at b[i]; depth containers are open around it.
func (w *walk) bundle(i, depth int) int {
	var seen [4]bool
	return w.object(i, func(k0, k1, v int) int {
		f := w.field(k0, k1, bundleNames)
		if f < 0 {
			return w.any(v, depth+1)
		}
		if seen[f] {
			w.bad = true
		}
		seen[f] = true
		switch f {
		case 0: // resourceType
			e, se := w.optString(v, depth+1)
			w.isBundle = se > 0 && string(w.b[v:se]) == `"Bundle"`
			return e
		case 1: // type
			e, _ := w.optString(v, depth+1)
			return e
		case 2:
			return w.links(v, depth+1)
		default:
			return w.entryArray(v, depth+1)
		}
	})
}

// links reads Bundle.link at b[v] (depth containers around it) for the first "next" link.
func (w *walk) links(v, depth int) int {
	b := w.b
	switch b[v] {
	case 'n':
		return w.any(v, depth)
	case '[':
	default:
		w.bad = true
		return w.any(v, depth)
	}
	return w.array(v, func(el int) int {
		switch b[el] {
		case 'n':
			return w.any(el, depth+1)
		case '{':
		default:
			w.bad = true
			return w.any(el, depth+1)
		}
		var seen [2]bool
		var tok [2][]byte
		e := w.object(el, func(k0, k1, lv int) int {
			f := w.field(k0, k1, linkNames)
			if f < 0 {
				return w.any(lv, depth+2)
			}
			if seen[f] {
				w.bad = true
			}
			seen[f] = true
			e, se := w.optString(lv, depth+2)
			if se > 0 {
				tok[f] = b[lv:se]
			}
			return e
		})
		if e >= 0 && !w.foundNext && tok[0] != nil {
			if rel, _ := rawjson.StringView(tok[0]); rel == "next" {
				w.foundNext = true
				if tok[1] != nil {
					w.next, _ = rawjson.String(tok[1]) // kept: a copy
				}
			}
		}
		return e
	})
}

// entryArray reads Bundle.entry at b[v] (depth containers around it).
func (w *walk) entryArray(v, depth int) int {
	b := w.b
	switch b[v] {
	case 'n':
		return w.any(v, depth)
	case '[':
	default:
		w.bad = true
		return w.any(v, depth)
	}
	return w.array(v, func(el int) int {
		w.entries++
		switch b[el] {
		case 'n':
			w.onlyOutcomes = false
			return w.any(el, depth+1)
		case '{':
			return w.entry(el, depth+1)
		}
		w.bad = true
		return w.any(el, depth+1)
	})
}

// entry reads one Bundle.entry object at b[el] (depth containers around it): its resource is
// classified, and kept when fhir's split keeps it.
func (w *walk) entry(el, depth int) int {
	b, bd := w.b, w.bd
	var seen [4]bool
	hasRes, outcome := false, false
	buf, cod, pend := len(bd.buf), len(bd.codings), len(bd.pend)
	e := w.object(el, func(k0, k1, v int) int {
		f := w.field(k0, k1, entryNames)
		if f < 0 {
			return w.any(v, depth+1)
		}
		if seen[f] {
			w.bad = true
		}
		seen[f] = true
		switch f {
		case 0: // fullUrl
			e, _ := w.optString(v, depth+1)
			return e
		case 1: // resource
			switch b[v] {
			case 'n':
				return w.any(v, depth+1)
			case '{':
				hasRes = true
				return w.resource(v, depth+1)
			}
			w.bad = true
			return w.any(v, depth+1)
		}
		// search or request: null or an object of strings
		switch b[v] {
		case 'n':
			return w.any(v, depth+1)
		case '{':
		default:
			w.bad = true
			return w.any(v, depth+1)
		}
		names := searchNames
		if f == 3 {
			names = reqNames
		}
		var sub [2]bool
		return w.object(v, func(k0, k1, sv int) int {
			g := w.field(k0, k1, names)
			if g < 0 {
				return w.any(sv, depth+2)
			}
			if sub[g] {
				w.bad = true
			}
			sub[g] = true
			e, se := w.optString(sv, depth+2)
			if f == 2 && se > 0 {
				if mode, _ := rawjson.StringView(b[sv:se]); mode == "outcome" {
					outcome = true
				}
			}
			return e
		})
	})
	if e < 0 || w.bad {
		return e
	}
	var typ []byte
	if hasRes {
		typ = bd.text(bd.pend[len(bd.pend)-1].fields[fResourceType])
	}
	if string(typ) != "OperationOutcome" {
		w.onlyOutcomes = false
	}
	if hasRes && (outcome || len(typ) == 0) { // not one of the Bundle's resources
		bd.buf, bd.codings, bd.pend, bd.raws = bd.buf[:buf], bd.codings[:cod], bd.pend[:pend], bd.raws[:pend]
	}
	return e
}

// resource reads a resource object at b[v] (depth containers around it) as resourceAt does and
// appends its entry.
func (w *walk) resource(v, depth int) int {
	b, bd := w.b, w.bd
	p := pending{c0: len(bd.codings)}
	var seen [nFields]bool
	w.ref = false
	e := w.object(v, func(k0, k1, mv int) int {
		if isRef(b, k0, k1) {
			w.ref = true
		}
		f := w.field(k0, k1, fieldNames[:])
		if f < 0 {
			return w.refAny(mv, depth+1)
		}
		if seen[f] {
			w.bad = true
		}
		seen[f] = true
		if f == fMedication {
			switch b[mv] {
			case 'n':
				return w.any(mv, depth+1)
			case '{':
				return w.medication(mv, depth+1)
			}
			w.bad = true
			return w.refAny(mv, depth+1)
		}
		e, se, plain := w.optStringPlain(mv, depth+1)
		if se > 0 {
			if isRef(b, mv, se) {
				w.ref = true
			}
			p.fields[f] = w.str(mv, se, plain)
		}
		return e
	})
	if e < 0 || w.bad {
		return e
	}
	p.ok, p.c1, p.ref = true, len(bd.codings), w.ref
	bd.pend = append(bd.pend, p)
	bd.raws = append(bd.raws, b[v:e:e])
	return e
}

// medication reads medicationCodeableConcept at b[v] (depth containers around it) for its
// codings.
func (w *walk) medication(v, depth int) int {
	b := w.b
	seen := false
	return w.object(v, func(k0, k1, cv int) int {
		if isRef(b, k0, k1) {
			w.ref = true
		}
		if w.field(k0, k1, codingKey) < 0 {
			return w.refAny(cv, depth+1)
		}
		if seen {
			w.bad = true
		}
		seen = true
		switch b[cv] {
		case 'n':
			return w.any(cv, depth+1)
		case '[':
			return w.codings(cv, depth+1)
		}
		w.bad = true
		return w.refAny(cv, depth+1)
	})
}

// codings reads a coding array at b[v] (depth containers around it).
func (w *walk) codings(v, depth int) int {
	b, bd := w.b, w.bd
	return w.array(v, func(el int) int {
		switch b[el] {
		case 'n':
			bd.codings = append(bd.codings, [2]span{}) // a null element decodes to an empty coding
			return w.any(el, depth+1)
		case '{':
		default:
			w.bad = true
			return w.refAny(el, depth+1)
		}
		var sp [2]span
		var seen [2]bool
		e := w.object(el, func(k0, k1, cv int) int {
			if isRef(b, k0, k1) {
				w.ref = true
			}
			f := w.field(k0, k1, codingNames)
			if f < 0 {
				return w.refAny(cv, depth+2)
			}
			if seen[f] {
				w.bad = true
			}
			seen[f] = true
			e, se, plain := w.optStringPlain(cv, depth+2)
			if se > 0 {
				if isRef(b, cv, se) {
					w.ref = true
				}
				sp[f] = w.str(cv, se, plain)
			}
			return e
		})
		bd.codings = append(bd.codings, sp)
		return e
	})
}

// release gives the scratch arrays back (grown as they were, emptied of pointers).
func (x *Indexer) release() {
	if x.sc == nil {
		return
	}
	clear(x.bd.pend) // pending.fallback: nothing an Indexer sets, but never keep a pointer
	x.sc.pend, x.sc.codings = x.bd.pend[:0], x.bd.codings[:0]
	scratchPool.Put(x.sc)
	x.sc, x.bd.pend, x.bd.codings = nil, nil, nil
}

// str reads a string member the walk keeps at b[v] (a string token ending at se): a plain one
// stays where it is in the request body, others are decoded into the buffer.
func (w *walk) str(v, se int, plain bool) span {
	if plain && w.direct {
		return inSpan(v+1, se-1)
	}
	s, _ := w.bd.str(w.b[v:se])
	return s
}
