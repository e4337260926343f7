package conformance

// Check ids. Tests and the broken-service harness refer to them, so they are part of the API.
const (
	CheckTransportHTTPS = "transport.https"

	CheckDiscoveryAvailable     = "discovery.available"
	CheckDiscoveryServices      = "discovery.services"
	CheckDiscoveryServiceFields = "discovery.service-fields"
	CheckDiscoveryTitle         = "discovery.title"
	CheckDiscoveryPrefetch      = "discovery.prefetch"
	CheckDiscoveryPrefetchToken = "discovery.prefetch-tokens"
	CheckDiscoveryOrderHooks    = "discovery.order-hooks"

	CheckJSONNoNull   = "json.no-null"
	CheckExtension    = "json.extension-object"
	CheckUUIDsSet     = "card.uuids-for-feedback"
	CheckCRDTopic     = "crd.source-topic"
	CheckLibraryRules = "cdshooks.check-response"

	CheckServiceStatus   = "service.status-200"
	CheckResponseCards   = "response.cards"
	CheckSystemActions   = "response.system-actions"
	CheckCardUUID        = "card.uuid"
	CheckCardSummary     = "card.summary"
	CheckCardDetail      = "card.detail"
	CheckCardIndicator   = "card.indicator"
	CheckCardSource      = "card.source"
	CheckCardTopic       = "card.source.topic"
	CheckCardSuggest     = "card.suggestions"
	CheckCardSelection   = "card.selection-behavior"
	CheckCardOverride    = "card.override-reasons"
	CheckCardLinks       = "card.links"
	CheckLinkAppContext  = "link.app-context"
	CheckSugLabel        = "suggestion.label"
	CheckSugUUID         = "suggestion.uuid"
	CheckSugRecommended  = "suggestion.is-recommended"
	CheckSugAtMostOne    = "suggestion.recommended-at-most-one"
	CheckSugActions      = "suggestion.actions"
	CheckActionType      = "action.type"
	CheckActionDesc      = "action.description"
	CheckActionResource  = "action.resource"
	CheckActionResID     = "action.resource-id"
	CheckActionFHIR      = "action.fhir-r4"
	CheckActionTarget    = "action.target-in-draft"
	CheckActionDelCreate = "action.delete-has-create"

	CheckPrefetch412      = "prefetch.412"
	CheckErrorOutcome     = "error.operation-outcome"
	CheckMalformed400     = "error.malformed-400"
	CheckCORSPreflight    = "cors.preflight"
	CheckCORSAllowOrigin  = "cors.allow-origin"
	CheckAuthRequired     = "auth.required"
	CheckAuthValidToken   = "auth.valid-token"
	CheckAuthAlgNone      = "auth.alg-none"
	CheckAuthSymmetric    = "auth.symmetric"
	CheckAuthExpired      = "auth.expired"
	CheckAuthAudience     = "auth.wrong-audience"
	CheckFeedbackAccepted = "feedback.accepted"
	CheckFeedbackOverride = "feedback.overridden"
	CheckFeedbackReason   = "feedback.override-reason"
	CheckFeedbackBatch    = "feedback.batch"
	CheckFeedbackRepeat   = "feedback.repeat"
	CheckPerfSpec         = "perf.spec-500ms"
	CheckPerfCRD          = "perf.crd-5s"
)

// Sections of CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/) named by the catalog.
const (
	spec        = "CDS Hooks 2.0 "
	secJSON     = spec + "§Use of JSON"
	secDiscov   = spec + "§Discovery"
	secPrefetch = spec + "§Prefetch template"
	secTokens   = spec + "§Prefetch tokens"
	secResponse = spec + "§CDS Service response"
	secCard     = spec + "§Card attributes"
	secSource   = spec + "§Source"
	secSug      = spec + "§Suggestion"
	secAction   = spec + "§Action"
	secLink     = spec + "§Link"
	secCoding   = spec + "§Coding"
	secFeedback = spec + "§Feedback"
	secTrust    = spec + "§Trusting CDS Clients"
	secJWTAlg   = spec + "§JWT signing algorithm"
	secCORS     = spec + "§Cross-origin resource sharing"
	secSecurity = spec + "§Security and safety"
	secFHIRRes  = spec + "§Providing FHIR resources to a CDS Service"
)

// Catalog returns every check the suite knows, in report order. It returns a fresh slice each
// call: callers may keep or modify it.
func Catalog() []Check {
	return []Check{
		{ID: CheckTransportHTTPS, Title: "base URL uses HTTPS (TLS)", Level: Shall, Section: secSecurity, Anchor: "#security-and-safety", Inferno: []int{2, 168},
			Note: "skipped for loopback addresses (local test deployments)"},

		{ID: CheckDiscoveryAvailable, Title: "GET {base}/cds-services answers 200 with JSON", Level: Shall, Section: secDiscov, Anchor: "#discovery", Inferno: []int{4, 5, 13}},
		{ID: CheckDiscoveryServices, Title: "discovery body is an object with a services array", Level: Shall, Section: secDiscov, Anchor: "#response", Inferno: []int{6}},
		{ID: CheckDiscoveryServiceFields, Title: "each service has string hook, description and id (and string usageRequirements if present)", Level: Shall, Section: secDiscov, Anchor: "#response", Inferno: []int{7, 9, 10}},
		{ID: CheckDiscoveryTitle, Title: "each service has a title", Level: Should, Section: secDiscov, Anchor: "#response", Inferno: []int{8}},
		{ID: CheckDiscoveryPrefetch, Title: "prefetch, if present, is an object of string templates", Level: Shall, Section: secDiscov, Anchor: "#response", Inferno: []int{11, 29, 36}},
		{ID: CheckDiscoveryPrefetchToken, Title: "prefetch tokens are {{context.<root primitive>}} or a 2.0 user token", Level: Shall, Section: secTokens, Anchor: "#prefetch-tokens", Inferno: []int{55, 56, 57, 59}},
		{ID: CheckDiscoveryOrderHooks, Title: "discovery offers an order-select or order-sign service to test", Level: May, Section: "CDS Hooks Library order-select / order-sign",
			Note: "suite prerequisite; without one, service checks are skipped"},

		{ID: CheckJSONNoNull, Title: "no null or empty optional members (empty cards array excepted)", Level: Shall, Section: secJSON, Anchor: "#use-of-json", Inferno: []int{3}},

		{ID: CheckExtension, Title: "extension members are JSON objects", Level: Shall, Section: spec + "§Extensions", Anchor: "#extensions", Inferno: []int{214}},

		{ID: CheckServiceStatus, Title: "POST {base}/cds-services/{id} answers 200 to a valid request", Level: Shall, Section: secResponse, Anchor: "#cds-service-response", Inferno: []int{16, 74},
			Note: "Inferno crd_service_call_test"},
		{ID: CheckResponseCards, Title: "response body is an object with a cards array of objects", Level: Shall, Section: secResponse, Anchor: "#cds-service-response", Inferno: []int{74}},
		{ID: CheckSystemActions, Title: "systemActions, if present, is an array of actions", Level: Shall, Section: secResponse, Anchor: "#cds-service-response", Inferno: []int{75}},
		{ID: CheckCardUUID, Title: "card.uuid, if present, is a string unique within the response", Level: Shall, Section: secCard, Anchor: "#card-attributes", Inferno: []int{80}},
		{ID: CheckCardSummary, Title: "card.summary is a string of fewer than 140 characters", Level: Shall, Section: secCard, Anchor: "#card-attributes", Inferno: []int{83},
			Note: "Inferno card_summary_check errors at >= 140"},
		{ID: CheckCardDetail, Title: "card.detail, if present, is a (Markdown) string", Level: Shall, Section: secCard, Anchor: "#card-attributes", Inferno: []int{85}},
		{ID: CheckCardIndicator, Title: "card.indicator is info, warning or critical", Level: Shall, Section: secCard, Anchor: "#card-attributes", Inferno: []int{87, 88}},
		{ID: CheckCardSource, Title: "card.source is an object with a string label and absolute url/icon when present", Level: Shall, Section: secSource, Anchor: "#source", Inferno: []int{90, 105, 107, 111}},
		{ID: CheckCardTopic, Title: "card.source.topic, if present, is a Coding with string code and system", Level: Shall, Section: secSource, Anchor: "#source", Inferno: []int{115, 216, 217, 218, 220}},
		{ID: CheckUUIDsSet, Title: "cards and suggestions carry a uuid so the client can send feedback", Level: Should, Section: secFeedback, Anchor: "#feedback",
			Note: "S2 L880: no feedback without uuid"},
		{ID: CheckCRDTopic, Title: "every card has source.topic (Da Vinci CRD; Inferno errors without it)", Level: Should, Section: "Da Vinci CRD 2.0.1 §Cards",
			Note: "Inferno crd_service_response_validation; only for services claiming CRD"},
		{ID: CheckCardSuggest, Title: "card.suggestions, if present, is a non-empty array of objects", Level: Shall, Section: secCard, Anchor: "#card-attributes", Inferno: []int{92}},
		{ID: CheckCardSelection, Title: "selectionBehavior is present with suggestions and is at-most-one or any", Level: Shall, Section: secCard, Anchor: "#card-attributes", Inferno: []int{93, 95, 96}},
		{ID: CheckCardOverride, Title: "overrideReasons are Codings with code, system and display", Level: Shall, Section: spec + "§Reasons for rejecting a card", Anchor: "#reasons-for-rejecting-a-card", Inferno: []int{98, 100, 136, 219}},
		{ID: CheckCardLinks, Title: "links have a label, an absolute http(s) url and type absolute or smart", Level: Shall, Section: secLink, Anchor: "#link", Inferno: []int{103, 138, 139, 141, 142}},
		{ID: CheckLinkAppContext, Title: "appContext is a string and never on an absolute link", Level: Shall, Section: secLink, Anchor: "#link", Inferno: []int{144, 146, 147},
			Note: "SHALL NOT; 3.0 invariant cds-resp-3"},
		{ID: CheckSugLabel, Title: "suggestion.label is a string", Level: Shall, Section: secSug, Anchor: "#suggestion", Inferno: []int{117}},
		{ID: CheckSugUUID, Title: "suggestion.uuid, if present, is a string", Level: Shall, Section: secSug, Anchor: "#suggestion", Inferno: []int{119}},
		{ID: CheckSugRecommended, Title: "suggestion.isRecommended, if present, is a boolean", Level: Shall, Section: secSug, Anchor: "#suggestion", Inferno: []int{121}},
		{ID: CheckSugAtMostOne, Title: "at most one recommended suggestion when selectionBehavior is at-most-one", Level: Should, Section: secSug, Anchor: "#suggestion", Inferno: []int{122},
			Note: "3.0 invariant cds-resp-1"},
		{ID: CheckSugActions, Title: "suggestion.actions, if present, is a non-empty array of objects", Level: Shall, Section: secSug, Anchor: "#suggestion", Inferno: []int{124}},
		{ID: CheckActionType, Title: "action.type is create, update or delete", Level: Shall, Section: secAction, Anchor: "#action", Inferno: []int{127}},
		{ID: CheckActionDesc, Title: "action.description is a string (suggestion actions)", Level: Shall, Section: secAction, Anchor: "#action", Inferno: []int{128},
			Note: "3.0 invariant cds-resp-5; optional for systemActions"},
		{ID: CheckActionResource, Title: "create and update carry a whole FHIR resource; delete does not use resource", Level: Shall, Section: secAction, Anchor: "#action", Inferno: []int{130, 131, 132, 133}},
		{ID: CheckActionResID, Title: "resourceId is a string Type/id; delete provides it", Level: Shall, Section: secAction, Anchor: "#action", Inferno: []int{134, 135},
			Note: "Inferno suggestion_actions_validation"},
		{ID: CheckActionFHIR, Title: "action.resource passes strict FHIR R4 validation (google/fhir/go)", Level: Shall, Section: secAction, Anchor: "#action", Inferno: []int{130}},
		{ID: CheckActionTarget, Title: "update and delete targets are among context.draftOrders", Level: Shall, Section: secAction, Anchor: "#action",
			Note: "Inferno crd_propose_alternate_request_card_validation"},
		{ID: CheckActionDelCreate, Title: "a delete of a draft order comes with a create of the same type in the suggestion", Level: Should, Section: secAction, Anchor: "#action",
			Note: "Inferno crd_propose_alternate_request_card_validation"},

		{ID: CheckLibraryRules, Title: "other response rules of valuerx/cdshooks.CheckResponse", Level: Shall, Section: secResponse, Anchor: "#cds-service-response",
			Note: "rules the suite does not map to a check of its own"},

		{ID: CheckPrefetch412, Title: "412 when required prefetch is missing and no FHIR server is given", Level: Shall, Section: secPrefetch, Anchor: "#prefetch-template", Inferno: []int{54},
			Note: "applies to services that declare prefetch; a 200 is a warning (the data may be optional)"},
		{ID: CheckErrorOutcome, Title: "error responses carry a FHIR OperationOutcome", Level: Should, Section: "CDS Hooks 3.0.0-ballot §Returning OperationOutcome",
			Note: "CRD hooks.md SHOULD"},
		{ID: CheckMalformed400, Title: "a body that is not JSON is answered 400", Level: Should, Section: "Da Vinci CRD 2.0.1 §Hooks (error handling)", Anchor: "",
			Note: "CRD SHALL, consistent with the FHIR RESTful create; CDS Hooks 2.0 allows any 4xx"},
		{ID: CheckCORSPreflight, Title: "OPTIONS preflight without a JWT answers 2xx allowing the origin, POST and the Authorization and Content-Type headers", Level: Shall, Section: secCORS, Anchor: "#cross-origin-resource-sharing", Inferno: []int{208}},
		{ID: CheckCORSAllowOrigin, Title: "responses to cross-origin requests carry Access-Control-Allow-Origin", Level: Shall, Section: secCORS, Anchor: "#cross-origin-resource-sharing", Inferno: []int{208}},
		{ID: CheckAuthRequired, Title: "the service requires a JWT", Level: Should, Section: secTrust, Anchor: "#trusting-cds-clients", Inferno: []int{177}},
		{ID: CheckAuthValidToken, Title: "a valid ES384/RS384 JWT from the trusted issuer is accepted", Level: Shall, Section: secTrust, Anchor: "#trusting-cds-clients", Inferno: []int{176, 205},
			Note: "fails when the service has not been told to trust the suite's iss/jku or key"},
		{ID: CheckAuthAlgNone, Title: "an unsigned (alg none) JWT is rejected with 401/403", Level: Shall, Section: secJWTAlg, Anchor: "#jwt-signing-algorithm", Inferno: []int{201}},
		{ID: CheckAuthSymmetric, Title: "a JWT signed with a symmetric algorithm (HS384) is rejected with 401/403", Level: Shall, Section: secJWTAlg, Anchor: "#jwt-signing-algorithm", Inferno: []int{203}},
		{ID: CheckAuthExpired, Title: "an expired JWT is rejected with 401/403", Level: Shall, Section: secTrust, Anchor: "#trusting-cds-clients", Inferno: []int{176}},
		{ID: CheckAuthAudience, Title: "a JWT for another audience is rejected with 401/403", Level: Shall, Section: secTrust, Anchor: "#trusting-cds-clients", Inferno: []int{176}},
		{ID: CheckFeedbackAccepted, Title: "feedback: an accepted outcome is accepted (2xx)", Level: Shall, Section: secFeedback, Anchor: "#feedback", Inferno: []int{148},
			Note: "only when the service offers feedback (MAY)"},
		{ID: CheckFeedbackOverride, Title: "feedback: an overridden outcome without a reason is accepted", Level: Shall, Section: secFeedback, Anchor: "#feedback", Inferno: []int{148}},
		{ID: CheckFeedbackReason, Title: "feedback: an overridden outcome with a reason (no display) and a comment is accepted", Level: Shall, Section: secFeedback, Anchor: "#feedback", Inferno: []int{148}},
		{ID: CheckFeedbackBatch, Title: "feedback: a batch of several items is accepted", Level: Shall, Section: secFeedback, Anchor: "#feedback", Inferno: []int{148}},
		{ID: CheckFeedbackRepeat, Title: "feedback: the same feedback sent again is accepted", Level: Shall, Section: secFeedback, Anchor: "#feedback", Inferno: []int{148}},
		{ID: CheckPerfSpec, Title: "p90 response time within 500 ms", Level: Should, Section: secFHIRRes, Anchor: "#providing-fhir-resources-to-a-cds-service", Inferno: []int{27}},
		{ID: CheckPerfCRD, Title: "p90 response time within 5 s", Level: Should, Section: "Da Vinci CRD 2.0.1 §Foundation (response time)",
			Note: "SHALL for services claiming CRD conformance"},
	}
}
