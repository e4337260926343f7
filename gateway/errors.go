package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"valuerx/cdshooks"
	"valuerx/fhir"
)

// Kind is valuerx's one error vocabulary. Every error that reaches a handler is mapped to an HTTP
// status and an OperationOutcome by the table below, and nowhere else.
type Kind int

const (
	KindInternal      Kind = iota // a bug or an unexpected failure: 500
	KindInvalid                   // the body is not JSON, or is not a request at all: 400
	KindUnprocessable             // valid JSON that breaks CDS Hooks or FHIR rules: 422
	KindUnauthorized              // no or bad client JWT: 401
	KindNotFound                  // unknown service or route: 404
	KindPrecondition              // required data neither prefetched nor obtainable: 412
	KindTooLarge                  // body over the limit: 413
	KindUnavailable               // a dependency is down: 503
)

var kindTable = map[Kind]struct {
	status int
	code   string // OperationOutcome issue type
}{
	KindInternal:      {http.StatusInternalServerError, "exception"},
	KindInvalid:       {http.StatusBadRequest, "structure"},
	KindUnprocessable: {http.StatusUnprocessableEntity, "invalid"},
	KindUnauthorized:  {http.StatusUnauthorized, "login"},
	KindNotFound:      {http.StatusNotFound, "not-found"},
	KindPrecondition:  {http.StatusPreconditionFailed, "incomplete"},
	KindTooLarge:      {http.StatusRequestEntityTooLarge, "too-costly"},
	KindUnavailable:   {http.StatusServiceUnavailable, "transient"},
}

// Error is a gateway error: a Kind, the operation that failed, a caller-safe message (no PHI),
// and the cause, which is logged but never sent.
type Error struct {
	Kind    Kind
	Op      string
	Message string
	Err     error
	// outcome is a ready OperationOutcome body, when the cause already produced one.
	outcome []byte
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Op, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Op, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(kind Kind, op, msg string, cause error) *Error {
	return &Error{Kind: kind, Op: op, Message: msg, Err: cause}
}

// asGatewayError turns any error into an *Error, recognising the other packages' error types.
func asGatewayError(err error) *Error {
	var ge *Error
	if errors.As(err, &ge) {
		return ge
	}
	var ce *cdshooks.Error
	if errors.As(err, &ce) {
		kind := KindUnprocessable
		if ce.Status == http.StatusBadRequest {
			kind = KindInvalid
		}
		return &Error{Kind: kind, Op: "decode", Message: "invalid CDS Hooks request", Err: err, outcome: ce.OperationOutcome()}
	}
	if errors.Is(err, cdshooks.ErrUnauthorized) {
		return &Error{Kind: KindUnauthorized, Op: "auth", Message: "unauthorized", Err: err}
	}
	if errors.Is(err, fhir.ErrUnavailable) {
		return &Error{Kind: KindUnavailable, Op: "fhir", Message: "FHIR server unavailable", Err: err}
	}
	return &Error{Kind: KindInternal, Op: "internal", Message: "internal error", Err: err}
}

// writeError writes err as its status and an OperationOutcome. The caller logs; this only answers.
func writeError(w http.ResponseWriter, err error) {
	ge := asGatewayError(err)
	row, ok := kindTable[ge.Kind]
	if !ok {
		row = kindTable[KindInternal]
	}
	body := ge.outcome
	if body == nil {
		severity := "error"
		if ge.Kind == KindInternal {
			severity = "fatal"
		}
		body = fhir.OperationOutcome(severity, row.code, ge.Message)
	}
	if ge.Kind == KindUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="valuerx"`)
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(row.status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b []byte
	var err error
	if r, ok := v.(*cdshooks.Response); ok {
		// Response.MarshalJSON is json.Marshal of the plain struct; calling it directly saves
		// encoding/json re-scanning and compacting its output, the same bytes (bench_test.go).
		b, err = r.MarshalJSON()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		writeError(w, errorf(KindInternal, "encode", "could not encode the response", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
