// Package store records what valuerx advised and what the clinician did with it: one row per card
// shown (a decision) and one row per feedback item the EHR sent back. The pharmacy and
// value-based-care team read acceptance and savings per contract from it. It also keeps the jti
// of every accepted client JWT until the token expires, so replay protection survives a restart
// and is shared by every instance that shares the store.
//
// The store holds no patient data: no patient id, no names, no identifiers, no free text. A
// decision is keyed by the card's uuid and carries the verified client, a keyed hash of the
// (patient, draft order) pair that the store cannot reverse, the contract, products and money
// figures; an override comment is recorded as "a comment was given", never its text, because
// clinicians type PHI into free-text boxes. Callers map override codes outside their own list to
// "other" before they get here.
//
// Writes return only once they are durable (committed): callers acknowledge nothing before that.
//
// It imports neither gateway nor cdshooks: callers translate their wire types into these values.
// Every implementation runs the shared suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Decision is one card valuerx returned.
type Decision struct {
	CardUUID     string
	HookInstance string
	ServiceID    string
	Hook         string
	// Client is the verified CDS client the card was shown to: the JWT iss, plus the tenant claim
	// when one was used. Feedback is accepted only from the same client.
	Client string
	// OrderKey is a keyed hash (HMAC) of the patient id and the draft order id: the same order at
	// order-select and order-sign has the same key, and the key tells nothing about the patient.
	OrderKey string
	// Fingerprint identifies what was advised (ordered product, dose, course, contract): a card
	// the clinician overrode is not shown again for the same order unless it changes.
	Fingerprint      string
	ContractID       string
	Arrangement      string
	GroupID          string
	OrderedProductID string
	BestProductID    string
	// Suggestions are the card's suggestions with each one's own figures, so accepting the third
	// books the third's saving.
	Suggestions []Suggestion
	// Per-course figures of the recommended option against the order (positive = saved).
	PayerSaving   float64
	PatientSaving float64
	OrgImpact     float64
	At            time.Time
}

// Suggestion is one suggestion of a card and what accepting it is worth per course against the
// order (positive = saved).
type Suggestion struct {
	UUID          string
	ProductID     string
	PayerSaving   float64
	PatientSaving float64
	OrgImpact     float64
}

// HasSuggestion reports whether uuid is one of d's suggestions.
func (d Decision) HasSuggestion(uuid string) bool {
	for _, s := range d.Suggestions {
		if s.UUID == uuid {
			return true
		}
	}
	return false
}

// Feedback is one feedback item (CDS Hooks 2.0 §Feedback) reduced to what analysis needs, after
// the gateway checked it against its decision.
type Feedback struct {
	Client    string
	ServiceID string
	CardUUID  string
	// OrderKey and Fingerprint are copied from the card's decision: the order the feedback
	// decides, and what was advised on it.
	OrderKey       string
	Fingerprint    string
	Outcome        string // accepted | overridden
	SuggestionUUID string // accepted suggestion, "" when overridden
	ReasonCode     string // one of the service's own codes, or "other"
	ReasonSystem   string
	HasComment     bool
	// OutcomeSent is the client's outcomeTimestamp as sent: a repeat of an item is the same item.
	OutcomeSent time.Time
	// OutcomeAt is OutcomeSent clamped to [card time, receipt + skew]; the latest wins.
	OutcomeAt  time.Time
	ReceivedAt time.Time
}

// OrderState is what the store knows of an order's latest feedback.
type OrderState struct {
	Outcome     string // accepted | overridden
	Fingerprint string // of the card that feedback was about
	At          time.Time
}

// ContractSummary is the acceptance and savings report for one contract. It counts orders, not
// cards: the same draft order seen at order-select and order-sign is one decision, decided by
// its latest feedback.
type ContractSummary struct {
	ContractID   string         `json:"contractId"`
	Arrangement  string         `json:"arrangement"`
	Cards        int            `json:"cards"`
	Accepted     int            `json:"accepted"`
	Overridden   int            `json:"overridden"`
	NoFeedback   int            `json:"noFeedback"`
	Acceptance   float64        `json:"acceptanceRate"`
	PayerSaved   float64        `json:"payerSavedUSD"`
	PatientSaved float64        `json:"patientSavedUSD"`
	OrgImpact    float64        `json:"orgImpactUSD"`
	Overrides    map[string]int `json:"overrideReasons,omitempty"`
	// DataQualityFlags counts overrides whose reason says the figures look wrong: the pharmacy
	// team's work list.
	DataQualityFlags int `json:"dataQualityFlags"`
}

// OrderRecord is one order valuerx advised on, as the analytics count it: the cards of one
// (client, order key) are one record, decided by the latest feedback on any of them. It carries
// no patient data.
type OrderRecord struct {
	Client           string
	ServiceID        string
	ContractID       string
	Arrangement      string
	GroupID          string
	OrderedProductID string
	// RecommendedProductID is the best product of the deciding card.
	RecommendedProductID string
	// FirstAt is when valuerx first advised on the order (its earliest card); periods select by it.
	FirstAt time.Time
	// Outcome is "accepted", "overridden" or "" (no feedback yet).
	Outcome    string
	ReasonCode string // overrides: the stored reason code, "" when none was given
	// AcceptedProductID and the per-course figures are the accepted suggestion's own (the card's
	// recommended figures for a v1 suggestion stored without any); zero unless accepted.
	AcceptedProductID string
	PayerSaved        float64
	PatientSaved      float64
	OrgImpact         float64
}

// ReasonFiguresWrong is the override code that marks a data-quality flag in the summary.
const ReasonFiguresWrong = "figures-look-wrong"

// ErrNotFound is returned by lookups that find nothing.
var ErrNotFound = errors.New("store: not found")

// Store is where decisions and feedback go. Implementations are safe for concurrent use, and a
// write that returns nil is committed.
type Store interface {
	// RecordDecisions stores cards (all or none). Recording the same card uuid twice keeps the first.
	RecordDecisions(ctx context.Context, ds []Decision) error
	// Decision returns the card with uuid, or ErrNotFound.
	Decision(ctx context.Context, cardUUID string) (Decision, error)
	// OrderState returns the latest feedback on any card of the client's order, or ErrNotFound.
	OrderState(ctx context.Context, client, orderKey string) (OrderState, error)
	// RecordFeedback stores checked feedback items (all or none); an identical repeat is a no-op.
	RecordFeedback(ctx context.Context, fs []Feedback) error
	// ClaimJTI records key until expires and reports whether it was new (or its earlier claim had
	// expired by now). False means a replay. The answer may come before the claim is committed,
	// but the claim is committed no later than any write the same caller makes after it.
	ClaimJTI(ctx context.Context, key string, expires, now time.Time) (bool, error)
	Summary(ctx context.Context) ([]ContractSummary, error)
	// Orders returns one record per order first advised in [from, to) (zero bounds: open), decided
	// as Summary decides them; package tracking builds its reports from them.
	Orders(ctx context.Context, from, to time.Time) ([]OrderRecord, error)
	Close() error
}
