package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paging limits of the in-memory server.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// record is one stored resource with the fields the search parameters read, extracted once at
// write time so searches do not decode JSON.
type record struct {
	typ, id string
	raw     json.RawMessage

	status, intent string
	subject        []Reference // subject
	patient        []Reference // patient (AllergyIntolerance, ...) and Coverage.beneficiary
	beneficiary    []Reference
	member         []Reference // Group.member.entity
	codes          []token     // Observation.code, MedicationRequest.medicationCodeableConcept, Medication.code
	identifiers    []token
	date           *timeRange // Observation.effective[x] / issued, MedicationRequest.authoredOn
}

type token struct{ system, code string }

type timeRange struct{ start, end time.Time } // [start, end)

type refField struct {
	Reference string `json:"reference"`
}

type codingField struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type ccField struct {
	Coding []codingField `json:"coding"`
}

// indexFields is the lenient shape decoded from any resource to build a record.
type indexFields struct {
	ResourceType string    `json:"resourceType"`
	ID           string    `json:"id"`
	Status       string    `json:"status"`
	Intent       string    `json:"intent"`
	Subject      *refField `json:"subject"`
	Patient      *refField `json:"patient"`
	Beneficiary  *refField `json:"beneficiary"`
	Member       []struct {
		Entity *refField `json:"entity"`
	} `json:"member"`
	Code                      *ccField `json:"code"`
	MedicationCodeableConcept *ccField `json:"medicationCodeableConcept"`
	Identifier                []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	EffectiveDateTime string `json:"effectiveDateTime"`
	EffectiveInstant  string `json:"effectiveInstant"`
	EffectivePeriod   *struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"effectivePeriod"`
	Issued     string `json:"issued"`
	AuthoredOn string `json:"authoredOn"`
}

// newRecord indexes raw; it fails only when raw is not a JSON object with a valid resourceType.
func newRecord(raw json.RawMessage) (*record, error) {
	typ := ResourceType(raw)
	if !validType(typ) {
		return nil, errors.New("fhir: not a FHIR resource (no valid resourceType)")
	}
	var f indexFields
	if err := json.Unmarshal(raw, &f); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) { // ill-typed fields just stay unindexed
			return nil, fmt.Errorf("fhir: invalid %s JSON", typ)
		}
	}
	r := &record{typ: typ, id: f.ID, raw: raw, status: f.Status, intent: f.Intent}
	addRef := func(dst *[]Reference, rf *refField) {
		if rf != nil && rf.Reference != "" {
			*dst = append(*dst, ParseReference(rf.Reference))
		}
	}
	addRef(&r.subject, f.Subject)
	addRef(&r.beneficiary, f.Beneficiary)
	addRef(&r.patient, f.Patient)
	if typ == "Coverage" {
		addRef(&r.patient, f.Beneficiary)
	} else {
		addRef(&r.patient, f.Subject)
	}
	for _, m := range f.Member {
		addRef(&r.member, m.Entity)
	}
	for _, cc := range []*ccField{f.Code, f.MedicationCodeableConcept} {
		if cc == nil {
			continue
		}
		for _, c := range cc.Coding {
			r.codes = append(r.codes, token{system: c.System, code: c.Code})
		}
	}
	for _, id := range f.Identifier {
		r.identifiers = append(r.identifiers, token{system: id.System, code: id.Value})
	}
	var when string
	switch typ {
	case "MedicationRequest":
		when = f.AuthoredOn
	default:
		when = firstNonEmpty(f.EffectiveDateTime, f.EffectiveInstant, f.Issued)
	}
	if tr, ok := parseDateRange(when); ok {
		r.date = &tr
	} else if f.EffectivePeriod != nil {
		s, okS := parseDateRange(f.EffectivePeriod.Start)
		e, okE := parseDateRange(f.EffectivePeriod.End)
		switch {
		case okS && okE:
			r.date = &timeRange{start: s.start, end: e.end}
		case okS:
			r.date = &timeRange{start: s.start, end: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
		case okE:
			r.date = &timeRange{start: time.Time{}, end: e.end}
		}
	}
	return r, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// parseDateRange parses a FHIR date, dateTime or instant into the interval its precision covers.
// Values without a zone are taken as UTC.
func parseDateRange(s string) (timeRange, bool) {
	s = strings.TrimSpace(s)
	layouts := []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006-01-02T15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Millisecond) }},
		{"2006-01-02T15:04:05.999999999", func(t time.Time) time.Time { return t.Add(time.Millisecond) }},
	}
	if len(s) < 4 || len(s) > 40 {
		return timeRange{}, false
	}
	for _, l := range layouts {
		t, err := time.Parse(l.layout, s)
		if err == nil {
			return timeRange{start: t, end: l.step(t)}, true
		}
	}
	return timeRange{}, false
}

// searchQuery is a parsed search: filters ANDed, each a list of ORed values.
type searchQuery struct {
	typ     string
	filters []filter
	sort    []sortKey
	count   int // page size
	offset  int
	summary bool       // _summary=count: total only
	params  url.Values // the filter and sort parameters as received, for self/next links
}

type filter struct {
	name string
	not  bool   // status:not / intent:not
	typ  string // reference type modifier, e.g. patient:Patient
	vals []string
}

type sortKey struct {
	name string // "_id", "date"
	desc bool
}

// searchError is a 400 with an OperationOutcome code; its message names the parameter only.
type searchError struct {
	code, msg string
}

func (e *searchError) Error() string { return e.msg }

// resultParam reports the parameters accepted and ignored even under strict handling: they
// shape the output only.
func resultParam(name string) bool {
	switch name {
	case "_format", "_pretty", "_total", "_elements":
		return true
	}
	return false
}

// parseSearch parses the parameters of a search on typ. Unknown parameters are ignored unless
// strict (Prefer: handling=strict), when they are an error; malformed values of known parameters
// are always an error.
func parseSearch(typ string, v url.Values, strict bool) (*searchQuery, error) {
	q := &searchQuery{typ: typ, count: DefaultPageSize, params: url.Values{}}
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, full := range names {
		vals := v[full]
		name, mod, _ := strings.Cut(full, ":")
		switch name {
		case "_count", "_offset":
			if mod != "" {
				return nil, &searchError{"not-supported", "modifier not supported on " + name}
			}
			n, err := strconv.Atoi(strings.TrimSpace(vals[len(vals)-1]))
			if err != nil || n < 0 {
				return nil, &searchError{"invalid", "invalid value of " + name}
			}
			if name == "_count" {
				q.count = min(n, MaxPageSize)
			} else {
				q.offset = n
			}
			continue
		case "_summary":
			if vals[len(vals)-1] == "count" {
				q.summary = true
			}
			continue
		case "_sort":
			for _, s := range splitList(vals[len(vals)-1]) {
				k := sortKey{name: s}
				if strings.HasPrefix(s, "-") {
					k = sortKey{name: s[1:], desc: true}
				}
				if !sortable(typ, k.name) {
					if strict {
						return nil, &searchError{"not-supported", "unsupported _sort key"}
					}
					continue
				}
				q.sort = append(q.sort, k)
			}
			q.params[full] = vals
			continue
		}
		if resultParam(name) {
			continue
		}
		if !supported(typ, name) {
			if strict {
				return nil, &searchError{"not-supported", "unsupported search parameter " + safeName(name)}
			}
			continue
		}
		f := filter{name: name}
		switch {
		case mod == "":
		case mod == "not" && (name == "status" || name == "intent"):
			f.not = true
		case isRefParam(name) && validType(mod):
			f.typ = mod
		default:
			return nil, &searchError{"not-supported", "modifier not supported on " + name}
		}
		for _, raw := range vals {
			ors := splitList(raw)
			if len(ors) == 0 {
				continue // "status=" is no constraint
			}
			for _, o := range ors {
				if err := checkValue(name, o); err != nil {
					return nil, err
				}
			}
			g := f
			g.vals = ors
			q.filters = append(q.filters, g)
		}
		q.params[full] = vals
	}
	return q, nil
}

// safeName keeps a client-chosen parameter name printable and short for an OperationOutcome.
func safeName(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

func isRefParam(name string) bool {
	switch name {
	case "patient", "subject", "beneficiary", "member":
		return true
	}
	return false
}

// supported reports which filter parameters apply to which types.
func supported(typ, name string) bool {
	switch name {
	case "_id", "identifier":
		return true
	case "patient", "subject", "status":
		return typ != "Patient"
	case "beneficiary":
		return typ == "Coverage"
	case "intent", "authoredon":
		return typ == "MedicationRequest"
	case "code":
		return typ == "Observation" || typ == "MedicationRequest" || typ == "Medication"
	case "date":
		return typ == "Observation"
	case "member":
		return typ == "Group"
	}
	return false
}

func sortable(typ, name string) bool {
	switch name {
	case "_id":
		return true
	case "date":
		return typ == "Observation"
	case "authoredon":
		return typ == "MedicationRequest"
	}
	return false
}

func checkValue(name, v string) error {
	switch name {
	case "date", "authoredon":
		if _, _, err := datePrefix(v); err != nil {
			return err
		}
	}
	return nil
}

// datePrefix splits "ge2024-01-01" into the comparator and the range.
func datePrefix(v string) (string, timeRange, error) {
	prefix := "eq"
	if len(v) >= 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix, v = v[:2], v[2:]
	}
	switch prefix {
	case "eq", "ne", "gt", "lt", "ge", "le":
	default:
		return "", timeRange{}, &searchError{"not-supported", "unsupported date prefix"}
	}
	tr, ok := parseDateRange(v)
	if !ok {
		return "", timeRange{}, &searchError{"invalid", "invalid date value"}
	}
	return prefix, tr, nil
}

// splitList splits a parameter value on commas not escaped with a backslash.
func splitList(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == ',':
			if t := strings.TrimSpace(cur.String()); t != "" {
				out = append(out, t)
			}
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, t)
	}
	return out
}

// match reports whether rec satisfies every filter.
func (q *searchQuery) match(rec *record) bool {
	for _, f := range q.filters {
		if !f.match(rec) {
			return false
		}
	}
	return true
}

func (f filter) match(rec *record) bool {
	hit := false
	for _, v := range f.vals {
		if f.matchOne(rec, v) {
			hit = true
			break
		}
	}
	if f.not {
		return !hit
	}
	return hit
}

func (f filter) matchOne(rec *record, v string) bool {
	switch f.name {
	case "_id":
		return rec.id == v
	case "status":
		return rec.status == v
	case "intent":
		return rec.intent == v
	case "patient":
		return matchRef(rec.patient, v, firstNonEmpty(f.typ, "Patient"))
	case "subject":
		return matchRef(rec.subject, v, f.typ)
	case "beneficiary":
		return matchRef(rec.beneficiary, v, firstNonEmpty(f.typ, "Patient"))
	case "member":
		return matchRef(rec.member, v, f.typ)
	case "code":
		return matchToken(rec.codes, v)
	case "identifier":
		return matchToken(rec.identifiers, v)
	case "date", "authoredon":
		return matchDate(rec.date, v)
	}
	return false
}

// matchRef matches a reference parameter value ("123", "Patient/123" or an absolute URL) against
// stored references; typ, when set, restricts the target type.
func matchRef(refs []Reference, v, typ string) bool {
	want := ParseReference(v)
	wantID, wantType := want.ID, want.Type
	if wantID == "" {
		if !validID(v) {
			return false
		}
		wantID = v
	}
	for _, r := range refs {
		if r.ID != wantID {
			continue
		}
		if wantType != "" && r.Type != wantType {
			continue
		}
		if typ != "" && r.Type != typ {
			continue
		}
		return true
	}
	return false
}

// matchToken implements token search: "system|code", "code" (any system), "|code" (no system),
// "system|" (any code of the system).
func matchToken(toks []token, v string) bool {
	sys, code, hasSys := strings.Cut(v, "|")
	if !hasSys {
		code, sys = sys, ""
	}
	for _, t := range toks {
		if hasSys && t.system != sys {
			continue
		}
		if code != "" && t.code != code {
			continue
		}
		if !hasSys && code == "" {
			continue
		}
		return true
	}
	return false
}

func matchDate(tr *timeRange, v string) bool {
	if tr == nil {
		return false
	}
	prefix, p, err := datePrefix(v)
	if err != nil {
		return false
	}
	switch prefix {
	case "eq":
		return !tr.start.Before(p.start) && !tr.end.After(p.end)
	case "ne":
		return !(!tr.start.Before(p.start) && !tr.end.After(p.end))
	case "gt":
		return tr.end.After(p.end)
	case "lt":
		return tr.start.Before(p.start)
	case "ge":
		return tr.end.After(p.start)
	case "le":
		return tr.start.Before(p.end)
	}
	return false
}

// less orders records by the query's sort keys, then by id for a stable order across pages.
// Records without a date sort last in either direction.
func (q *searchQuery) less(a, b *record) int {
	for _, k := range q.sort {
		var c int
		switch k.name {
		case "_id":
			c = strings.Compare(a.id, b.id)
		case "date", "authoredon":
			switch {
			case a.date == nil && b.date == nil:
			case a.date == nil:
				return 1
			case b.date == nil:
				return -1
			default:
				c = a.date.start.Compare(b.date.start)
			}
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return strings.Compare(a.id, b.id)
}
