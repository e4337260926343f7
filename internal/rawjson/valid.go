package rawjson

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// maxDepth is encoding/json's nesting limit (and jsontext's): 10 000 open arrays and objects are
// valid, 10 001 are not (TestValidAgainstEncodingJSON checks the limit is still theirs).
const maxDepth = 10000

// strPlain marks the bytes a string's scan passes over without a look: everything from 0x20 up
// but the quote and the backslash (encoding/json takes any byte from 0x20 up inside a string,
// invalid UTF-8 included).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// validEscape marks the bytes that may follow a backslash, u (four hex digits follow) aside.
var validEscape = [256]bool{'"': true, '\\': true, '/': true, 'b': true, 'f': true, 'n': true, 'r': true, 't': true}

var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special returns, for the eight bytes of x (the first in the low byte), a mask whose lowest
// set bit is the top bit of the first quote, backslash or byte below 0x20, zero when there is
// none (the bit tricks of "Bit Twiddling Hacks": a borrow can set bits only above a true match,
// so the lowest one is exact).
func special(x uint64) uint64 {
	q := x ^ ('"' * lsb)
	s := x ^ ('\\' * lsb)
	return ((q-lsb)&^q | (s-lsb)&^s | (x-0x20*lsb)&^x) & msb
}

// validStringAt returns the index after the JSON string that starts at b[i] == '"', or -1 when it
// is not a valid one (unterminated, a control character, a bad escape).
func validStringAt(b []byte, i int) int {
	i++
	for {
		// Eight bytes at a time to the first byte that needs a look.
		if i+8 <= len(b) {
			t := special(binary.LittleEndian.Uint64(b[i:]))
			if t == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(t) >> 3
		} else {
			for i < len(b) && strPlain[b[i]] {
				i++
			}
			if i >= len(b) {
				return -1
			}
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			if c := b[i+1]; validEscape[c] {
				i += 2
			} else if c == 'u' && i+5 < len(b) && hexDigit[b[i+2]] && hexDigit[b[i+3]] && hexDigit[b[i+4]] && hexDigit[b[i+5]] {
				i += 6
			} else {
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// validNumberAt returns the index after the JSON number that starts at b[i], or -1. What follows
// it is the caller's to check (a delimiter, whitespace or the end).
func validNumberAt(b []byte, i int) int {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return -1
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return -1
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return -1
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i
}

// ValidString returns the index after the JSON string that starts at b[i] == '"', or -1 when it is
// not valid JSON.
func ValidString(b []byte, i int) int { return validStringAt(b, i) }

// ValidStringPlain is ValidString that also reports whether the string is plain: printable ASCII
// without escapes, so that its text is the bytes between its quotes (no decoding needed).
func ValidStringPlain(b []byte, i int) (end int, plain bool) {
	j := i + 1
	for {
		if j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			t := special(x) | x&msb
			if t == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(t) >> 3
		} else {
			for j < len(b) && b[j] >= 0x20 && b[j] < 0x80 && b[j] != '"' && b[j] != '\\' {
				j++
			}
			if j >= len(b) {
				return -1, false
			}
		}
		if b[j] == '"' {
			return j + 1, true
		}
		end := validStringAt(b, i) // an escape, a byte above 0x7f or a control byte: not plain
		return end, false
	}
}

// ValidValueAt returns the index after the JSON value that starts at b[i] (i at its first byte,
// past any whitespace), or -1 when no valid value starts there, by json.Valid's rules: depth
// arrays and objects are already open around it (they count towards the nesting limit). What
// follows the value is not looked at. FuzzValid holds it, through Valid, to json.Valid.
func ValidValueAt(b []byte, i, depth int) int {
	end, _ := validValueAt(b, i, depth, "")
	return end
}

// ValidValueSuffixAt is ValidValueAt that also reports whether any string in the value (a member
// name or a string value, at any depth) ends with suffix, closing quote included: with suffix
// `"name"` that is bytes.Contains(value, suffix) for a valid value, found in the same walk (a
// quote inside a string is escaped, so the suffix's first quote either opens the string or is an
// escaped one in it, and its last quote closes the string).
func ValidValueSuffixAt(b []byte, i, depth int, suffix string) (end int, found bool) {
	return validValueAt(b, i, depth, suffix)
}

// hasSuffix reports whether the string token b[start:end] ends with suffix (a quoted name: two
// bytes or more).
func hasSuffix(b []byte, start, end int, suffix string) bool {
	return len(suffix) >= 2 && end-start >= len(suffix) && b[end-2] == suffix[len(suffix)-2] && string(b[end-len(suffix):end]) == suffix
}

func validValueAt(b []byte, i, depth int, suffix string) (int, bool) {
	found := false
	if i >= len(b) {
		return -1, false
	}
	if c := b[i]; c != '{' && c != '[' { // a scalar: no containers to track
		end := validScalarAt(b, i)
		return end, end >= 0 && c == '"' && hasSuffix(b, i, end, suffix)
	}
	// open holds one bit per container opened here, innermost last: set for an object. Four
	// words cover 256 levels without a heap allocation; deeper nesting grows it.
	var small [4]uint64
	open := small[:]
	base := depth
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return -1, false
		}
		switch b[i] {
		case '"':
			j := validStringAt(b, i)
			if j < 0 {
				return -1, false
			}
			if hasSuffix(b, i, j, suffix) {
				found = true
			}
			i = j
		case '{', '[':
			if depth >= maxDepth {
				return -1, false
			}
			isObj := b[i] == '{'
			d := depth - base
			depth++
			if d>>6 >= len(open) {
				open = append(open, 0)
			}
			if isObj {
				open[d>>6] |= 1 << (d & 63)
			} else {
				open[d>>6] &^= 1 << (d & 63)
			}
			i = SkipSpace(b, i+1)
			if i < len(b) && (b[i] == '}' && isObj || b[i] == ']' && !isObj) {
				depth--
				i++
				break // an empty one: a value is done
			}
			if isObj {
				if i = validMemberName(b, i, suffix, &found); i < 0 {
					return -1, false
				}
			}
			continue
		default:
			if i = validScalarAt(b, i); i < 0 {
				return -1, false
			}
		}
		// A value is done: close containers, or go on to the next member or element.
	after:
		for {
			if depth == base {
				return i, found
			}
			i = SkipSpace(b, i)
			if i >= len(b) {
				return -1, false
			}
			d := depth - base - 1
			isObj := open[d>>6]>>(d&63)&1 != 0
			switch c := b[i]; {
			case c == ',':
				i = SkipSpace(b, i+1)
				if isObj {
					if i = validMemberName(b, i, suffix, &found); i < 0 {
						return -1, false
					}
				}
				break after
			case c == '}' && isObj, c == ']' && !isObj:
				depth--
				i++
			default:
				return -1, false
			}
		}
	}
}

// validScalarAt is ValidValueAt for a value that is not an array or object.
func validScalarAt(b []byte, i int) int {
	switch b[i] {
	case '"':
		return validStringAt(b, i)
	case 't':
		if len(b)-i < 4 || string(b[i:i+4]) != "true" {
			return -1
		}
		return i + 4
	case 'f':
		if len(b)-i < 5 || string(b[i:i+5]) != "false" {
			return -1
		}
		return i + 5
	case 'n':
		if len(b)-i < 4 || string(b[i:i+4]) != "null" {
			return -1
		}
		return i + 4
	}
	return validNumberAt(b, i)
}

// validMemberName reads a member's name and its colon at b[i] and returns the index of its value
// (past whitespace), or -1; it sets *found when the name ends with suffix.
func validMemberName(b []byte, i int, suffix string, found *bool) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	j := validStringAt(b, i)
	if j < 0 {
		return -1
	}
	if hasSuffix(b, i, j, suffix) {
		*found = true
	}
	i = SkipSpace(b, j)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return SkipSpace(b, i+1)
}

// validJSON is Valid by ValidValueAt.
func validJSON(b []byte) bool {
	i := SkipSpace(b, 0)
	if i >= len(b) {
		return false
	}
	end := ValidValueAt(b, i, 0)
	return end >= 0 && SkipSpace(b, end) == len(b)
}

// ValidObjectNestedFunc is ValidObjectNested where each, when not nil, validates the values of the
// nested object instead: it is called with the member's name (unescaped) and the index of its
// value's first byte, and must return what ValidValueAt(b, i, 2) returns (the index after the
// value, -1 when it is not valid), reading the value as it likes on the way: a caller that splits
// each prefetch value can do it in the walk that validates it.
func ValidObjectNestedFunc(b []byte, nest string, each func(key string, b []byte, i int) int) (m, nested map[string]json.RawMessage, valid bool) {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, nil, validJSON(b)
	}
	m = make(map[string]json.RawMessage, 8)
	end := members(b, i, func(key string, v int) int {
		if key != nest || b[v] != '{' {
			e := ValidValueAt(b, v, 1)
			if e >= 0 {
				m[key] = b[v:e:e]
				if key == nest {
					nested = nil // the last member of that name wins, as in m
				}
			}
			return e
		}
		nm := make(map[string]json.RawMessage, 8)
		e := members(b, v, func(nk string, nv int) int {
			var ne int
			if each != nil {
				ne = each(nk, b, nv)
			} else {
				ne = ValidValueAt(b, nv, 2)
			}
			if ne >= 0 {
				nm[nk] = b[nv:ne:ne]
			}
			return ne
		})
		if e >= 0 {
			m[key], nested = b[v:e:e], nm
		}
		return e
	})
	if end < 0 || SkipSpace(b, end) != len(b) {
		return nil, nil, false
	}
	return m, nested, true
}

// members is ValidMembers with each member's name unescaped.
func members(b []byte, i int, fn func(key string, v int) int) int {
	return ValidMembers(b, i, func(k0, k1, v int) int {
		key, _ := String(b[k0:k1]) // a valid string always decodes
		return fn(key, v)
	})
}

// ValidMembers validates the object at b[i] == '{', calling fn with each member's name token
// b[k0:k1] (quotes and escapes included, already validated) and the index of its value; fn
// validates the value and returns the index after it (-1: not valid). ValidMembers returns the
// index after the object, or -1. It is the member loop of every validating walk that reads values
// as it goes (ValidObjectNestedFunc here, medindex's Bundle walk).
func ValidMembers(b []byte, i int, fn func(k0, k1, v int) int) int {
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		k0 := i
		k1 := validStringAt(b, i)
		if k1 < 0 {
			return -1
		}
		i = SkipSpace(b, k1)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = SkipSpace(b, i+1); i >= len(b) {
			return -1
		}
		if i = fn(k0, k1, i); i < 0 {
			return -1
		}
		i = SkipSpace(b, i)
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
}
