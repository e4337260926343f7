// Package fhir is valuerx's FHIR R4 I/O: a small client for the EHR's FHIR server (read, search
// with same-origin paging, bearer tokens, context deadlines, OperationOutcome errors that never
// carry PHI or tokens in their message), lenient helpers over raw resources, Bundles, references
// and codings, and an in-memory FHIR R4 server for tests and the demo.
//
// Resources are passed around as json.RawMessage on purpose. The R4 structs of
// github.com/samply/golang-fhir-models (imported as r4) are fine for reading fields, but several of
// them (MedicationRequest.medicationCodeableConcept/medicationReference, subject, ...) are
// non-pointer values without omitempty, so re-marshalling one invents empty elements that make the
// resource invalid. Decode into r4 to read; keep and forward the raw JSON.
//
// The package imports nothing from the rest of valuerx.
package fhir
