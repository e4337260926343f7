package population

import (
	"bytes"
	"encoding/binary"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
)

// The dispense fast path. A million-patient export is about twelve million MedicationDispense
// lines (4.3 GB of its 5.4 GB), and decoding them with reflection (json.Unmarshal into
// dispenseJSON) was about 60 % of the run's CPU (valuerx measures -cpuprofile; README
// "A million patients"). Bulk Data exports are machine-written and plain: ASCII, no escapes, a
// handful of members. scanDispense reads exactly that subset with a hand-written scanner that
// keeps slices of the line instead of strings, and says "not mine" for anything else (an escape,
// a byte outside printable ASCII, a tab or carriage return, a member of an unexpected type, more than a few codings, deep
// nesting, a number it cannot parse exactly): those lines go to json.Unmarshal as before.
//
// What the scanner accepts it must decode exactly as json.Unmarshal would, and it must not accept
// what json.Unmarshal refuses: so it checks the whole line's syntax (strings, numbers, literals,
// nesting, one value and nothing after it) and refuses duplicate member names at every level, as
// jsonv2 does by default. FuzzScanDispense holds it to json.Unmarshal's answers on arbitrary input.

// dispenseView is a MedicationDispense as the measures read it, its strings aliasing the line.
type dispenseView struct {
	resourceType, status, subject, whenHandedOver, whenPrepared []byte
	supply                                                      float64
	hasSupply                                                   bool
	med                                                         conceptView
}

// conceptView is a CodeableConcept: its first maxCodings codings in place, any others (only
// json.Unmarshal's path makes them) in extra.
type conceptView struct {
	codings [maxCodings]codingView
	n       int
	extra   []codingView
	text    []byte
}

// each calls f for every coding, in order.
func (c *conceptView) each(f func(cd *codingView)) {
	for i := range c.codings[:c.n] {
		f(&c.codings[i])
	}
	for i := range c.extra {
		f(&c.extra[i])
	}
}

type codingView struct{ system, code, display []byte }

const (
	maxCodings = 4
	maxDepth   = 32
	maxMembers = 24 // per object: the duplicate check is a linear scan
)

// viewOf converts a decoded concept (json.Unmarshal's path, and claims) to its view.
func viewOf(c *concept) conceptView {
	var v conceptView
	for i, cd := range c.Coding {
		cv := codingView{[]byte(cd.System), []byte(cd.Code), []byte(cd.Display)}
		if i < maxCodings {
			v.codings[i] = cv
			v.n++
		} else {
			v.extra = append(v.extra, cv)
		}
	}
	v.text = []byte(c.Text)
	return v
}

// decodeDispense reads a dispense line: the fast scanner, else json.Unmarshal. ok false: the line
// is not valid JSON of the expected shape (jsonv2's answer).
func decodeDispense(line []byte, v *dispenseView) bool {
	*v = dispenseView{}
	if scanDispense(line, v) {
		return true
	}
	*v = dispenseView{}
	var d dispenseJSON
	if jsonv2.Unmarshal(line, &d) != nil {
		return false
	}
	med := viewOf(&d.MedicationCodeableConcept)
	*v = dispenseView{resourceType: []byte(d.ResourceType), status: []byte(d.Status), subject: []byte(d.Subject.Reference),
		whenHandedOver: []byte(d.WhenHandedOver), whenPrepared: []byte(d.WhenPrepared), med: med}
	if d.DaysSupply.Value != nil {
		v.supply, v.hasSupply = *d.DaysSupply.Value, true
	}
	return true
}

// scanDispense is the fast path; false means "let json.Unmarshal decide", never "invalid".
func scanDispense(line []byte, v *dispenseView) bool {
	if !plainASCII(line) {
		return false
	}
	s := scanner{b: line}
	s.ws()
	ok := s.object(0, func(key []byte) bool {
		switch string(key) {
		case "resourceType":
			return s.strOrNull(&v.resourceType)
		case "status":
			return s.strOrNull(&v.status)
		case "whenHandedOver":
			return s.strOrNull(&v.whenHandedOver)
		case "whenPrepared":
			return s.strOrNull(&v.whenPrepared)
		case "subject":
			if s.null() {
				return true
			}
			return s.object(1, func(k []byte) bool {
				if string(k) == "reference" {
					return s.strOrNull(&v.subject)
				}
				return s.skip(2)
			})
		case "daysSupply":
			if s.null() {
				return true
			}
			return s.object(1, func(k []byte) bool {
				if string(k) != "value" {
					return s.skip(2)
				}
				if s.null() {
					v.hasSupply = false
					return true
				}
				f, ok := s.number()
				v.supply, v.hasSupply = f, ok
				return ok
			})
		case "medicationCodeableConcept":
			if s.null() {
				return true
			}
			return s.concept(1, &v.med)
		}
		return s.skip(1)
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// scanner reads the plain subset of JSON described above.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// lit consumes a literal (true, false, null) if it is next.
func (s *scanner) lit(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

func (s *scanner) null() bool { return s.peek() == 'n' && s.lit("null") }

// str reads a string. The line is plainASCII, so a string ends at the next quote and needs no
// unescaping.
func (s *scanner) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	n := bytes.IndexByte(s.b[start:], '"')
	if n < 0 {
		return nil, false
	}
	s.i = start + n + 1
	return s.b[start : start+n], true
}

// plainASCII reports whether b is printable ASCII (0x20-0x7e) without a backslash: no escapes,
// no control characters (so none inside strings), nothing for UTF-8 validation to refuse. Eight
// bytes at a time: a byte below 0x20, at or above 0x7f, or equal to '\\' sets its high bit in bad.
func plainASCII(b []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		bs := w ^ (0x5c * lo)
		if ((w-0x20*lo)&^w|(w+lo)|w|(bs-lo)&^bs)&hi != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// strOrNull reads a string into *dst (null leaves it empty, as json.Unmarshal leaves a string).
func (s *scanner) strOrNull(dst *[]byte) bool {
	if s.null() {
		return true
	}
	b, ok := s.str()
	if ok {
		*dst = b
	}
	return ok
}

// numberSpan consumes a JSON number (RFC 8259 grammar) and returns its bytes.
func (s *scanner) numberSpan() ([]byte, bool) {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
	default:
		return nil, false
	}
	if s.peek() == '.' {
		s.i++
		if c := s.peek(); c < '0' || c > '9' {
			return nil, false
		}
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if c := s.peek(); c < '0' || c > '9' {
			return nil, false
		}
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
	}
	return s.b[start:s.i], true
}

// number reads a number as a float64: small integers directly, the rest with strconv.
func (s *scanner) number() (float64, bool) {
	b, ok := s.numberSpan()
	if !ok {
		return 0, false
	}
	if len(b) <= 9 && b[0] != '-' {
		n, digitsOnly := 0, true
		for _, c := range b {
			if c < '0' || c > '9' {
				digitsOnly = false
				break
			}
			n = n*10 + int(c-'0')
		}
		if digitsOnly {
			return float64(n), true
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// object reads an object, calling member for each member with the scanner at its value (member
// must consume it). Duplicate names are refused, as jsonv2 refuses them.
func (s *scanner) object(depth int, member func(key []byte) bool) bool {
	if depth > maxDepth || s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	var keys [maxMembers][]byte
	n := 0
	for {
		s.ws()
		k, ok := s.str()
		if !ok || n == maxMembers {
			return false
		}
		for _, p := range keys[:n] {
			if bytes.Equal(p, k) {
				return false
			}
		}
		keys[n] = k
		n++
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !member(k) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array, calling elem for each element with the scanner at it.
func (s *scanner) array(depth int, elem func() bool) bool {
	if depth > maxDepth || s.peek() != '[' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		s.ws()
		if !elem() {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// skip consumes any value.
func (s *scanner) skip(depth int) bool {
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		return s.object(depth, func([]byte) bool { return s.skip(depth + 1) })
	case c == '[':
		return s.array(depth, func() bool { return s.skip(depth + 1) })
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, ok := s.numberSpan()
		return ok
	}
	return false
}

// concept reads a CodeableConcept: coding (system, code, display) and text.
func (s *scanner) concept(depth int, c *conceptView) bool {
	return s.object(depth, func(k []byte) bool {
		switch string(k) {
		case "text":
			return s.strOrNull(&c.text)
		case "coding":
			if s.null() {
				c.n = 0
				return true
			}
			c.n = 0
			return s.array(depth+1, func() bool {
				if c.n == maxCodings {
					return false
				}
				cd := &c.codings[c.n]
				c.n++
				*cd = codingView{}
				if s.null() {
					return true
				}
				return s.object(depth+2, func(k []byte) bool {
					switch string(k) {
					case "system":
						return s.strOrNull(&cd.system)
					case "code":
						return s.strOrNull(&cd.code)
					case "display":
						return s.strOrNull(&cd.display)
					}
					return s.skip(depth + 3)
				})
			})
		}
		return s.skip(depth + 1)
	})
}

// conditionView is a Condition as pass 1 reads it (registry.condition), aliasing the line.
type conditionView struct {
	resourceType, subject                                      []byte
	code, verification                                         conceptView
	onsetDateTime, onsetStart, recordedDate, abatementDateTime []byte
}

// decodeCondition reads a Condition line: the scanner, else json.Unmarshal (conditionJSON). A
// problem list export is 1.5 conditions per patient, most of them codes no measure reads.
func decodeCondition(line []byte, v *conditionView) bool {
	*v = conditionView{}
	if scanCondition(line, v) {
		return true
	}
	*v = conditionView{}
	var c conditionJSON
	if jsonv2.Unmarshal(line, &c) != nil {
		return false
	}
	*v = conditionView{resourceType: []byte(c.ResourceType), subject: []byte(c.Subject.Reference), code: viewOf(&c.Code),
		verification: viewOf(&c.VerificationStatus), onsetDateTime: []byte(c.OnsetDateTime), onsetStart: []byte(c.OnsetPeriod.Start),
		recordedDate: []byte(c.RecordedDate), abatementDateTime: []byte(c.AbatementDateTime)}
	return true
}

func scanCondition(line []byte, v *conditionView) bool {
	if !plainASCII(line) {
		return false
	}
	s := scanner{b: line}
	s.ws()
	ok := s.object(0, func(key []byte) bool {
		switch string(key) {
		case "resourceType":
			return s.strOrNull(&v.resourceType)
		case "onsetDateTime":
			return s.strOrNull(&v.onsetDateTime)
		case "recordedDate":
			return s.strOrNull(&v.recordedDate)
		case "abatementDateTime":
			return s.strOrNull(&v.abatementDateTime)
		case "subject":
			if s.null() {
				return true
			}
			return s.object(1, func(k []byte) bool {
				if string(k) == "reference" {
					return s.strOrNull(&v.subject)
				}
				return s.skip(2)
			})
		case "onsetPeriod":
			if s.null() {
				return true
			}
			return s.object(1, func(k []byte) bool {
				switch string(k) {
				case "start":
					return s.strOrNull(&v.onsetStart)
				case "end": // period.end: decoded (a string) though not read
					var end []byte
					return s.strOrNull(&end)
				}
				return s.skip(2)
			})
		case "code":
			if s.null() {
				return true
			}
			return s.concept(1, &v.code)
		case "verificationStatus":
			if s.null() {
				return true
			}
			return s.concept(1, &v.verification)
		}
		return s.skip(1)
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// coverageView is what registry.coverage reads of a Coverage, aliasing the line: the first
// payor's identifier value and display, and the first plan class's value.
type coverageView struct {
	resourceType, status, subscriberID, beneficiary []byte
	periodStart, periodEnd                          []byte
	payorValue, payorDisplay, planValue             []byte
}

// coverageViewOf derives the view from a decoded Coverage (json.Unmarshal's path).
func coverageViewOf(c *coverageJSON) coverageView {
	v := coverageView{resourceType: []byte(c.ResourceType), status: []byte(c.Status), subscriberID: []byte(c.SubscriberID),
		beneficiary: []byte(c.Beneficiary.Reference), periodStart: []byte(c.Period.Start), periodEnd: []byte(c.Period.End)}
	if len(c.Payor) > 0 {
		v.payorValue, v.payorDisplay = []byte(c.Payor[0].Identifier.Value), []byte(c.Payor[0].Display)
	}
	for _, cl := range c.Class {
		for _, cd := range cl.Type.Coding {
			if cd.Code == "plan" && cl.Value != "" && len(v.planValue) == 0 {
				v.planValue = []byte(cl.Value)
			}
		}
	}
	return v
}

func decodeCoverage(line []byte, v *coverageView) bool {
	*v = coverageView{}
	if scanCoverage(line, v) {
		return true
	}
	var c coverageJSON
	if jsonv2.Unmarshal(line, &c) != nil {
		*v = coverageView{}
		return false
	}
	*v = coverageViewOf(&c)
	return true
}

// identifierObj reads an Identifier as json.Unmarshal reads `identifier` (system and value
// strings), keeping the value.
func (s *scanner) identifierObj(depth int, value *[]byte) bool {
	if s.null() {
		return true
	}
	return s.object(depth, func(k []byte) bool {
		switch string(k) {
		case "system":
			var b []byte
			return s.strOrNull(&b)
		case "value":
			return s.strOrNull(value)
		}
		return s.skip(depth + 1)
	})
}

func scanCoverage(line []byte, v *coverageView) bool {
	if !plainASCII(line) {
		return false
	}
	s := scanner{b: line}
	s.ws()
	ok := s.object(0, func(key []byte) bool {
		switch string(key) {
		case "resourceType":
			return s.strOrNull(&v.resourceType)
		case "status":
			return s.strOrNull(&v.status)
		case "subscriberId":
			return s.strOrNull(&v.subscriberID)
		case "beneficiary":
			if s.null() {
				return true
			}
			return s.object(1, func(k []byte) bool {
				if string(k) == "reference" {
					return s.strOrNull(&v.beneficiary)
				}
				return s.skip(2)
			})
		case "period":
			if s.null() {
				return true
			}
			return s.object(1, func(k []byte) bool {
				switch string(k) {
				case "start":
					return s.strOrNull(&v.periodStart)
				case "end":
					return s.strOrNull(&v.periodEnd)
				}
				return s.skip(2)
			})
		case "identifier":
			if s.null() {
				return true
			}
			return s.array(1, func() bool {
				var b []byte
				return s.identifierObj(2, &b)
			})
		case "payor":
			if s.null() {
				return true
			}
			first := true
			return s.array(1, func() bool {
				var value, display []byte
				ok := s.null() || s.object(2, func(k []byte) bool {
					switch string(k) {
					case "reference":
						var b []byte
						return s.strOrNull(&b)
					case "display":
						return s.strOrNull(&display)
					case "identifier":
						return s.identifierObj(3, &value)
					}
					return s.skip(3)
				})
				if ok && first {
					v.payorValue, v.payorDisplay = value, display
				}
				first = false
				return ok
			})
		case "class":
			if s.null() {
				return true
			}
			return s.array(1, func() bool {
				if s.null() {
					return true
				}
				var typ conceptView
				var value []byte
				ok := s.object(2, func(k []byte) bool {
					switch string(k) {
					case "type":
						if s.null() {
							return true
						}
						return s.concept(3, &typ)
					case "value":
						return s.strOrNull(&value)
					}
					return s.skip(3)
				})
				if ok && len(v.planValue) == 0 && len(value) > 0 {
					typ.each(func(cd *codingView) {
						if string(cd.code) == "plan" && len(v.planValue) == 0 {
							v.planValue = value
						}
					})
				}
				return ok
			})
		}
		return s.skip(1)
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}
