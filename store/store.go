// Package store records what valuerx advised and what the clinician did with it: one row per card
// shown (a decision) and one row per feedback item the EHR sent back. The pharmacy and
// value-based-care team read acceptance and savings per contract from it.
//
// The store holds no patient data: no patient id, no names, no identifiers, no free text. A
// decision is keyed by the card's uuid and carries only the contract, products and money figures;
// an override comment is recorded as "a comment was given", never its text, because clinicians
// type PHI into free-text boxes.
//
// It imports neither gateway nor cdshooks: callers translate their wire types into these values.
package store

import (
	"context"
	"errors"
	"time"
)

// Decision is one card valuerx returned.
type Decision struct {
	CardUUID         string
	HookInstance     string
	ServiceID        string
	Hook             string
	ContractID       string
	Arrangement      string
	GroupID          string
	OrderedProductID string
	BestProductID    string
	SuggestionUUIDs  []string
	// Per-course figures of the recommended option against the order (positive = saved).
	PayerSaving   float64
	PatientSaving float64
	OrgImpact     float64
	At            time.Time
}

// Feedback is one feedback item (CDS Hooks 2.0 §Feedback) reduced to what analysis needs.
type Feedback struct {
	ServiceID      string
	CardUUID       string
	Outcome        string // accepted | overridden
	SuggestionUUID string // accepted suggestion, "" when overridden
	ReasonCode     string
	ReasonSystem   string
	HasComment     bool
	OutcomeAt      time.Time
}

// ContractSummary is the acceptance and savings report for one contract.
type ContractSummary struct {
	ContractID   string             `json:"contractId"`
	Arrangement  string             `json:"arrangement"`
	Cards        int                `json:"cards"`
	Accepted     int                `json:"accepted"`
	Overridden   int                `json:"overridden"`
	NoFeedback   int                `json:"noFeedback"`
	Acceptance   float64            `json:"acceptanceRate"`
	PayerSaved   float64            `json:"payerSavedUSD"`
	PatientSaved float64            `json:"patientSavedUSD"`
	OrgImpact    float64            `json:"orgImpactUSD"`
	Overrides    map[string]int     `json:"overrideReasons,omitempty"`
	Offered      map[string]float64 `json:"-"`
}

// ErrUnknownCard is returned by RecordFeedback for a card uuid the store never saw. The feedback
// is still kept (an EHR may send feedback for cards of another instance), so callers may ignore it.
var ErrUnknownCard = errors.New("store: feedback for an unknown card")

// Store is where decisions and feedback go. Implementations are safe for concurrent use.
// RecordFeedback is idempotent: the same item sent twice is stored once (EHRs retry).
type Store interface {
	RecordDecision(ctx context.Context, d Decision) error
	// RecordDecisions stores several decisions at once (all or none).
	RecordDecisions(ctx context.Context, ds []Decision) error
	RecordFeedback(ctx context.Context, f Feedback) error
	Summary(ctx context.Context) ([]ContractSummary, error)
	Close() error
}
