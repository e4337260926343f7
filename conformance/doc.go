// Package conformance is a black-box conformance suite for CDS Hooks 2.0 services that offer the
// order-select and order-sign hooks. It talks to any service over HTTP, given only its base URL:
// discovery, service calls with built-in and user-supplied requests, the checks of every card,
// suggestion, action, link and coding in the responses, strict FHIR R4 validation of the resources
// in actions (google/fhir/go), the feedback endpoint, CORS preflight, the 412 rule, JWT handling and
// response time percentiles.
//
// Every check names the requirement it tests (the CDS Hooks 2.0 section and, where one exists, the
// Inferno requirement number cds-hooks_2.0@N) and its level. Only SHALL-level checks produce a
// "fail"; a violated SHOULD produces a "warning". Reports are written as text, JSON or JUnit XML.
//
// The package must be able to test someone else's service, so it imports nothing from valuerx but
// the cdshooks wire library; it never imports gateway or scoring. It logs nothing and never puts
// request bodies, tokens or values taken from responses into its evidence: only methods, URLs,
// status codes, JSON paths and the rule that was broken.
package conformance
