package clinical

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Order is the part of a MedicationRequest that says how much is given, how often and for how
// long. Its JSON tags are the FHIR R4 member names, so a caller that already decodes the
// MedicationRequest for other members can embed Order in its own struct and decode once.
//
// Integer members (sequence, count, frequency, numberOfRepeatsAllowed) are float64 on purpose:
// "count": 16.0 is sent by real systems and must not fail the whole resource; [Dose] rejects
// non-integral values with an Unknown entry instead.
type Order struct {
	AuthoredOn        string           `json:"authoredOn"`
	DosageInstruction []Dosage         `json:"dosageInstruction"`
	DispenseRequest   *DispenseRequest `json:"dispenseRequest"`
	// The indication, for callers that filter on it (this package does not read it).
	ReasonCode      []Concept   `json:"reasonCode"`
	ReasonReference []Reference `json:"reasonReference"`
}

// Dosage is one dosageInstruction.
type Dosage struct {
	Sequence    *float64      `json:"sequence"`
	Timing      *Timing       `json:"timing"`
	Route       *Concept      `json:"route"`
	DoseAndRate []DoseAndRate `json:"doseAndRate"`
}

// DoseAndRate is one dosageInstruction.doseAndRate: a dose stated outright or as a range. Type
// is "ordered" or "calculated" (http://terminology.hl7.org/CodeSystem/dose-rate-type); Epic, for
// one, sends a weight-based dose as an ordered mg/kg entry plus a calculated mg entry.
type DoseAndRate struct {
	Type         *Concept  `json:"type"`
	DoseQuantity *Quantity `json:"doseQuantity"`
	DoseRange    *Range    `json:"doseRange"`
}

// Timing is dosageInstruction.timing.
type Timing struct {
	Repeat *Repeat  `json:"repeat"`
	Code   *Concept `json:"code"`
}

// Repeat is timing.repeat.
type Repeat struct {
	BoundsDuration *Quantity `json:"boundsDuration"`
	BoundsPeriod   *Period   `json:"boundsPeriod"`
	Count          *float64  `json:"count"`
	CountMax       *float64  `json:"countMax"`
	Frequency      *float64  `json:"frequency"`
	FrequencyMax   *float64  `json:"frequencyMax"`
	Period         *float64  `json:"period"`
	PeriodMax      *float64  `json:"periodMax"`
	PeriodUnit     string    `json:"periodUnit"`
	DayOfWeek      []string  `json:"dayOfWeek"`
	TimeOfDay      []string  `json:"timeOfDay"`
	When           []string  `json:"when"`
}

// DispenseRequest is MedicationRequest.dispenseRequest.
type DispenseRequest struct {
	NumberOfRepeatsAllowed *float64  `json:"numberOfRepeatsAllowed"`
	Quantity               *Quantity `json:"quantity"`
	ExpectedSupplyDuration *Quantity `json:"expectedSupplyDuration"`
}

// Quantity is a FHIR Quantity (also Duration and SimpleQuantity).
type Quantity struct {
	Value  *float64 `json:"value"`
	Unit   string   `json:"unit"`
	System string   `json:"system"`
	Code   string   `json:"code"`
}

// Range is a FHIR Range.
type Range struct {
	Low  *Quantity `json:"low"`
	High *Quantity `json:"high"`
}

// Period is a FHIR Period (dateTime strings as sent).
type Period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Concept is a FHIR CodeableConcept.
type Concept struct {
	Coding []Coding `json:"coding"`
	Text   string   `json:"text"`
}

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

// Reference is a FHIR Reference (only the literal reference).
type Reference struct {
	Reference string `json:"reference"`
}

// ErrNotMedicationRequest is returned by DecodeOrder for JSON that is some other resource.
var ErrNotMedicationRequest = errors.New("clinical: not a MedicationRequest")

// DecodeOrder reads the dose-relevant members of a MedicationRequest. It fails only on JSON that
// is not an object of the right shape or not a MedicationRequest; what the members mean (or fail
// to mean) is Dose's business. Error messages name the member and JSON type at fault, never a
// value from the resource.
func DecodeOrder(raw []byte) (Order, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		Order
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// te.Error() names the Go type too; the FHIR member path is what a sender can fix.
			return Order{}, fmt.Errorf("clinical: decode MedicationRequest: member %q holds a JSON %s", strings.TrimPrefix(te.Field, "Order."), te.Value)
		}
		return Order{}, fmt.Errorf("clinical: decode MedicationRequest: %w", err)
	}
	if w.ResourceType != "MedicationRequest" {
		return Order{}, ErrNotMedicationRequest
	}
	return w.Order, nil
}

// Authored is the order's authoredOn as a date (UTC midnight of the day written); false when
// absent or unreadable.
func (o *Order) Authored() (time.Time, bool) {
	return parseDate(o.AuthoredOn)
}
