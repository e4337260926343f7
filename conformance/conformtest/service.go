// Package conformtest provides a small reference CDS Hooks 2.0 service, written by hand with raw
// JSON responses, that passes every SHALL check of the conformance suite, and broken variants of it
// that each break exactly one rule. The suite's own tests and the valuerx command's tests run the
// suite against them; interoperability teams can use them to see what each failure looks like.
//
// The service offers an order-select service ("conf-select", whose card suggests an update of the
// draft order) and an order-sign service ("conf-sign", whose card suggests a delete plus a
// create), with feedback, CORS and JWT client authentication against one trusted issuer and key.
//
// It imports nothing from valuerx: it must stay independent of the product the suite is used to
// test, so that a bug shared by both cannot hide.
package conformtest

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Fault names the one rule a broken service breaks.
type Fault string

// The faults. Each comment names the rule broken.
const (
	None                    Fault = ""
	Summary141              Fault = "summary-141-characters"              // card.summary < 140
	NoSelectionBehavior     Fault = "suggestions-without-selection"       // selectionBehavior with suggestions
	UpdateNotDraft          Fault = "update-of-non-draft-resource"        // update target among draftOrders
	ResourceIDArray         Fault = "resource-id-array"                   // resourceId is a string
	OverrideNoDisplay       Fault = "override-reason-without-display"     // overrideReasons display
	NullOptional            Fault = "null-optional-member"                // no nulls
	AppContextAbsolute      Fault = "app-context-on-absolute-link"        // no appContext on absolute
	RelativeLinkURL         Fault = "relative-link-url"                   // link.url absolute
	BadIndicator            Fault = "indicator-hard-stop"                 // indicator enum
	NoSourceLabel           Fault = "source-without-label"                // source.label
	InvalidFHIR             Fault = "action-resource-without-intent"      // strict R4 resource
	ActionTypeReplace       Fault = "action-type-replace"                 // action.type enum
	IsRecommendedString     Fault = "is-recommended-string"               // isRecommended boolean
	CardsMissing            Fault = "response-without-cards"              // cards array
	DiscoveryNoDescription  Fault = "discovery-without-description"       // service description
	BadPrefetchToken        Fault = "prefetch-token-not-root-primitive"   // prefetch tokens
	AcceptAlgNone           Fault = "accepts-alg-none"                    // unsigned JWT refused
	AcceptHS384             Fault = "accepts-hs384"                       // symmetric JWT refused
	AcceptExpired           Fault = "accepts-expired-jwt"                 // exp checked
	AcceptWrongAudience     Fault = "accepts-wrong-audience"              // aud checked
	Status500Not412         Fault = "500-instead-of-412"                  // 412 on missing prefetch
	NoCORSPreflight         Fault = "no-cors-preflight"                   // OPTIONS preflight
	NoAllowOrigin           Fault = "no-allow-origin-on-responses"        // ACAO on responses
	Slow                    Fault = "slow-3s-response"                    // ~500 ms (SHOULD)
	FeedbackRejectsNoReason Fault = "feedback-rejects-override-no-reason" // feedback overridden
	FeedbackNeedsDisplay    Fault = "feedback-requires-reason-display"    // feedback reason without display
	FeedbackRejectsBatch    Fault = "feedback-rejects-batch"              // feedback batch
	FeedbackRejectsRepeat   Fault = "feedback-rejects-repeat"             // feedback repeat
	NoAuth                  Fault = "no-authentication"                   // SHOULD require auth
	MalformedJSON500        Fault = "500-on-malformed-json"               // CRD: 400 for non-JSON
)

// Faults lists every fault, for table tests.
func Faults() []Fault {
	return []Fault{Summary141, NoSelectionBehavior, UpdateNotDraft, ResourceIDArray, OverrideNoDisplay,
		NullOptional, AppContextAbsolute, RelativeLinkURL, BadIndicator, NoSourceLabel, InvalidFHIR,
		ActionTypeReplace, IsRecommendedString, CardsMissing, DiscoveryNoDescription, BadPrefetchToken,
		AcceptAlgNone, AcceptHS384, AcceptExpired, AcceptWrongAudience, Status500Not412, NoCORSPreflight,
		NoAllowOrigin, Slow, FeedbackRejectsNoReason, FeedbackNeedsDisplay, FeedbackRejectsBatch,
		FeedbackRejectsRepeat, NoAuth, MalformedJSON500}
}

// Config configures a reference service.
type Config struct {
	Fault Fault
	// Issuer and Key are the one client the service trusts (out-of-band key exchange). A nil Key
	// disables authentication, as does Fault NoAuth.
	Issuer string
	Key    crypto.PublicKey
	// JWKSURL, when set and Key is nil, is the one allowlisted jku: the service fetches the
	// client's keys from there (as a service trusting a client's jku does) and refuses tokens whose
	// jku header names anything else.
	JWKSURL string
	// Delay is how long the Slow fault waits before answering order-select (default 3 s).
	Delay time.Duration
}

// Service is the reference service. It is safe for concurrent use.
type Service struct {
	cfg Config
	mu  sync.Mutex
	fb  map[string]bool // feedback items seen (card|outcome), for the repeat fault
}

// New returns a reference service with cfg.
func New(cfg Config) *Service {
	if cfg.Delay == 0 {
		cfg.Delay = 3 * time.Second
	}
	return &Service{cfg: cfg, fb: map[string]bool{}}
}

const discoveryJSON = `{
  "services": [
    {
      "hook": "order-select",
      "id": "conf-select",
      "title": "Lower-cost equivalent (select)",
      "description": "Suggests a lower-cost therapeutically equivalent medication when an order is selected.",
      "prefetch": {
        "patient": "Patient/{{context.patientId}}",
        "coverage": "Coverage?patient={{context.patientId}}&status=active",
        "activeMeds": "MedicationRequest?patient={{context.patientId}}&status=active"
      }
    },
    {
      "hook": "order-sign",
      "id": "conf-sign",
      "title": "Lower-cost equivalent (sign)",
      "description": "Suggests replacing a draft order with a lower-cost therapeutically equivalent medication at signing.",
      "prefetch": {
        "patient": "Patient/{{context.patientId}}",
        "coverage": "Coverage?patient={{context.patientId}}&status=active"
      },
      "usageRequirements": "Needs Coverage for the patient."
    }
  ]
}`

// selectCard is the order-select answer: one card whose suggestion updates the draft order.
const selectCard = `{
  "cards": [
    {
      "uuid": "__CARD__",
      "summary": "Trazimera is equivalent to the ordered Herceptin and lowers the total cost of care",
      "detail": "**Trazimera** (trastuzumab-qyyp) is a biosimilar of Herceptin.",
      "indicator": "info",
      "source": {
        "label": "Conformance reference service",
        "url": "https://example.org/reference",
        "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "therapy-alternatives-opt", "display": "Optional therapy alternatives"}
      },
      "suggestions": [
        {
          "label": "Order Trazimera instead",
          "uuid": "__SUG__",
          "isRecommended": true,
          "actions": [
            {"type": "update", "description": "Change the medication to Trazimera", "resource": __UPDATED__}
          ]
        }
      ],
      "selectionBehavior": "at-most-one",
      "overrideReasons": [
        {"code": "patient-requested-brand", "system": "http://terminology.cds-hooks.org/CodeSystem/OverrideReasons", "display": "Patient requested brand"},
        {"code": "generic-drug-unavailable", "system": "http://terminology.cds-hooks.org/CodeSystem/OverrideReasons", "display": "Alternative unavailable"}
      ],
      "links": [
        {"label": "Price comparison", "url": "https://example.org/prices", "type": "absolute"},
        {"label": "Cost app", "url": "https://example.org/launch", "type": "smart", "appContext": "order=1"}
      ]
    }
  ]
}`

// signCard is the order-sign answer: one card whose suggestion deletes the draft order and creates
// the alternative.
const signCard = `{
  "cards": [
    {
      "uuid": "__CARD__",
      "extension": {"org.example.conformance": {"arrangement": "ffs"}},
      "summary": "Replace the Herceptin order with the lower-cost Trazimera",
      "indicator": "info",
      "source": {
        "label": "Conformance reference service",
        "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "therapy-alternatives-opt"}
      },
      "suggestions": [
        {
          "label": "Replace with Trazimera",
          "uuid": "__SUG__",
          "actions": [
            {"type": "delete", "description": "Remove the Herceptin order", "resourceId": "__DRAFTREF__"},
            {"type": "create", "description": "Order Trazimera", "resource": __CREATED__}
          ]
        }
      ],
      "selectionBehavior": "at-most-one",
      "overrideReasons": [
        {"code": "patient-requested-brand", "system": "http://terminology.cds-hooks.org/CodeSystem/OverrideReasons", "display": "Patient requested brand"}
      ]
    }
  ],
  "systemActions": [
    {"type": "update", "description": "Record that cost guidance was given", "resource": __ANNOTATED__}
  ]
}`

const alternativeMedication = `{"coding": [{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "Q5116", "display": "Inj trazimera 10 mg"}], "text": "Trazimera (trastuzumab-qyyp) 420 mg IV"}`

const outcome412 = `{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "incomplete", "diagnostics": "Coverage is required: send the coverage prefetch or a fhirServer with fhirAuthorization."}]}`

// ServeHTTP routes discovery, the two services, feedback and CORS preflight.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := s.cfg.Fault
	if r.Method == http.MethodOptions {
		if f == NoCORSPreflight {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if f != NoAllowOrigin {
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/cds-services" && r.Method == http.MethodGet:
		body := discoveryJSON
		switch f {
		case DiscoveryNoDescription:
			body = strings.Replace(body, `"description": "Suggests a lower-cost therapeutically equivalent medication when an order is selected.",`, "", 1)
		case BadPrefetchToken:
			body = strings.Replace(body, `"activeMeds": "MedicationRequest?patient={{context.patientId}}&status=active"`,
				`"activeMeds": "MedicationRequest?patient={{context.draftOrders.entry.resource.subject}}&status=active"`, 1)
		}
		writeJSON(w, http.StatusOK, body)
	case (path == "/cds-services/conf-select" || path == "/cds-services/conf-sign") && r.Method == http.MethodPost:
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, `{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]}`)
			return
		}
		s.service(w, r, strings.TrimPrefix(path, "/cds-services/"))
	case (path == "/cds-services/conf-select/feedback" || path == "/cds-services/conf-sign/feedback") && r.Method == http.MethodPost:
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, `{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]}`)
			return
		}
		s.feedback(w, r)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// authorized verifies the bearer JWT against the one trusted client, with the fault's hole in it.
func (s *Service) authorized(r *http.Request) bool {
	f := s.cfg.Fault
	if (s.cfg.Key == nil && s.cfg.JWKSURL == "") || f == NoAuth {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var hdr struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		JKU string `json:"jku"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil {
		return false
	}
	switch {
	case f == AcceptAlgNone && strings.EqualFold(hdr.Alg, "none"):
		return true
	case f == AcceptHS384 && strings.HasPrefix(hdr.Alg, "HS"):
		return true
	}
	key := s.cfg.Key
	if key == nil {
		if hdr.JKU != s.cfg.JWKSURL {
			return false
		}
		var err error
		if key, err = fetchKey(r.Context(), s.cfg.JWKSURL, hdr.KID); err != nil {
			return false
		}
	}
	aud := "http://" + r.Host + r.URL.Path
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512"}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithLeeway(60 * time.Second),
		jwt.WithIssuedAt(),
	}
	if f != AcceptWrongAudience {
		opts = append(opts, jwt.WithAudience(aud))
	}
	if f == AcceptExpired {
		opts = append(opts, jwt.WithoutClaimsValidation())
	} else {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(opts...).ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil || !parsed.Valid {
		return false
	}
	if f == AcceptExpired {
		// Claims validation is off: still check issuer and audience, just not time.
		iss, _ := claims.GetIssuer()
		auds, _ := claims.GetAudience()
		return iss == s.cfg.Issuer && contains(auds, aud)
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type hookRequest struct {
	Hook       string                     `json:"hook"`
	FHIRServer string                     `json:"fhirServer"`
	Context    map[string]json.RawMessage `json:"context"`
	Prefetch   map[string]json.RawMessage `json:"prefetch"`
}

func (s *Service) service(w http.ResponseWriter, r *http.Request, id string) {
	f := s.cfg.Fault
	var req hookRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		if f == MalformedJSON500 {
			writeJSON(w, http.StatusInternalServerError, `{"resourceType": "OperationOutcome", "issue": [{"severity": "fatal", "code": "exception"}]}`)
			return
		}
		writeJSON(w, http.StatusBadRequest, `{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "structure"}]}`)
		return
	}
	wantHook := map[string]string{"conf-select": "order-select", "conf-sign": "order-sign"}[id]
	if req.Hook != wantHook {
		writeJSON(w, http.StatusBadRequest, `{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid", "diagnostics": "wrong hook for this service"}]}`)
		return
	}
	if _, ok := req.Prefetch["coverage"]; !ok && req.FHIRServer == "" {
		if f == Status500Not412 {
			writeJSON(w, http.StatusInternalServerError, `{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}`)
			return
		}
		writeJSON(w, http.StatusPreconditionFailed, outcome412)
		return
	}
	draft := firstMedicationRequest(req.Context["draftOrders"])
	if draft == nil {
		writeJSON(w, http.StatusOK, `{"cards": []}`)
		return
	}
	draftID, _ := draft["id"].(string)
	var body string
	if id == "conf-select" {
		updated := clone(draft)
		updated["medicationCodeableConcept"] = json.RawMessage(alternativeMedication)
		if f == UpdateNotDraft {
			updated["id"] = "not-a-draft-order"
		}
		if f == InvalidFHIR {
			delete(updated, "intent")
		}
		b, _ := json.Marshal(updated)
		body = strings.Replace(selectCard, "__UPDATED__", string(b), 1)
	} else {
		created := map[string]any{
			"resourceType": "MedicationRequest", "id": "conf-alternative-1", "status": "draft", "intent": "order",
			"medicationCodeableConcept": json.RawMessage(alternativeMedication),
		}
		for _, k := range []string{"subject", "encounter", "requester", "authoredOn", "dosageInstruction"} {
			if v, ok := draft[k]; ok {
				created[k] = v
			}
		}
		if f == InvalidFHIR {
			delete(created, "intent")
		}
		b, _ := json.Marshal(created)
		body = strings.Replace(signCard, "__CREATED__", string(b), 1)
		annotated := clone(draft)
		annotated["note"] = []any{map[string]any{"text": "Lower-cost equivalent suggested by the conformance reference service."}}
		b, _ = json.Marshal(annotated)
		body = strings.Replace(body, "__ANNOTATED__", string(b), 1)
		ref := "MedicationRequest/" + draftID
		if f == ResourceIDArray {
			body = strings.Replace(body, `"resourceId": "__DRAFTREF__"`, `"resourceId": ["`+ref+`"]`, 1)
		}
		body = strings.Replace(body, "__DRAFTREF__", ref, 1)
	}
	body = strings.Replace(body, "__CARD__", uuid.NewString(), 1)
	body = strings.Replace(body, "__SUG__", uuid.NewString(), 1)
	body = breakCard(f, body)
	if f == Slow && id == "conf-select" {
		select {
		case <-time.After(s.cfg.Delay):
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// breakCard applies the card-level faults to a response body by editing the hand-written JSON.
func breakCard(f Fault, body string) string {
	rep := func(old, new string) string {
		if !strings.Contains(body, old) {
			// Not every fault applies to both services' cards.
			return body
		}
		return strings.Replace(body, old, new, 1)
	}
	switch f {
	case Summary141:
		return rep(`"summary": "Trazimera is equivalent to the ordered Herceptin and lowers the total cost of care"`,
			`"summary": "`+strings.Repeat("Trazimera lowers cost. ", 7)[:141]+`"`)
	case NoSelectionBehavior:
		body = strings.ReplaceAll(body, `"selectionBehavior": "at-most-one",`, "")
	case OverrideNoDisplay:
		return rep(`, "display": "Patient requested brand"}`, `}`)
	case NullOptional:
		return rep(`"indicator": "info",`, `"indicator": "info", "detail": null,`)
	case AppContextAbsolute:
		return rep(`"url": "https://example.org/prices", "type": "absolute"}`, `"url": "https://example.org/prices", "type": "absolute", "appContext": "order=1"}`)
	case RelativeLinkURL:
		return rep(`"url": "https://example.org/prices"`, `"url": "/prices"`)
	case BadIndicator:
		return rep(`"indicator": "info"`, `"indicator": "hard-stop"`)
	case NoSourceLabel:
		return rep(`"label": "Conformance reference service",`, ``)
	case ActionTypeReplace:
		return rep(`{"type": "update",`, `{"type": "replace",`)
	case IsRecommendedString:
		return rep(`"isRecommended": true`, `"isRecommended": "true"`)
	case CardsMissing:
		return rep(`"cards": [`, `"card": [`)
	}
	return body
}

func firstMedicationRequest(raw json.RawMessage) map[string]any {
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &b) != nil {
		return nil
	}
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "MedicationRequest" {
			return e.Resource
		}
	}
	return nil
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// feedback accepts spec-valid feedback (CDS Hooks 2.0 §Feedback) idempotently.
func (s *Service) feedback(w http.ResponseWriter, r *http.Request) {
	f := s.cfg.Fault
	type item struct {
		Card                string           `json:"card"`
		Outcome             string           `json:"outcome"`
		AcceptedSuggestions []map[string]any `json:"acceptedSuggestions"`
		OverrideReason      *struct {
			Reason map[string]any `json:"reason"`
		} `json:"overrideReason"`
		OutcomeTimestamp string `json:"outcomeTimestamp"`
	}
	var raw struct {
		Feedback []json.RawMessage `json:"feedback"`
	}
	bad := func(msg string) {
		writeJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid", "diagnostics": %q}]}`, msg))
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&raw); err != nil || len(raw.Feedback) == 0 {
		bad("feedback must be an object with a non-empty feedback array")
		return
	}
	if f == FeedbackRejectsBatch && len(raw.Feedback) > 1 {
		bad("one feedback item at a time")
		return
	}
	items := make([]item, len(raw.Feedback))
	for i, rm := range raw.Feedback {
		if json.Unmarshal(rm, &items[i]) != nil {
			bad("a feedback item must be an object")
			return
		}
	}
	for _, it := range items {
		if it.Card == "" || it.OutcomeTimestamp == "" || (it.Outcome != "accepted" && it.Outcome != "overridden") {
			bad("card, outcome and outcomeTimestamp are required")
			return
		}
		if it.Outcome == "accepted" && len(it.AcceptedSuggestions) == 0 {
			bad("accepted feedback needs acceptedSuggestions")
			return
		}
		if f == FeedbackRejectsNoReason && it.Outcome == "overridden" && it.OverrideReason == nil {
			bad("an override needs a reason")
			return
		}
		if f == FeedbackNeedsDisplay && it.OverrideReason != nil && it.OverrideReason.Reason["display"] == nil {
			bad("an override reason needs a display")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The repeat fault treats a byte-identical item as a duplicate and refuses it, which the spec
	// does not allow: clients may send the same feedback again.
	for _, rm := range raw.Feedback {
		if f == FeedbackRejectsRepeat && s.fb[string(rm)] {
			writeJSON(w, http.StatusConflict, `{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "duplicate"}]}`)
			return
		}
	}
	for _, rm := range raw.Feedback {
		s.fb[string(rm)] = true
	}
	w.WriteHeader(http.StatusOK)
}

// fetchKey gets the key with kid from a JWKS URL. The reference service fetches on every call:
// it serves a handful of test requests, and a cache would only hide the suite's JWKS server.
func fetchKey(ctx context.Context, jwksURL, kid string) (crypto.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: status %d", resp.StatusCode)
	}
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys, err := set.JWKSlice()
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	for _, k := range keys {
		if k.Marshal().KID == kid {
			return k.Key(), nil
		}
	}
	return nil, fmt.Errorf("jwks: no key %q", kid)
}
