// Package cdshooks is the CDS Hooks 2.0 protocol as a reusable library: the
// wire types with the specification's exact JSON names, request and feedback
// decoding with validation that answers in FHIR OperationOutcome terms,
// prefetch template expansion, card builders that cannot produce a
// non-conformant card, a raw-JSON response checker shared with the
// conformance suite, and (in jwt*.go/keys*.go) client JWT verification.
//
// It holds no product logic: which drug to suggest, and why, belongs to the
// gateway and scoring packages. It imports nothing from the project except,
// at most, fhir.
//
// The normative text is CDS Hooks 2.0.1 (STU2), https://cds-hooks.hl7.org/2.0/,
// and the hook contexts of the HL7 CDS Hooks Library (order-select 1.0,
// order-sign 1.1). Two rules of the specification shape most of this package:
// optional members are omitted, never sent as null or as an empty string,
// array or object (the only exceptions being "cards": [] and
// "services": []), and a card summary is shorter than 140 characters.
//
// Nothing here logs. Error strings carry JSON paths, codes and statuses, never
// values taken from a request, so they are safe to log: a request body is PHI.
package cdshooks
