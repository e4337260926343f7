package fhir

import (
	"encoding/json"
	"strings"
)

// Issue is one OperationOutcome.issue. Severity is fatal|error|warning|information and Code an
// IssueType code (invalid, not-found, login, forbidden, exception, timeout, ...).
//
// Diagnostics is free text that may describe the data involved: it goes to the requester in an
// OperationOutcome body but must never be logged.
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// OperationOutcome returns a minimal R4 OperationOutcome with one issue. Empty severity or code
// default to "error" and "processing", the two elements R4 requires.
func OperationOutcome(severity, code, diagnostics string) []byte {
	return NewOperationOutcome(Issue{Severity: severity, Code: code, Diagnostics: diagnostics})
}

// NewOperationOutcome returns an R4 OperationOutcome carrying issues (at least one: R4 requires
// it, so an empty list yields a single error/processing issue).
func NewOperationOutcome(issues ...Issue) []byte {
	if len(issues) == 0 {
		issues = []Issue{{}}
	}
	out := struct {
		ResourceType string  `json:"resourceType"`
		Issue        []Issue `json:"issue"`
	}{ResourceType: "OperationOutcome", Issue: make([]Issue, len(issues))}
	for i, is := range issues {
		if is.Severity == "" {
			is.Severity = "error"
		}
		if is.Code == "" {
			is.Code = "processing"
		}
		out.Issue[i] = is
	}
	b, err := json.Marshal(out)
	if err != nil { // cannot happen: only strings
		return []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}`)
	}
	return b
}

// ParseOperationOutcome returns the issues of raw when it is an OperationOutcome (ok is false
// otherwise). It is lenient: issues with ill-typed members keep what decodes, and
// details.text stands in for a missing diagnostics.
func ParseOperationOutcome(raw json.RawMessage) (issues []Issue, ok bool) {
	if ResourceType(raw) != "OperationOutcome" {
		return nil, false
	}
	var oo struct {
		Issue []json.RawMessage `json:"issue"`
	}
	_ = json.Unmarshal(raw, &oo) // lenient: a broken issue list leaves no issues, still an outcome
	for _, rawIssue := range oo.Issue {
		var is struct {
			Severity    string   `json:"severity"`
			Code        string   `json:"code"`
			Diagnostics string   `json:"diagnostics"`
			Expression  []string `json:"expression"`
			Details     *struct {
				Text string `json:"text"`
			} `json:"details"`
		}
		_ = json.Unmarshal(rawIssue, &is)
		d := is.Diagnostics
		if d == "" && is.Details != nil {
			d = is.Details.Text
		}
		issues = append(issues, Issue{
			Severity:    strings.TrimSpace(is.Severity),
			Code:        strings.TrimSpace(is.Code),
			Diagnostics: d,
			Expression:  is.Expression,
		})
	}
	return issues, true
}
