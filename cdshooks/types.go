package cdshooks

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"valuerx/internal/medindex"
)

// Hooks this library decodes contexts for (HL7 CDS Hooks Library).
const (
	HookOrderSelect = "order-select" // https://cds-hooks.hl7.org/hooks/order-select/
	HookOrderSign   = "order-sign"   // https://cds-hooks.hl7.org/hooks/order-sign/
)

// Card.Indicator values, in order of increasing urgency
// (https://cds-hooks.hl7.org/2.0/#card-attributes).
const (
	IndicatorInfo     = "info"
	IndicatorWarning  = "warning"
	IndicatorCritical = "critical"
)

// Card.SelectionBehavior values (https://cds-hooks.hl7.org/2.0/#card-attributes).
const (
	SelectionAtMostOne = "at-most-one"
	SelectionAny       = "any"
)

// Action.Type values (https://cds-hooks.hl7.org/2.0/#action).
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Link.Type values (https://cds-hooks.hl7.org/2.0/#link).
const (
	LinkAbsolute = "absolute"
	LinkSmart    = "smart"
)

// Feedback.Outcome values (https://cds-hooks.hl7.org/2.0/#feedback). A card
// the user ignored is never reported, so there is no third value.
const (
	OutcomeAccepted   = "accepted"
	OutcomeOverridden = "overridden"
)

// Request is the body of a CDS Service call, POST {baseUrl}/cds-services/{id}
// (https://cds-hooks.hl7.org/2.0/#http-request).
//
// Context and Extension stay raw because their shape depends on the hook; use
// DecodeRequest to obtain a validated OrderContext. Prefetch keeps every value
// raw so that an absent key, a JSON null and a resource can be told apart
// (see PrefetchValue).
type Request struct {
	Hook              string                     `json:"hook"`
	HookInstance      string                     `json:"hookInstance"`
	FHIRServer        string                     `json:"fhirServer,omitempty"`
	FHIRAuthorization *FHIRAuthorization         `json:"fhirAuthorization,omitempty"`
	Context           json.RawMessage            `json:"context"`
	Prefetch          map[string]json.RawMessage `json:"prefetch,omitempty"`
	Extension         json.RawMessage            `json:"extension,omitempty"`

	// validJSON is set by DecodeRequest: the Prefetch values are parts of a body it validated,
	// so PrefetchValue need not validate them again. A caller that puts values of its own into
	// a decoded Request's Prefetch must put valid JSON there (nothing in valuerx does).
	validJSON bool
	// index holds the prefetch Bundles DecodeRequest read as it validated them (medindex.Indexer):
	// PrefetchResources and PrefetchClassified answer from it for a value it holds.
	index []medindex.Bundle
}

// FHIRAuthorization is the OAuth 2.0 access token the CDS Client grants the
// service for calls to fhirServer
// (https://cds-hooks.hl7.org/2.0/#passing-the-access-token-to-the-cds-service).
// The token is transient: never store or log it. String, GoString and
// LogValue redact it, so an accidental %v or slog attribute cannot leak it.
type FHIRAuthorization struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	Subject     string `json:"subject"`
	// Patient is the patient in context when scopes include patient/ (new in 2.0).
	Patient string `json:"patient,omitempty"`
}

// String describes the authorization without the token (or the patient id).
func (a *FHIRAuthorization) String() string {
	if a == nil {
		return "<nil>"
	}
	return fmt.Sprintf("FHIRAuthorization{token_type:%s expires_in:%d access_token:[redacted]}", a.TokenType, a.ExpiresIn)
}

// GoString keeps %#v from printing the token.
func (a *FHIRAuthorization) GoString() string { return a.String() }

// LogValue keeps slog from printing the token.
func (a *FHIRAuthorization) LogValue() slog.Value { return slog.StringValue(a.String()) }

// OrderContext is the context of the order-select and order-sign hooks
// (https://cds-hooks.hl7.org/hooks/order-select/#context,
// https://cds-hooks.hl7.org/hooks/order-sign/#context). Selections is used by
// order-select only.
type OrderContext struct {
	// UserID is a relative reference, "Practitioner/abc" or "PractitionerRole/123".
	UserID string `json:"userId"`
	// PatientID is a bare Patient.id (a "Patient/" prefix is stripped on decoding).
	PatientID   string `json:"patientId"`
	EncounterID string `json:"encounterId,omitempty"`
	// Selections are "Type/id" references into DraftOrders.
	Selections []string `json:"selections,omitempty"`
	// DraftOrders is a FHIR R4 Bundle of the unsigned orders.
	DraftOrders json.RawMessage `json:"draftOrders"`
}

// UserType returns the resource type of UserID ("Practitioner", "PractitionerRole", ...).
func (c *OrderContext) UserType() string {
	typ, _ := cdsSplitRef(c.UserID)
	return typ
}

// Service is one entry of the discovery response
// (https://cds-hooks.hl7.org/2.0/#response).
type Service struct {
	Hook        string `json:"hook"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description"`
	ID          string `json:"id"`
	// Prefetch maps a key to a FHIR query template (https://cds-hooks.hl7.org/2.0/#prefetch-template).
	Prefetch          map[string]string `json:"prefetch,omitempty"`
	UsageRequirements string            `json:"usageRequirements,omitempty"`
	Extension         json.RawMessage   `json:"extension,omitempty"`
}

// Discovery is the body of GET {baseUrl}/cds-services
// (https://cds-hooks.hl7.org/2.0/#discovery). Services always serialises as
// an array, [] when there are none.
type Discovery struct {
	Services []Service `json:"services"`
}

// MarshalJSON emits "services": [] rather than null for an empty list.
func (d Discovery) MarshalJSON() ([]byte, error) {
	type plain Discovery
	p := plain(d)
	if p.Services == nil {
		p.Services = []Service{}
	}
	return json.Marshal(p)
}

// Response is the body of a successful CDS Service call
// (https://cds-hooks.hl7.org/2.0/#cds-service-response). Cards always
// serialises as an array ("cards": [] means no guidance); SystemActions is
// omitted when empty.
type Response struct {
	Cards         []Card   `json:"cards"`
	SystemActions []Action `json:"systemActions,omitempty"`
}

// MarshalJSON emits "cards": [] rather than null for an empty list.
func (r Response) MarshalJSON() ([]byte, error) {
	type plain Response
	p := plain(r)
	if p.Cards == nil {
		p.Cards = []Card{}
	}
	return json.Marshal(p)
}

// Card is one piece of guidance (https://cds-hooks.hl7.org/2.0/#card-attributes).
// Build it with NewCard so that uuid, summary length and selectionBehavior
// are right by construction.
type Card struct {
	UUID              string          `json:"uuid,omitempty"`
	Summary           string          `json:"summary"`
	Detail            string          `json:"detail,omitempty"` // GitHub Flavored Markdown
	Indicator         string          `json:"indicator"`
	Source            Source          `json:"source"`
	Suggestions       []Suggestion    `json:"suggestions,omitempty"`
	SelectionBehavior string          `json:"selectionBehavior,omitempty"`
	OverrideReasons   []Coding        `json:"overrideReasons,omitempty"`
	Links             []Link          `json:"links,omitempty"`
	Extension         json.RawMessage `json:"extension,omitempty"`
}

// Source names the origin of a card (https://cds-hooks.hl7.org/2.0/#source).
type Source struct {
	Label string `json:"label"`
	URL   string `json:"url,omitempty"`
	Icon  string `json:"icon,omitempty"`
	// Topic is optional in CDS Hooks but required by Da Vinci CRD (and Inferno).
	Topic *Coding `json:"topic,omitempty"`
}

// Suggestion is a set of actions the user may accept together
// (https://cds-hooks.hl7.org/2.0/#suggestion). IsRecommended is a plain bool
// with omitempty: false is the specification's default, so it is never
// emitted, and true is.
type Suggestion struct {
	Label         string   `json:"label"`
	UUID          string   `json:"uuid,omitempty"`
	IsRecommended bool     `json:"isRecommended,omitempty"`
	Actions       []Action `json:"actions,omitempty"`
}

// Action is a create, update or delete of a FHIR resource, in a suggestion
// or as a system action (https://cds-hooks.hl7.org/2.0/#action). Description
// is required in suggestions; the 2.0 system-action example omits it.
type Action struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	// Resource is the whole FHIR resource for create and update.
	Resource json.RawMessage `json:"resource,omitempty"`
	// ResourceID is the "Type/id" relative reference of the resource to delete.
	ResourceID string `json:"resourceId,omitempty"`
}

// Link is an external or SMART app link on a card
// (https://cds-hooks.hl7.org/2.0/#link). Autolaunchable, like IsRecommended,
// is only emitted when true.
type Link struct {
	Label          string `json:"label"`
	URL            string `json:"url"`
	Type           string `json:"type"`
	AppContext     string `json:"appContext,omitempty"`
	Autolaunchable bool   `json:"autolaunchable,omitempty"`
}

// Coding is the CDS Hooks 2.0 Coding datatype
// (https://cds-hooks.hl7.org/2.0/#coding): code and system are required,
// display is required for override reasons.
type Coding struct {
	Code    string `json:"code"`
	System  string `json:"system"`
	Display string `json:"display,omitempty"`
}

// FeedbackRequest is the body of POST {baseUrl}/cds-services/{id}/feedback
// (https://cds-hooks.hl7.org/2.0/#feedback).
type FeedbackRequest struct {
	Feedback []Feedback `json:"feedback"`
}

// Feedback reports what the user did with one card
// (https://cds-hooks.hl7.org/2.0/#feedback).
type Feedback struct {
	Card                string               `json:"card"`
	Outcome             string               `json:"outcome"`
	AcceptedSuggestions []AcceptedSuggestion `json:"acceptedSuggestions,omitempty"`
	OverrideReason      *OverrideReason      `json:"overrideReason,omitempty"`
	// OutcomeTimestamp is an RFC 3339 instant; DecodeFeedback checks it.
	OutcomeTimestamp string `json:"outcomeTimestamp"`
}

// OutcomeTime parses OutcomeTimestamp; the zero time if it does not parse
// (it always does after DecodeFeedback).
func (f Feedback) OutcomeTime() time.Time {
	t, err := time.Parse(time.RFC3339Nano, f.OutcomeTimestamp)
	if err != nil {
		return time.Time{}
	}
	return t
}

// AcceptedSuggestion names an accepted suggestion by its uuid
// (https://cds-hooks.hl7.org/2.0/#suggestion-accepted).
type AcceptedSuggestion struct {
	ID string `json:"id"`
}

// OverrideReason is why the user overrode a card
// (https://cds-hooks.hl7.org/2.0/#overridden-guidance). Reason usually
// carries code and system but no display (the spec's own example and the
// Sandbox send none), so display is not required here.
type OverrideReason struct {
	Reason      *Coding `json:"reason,omitempty"`
	UserComment string  `json:"userComment,omitempty"`
}
