// Package scoring is valuerx's pure domain core: the drug catalog and its
// equivalence groups, the dated price books (CMS ASP quarters, a NADAC-derived
// retail book), the payer contracts and attribution roster, classification of a
// patient's coverage into a contract, the per-option economics of
// docs/economics.md (units with vial wastage, payer allowed, patient
// out-of-pocket, acquisition, margin, net impact under the arrangement), the
// ranking and product rules, and an LRU cache in front of it all.
//
// The package is deliberately pure so that a score can be cached and tested by
// hand arithmetic: it performs no network or file I/O (the catalog is built from
// an fs.FS, by default the CSV extracts embedded from scoring/data/), does not
// log, does not know FHIR and must not import net/http or any other valuerx
// package. The gateway extracts plain facts (Coverage, Request) and turns a
// Result into cards.
//
// Money is carried in float64 US dollars at full precision; it is rounded to
// cents only for display (FormatUSD) and when comparing candidates, so that two
// options whose figures differ by floating-point noise rank as a tie.
package scoring
