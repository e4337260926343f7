package fhir

import "valuerx/internal/rawjson"

// resourceTypeValid is ResourceType for raw that is already known to be valid JSON (json.Valid,
// or a member of a document encoding/json decoded): it walks the top-level members without
// decoding them. It keeps encoding/json's rules for the one member it reads: keys match
// case-insensitively, the last matching member wins, and a value that is not a string gives "".
// It exists because the hot path asked for resource types of the same bytes several times, each
// a full decode (docs/performance.md).
func resourceTypeValid(raw []byte) string {
	v, found := rawjson.Field(raw, "resourceType")
	if !found {
		return ""
	}
	s, _ := rawjson.String(v)
	return s
}
