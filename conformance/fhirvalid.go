package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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

// Validate returns nil for a valid resource. The error keeps the validator's element paths and
// kinds of problem ("missing required field \"intent\"", "unknown field") but not any detail that
// could quote an element value (a reference, a date): those become "invalid value", so the text
// carries no PHI.
func (v *fhirValidator) Validate(raw json.RawMessage) error {
	if _, err := v.u.Unmarshal(raw); err != nil {
		var lines []string
		for _, l := range strings.Split(err.Error(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, safeFHIRLine(l))
			}
		}
		msg := strings.Join(lines, "; ")
		if len(msg) > maxFHIRMessage {
			msg = msg[:maxFHIRMessage] + "..."
		}
		return errors.New("strict FHIR R4 validation: " + msg)
	}
	return nil
}

var (
	// fhirLineRE splits the validator's `error at "Path.to[0].element": detail` lines.
	fhirLineRE = regexp.MustCompile(`^error at "([A-Za-z0-9_.\[\]]+)": (.*)$`)
	// fhirSafeDetailRE admits details made of words and at most one quoted element name.
	fhirSafeDetailRE = regexp.MustCompile(`^[A-Za-z ]+( "[A-Za-z_]+")?$`)
)

func safeFHIRLine(l string) string {
	m := fhirLineRE.FindStringSubmatch(l)
	if m == nil {
		if fhirSafeDetailRE.MatchString(l) {
			return l
		}
		return "invalid resource"
	}
	detail := m[2]
	if !fhirSafeDetailRE.MatchString(detail) {
		detail = "invalid value"
	}
	return `error at "` + m[1] + `": ` + detail
}
