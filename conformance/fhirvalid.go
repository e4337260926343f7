package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// fhirValidator validates single FHIR R4 resources strictly with google/fhir/go: unknown fields,
// wrong primitive formats, codes outside required bindings and missing required elements (for
// example MedicationRequest.intent, which the CDS Hooks Sandbox omits) are all errors.
type fhirValidator struct {
	u *jsonformat.Unmarshaller
}

func newFHIRValidator() (*fhirValidator, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("conformance: building the FHIR R4 validator: %w", err)
	}
	return &fhirValidator{u: u}, nil
}

// maxFHIRMessage bounds the validator's message in evidence.
const maxFHIRMessage = 400

// Validate returns nil for a valid resource. The error text is the validator's own, which names
// element paths and the kind of problem but never element values, so it carries no PHI.
func (v *fhirValidator) Validate(raw json.RawMessage) error {
	if _, err := v.u.Unmarshal(raw); err != nil {
		msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
		if len(msg) > maxFHIRMessage {
			msg = msg[:maxFHIRMessage] + "..."
		}
		return errors.New("strict FHIR R4 validation: " + msg)
	}
	return nil
}
