// Package catalog owns the agencies' files in their published formats and turns them into a
// versioned snapshot of scoring's catalog, with the provenance of every figure.
//
// It reads, recognising each file by its content and never by its name (CMS renames its files
// from quarter to quarter: "verision", "APR", "Jul", "Payment Limit File"):
//
//   - CMS Medicare Part B payment allowance limit files (ParsePaymentLimits): a preamble with the
//     effective period and the ASP data quarter, then one row per HCPCS code with the payment
//     limit per billing unit, the coinsurance percentage and the Notes column;
//   - CMS ASP NDC-HCPCS crosswalks (ParseCrosswalk): Windows-1252 bytes, a preamble, a first
//     column named for the year (_2026_CODE) and lines padded with empty columns;
//   - the FDA Purple Book full download (ParsePurpleBook): UTF-8 with a byte-order mark and
//     quoted fields that hold line breaks;
//   - the FDA Orange Book products.txt (ParseOrangeBook): tilde-separated;
//   - the organisation's own acquisition costs (ParseAcquisitionCosts), CSV with the header
//     documented in the README.
//
// Import joins them into a scoring.Snapshot (groups formed from the data, see groups.go), Diff
// compares two snapshots, and Source serves the current snapshot to a running gateway with
// atomic reload.
//
// catalog imports scoring only (docs/architecture.md): scoring owns the catalog's types, this
// package owns the files.
package catalog
