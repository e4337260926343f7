package cdshooks

import (
	"encoding/json"
	"strings"
)

// PrefetchState is what the CDS Client did with one prefetch key
// (https://cds-hooks.hl7.org/2.0/#prefetch-template). The service must tell
// these apart: only an absent key invites a query of fhirServer, a null is a
// valid "no data" answer, and an OperationOutcome says the client tried and
// failed.
type PrefetchState int

const (
	// PrefetchAbsent: the key was not sent (the client chose not to, or could
	// not explain a failure), or its value is not a FHIR resource at all.
	// The service should query fhirServer itself.
	PrefetchAbsent PrefetchState = iota
	// PrefetchNull: the key was sent as null, meaning there is no data.
	PrefetchNull
	// PrefetchOutcome: the client's own query failed and it sent an
	// OperationOutcome, or a Bundle holding only OperationOutcomes.
	PrefetchOutcome
	// PrefetchPresent: a FHIR resource or Bundle (possibly with 0 entries).
	PrefetchPresent
)

// String names the state for logs and metrics.
func (s PrefetchState) String() string {
	switch s {
	case PrefetchAbsent:
		return "absent"
	case PrefetchNull:
		return "null"
	case PrefetchOutcome:
		return "outcome"
	case PrefetchPresent:
		return "present"
	}
	return "unknown"
}

// PrefetchValue classifies the value sent for a prefetch key and returns it
// for the Outcome and Present states (nil otherwise). A value that is not a
// JSON object with a resourceType is reported as Absent so that the caller
// falls back to querying, as it would for a key the client left out.
func (r *Request) PrefetchValue(key string) (PrefetchState, json.RawMessage) {
	if r == nil {
		return PrefetchAbsent, nil
	}
	raw, ok := r.Prefetch[key]
	if !ok || len(raw) == 0 {
		return PrefetchAbsent, nil
	}
	if cdsIsNull(raw) {
		return PrefetchNull, nil
	}
	if cdsKind(raw) != '{' {
		return PrefetchAbsent, nil
	}
	var res struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || strings.TrimSpace(res.ResourceType) == "" {
		return PrefetchAbsent, nil
	}
	switch res.ResourceType {
	case "OperationOutcome":
		return PrefetchOutcome, raw
	case "Bundle":
		if len(res.Entry) == 0 {
			return PrefetchPresent, raw
		}
		for _, e := range res.Entry {
			if e.Resource.ResourceType != "OperationOutcome" {
				return PrefetchPresent, raw
			}
		}
		return PrefetchOutcome, raw
	}
	return PrefetchPresent, raw
}
