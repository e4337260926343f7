package conformance

import (
	"fmt"
	"sort"
	"strings"
)

// Level is the conformance verb of the requirement a check tests.
type Level string

// The levels used by the catalog. SHALL NOT requirements are reported as SHALL: failing them is a
// hard failure all the same.
const (
	Shall  Level = "SHALL"
	Should Level = "SHOULD"
	May    Level = "MAY"
)

// Status is the outcome of a check.
type Status string

// Outcomes, in increasing order of severity (see rank).
const (
	Skipped Status = "skipped"
	Pass    Status = "pass"
	Warning Status = "warning"
	Fail    Status = "fail"
)

func (s Status) rank() int {
	switch s {
	case Pass:
		return 1
	case Warning:
		return 2
	case Fail:
		return 3
	}
	return 0
}

// Check is one entry of the catalog: a testable requirement, where it comes from and how strong it is.
type Check struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Level   Level  `json:"level"`
	Section string `json:"section"`           // e.g. "CDS Hooks 2.0 §Card attributes"
	Anchor  string `json:"anchor,omitempty"`  // fragment of https://cds-hooks.hl7.org/2.0/
	Inferno []int  `json:"inferno,omitempty"` // Inferno requirement numbers cds-hooks_2.0@N
	Note    string `json:"note,omitempty"`    // other sources (CRD, Inferno test ids, 3.0 invariants)
}

// Requirement renders the requirement reference as one line, e.g.
// "CDS Hooks 2.0 §Card attributes (#card-attributes); Inferno cds-hooks_2.0@83".
func (c Check) Requirement() string {
	var b strings.Builder
	b.WriteString(c.Section)
	if c.Anchor != "" {
		b.WriteString(" (" + c.Anchor + ")")
	}
	if len(c.Inferno) > 0 {
		ids := make([]string, len(c.Inferno))
		for i, n := range c.Inferno {
			ids[i] = fmt.Sprintf("@%d", n)
		}
		b.WriteString("; Inferno cds-hooks_2.0" + strings.Join(ids, ","))
	}
	if c.Note != "" {
		b.WriteString("; " + c.Note)
	}
	return b.String()
}

// Evidence is what the suite saw when a check was evaluated: the request (method, URL and which
// built-in or user request), the HTTP status, the offending JSON path and what was wrong. It never
// holds bodies, tokens or values copied from a response.
type Evidence struct {
	Outcome Status `json:"outcome"`
	Request string `json:"request,omitempty"`
	Status  int    `json:"status,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func (e Evidence) String() string {
	var parts []string
	if e.Request != "" {
		parts = append(parts, e.Request)
	}
	if e.Status != 0 {
		parts = append(parts, fmt.Sprintf("status %d", e.Status))
	}
	if e.Path != "" {
		parts = append(parts, "at "+e.Path)
	}
	s := strings.Join(parts, ", ")
	if s == "" {
		return e.Message
	}
	return s + ": " + e.Message
}

// Result is the aggregated outcome of one check over every evaluation in a run: fail if any
// evaluation failed, else warning if any warned, else pass if any passed, else skipped.
type Result struct {
	Check
	Status Status `json:"status"`
	// Evaluations counts how often the check was applied (cards, actions, requests...).
	Evaluations int `json:"evaluations"`
	// Evidence holds the failing and warning evaluations (capped), or the reason for a skip or a
	// notable pass.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Omitted counts evidence left out past the cap.
	Omitted int `json:"omitted,omitempty"`
}

// maxEvidence caps the evidence kept per check so that a service with a systematic fault (every
// card broken) yields a readable report.
const maxEvidence = 12

// recorder accumulates evaluations per check id. It is owned by one run and not shared.
type recorder struct {
	catalog map[string]Check
	order   []string
	results map[string]*Result
}

func newRecorder(checks []Check) *recorder {
	r := &recorder{catalog: make(map[string]Check, len(checks)), results: make(map[string]*Result, len(checks))}
	for _, c := range checks {
		r.catalog[c.ID] = c
		r.order = append(r.order, c.ID)
		r.results[c.ID] = &Result{Check: c, Status: Skipped}
	}
	return r
}

// record adds one evaluation. An unknown id is a programming error and panics: the catalog and the
// checks must agree, and the tests exercise every path.
func (r *recorder) record(id string, outcome Status, ev Evidence) {
	res, ok := r.results[id]
	if !ok {
		panic("conformance: check " + id + " is not in the catalog")
	}
	ev.Outcome = outcome
	if outcome != Skipped {
		res.Evaluations++
	}
	if outcome.rank() > res.Status.rank() {
		res.Status = outcome
	}
	keep := outcome == Fail || outcome == Warning ||
		(outcome == Skipped && res.Evaluations == 0) || (outcome == Pass && ev.Message != "")
	if !keep {
		return
	}
	if len(res.Evidence) >= maxEvidence {
		res.Omitted++
		return
	}
	res.Evidence = append(res.Evidence, ev)
}

func (r *recorder) pass(id string, ev Evidence) { r.record(id, Pass, ev) }
func (r *recorder) skip(id string, ev Evidence) { r.record(id, Skipped, ev) }

// violate records a failure at SHALL level and a warning below it, so that only SHALL
// requirements can make a run fail.
func (r *recorder) violate(id string, ev Evidence) {
	if r.catalog[id].Level == Shall {
		r.record(id, Fail, ev)
		return
	}
	r.record(id, Warning, ev)
}

func (r *recorder) warn(id string, ev Evidence) { r.record(id, Warning, ev) }

// finish returns the results in catalog order, dropping pass-only evidence that would be noise next
// to failures, and dropping skip evidence from checks that ran.
func (r *recorder) finish() []Result {
	out := make([]Result, 0, len(r.order))
	for _, id := range r.order {
		res := *r.results[id]
		if res.Status != Skipped {
			kept := res.Evidence[:0:0]
			for _, ev := range res.Evidence {
				if ev.Outcome != Skipped {
					kept = append(kept, ev)
				}
			}
			res.Evidence = kept
		} else if len(res.Evidence) == 0 {
			res.Evidence = []Evidence{{Outcome: Skipped, Message: "not exercised: nothing the service returned called for it"}}
		}
		out = append(out, res)
	}
	return out
}

// Counts tallies the results per status.
func Counts(results []Result) map[Status]int {
	m := map[Status]int{}
	for _, r := range results {
		m[r.Status]++
	}
	return m
}

// sortedIDs is a helper for deterministic output of map keys.
func sortedIDs[M ~map[string]V, V any](m M) []string {
	ids := make([]string, 0, len(m))
	for k := range m {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	return ids
}
