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
	"math"
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
	Fingerprint string
	// UserID is the prescriber: the hook's context.userId (Practitioner/{id} or
	// PractitionerRole/{id}), "" when the hook had none.
	UserID           string
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

	// Tenant is the verified client's tenant claim ("" without one); Client already includes it.
	Tenant string
	// Location is the hook's location (the Encounter's Location, else its service provider, else
	// a PractitionerRole userId): a place, not a patient. "" when the hook had none.
	Location string
	// NoCardReason says why no card was shown for this order (NoCard* constants or the scorer's
	// reason codes: already-best, below-threshold, mid-course, ...). "" means a card was shown.
	// Orders of a tracked drug family that needed no card are recorded too: they are the
	// adoption the programme is measured on. A no-card decision takes no feedback.
	NoCardReason string
	// Therapy is TherapyNewStart (no therapy of the family on record), TherapyContinuing, or ""
	// when unknown (decisions recorded before store schema version 5).
	Therapy string
	// PricePeriod is the price book the figures come from (e.g. "cms-asp-2026q1");
	// CatalogVersion the catalog snapshot the gateway scored on.
	PricePeriod    string
	CatalogVersion string
	// AdministrationsPerYear is the year of therapy the per-year figures count.
	AdministrationsPerYear int
	// OrderedRelationship is the ordered product's FDA relationship to its group's reference
	// (reference, biosimilar, interchangeable, ...).
	OrderedRelationship string
	// Options are every product of the group valuerx scored against the order, suggested or not,
	// with per-course and per-year figures: the record of what was offered, and what realised
	// savings are priced from when the signed or administered product is not the one accepted.
	Options []Option
	// ScoreRequest is the gateway's own encoding of the scoring request (no patient data:
	// contract, product, dose, course, date, site, indication ids, and the fingerprint of the
	// contracts and policy configuration it was scored with): the divergence computation scores
	// the same order under the organisation's other arrangements from it. Opaque here.
	ScoreRequest []byte
}

// Therapy values of a Decision.
const (
	TherapyNewStart   = "new-start"
	TherapyContinuing = "continuing"
)

// Reasons for no card that the gateway sets itself (the scorer's own reasons are recorded as it
// names them).
const (
	NoCardSuppressed  = "suppressed-after-override" // overridden for this order with the same advice
	NoCardNoCoverage  = "no-coverage"               // no coverage in force on the order's date
	NoCardNoContract  = "no-contract"               // the coverage matches no configured contract
	NoCardUnitDosed   = "unit-dosed"                // billed per units, not mg: no card in the wrong unit
	NoCardImplausible = "implausible-dose"          // the dose or course looked implausible: no figures
	NoCardStale       = "price-book-too-old"        // past maxBookAge: figures too old to quote
	NoCardNoStrength  = "no-suggestion-keeps-strength"
	NoCardScoreFailed = "scoring-failed"
)

// Saving is what an option is worth against the ordered product (positive = saved), as
// scoring.Saved counts it: Payer the change in the payer's own payment (decisions recorded before
// 3 December 2026: in the allowed amount, PayerBasis), Patient in the patient's cost, Org the
// organisation's net impact.
type Saving struct {
	Payer   float64 `json:"payer"`
	Patient float64 `json:"patient"`
	Org     float64 `json:"org"`
}

// Cents rounds a saving to the cent: the gateway records options and per-year figures so, money
// being billed in cents and the record being read by the million.
func (s Saving) Cents() Saving {
	r := func(v float64) float64 { return math.Round(v*100) / 100 }
	return Saving{r(s.Payer), r(s.Patient), r(s.Org)}
}

// Option is one scored product of the group beside the ordered one.
type Option struct {
	ProductID    string `json:"product"`
	Relationship string `json:"rel,omitempty"`
	// Eligible options may be suggested; Exclusion says why not (scoring.Exclude* codes).
	Eligible  bool   `json:"eligible,omitempty"`
	Exclusion string `json:"exclusion,omitempty"`
	PerCourse Saving `json:"course"`
	PerYear   Saving `json:"year"`
}

// Suggestion is one suggestion of a card and what accepting it is worth per course against the
// order (positive = saved).
type Suggestion struct {
	UUID          string
	ProductID     string
	PayerSaving   float64
	PatientSaving float64
	OrgImpact     float64
	// PerYear is the same per year of therapy (zero for decisions before store schema version 5).
	PerYear Saving
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
	// Prescriber is the deciding card's userId ("" when the hook had none).
	Prescriber string
	// RecommendedProductID is the best product of the deciding card.
	RecommendedProductID string
	// FirstAt is when valuerx first advised on the order (its earliest card); periods select by it.
	FirstAt time.Time
	// Outcome is "accepted", "overridden" or "" (no feedback yet).
	Outcome string
	// ReasonCode is an override's stored reason code, "" when none was given; on an order accepted
	// at an earlier card whose deciding card was overridden (a chain: AssembleOrders), that card's.
	ReasonCode string
	// AcceptedProductID and the per-course figures are the accepted suggestion's own (the card's
	// recommended figures for a v1 suggestion stored without any); zero unless accepted.
	AcceptedProductID string
	PayerSaved        float64
	PatientSaved      float64
	OrgImpact         float64

	// Tenant and Location are the offering decision's (see Decision).
	Tenant   string
	Location string
	// NoCardReason is "" when at least one card was shown for the order (Card), else the reason
	// of the order's latest decision: never "" for an order without a card.
	NoCardReason string
	// Therapy is the order's first decision's (TherapyNewStart, TherapyContinuing, "").
	Therapy string
	// PricePeriod, CatalogVersion and OrderedRelationship are the offering decision's: the
	// deciding card when a card was shown, else the order's first decision.
	PricePeriod         string
	CatalogVersion      string
	OrderedRelationship string
	// AcceptedSuggestionUUID and AcceptedSuggestion (1-based position on its card) name the
	// suggestion accepted; PayerSavedYear etc. are its per-year figures (projected).
	AcceptedSuggestionUUID string
	AcceptedSuggestion     int
	PayerSavedYear         float64
	PatientSavedYear       float64
	OrgImpactYear          float64
	// Options are the offering decision's scored options: what realised savings are priced from.
	Options []Option
	// SignedProductID is the product of the order's latest order-sign (the accepted product when
	// that very card was accepted); "" when no order-sign of the order was seen.
	SignedProductID string
	SignedAt        time.Time
	// AdministeredProductID is the product of the latest completed administration joined to the
	// order, Administrations how many completed ones there are, both counting only those dated
	// inside the order's window (AdministrationCounts); AdministrationsOutOfWindow are the
	// completed ones dated outside it, which count for nothing.
	AdministeredProductID      string
	Administrations            int
	FirstAdministeredAt        time.Time
	AdministrationsOutOfWindow int
	// ClaimLines, PaidUSD and AllowedUSD sum the paid claim lines joined to the order.
	ClaimLines int
	PaidUSD    float64
	AllowedUSD float64
	// PaidProductID is the product the payer paid for: of the products whose claim lines sum to
	// more than zero, the one of the latest service date ("" without such lines, or when no line
	// names a catalog product).
	PaidProductID string
	// Answers is the offering decision's divergence (nil until computed, or when not scored).
	Answers []Answer
	// ScoreRequested is true when the offering decision carries a scoring request (its
	// divergence is computed from it); DivergenceNotScored says why its request was not scored
	// (DivNotScored*), "" when it was or is still pending.
	ScoreRequested      bool
	DivergenceNotScored string
}

// Administration is one MedicationAdministration imported from the EHR (a FHIR Bulk Data
// export), joined to its order by the same keyed hash the decisions carry: the patient id and
// the MedicationRequest id the administration's request names, under the client the order came
// from. Neither id is stored.
type Administration struct {
	Client   string
	OrderKey string
	// Key is a keyed hash of the MedicationAdministration's id: importing the same export twice
	// records each administration once.
	Key string
	// ProductID is the catalog product the administration's medication code denotes ("" when
	// valuerx does not recognise it).
	ProductID string
	// Status is the FHIR status as sent (only "completed" counts as given).
	Status     string
	At         time.Time // effectiveDateTime, or the start of effectivePeriod
	ImportedAt time.Time
}

// Claim is one paid claim line (a claims or remittance CSV), joined to its order like an
// administration.
type Claim struct {
	Client   string
	OrderKey string
	// Key is a keyed hash of the claim id and line: a re-import records the line once.
	Key         string
	ServiceDate time.Time
	HCPCS       string
	ProductID   string // the catalog product the HCPCS code denotes, "" when unknown
	Units       float64
	AllowedUSD  float64
	PaidUSD     float64
	PatientUSD  float64
	ImportedAt  time.Time
}

// Divergence is one scoring request scored under each of the organisation's contracts (the
// decision's own included): whether the best product would have differed (issue 16 item 4). It
// is computed after the decision is durable, off the hook's latency path, once per distinct
// request and catalog version: every decision whose DivergenceKey is Key has these answers.
type Divergence struct {
	// Key is DivergenceKey of the decisions' catalog version and scoring request.
	Key string
	// CatalogVersion is the catalog the answers were computed on (the gateway's at the time).
	CatalogVersion string
	// Config is the scoring.ConfigFingerprint of the configuration the answers were computed
	// under ("" for rows stored before it was recorded, and for rows not scored).
	Config     string
	ComputedAt time.Time
	// Answers is nil when the request was not scored (NotScored says why): stored all the same,
	// so it is not tried again; the report counts such orders by reason.
	Answers []Answer
	// NotScored is "" when the request was scored, else why it was not (DivNotScored*).
	NotScored string
}

// Why a scoring request has no divergence answers (Divergence.NotScored). A request is never
// scored under inputs other than its own: the contracts and policy configuration it names
// (scoring.ConfigFingerprint) and the catalog version of its decision.
const (
	// DivNotScoredConfig: the request names a configuration that is no longer loaded.
	DivNotScoredConfig = "configuration-replaced"
	// DivNotScoredCatalog: its decision was scored on a catalog version no longer loaded.
	DivNotScoredCatalog = "catalog-replaced"
	// DivNotScoredFailed: its own contract no longer scores the order (or the stored request
	// cannot be read).
	DivNotScoredFailed = "own-contract-no-longer-scores"
)

// DivNotScoredReasons are the reasons in the order reports list them.
var DivNotScoredReasons = []string{DivNotScoredConfig, DivNotScoredCatalog, DivNotScoredFailed}

// DivergenceState is what the store holds for one scoring request: its answers, or why it has
// none (NotScored); the zero value is "pending" (nothing stored yet).
type DivergenceState struct {
	Answers   []Answer
	NotScored string
}

// Answer is the advice under one contract.
type Answer struct {
	ContractID  string `json:"contract"`
	Arrangement string `json:"arrangement"`
	// BestProductID is the product a card would have suggested, or the ordered product when no
	// card would have been shown (Card false, Reason why).
	BestProductID string `json:"best"`
	Card          bool   `json:"card,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// Differs is true when BestProductID is not the best product under the decision's own
	// contract.
	Differs bool `json:"differs,omitempty"`
	// Year holds, under this contract, the per-year figures of every product that is the answer
	// under any of the contracts: what following one answer rather than another is worth.
	Year map[string]YearFigures `json:"year,omitempty"`
}

// YearFigures are one product's figures for a year of therapy under one contract.
type YearFigures struct {
	PayerAllowed float64 `json:"payerAllowed"`
	// PayerPaid is the primary payer's own payment (scoring.Figures.PayerPaid), what a payer
	// saving is counted on, when HasPaid: answers recorded before 3 December 2026 have only the
	// allowed amount, and their payer savings are counted on it as they were then
	// (PairPayerSaving).
	PayerPaid  float64 `json:"payerPaid,omitempty"`
	HasPaid    bool    `json:"hasPaid,omitempty"`
	PatientOOP float64 `json:"patientOOP"`
	NetImpact  float64 `json:"netImpact"`
}

// PairPayerSaving is what the payer saves when the answer is v rather than f: the change in its
// own payment, or in the allowed amount for answers recorded before that was kept.
func PairPayerSaving(f, v YearFigures) float64 {
	if f.HasPaid && v.HasPaid {
		return f.PayerPaid - v.PayerPaid
	}
	return f.PayerAllowed - v.PayerAllowed
}

// Card reports whether a card was shown for the order.
func (o OrderRecord) Card() bool { return o.NoCardReason == "" }

// ReasonFiguresWrong is the override code that marks a data-quality flag in the summary.
const ReasonFiguresWrong = "figures-look-wrong"

// ErrNotFound is returned by lookups that find nothing.
var ErrNotFound = errors.New("store: not found")

// ErrReplay is RecordHook's answer when its jti is already claimed and the claim has not expired:
// the token is a replay and nothing of the hook was recorded.
var ErrReplay = errors.New("store: jti already claimed")

// JTI is a client token's replay claim, written by RecordHook in the hook's own commit.
type JTI struct {
	Key     string    // a hash of the token's issuer and jti (the verifier's, never the jti itself)
	Expires time.Time // the claim holds until then
	Now     time.Time // the caller's clock: a claim whose expiry has passed by now is taken over
}

// Store is where decisions and feedback go. Implementations are safe for concurrent use, and a
// write that returns nil is committed.
type Store interface {
	// RecordDecisions stores cards (all or none). Recording the same card uuid twice keeps the first.
	RecordDecisions(ctx context.Context, ds []Decision) error
	// RecordHook is RecordDecisions with the hook's jti claim (nil: none) in the same commit, so
	// a hook pays for one commit, not two. A claim already held and unexpired fails the whole
	// write with ErrReplay: nothing of the hook is recorded. With no decisions it is ClaimJTI.
	RecordHook(ctx context.Context, jti *JTI, ds []Decision) error
	// Decision returns the card with uuid, or ErrNotFound (also for a no-card decision: those
	// take no feedback).
	Decision(ctx context.Context, cardUUID string) (Decision, error)
	// OrderState returns the latest feedback on any card of the client's order, or ErrNotFound.
	OrderState(ctx context.Context, client, orderKey string) (OrderState, error)
	// RecordFeedback stores checked feedback items (all or none); an identical repeat is a no-op.
	RecordFeedback(ctx context.Context, fs []Feedback) error
	// ClaimJTI records key until expires and reports whether it was new (or its earlier claim had
	// expired by now). False means a replay. It returns once the claim is committed.
	ClaimJTI(ctx context.Context, key string, expires, now time.Time) (bool, error)
	Summary(ctx context.Context) ([]ContractSummary, error)
	// Orders returns one record per order first advised in [from, to) (zero bounds: open), decided
	// as Summary decides them; package tracking builds its reports from them.
	Orders(ctx context.Context, from, to time.Time) ([]OrderRecord, error)
	// RecordAdministrations stores imported administrations (all or none) and reports how many
	// were new or changed: one already recorded (same client and key) with another status,
	// product or time is replaced (a correction), the same one again changes nothing.
	RecordAdministrations(ctx context.Context, as []Administration) (int, error)
	// RecordClaims stores imported claim lines like RecordAdministrations.
	RecordClaims(ctx context.Context, cs []Claim) (int, error)
	// RecordDivergence stores the answers of scoring requests (by Divergence.Key); recording a
	// key twice keeps the first.
	RecordDivergence(ctx context.Context, ds []Divergence) error
	// PendingDivergence returns up to limit decisions recorded after cursor ("" = from the
	// first), oldest first, that carry a ScoreRequest whose key has no answers yet, with only
	// CardUUID, CatalogVersion, ScoreRequest and At set, and the cursor to go on from: "" when
	// the scan reached the newest decision.
	PendingDivergence(ctx context.Context, cursor string, limit int) ([]Decision, string, error)
	Close() error
}

// PayerBasis is a Store that says when its payer savings changed basis (both stores are). Until
// 3 December 2026 a decision booked the change in the allowed amount as the payer's saving; since
// then, the change in the payer's own payment (scoring.Saved). The decisions recorded before keep
// what they booked.
type PayerBasis interface {
	// AllowedBasisUntil returns when the last decision booked on the allowed amount was recorded
	// (its created_at, kept when the store was upgraded); zero when the store held none.
	AllowedBasisUntil(ctx context.Context) (time.Time, error)
}

// OrderStatesReader is a Store that answers OrderState for several orders of a client in one
// read (the SQLite store): the latest feedback of each key that has any; keys without feedback
// are absent from the map. The gateway asks it once per hook instead of once per draft order.
type OrderStatesReader interface {
	OrderStates(ctx context.Context, client string, orderKeys []string) (map[string]OrderState, error)
}
