package fhir

import (
	"encoding/json"
	"strings"
)

// resourceTypeValid is ResourceType for raw that is already known to be valid JSON (json.Valid,
// or a member of a document encoding/json decoded): it walks the top-level members without
// decoding them. It keeps encoding/json's rules for the one member it reads: keys match
// case-insensitively, the last matching member wins, and a value that is not a string gives "".
// It exists because the hot path asked for resource types of the same bytes several times, each
// a full decode (docs/performance.md).
func resourceTypeValid(raw []byte) string {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return ""
	}
	i++
	var val []byte
	found := false
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			break // "}" of an empty object, or input that was not valid after all
		}
		kEnd := skipString(raw, i)
		key := raw[i:kEnd]
		i = skipSpace(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return ""
		}
		i = skipSpace(raw, i+1)
		vStart := i
		i = skipValue(raw, i)
		if keyIsResourceType(key) {
			val, found = raw[vStart:i], true
		}
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] != ',' {
			break
		}
		i++
	}
	if !found || len(val) == 0 || val[0] != '"' {
		return ""
	}
	inner := val[1 : len(val)-1]
	if plainASCII(inner) {
		return string(inner)
	}
	var s string
	if json.Unmarshal(val, &s) != nil {
		return ""
	}
	return s
}

func keyIsResourceType(quoted []byte) bool {
	const name = "resourceType"
	inner := quoted[1 : len(quoted)-1]
	if string(inner) == name {
		return true
	}
	if len(inner) < len(name)-2 || len(inner) > 6*len(name) {
		return false // not even an escaped or case-folded spelling fits (ſ and K are 2-3 bytes)
	}
	k := string(inner)
	if !plainASCII(inner) { // escapes, and invalid UTF-8 that encoding/json replaces
		if json.Unmarshal(quoted, &k) != nil {
			return false
		}
	}
	return strings.EqualFold(k, name)
}

// plainASCII reports whether a string's bytes need no unescaping or UTF-8 repair.
func plainASCII(b []byte) bool {
	for _, x := range b {
		if x == '\\' || x >= 0x80 {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
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
