// Package scoring is valuerx's pure domain core: the drug catalog and its
// equivalence groups, the dated price books (CMS ASP quarters, a NADAC-derived
// retail book), the payer contracts and attribution roster, classification of a
// patient's coverage into a contract (and its other coverages into a
// supplemental one), the per-option economics of docs/economics.md per
// administration, course and year of therapy (units with vial wastage, the
// allowed amount split into the payer's own payment after sequestration, the
// patient's cost sharing after the deductible, the ASP file's coinsurance and
// any out-of-pocket maximum, what a Medigap, retiree plan or Medicaid pays and
// what a QMB's cost sharing leaves uncollectable; acquisition, margin, and the
// net impact under the arrangement with the contract's risk terms), the ranking
// and product rules, and an LRU cache in front of it all. Every rule is a
// configured parameter with today's value as its default (config.go), and
// every figure names its source: published, derived, configured or estimated.
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
