package fhir

import (
	"encoding/json"
	"slices"

	"valuerx/internal/rawjson"
)

// ValidBundleResources is BundleResources for raw already known to be valid JSON (a prefetch
// value of a request that was validated as a whole, a page the client validated): the same
// answers, read in one walk over the Bundle with rawjson (each resource's resourceType read as the
// walk passes over it: rawjson.FieldsNestedAt) instead of encoding/json's validation and decode,
// which were two thirds of a hook's CPU with 500 history entries (issue 15). A Bundle that is in any way irregular — a
// member the decode reads spelled twice, or of the wrong JSON type — is left to BundleResources,
// whose encoding/json rules then decide (FuzzValidBundleResources holds the two together). The
// resources share raw's memory.
func ValidBundleResources(raw json.RawMessage) ([]json.RawMessage, string, error) {
	if res, next, _, ok := bundleFast(raw); ok {
		return res, next, nil
	}
	return BundleResources(raw)
}

// BundleScan is what ScanValidBundle learns of a regular Bundle beside its resources: enough for
// a CDS Hooks prefetch classification without walking the Bundle again.
type BundleScan struct {
	// Entries counts the elements of Bundle.entry, null ones included.
	Entries int
	// OnlyOutcomes: every entry holds a resource whose resourceType is OperationOutcome.
	OnlyOutcomes bool
}

// ScanValidBundle is ValidBundleResources for a regular Bundle only (ok false: anything else,
// to be read with ValidBundleResources and classified on its own), where "regular" is also what
// a classifier needs: every entry null or an object, every entry's resource absent, null or an
// object, with at most one resourceType member, a string or null.
func ScanValidBundle(raw json.RawMessage) (res []json.RawMessage, next string, scan BundleScan, ok bool) {
	res, next, scan, ok = bundleFast(raw)
	if !ok || scan.Entries < 0 {
		return nil, "", BundleScan{}, false
	}
	return res, next, scan, true
}

var (
	bundleNames = []string{"resourceType", "type", "link", "entry"}
	linkNames   = []string{"relation", "url"}
	entryNames  = []string{"fullUrl", "resource", "search", "request"}
	searchNames = []string{"mode"}
	reqNames    = []string{"method", "url"}
)

// bundleWalk holds the scratch space of one walk (no allocation per object read).
type bundleWalk struct {
	vals   [4][]byte
	counts [4]int
}

// fields reads names from the object v; false when v is not an object or a name is repeated.
func (w *bundleWalk) fields(v []byte, names []string) bool {
	if !rawjson.Fields(v, names, w.vals[:len(names)], w.counts[:len(names)]) {
		return false
	}
	for _, c := range w.counts[:len(names)] {
		if c > 1 {
			return false
		}
	}
	return true
}

// optString reads a string member as encoding/json decodes it into a string field: absent or
// null is "", ok is false for any other JSON type.
func optString(v []byte) (string, bool) {
	if v == nil || rawjson.IsNull(v) {
		return "", true
	}
	return rawjson.String(v)
}

// optStringView is optString for a value only compared or checked, never kept: a plain ASCII
// string shares v's memory (rawjson.StringView) instead of being copied. A Bundle of hundreds of
// entries checks a few strings per entry.
func optStringView(v []byte) (string, bool) {
	if v == nil || rawjson.IsNull(v) {
		return "", true
	}
	return rawjson.StringView(v)
}

// stringsOnly reports whether every member named in an object just read with fields is a
// string or null.
func (w *bundleWalk) stringsOnly(n int) bool {
	for _, v := range w.vals[:n] {
		if _, ok := optStringView(v); !ok {
			return false
		}
	}
	return true
}

// bundleFast is BundleResources for a regular, valid Bundle; ok false sends the caller to the
// encoding/json path.
func bundleFast(raw []byte) (out []json.RawMessage, next string, scan BundleScan, ok bool) {
	return bundleFastUntil(raw, nil)
}

// bundleFastUntil is bundleFast that gives up (ok false) once done is closed, looking every
// doneEvery entries: a fetched page of megabytes must not hold its hook past the deadline
// (page.go). A nil done never closes.
func bundleFastUntil(raw []byte, done <-chan struct{}) (out []json.RawMessage, next string, scan BundleScan, ok bool) {
	var w bundleWalk
	if rawjson.Kind(raw) != '{' || !w.fields(raw, bundleNames) {
		return nil, "", scan, false
	}
	rt, ok := optStringView(w.vals[0])
	if !ok || rt != "Bundle" {
		return nil, "", scan, false
	}
	if _, ok := optStringView(w.vals[1]); !ok {
		return nil, "", scan, false
	}
	// scan.Entries becomes -1 when the Bundle is regular for BundleResources but not for a
	// classifier (ScanValidBundle).
	scan.OnlyOutcomes = true
	links, entries := w.vals[2], w.vals[3]
	if links != nil && !rawjson.IsNull(links) {
		if rawjson.Kind(links) != '[' {
			return nil, "", scan, false
		}
		found := false
		okAll := rawjson.EachElement(links, func(l []byte) bool {
			if rawjson.IsNull(l) {
				return true
			}
			if rawjson.Kind(l) != '{' || !w.fields(l, linkNames) || !w.stringsOnly(2) {
				return false
			}
			rel, _ := optStringView(w.vals[0])
			if rel == "next" && !found {
				next, _ = optString(w.vals[1]) // kept: a copy
				found = true
			}
			return true
		})
		if !okAll {
			return nil, "", scan, false
		}
	}
	out = []json.RawMessage{}
	if entries == nil || rawjson.IsNull(entries) {
		return out, next, scan, true
	}
	if rawjson.Kind(entries) != '[' {
		return nil, "", scan, false
	}
	classOK := true
	// Each entry is walked once: its members, and its resource's resourceType, as the walk over
	// the entry array passes over them (rawjson.EachElementAt, FieldsNestedAt).
	okAll := rawjson.EachElementAt(entries, func(b []byte, i int) int {
		scan.Entries++
		if done != nil && scan.Entries%doneEvery == 0 {
			select {
			case <-done:
				return -1
			default:
			}
		}
		if b[i] == 'n' { // null: the only valid JSON value that starts with n
			scan.OnlyOutcomes = false
			return rawjson.ValueEnd(b, i) // a null entry decodes to an entry without a resource
		}
		if b[i] != '{' {
			return -1
		}
		rtVal, rtN, end, ok := rawjson.FieldsNestedAt(b, i, entryNames, w.vals[:len(entryNames)], w.counts[:len(entryNames)], 1, "resourceType")
		if !ok || slices.ContainsFunc(w.counts[:len(entryNames)], func(c int) bool { return c > 1 }) {
			return -1
		}
		if _, ok := optStringView(w.vals[0]); !ok {
			return -1
		}
		res, search, request := w.vals[1], w.vals[2], w.vals[3]
		mode := ""
		if search != nil && !rawjson.IsNull(search) {
			if rawjson.Kind(search) != '{' || !w.fields(search, searchNames) || !w.stringsOnly(1) {
				return -1
			}
			mode, _ = optStringView(w.vals[0]) // compared below, not kept
		}
		if request != nil && !rawjson.IsNull(request) {
			if rawjson.Kind(request) != '{' || !w.fields(request, reqNames) || !w.stringsOnly(2) {
				return -1
			}
		}
		// The resource's type, read once for both answers: resourceTypeValid's (the last
		// resourceType member, "" unless a string) and the classifier's (which needs exactly
		// one, a string or null).
		typ := ""
		switch {
		case res == nil || rawjson.IsNull(res):
		case rawjson.Kind(res) != '{':
			classOK = false
		default:
			if v, n := rtVal, rtN; n > 0 {
				t, isStr := rawjson.StringView(v)
				typ = t
				if n > 1 || (!isStr && !rawjson.IsNull(v)) {
					classOK = false
				}
			}
		}
		if typ != "OperationOutcome" {
			scan.OnlyOutcomes = false
		}
		if mode == "outcome" || res == nil || typ == "" {
			return end
		}
		out = append(out, res)
		return end
	})
	if !okAll {
		return nil, "", scan, false
	}
	if !classOK {
		scan.Entries = -1
	}
	return out, next, scan, true
}
