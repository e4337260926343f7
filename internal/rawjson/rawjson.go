// Package rawjson walks JSON text that is already known to be valid, without decoding it.
//
// A CDS Hooks request is validated once, as a whole, and then read in pieces: the members of the
// request, of its context and of its prefetch object, the resourceType of each prefetched
// resource. With encoding/json each of those reads is another full validation and decode of the
// same bytes (json.Unmarshal always validates first), and the profile of a warm hook showed the
// JSON state machine as the largest cost after the caller's signature (docs/performance.md). The
// functions here find value boundaries with a byte loop instead, and hand out sub-slices of the
// input.
//
// Callers must pass valid JSON: json.Valid, or part of a document encoding/json accepted. On
// other input the functions never panic or loop, but their answers mean nothing. The fuzz tests
// hold them to encoding/json's answers for every valid input.
package rawjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"unsafe"
)

// Valid reports whether b is one JSON value (with optional surrounding whitespace), exactly as
// json.Valid does (RFC 8259, with repeated object names and invalid UTF-8 inside strings allowed,
// nesting limited to 10 000 levels), with a hand-written walk (valid.go) where encoding/json's
// scanner calls a state function per byte. FuzzValid holds it to json.Valid.
func Valid(b []byte) bool {
	return validJSON(b)
}

// SkipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'. It jumps from quote to
// quote with bytes.IndexByte (vectorised) and counts the backslashes before each: an even number
// means the quote closes the string.
func skipString(b []byte, i int) int {
	start := i + 1
	for i = start; ; i++ {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		i += j
		k := i - 1
		for k >= start && b[k] == '\\' {
			k--
		}
		if (i-1-k)%2 == 0 {
			return i + 1
		}
	}
}

// structural marks the bytes ValueEnd must look at inside an array or object.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// ValueEnd returns the index after the JSON value that starts at b[i] (i at its first byte).
func ValueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			if !structural[b[i]] {
				continue
			}
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}

// Kind returns the first byte of the value in b after whitespace: '{', '[', '"', 'n', 't', 'f',
// '-' or a digit; 0 when b is empty or only whitespace.
func Kind(b []byte) byte {
	if i := SkipSpace(b, 0); i < len(b) {
		return b[i]
	}
	return 0
}

// IsNull reports whether b is the literal null (with optional whitespace around it).
func IsNull(b []byte) bool {
	i := SkipSpace(b, 0)
	return len(b)-i >= 4 && string(b[i:i+4]) == "null" && SkipSpace(b, i+4) == len(b)
}

// EachMember calls fn for every member of the object b, in order, with the member's key as a JSON
// string token (quotes included; see Key) and its value (no surrounding whitespace). It stops
// early when fn returns false, and reports false when b is not an object.
func EachMember(b []byte, fn func(key, val []byte) bool) bool {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	for i++; ; i++ {
		i = SkipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return i < len(b) && b[i] == '}'
		}
		kEnd := skipString(b, i)
		key := b[i:kEnd]
		i = SkipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = SkipSpace(b, i+1)
		vEnd := ValueEnd(b, i)
		if !fn(key, b[i:vEnd:vEnd]) {
			return true
		}
		i = SkipSpace(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			return i < len(b) && b[i] == '}'
		}
	}
}

// Object returns the members of the object b as encoding/json would decode it into a
// map[string]json.RawMessage: keys unescaped, the last of duplicate keys wins. The values share
// b's memory (capacity-limited, so appending to one cannot overwrite the next).
func Object(b []byte) (map[string]json.RawMessage, bool) {
	m := make(map[string]json.RawMessage, 8)
	ok := EachMember(b, func(key, val []byte) bool {
		k, kok := String(key)
		if !kok {
			return false
		}
		m[k] = val
		return true
	})
	if !ok {
		return nil, false
	}
	return m, true
}

// ValidObjectNested reports Valid(b) and, when b is a valid object, returns its members as
// encoding/json would decode it into a map[string]json.RawMessage (keys unescaped by String, the
// last of duplicate keys wins, values sharing b's memory, capacity-limited) and, when the member
// nest is an object (the last of that name), its members the same way (nil otherwise); m and
// nested are nil when b is not an object. One walk validates each member's value as it splits
// it, where a validation and then a split walked a hook's whole body twice (with 500 history
// entries, 260 kB each time); ValidObjectNestedFunc lets the caller read the nested values in
// that walk too.
func ValidObjectNested(b []byte, nest string) (m, nested map[string]json.RawMessage, valid bool) {
	return ValidObjectNestedFunc(b, nest, nil)
}

// eachMemberEnd calls fn for every member of the object starting at b[i] == '{' and returns the
// index after its closing brace, or -1 when it is malformed or fn returned false.
func eachMemberEnd(b []byte, i int, fn func(key, val []byte) bool) int {
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) && b[i] == '"' {
		kEnd := skipString(b, i)
		key := b[i:kEnd]
		i = SkipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i = SkipSpace(b, i+1)
		vEnd := ValueEnd(b, i)
		if !fn(key, b[i:vEnd:vEnd]) {
			return -1
		}
		i = SkipSpace(b, vEnd)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
	return -1
}

// Elements returns the elements of the array b, sharing b's memory, or false when b is not an
// array.
func Elements(b []byte) ([]json.RawMessage, bool) {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	out := []json.RawMessage{}
	for i++; ; i++ {
		i = SkipSpace(b, i)
		if i >= len(b) {
			return nil, false
		}
		if b[i] == ']' && len(out) == 0 {
			return out, true
		}
		end := ValueEnd(b, i)
		out = append(out, b[i:end:end])
		i = SkipSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			if i < len(b) && b[i] == ']' {
				return out, true
			}
			return nil, false
		}
	}
}

// EachElement calls fn for each element of the array b (no surrounding whitespace), in order,
// until fn returns false; it reports whether b is an array and every call returned true. Unlike
// Elements it builds no slice.
func EachElement(b []byte, fn func(el []byte) bool) bool {
	return EachElementAt(b, func(b []byte, i int) int {
		end := ValueEnd(b, i)
		if !fn(b[i:end:end]) {
			return -1
		}
		return end
	})
}

// EachElementAt is EachElement for a caller that walks each element itself: fn gets the array's
// bytes and the index of an element's first byte and returns the index after the element (-1 to
// stop), so an element is walked once, by fn, instead of once to find its end and again by fn.
func EachElementAt(b []byte, fn func(b []byte, i int) int) bool {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for i < len(b) {
		end := fn(b, i)
		if end < 0 {
			return false
		}
		i = SkipSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			return i < len(b) && b[i] == ']'
		}
		i = SkipSpace(b, i+1)
	}
	return false
}

// Field returns the value of the member of object b that encoding/json would decode into a struct
// field named name: keys match case-insensitively (after unescaping) and the last match wins.
// found is false when no member matches or b is not an object.
func Field(b []byte, name string) (val []byte, found bool) {
	val, n := FieldN(b, name)
	return val, n > 0
}

// FieldN is Field that also counts the members matching name. A caller that stands in for a
// decode into a string, slice or struct must not trust the last match when there are several:
// encoding/json then merges them (a later null keeps the earlier value, a wrongly typed earlier
// one fails the decode, a second array decodes into the first's elements).
func FieldN(b []byte, name string) (val []byte, n int) {
	EachMember(b, func(key, v []byte) bool {
		if keyMatches(key, name) {
			val = v
			n++
		}
		return true
	})
	return val, n
}

// Fields reads several members of the object b in one pass: for each name, vals[k] is the value
// of the last member matching names[k] as Field matches it, and counts[k] how many matched (see
// FieldN for what a count above one means). vals and counts must be as long as names; they are
// overwritten. ok is false when b is not an object.
func Fields(b []byte, names []string, vals [][]byte, counts []int) (ok bool) {
	for k := range names {
		vals[k], counts[k] = nil, 0
	}
	return EachMember(b, func(key, v []byte) bool {
		for k, name := range names {
			if keyMatches(key, name) {
				vals[k] = v
				counts[k]++
			}
		}
		return true
	})
}

// FieldsNestedAt is Fields of the object starting at b[i] that also returns
// FieldN(vals[nest], inner) when that member is an object (nil, 0 otherwise), and the index after
// the object (for EachElementAt), in one walk: the nested object's members are matched as the
// outer walk passes over them, where FieldN would walk them a second time. A Bundle's entries are
// the case: each entry's resource is most of its bytes, and its resourceType is all the split
// needs of it. The values are slices of b. b must be valid JSON (a validated request's part): on
// malformed input the answers may differ from the two walks'.
func FieldsNestedAt(b []byte, i int, names []string, vals [][]byte, counts []int, nest int, inner string) (innerVal []byte, innerN, end int, ok bool) {
	for k := range names {
		vals[k], counts[k] = nil, 0
	}
	if i >= len(b) || b[i] != '{' {
		return nil, 0, -1, false
	}
	for i++; ; i++ {
		i = SkipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			if i < len(b) && b[i] == '}' {
				return innerVal, innerN, i + 1, true
			}
			return innerVal, innerN, -1, false
		}
		kEnd := skipString(b, i)
		key := b[i:kEnd]
		i = SkipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return innerVal, innerN, -1, false
		}
		i = SkipSpace(b, i+1)
		vEnd := -1
		isNest := keyMatches(key, names[nest])
		if isNest {
			innerVal, innerN = nil, 0 // the last member of that name is the one kept in vals
			if i < len(b) && b[i] == '{' {
				vEnd = eachMemberEnd(b, i, func(k, v []byte) bool {
					if keyMatches(k, inner) {
						innerVal, innerN = v, innerN+1
					}
					return true
				})
				if vEnd < 0 { // malformed: as the two walks would see it
					vEnd = ValueEnd(b, i)
					innerVal, innerN = FieldN(b[i:vEnd], inner)
				}
			}
		}
		if vEnd < 0 {
			vEnd = ValueEnd(b, i)
		}
		v := b[i:vEnd:vEnd]
		for k, name := range names {
			if keyMatches(key, name) {
				vals[k] = v
				counts[k]++
			}
		}
		i = SkipSpace(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			if i < len(b) && b[i] == '}' {
				return innerVal, innerN, i + 1, true
			}
			return innerVal, innerN, -1, false
		}
	}
}

// keyMatches reports whether the key token names the field name for encoding/json.
func keyMatches(quoted []byte, name string) bool {
	inner := quoted[1 : len(quoted)-1]
	if string(inner) == name {
		return true
	}
	if len(inner) < len(name)-2 || len(inner) > 6*len(name) {
		return false // not even an escaped or case-folded spelling fits (ſ and K are 2-3 bytes)
	}
	k, ok := StringView(quoted) // only compared: no copy for a plain ASCII key
	return ok && strings.EqualFold(k, name)
}

// String decodes a JSON string token (quotes included) as encoding/json would. It reports false
// for any other value, null included.
func String(tok []byte) (string, bool) {
	tok = trimSpace(tok)
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return "", false
	}
	inner := tok[1 : len(tok)-1]
	if plainASCII(inner) {
		return string(inner), true
	}
	var s string // escapes, or invalid UTF-8 that encoding/json replaces with U+FFFD
	if json.Unmarshal(tok, &s) != nil {
		return "", false
	}
	return s, true
}

// StringView is String without a copy for the common case: a string token without escapes and
// of plain ASCII is returned as a string sharing tok's memory (unsafe.String), which the caller
// must only compare or drop, never keep beyond tok's lifetime or expect to survive a change of
// tok. Anything else is String.
func StringView(tok []byte) (string, bool) {
	t := trimSpace(tok)
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' && plainASCII(t[1:len(t)-1]) {
		inner := t[1 : len(t)-1]
		if len(inner) == 0 {
			return "", true
		}
		return unsafe.String(&inner[0], len(inner)), true
	}
	return String(tok)
}

func trimSpace(b []byte) []byte {
	b = b[SkipSpace(b, 0):]
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// plainASCII reports whether a string's bytes need no unescaping or UTF-8 repair.
func plainASCII(b []byte) bool {
	for _, x := range b {
		if x == '\\' || x >= 0x80 || x < 0x20 {
			return false
		}
	}
	return true
}
