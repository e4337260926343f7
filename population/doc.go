// Package population runs the quality measures over a population: it reads a FHIR Bulk Data
// export (NDJSON, one file per resource type: Patient, Coverage, MedicationDispense, Condition,
// Encounter), joins the files per patient, computes each patient's measures with package measures
// on a pool of workers, and aggregates the rates per contract and measure and a worklist of the
// patients below 80 % who can still reach it.
//
// # The join, streaming and bounded
//
// The export's files are per resource type and in no particular order, so a patient's Patient,
// Coverage, Conditions, Encounters and dispenses are spread across files. Sorting the files by
// patient would need a disk sort; instead the run makes two streaming passes and keeps only
// compact facts:
//
//  1. Patient, Coverage, Condition and Encounter files: each line is decoded and reduced to a few
//     fields of a per-patient record (birth and death dates, MBI, contract, end of enrollment,
//     hospice/ESRD/SUPD-exclusion flags; inpatient stays in a side map), held in a map from
//     patient id to a record index. About 170 bytes per patient with the map.
//  2. MedicationDispense files and pharmacy ExplanationOfBenefit files (CARIN Blue Button: date
//     of service, productOrService, the dayssupply supportingInfo): each dispense or claim of a measured ingredient in the measurement year
//     becomes one 8-byte word (record index, day of the year, days supply, ingredient);
//     everything else in the resource is dropped. Dispenses that name a
//     patient with no record are counted and skipped.
//
// The words live in fixed 8 MiB chunks handed to the workers in 4096-word blocks (memory grows a
// chunk at a time, with no slice doubling and no copy), and are then grouped by patient in place
// by a counting pass (counts, prefix sums, and the cycle-following permutation of an American
// flag sort: linear, no second array), which gives each patient a contiguous run of fills.
// Memory is O(patients + fills): for 1,000,000 patients with 12 fills each, about 170 MB of
// records and index, 98 MB of fill words and 16 MB of offsets; the measured peak RSS of that run
// is in the README. Lines are read with a bounded buffer and decoded by a pool of workers fed in
// batches; no file is held in memory. MedicationDispense, Condition and Coverage lines, nine in
// ten of an export's, are decoded by a hand-written scanner of the plain JSON an export writes
// (fastdispense.go), which hands anything else to json.Unmarshal; fuzz targets hold each to
// json.Unmarshal's answer.
//
// For populations beyond one machine's memory, Options.Shard/Shards keep only the patients whose
// id hashes to one shard: N runs over the same files, each with 1/N of the memory, give the same
// per-patient results, and the rates of the shards add up (numerators and denominators are
// counts). On a distributed batch engine that is the map step (files split by byte range at line
// boundaries, each record keyed by patient id), a shuffle by patient id, the per-patient
// computation as a reduce step, and a final sum of the per-contract counts.
//
// # The computation
//
// Each patient is independent: a worker builds a measures.Patient from the record and its fills,
// asks measures for the PDC to date of the three adherence measures at the as-of date and SUPD as
// of that date, and adds to its own tallies per contract and measure; the tallies are summed at the
// end. The as-of date defaults to the day after the latest dispense in the data (at most January 1
// of the next year, where the PDC to date is the year's final PDC).
//
// The package reads from the io.Readers it is given (cmd opens the files) and writes to
// io.Writers; it imports measures and fhir of the project.
package population
