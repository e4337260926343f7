// Package clinical turns what EHRs really send in a FHIR R4 MedicationRequest into a dose and a
// course a pharmacist would price: every dosageInstruction in sequence order (a loading dose, then
// maintenance), doses in mg, g, mcg, units and tablets (including the UCUM annotations the CDS
// Hooks sandbox and EHRs write: {pill}, {tbl}, {tablet}, TAB, ...), doseRange, mg/kg and mcg/kg
// with the latest body weight, mg/m2 with a Mosteller body surface area, timing.repeat and
// timing.code, and dispenseRequest (expectedSupplyDuration, quantity, numberOfRepeatsAllowed).
//
// It also says when an order is not fit to be scored as written: a schedule more frequent than
// the label allows (IV trastuzumab "1 daily for 30 days", which is all the CDS Hooks sandbox can
// order), a dose more than twice the label maximum, a weight-based dose with no body weight. Such
// findings are returned as PHI-free sentences in [Regimen.Implausible] and [Regimen.Unknown]; the
// caller decides whether to fall back to the labelled schedule or to give no figures, and never
// prices an implausible order silently.
//
// The package is pure: no HTTP, no I/O, no clock, no logging, and it imports nothing of the rest
// of valuerx (only the standard library), so every figure can be checked by hand in a table test.
// Decoding uses encoding/json into small structs holding only the members read here; [Order] can
// be embedded in a caller's own MedicationRequest struct so one json.Unmarshal serves both.
package clinical
