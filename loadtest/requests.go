package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Placeholders written into a template and split out, so a request body is assembled by
// concatenation instead of a JSON round trip per request (the client must not be the bottleneck).
const (
	hookInstanceMark = "LOADTEST-HOOKINSTANCE-MARK"
	doseMark         = 987654321.25 // encodes as 987654321.25
	doseMarkText     = "987654321.25"
)

// Template is one hook request prepared for fast variation.
type Template struct {
	Name    string // demo request name
	Hook    string // order-select or order-sign
	Service string // CDS service id it is sent to
	// parts are the body around the placeholders: parts[0] slots[0] parts[1] [slots[1] parts[2]].
	parts [][]byte
	slots []slotKind
	// DoseVaries is true when the template has a dose that Body can vary (cold scoring cache).
	DoseVaries bool
	dose0      string // the dose as the request had it
}

// serviceFor names the valuerx service that answers hook.
func serviceFor(hook string) (string, bool) {
	switch hook {
	case "order-select":
		return "valuerx-order-select", true
	case "order-sign":
		return "valuerx-order-sign", true
	}
	return "", false
}

// NewTemplate prepares raw (a CDS Hooks request) for load: the fhirServer is set to fhirServer
// ("" keeps it), the prefetch is dropped when noPrefetch, and the first draft order's dose
// becomes variable.
func NewTemplate(name string, raw []byte, fhirServer string, noPrefetch bool) (*Template, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	hook, _ := m["hook"].(string)
	svc, ok := serviceFor(hook)
	if !ok {
		return nil, fmt.Errorf("template %s: hook %q is not an order hook", name, hook)
	}
	m["hookInstance"] = hookInstanceMark
	if fhirServer != "" {
		m["fhirServer"] = fhirServer
	}
	if noPrefetch {
		delete(m, "prefetch")
	}
	dose0, varies := setDoseMark(m)
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	t := &Template{Name: name, Hook: hook, Service: svc, DoseVaries: varies, dose0: dose0}
	hi := bytes.Index(b, []byte(`"`+hookInstanceMark+`"`))
	if hi < 0 {
		return nil, fmt.Errorf("template %s: hookInstance placeholder lost", name)
	}
	cuts := []slot{{at: hi, n: len(hookInstanceMark) + 2, kind: slotHookInstance}}
	if varies {
		di := bytes.Index(b, []byte(doseMarkText))
		if di < 0 {
			return nil, fmt.Errorf("template %s: dose placeholder lost", name)
		}
		cuts = append(cuts, slot{at: di, n: len(doseMarkText), kind: slotDose})
	}
	slices.SortFunc(cuts, func(a, b slot) int { return a.at - b.at })
	prev := 0
	for _, c := range cuts {
		t.parts = append(t.parts, b[prev:c.at])
		t.slots = append(t.slots, c.kind)
		prev = c.at + c.n
	}
	t.parts = append(t.parts, b[prev:])
	return t, nil
}

// setDoseMark puts the dose placeholder in the first draft order's first numeric doseQuantity
// value and returns the value it replaced.
func setDoseMark(m map[string]any) (string, bool) {
	ctx, _ := m["context"].(map[string]any)
	bundle, _ := ctx["draftOrders"].(map[string]any)
	entries, _ := bundle["entry"].([]any)
	for _, e := range entries {
		res, _ := e.(map[string]any)["resource"].(map[string]any)
		dis, _ := res["dosageInstruction"].([]any)
		for _, di := range dis {
			drs, _ := di.(map[string]any)["doseAndRate"].([]any)
			for _, dr := range drs {
				q, _ := dr.(map[string]any)["doseQuantity"].(map[string]any)
				if q == nil {
					continue
				}
				if v, ok := q["value"].(json.Number); ok {
					q["value"] = doseMark
					return v.String(), true
				}
			}
		}
	}
	return "", false
}

type slotKind int

const (
	slotHookInstance slotKind = iota
	slotDose
)

type slot struct {
	at, n int
	kind  slotKind
}

// Body returns a request body with a fresh hookInstance. dose <= 0 keeps the request's own dose.
func (t *Template) Body(dose float64) []byte {
	n := 64
	for _, p := range t.parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, s := range t.slots {
		b = append(b, t.parts[i]...)
		switch s {
		case slotHookInstance:
			b = append(b, '"')
			b = append(b, uuid.NewString()...)
			b = append(b, '"')
		case slotDose:
			if dose > 0 {
				b = strconv.AppendFloat(b, dose, 'f', -1, 64)
			} else {
				b = append(b, t.dose0...)
			}
		}
	}
	return append(b, t.parts[len(t.parts)-1]...)
}

// BadKind is one deliberately wrong request of the mix scenario.
type BadKind int

const (
	BadNone      BadKind = iota
	BadNoToken           // no Authorization header: 401
	BadSignature         // signed by a key the service does not trust: 401
	BadReplay            // a token already used: 401
	BadJSON              // body is not JSON: 400
	BadHook              // the other hook's body for this service: 400
	badKinds
)

func (k BadKind) String() string {
	return [...]string{"good", "no-token", "bad-signature", "replay", "malformed-json", "wrong-hook"}[k]
}

// corrupt returns a malformed version of body.
func corrupt(body []byte) []byte {
	n := len(body) / 2
	out := make([]byte, 0, n+8)
	out = append(out, body[:n]...)
	return append(out, `,,}`...)
}

// entry is one prepared request template.
type entry struct {
	t *Template
}

func prepare(names []string, get func(string) ([]byte, bool), fhirServer string, noPrefetch, needDose bool) ([]entry, error) {
	var out []entry
	for _, n := range names {
		raw, ok := get(n)
		if !ok {
			return nil, fmt.Errorf("loadtest: no request %q", n)
		}
		t, err := NewTemplate(n, raw, fhirServer, noPrefetch)
		if err != nil {
			return nil, err
		}
		if needDose && !t.DoseVaries {
			continue
		}
		out = append(out, entry{t: t})
	}
	if len(out) == 0 {
		return nil, errors.New("loadtest: no usable request templates")
	}
	return out, nil
}

// prefetchNames returns the demo requests that carry prefetch (the "-noprefetch" variants are
// left to the no-prefetch scenario, which strips prefetch from every template itself).
func prefetchNames(all []string) []string {
	var out []string
	for _, n := range all {
		if !strings.HasSuffix(n, "-noprefetch") {
			out = append(out, n)
		}
	}
	return out
}
