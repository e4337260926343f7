package cdshooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// OperationOutcome issue codes used by the decoders
// (http://hl7.org/fhir/R4/valueset-issue-type.html).
const (
	IssueInvalid   = "invalid"   // a value is not allowed here
	IssueRequired  = "required"  // a required member is missing
	IssueStructure = "structure" // wrong JSON type, or not JSON at all
)

// Error is a rejected request or feedback body. Status is 400 when the body
// is not a JSON object at all (or its hookInstance is not a UUID) and 422 when
// it is JSON that does not conform
// to CDS Hooks (the Da Vinci CRD rule, "consistent with the FHIR RESTful
// create action"). Issues name JSON paths, never values: the body is PHI, so
// neither Error() nor OperationOutcome() echo anything taken from it.
type Error struct {
	Status int
	Issues []Issue
}

// Issue is one problem found in a body, in OperationOutcome.issue terms.
type Issue struct {
	Severity    string // "error" or "warning"
	Code        string // IssueInvalid, IssueRequired or IssueStructure
	Expression  string // JSON path, e.g. "context.selections[0]"; "" for the whole body
	Diagnostics string // fixed text written by this package, never request content
}

// Error lists the status and each issue's code and path.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cdshooks: %d %s", e.Status, http.StatusText(e.Status))
	for i, is := range e.Issues {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if is.Expression != "" {
			b.WriteString(is.Expression)
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "(%s) %s", is.Code, is.Diagnostics)
	}
	return b.String()
}

// OperationOutcome renders the error as a FHIR R4 OperationOutcome, the body
// CRD and CDS Hooks 3.0 ask for on 4xx responses.
func (e *Error) OperationOutcome() []byte {
	type ooIssue struct {
		Severity    string   `json:"severity"`
		Code        string   `json:"code"`
		Diagnostics string   `json:"diagnostics,omitempty"`
		Expression  []string `json:"expression,omitempty"`
	}
	oo := struct {
		ResourceType string    `json:"resourceType"`
		Issue        []ooIssue `json:"issue"`
	}{ResourceType: "OperationOutcome"}
	for _, is := range e.Issues {
		o := ooIssue{Severity: is.Severity, Code: is.Code, Diagnostics: is.Diagnostics}
		if o.Severity == "" {
			o.Severity = "error"
		}
		if o.Code == "" {
			o.Code = IssueInvalid
		}
		if is.Expression != "" {
			o.Expression = []string{is.Expression}
		}
		oo.Issue = append(oo.Issue, o)
	}
	if len(oo.Issue) == 0 { // an OperationOutcome needs at least one issue
		oo.Issue = []ooIssue{{Severity: "error", Code: IssueInvalid, Diagnostics: http.StatusText(e.Status)}}
	}
	b, err := json.Marshal(oo)
	if err != nil { // cannot happen: only strings
		return []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}`)
	}
	return b
}

// cdsIssues accumulates the issues of one decode; its methods keep the
// decoders short.
type cdsIssues struct {
	list []Issue
	// badRequest makes the error a 400 instead of a 422: set for a hookInstance that is not a
	// UUID, which the spec words as a requirement of the request itself.
	badRequest bool
}

func (c *cdsIssues) add(code, path, diag string) {
	c.list = append(c.list, Issue{Severity: "error", Code: code, Expression: path, Diagnostics: diag})
}

// err returns nil when nothing was found, else a 422 *Error (400 when badRequest).
func (c *cdsIssues) err() error {
	if len(c.list) == 0 {
		return nil
	}
	if c.badRequest {
		return &Error{Status: http.StatusBadRequest, Issues: c.list}
	}
	return &Error{Status: http.StatusUnprocessableEntity, Issues: c.list}
}

// cdsSyntaxError is the 400 for a body that is not a JSON object.
func cdsSyntaxError(what string) *Error {
	return &Error{Status: http.StatusBadRequest, Issues: []Issue{{
		Severity: "error", Code: IssueStructure, Diagnostics: what,
	}}}
}

// cdsSplitRef splits a relative reference "Type/id" into its parts; ok is
// false unless there is exactly one slash with text on both sides.
func cdsSplitRef(ref string) (typ, id string) {
	i := strings.IndexByte(ref, '/')
	if i <= 0 || i == len(ref)-1 || strings.IndexByte(ref[i+1:], '/') >= 0 {
		return "", ""
	}
	return ref[:i], ref[i+1:]
}
