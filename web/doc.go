// Package web serves the pages people open from valuerx: the comparison page a card links to
// (every option side by side, the charts, the arrangement, the provenance of every figure and
// what was excluded and why), reached by a signed, short-lived, opaque reference (links.go).
//
// Pages are rendered on the server with html/template and read without JavaScript; styles and
// everything else are embedded in the binary (no CDN, no third-party request from a clinician's
// browser); charts are inline SVG. web imports scoring (and, later, tracking and store); it does
// not import gateway, cdshooks or fhir, and it never sees patient data: a Comparison holds a
// scoring result, whose inputs are a contract, products, a dose, a course and a date.
package web
