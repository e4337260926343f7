package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"valuerx/fhir"
	"valuerx/scoring"
	"valuerx/store"
)

// Administration is what the record needs of one MedicationAdministration (FHIR R4): ids to
// join on (never stored as such), the status, when it was given and the medication's codes.
type Administration struct {
	ID string // MedicationAdministration.id
	// LastUpdated is meta.lastUpdated (zero when absent): where a poll of the FHIR server goes on.
	LastUpdated time.Time
	PatientID   string // subject: Patient/{id}
	RequestID   string // request: MedicationRequest/{id}
	Status      string
	At          time.Time
	Codings     []coding
}

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type codeable struct {
	Coding []coding `json:"coding"`
}

type reference struct {
	Reference string `json:"reference"`
}

// medicationAdministration is the wire form, reduced to the fields read.
type medicationAdministration struct {
	ResourceType string `json:"resourceType"`
	Meta         *struct {
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
	ID                        string     `json:"id"`
	Status                    string     `json:"status"`
	Subject                   reference  `json:"subject"`
	Request                   *reference `json:"request"`
	MedicationCodeableConcept *codeable  `json:"medicationCodeableConcept"`
	MedicationReference       *reference `json:"medicationReference"`
	EffectiveDateTime         string     `json:"effectiveDateTime"`
	EffectivePeriod           *struct {
		Start string `json:"start"`
	} `json:"effectivePeriod"`
	Contained []struct {
		ResourceType string   `json:"resourceType"`
		ID           string   `json:"id"`
		Code         codeable `json:"code"`
	} `json:"contained"`
}

// Reasons a line is not recorded (Result.Skipped).
var (
	ErrNotAdministration = errors.New("not-a-medication-administration")
	ErrNoID              = errors.New("no-id")
	ErrNoPatient         = errors.New("no-patient-subject")
	ErrNoRequest         = errors.New("no-medication-request")
	ErrNoTime            = errors.New("no-or-bad-effective-time")
	ErrNotJSON           = errors.New("not-json")
	// ErrTimeBefore2000 and ErrTimeFuture refuse an effective time no order valuerx advised on
	// can have: before 2000 (0001-01-01 is a placeholder, not a dose), or after the import plus
	// store.AdministrationSkew. Those in between still count only inside their order's window
	// (store.AdministrationCounts), which the import cannot see.
	ErrTimeBefore2000 = errors.New("effective-time-before-2000")
	ErrTimeFuture     = errors.New("effective-time-in-future")
)

// EarliestPlausible is the earliest date an imported administration or claim line may carry.
var EarliestPlausible = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// plausibleTime refuses a time before EarliestPlausible or after now plus the skew.
func plausibleTime(at, now time.Time) error {
	switch {
	case at.Before(EarliestPlausible):
		return ErrTimeBefore2000
	case at.After(now.Add(store.AdministrationSkew)):
		return ErrTimeFuture
	}
	return nil
}

// DecodeAdministration reads one NDJSON line. A MedicationAdministration without an id, a
// Patient subject, a MedicationRequest request or an effective time cannot be joined or dated
// and is refused with one of the Err* reasons above; the error never quotes the line.
func DecodeAdministration(line []byte) (Administration, error) {
	var m medicationAdministration
	if err := json.Unmarshal(line, &m); err != nil {
		return Administration{}, ErrNotJSON
	}
	if m.ResourceType != "MedicationAdministration" {
		return Administration{}, ErrNotAdministration
	}
	a := Administration{ID: strings.TrimSpace(m.ID), Status: strings.TrimSpace(m.Status)}
	if m.Meta != nil {
		a.LastUpdated, _ = parseDateTime(m.Meta.LastUpdated)
	}
	if a.ID == "" {
		return Administration{}, ErrNoID
	}
	if typ, id := fhir.SplitReference(m.Subject.Reference); typ == "Patient" && id != "" {
		a.PatientID = id
	} else {
		return Administration{}, ErrNoPatient
	}
	if m.Request == nil {
		return Administration{}, ErrNoRequest
	}
	if typ, id := fhir.SplitReference(m.Request.Reference); typ == "MedicationRequest" && id != "" {
		a.RequestID = id
	} else {
		return Administration{}, ErrNoRequest
	}
	when := m.EffectiveDateTime
	if when == "" && m.EffectivePeriod != nil {
		when = m.EffectivePeriod.Start
	}
	at, ok := parseDateTime(when)
	if !ok {
		return Administration{}, ErrNoTime
	}
	a.At = at
	switch {
	case m.MedicationCodeableConcept != nil:
		a.Codings = m.MedicationCodeableConcept.Coding
	case m.MedicationReference != nil:
		// A contained Medication ("#med1") is read; a Medication elsewhere in the export is not
		// (the product then stays unrecognised and the order's signed product stands).
		if _, id := fhir.SplitReference(m.MedicationReference.Reference); strings.HasPrefix(id, "#") {
			for _, c := range m.Contained {
				if c.ResourceType == "Medication" && c.ID == id[1:] {
					a.Codings = c.Code.Coding
				}
			}
		}
	}
	return a, nil
}

// parseDateTime reads a FHIR dateTime with a time and zone, or a date (taken as midnight UTC).
func parseDateTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// AdministrationOptions configure ImportAdministrations.
type AdministrationOptions struct {
	Joiner  Joiner
	Catalog *scoring.Catalog // recognises the product given; nil records none
	// MaxLine bounds one NDJSON line (fhir.DefaultNDJSONMaxLine when 0).
	MaxLine int
	Now     func() time.Time
}

// ImportAdministrations streams an NDJSON export of MedicationAdministration into st. Lines
// that are not one (an export file holds one type, but a mixed file is read too), or that
// cannot be joined, are skipped and counted; a read error or a store error stops the import
// (what was written before stays, and importing the file again completes it).
func ImportAdministrations(ctx context.Context, r io.Reader, st store.Store, o AdministrationOptions) (Result, error) {
	var res Result
	nd := fhir.NewNDJSONReader(r, o.MaxLine)
	batch := make([]store.Administration, 0, Batch)
	imported := now(o.Now)
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		line, err := nd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var nerr *fhir.NDJSONError
		if errors.As(err, &nerr) {
			res.Read++
			res.skip(reasonOf(nerr.Err), nerr.Line)
			continue
		}
		if err != nil {
			return res, fmt.Errorf("imports: read administrations: %w", err)
		}
		res.Read++
		a, err := DecodeAdministration(line)
		if err == nil {
			err = plausibleTime(a.At, imported)
		}
		if err != nil {
			res.skip(err.Error(), nd.Line())
			continue
		}
		batch = append(batch, store.Administration{Client: o.Joiner.Client, OrderKey: o.Joiner.order(a.PatientID, a.RequestID),
			Key: o.Joiner.own("MedicationAdministration", a.ID), ProductID: productOf(o.Catalog, a.Codings), Status: a.Status,
			At: a.At, ImportedAt: imported})
		if len(batch) == Batch {
			if err := flushAdmins(ctx, st, batch, &res); err != nil {
				return res, err
			}
			batch = batch[:0]
		}
	}
	return res, flushAdmins(ctx, st, batch, &res)
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, fhir.ErrNDJSONLineTooLong):
		return "line-too-long"
	case errors.Is(err, fhir.ErrNDJSONNotObject):
		return "not-a-json-object"
	}
	return "unreadable-line"
}
