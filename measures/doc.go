// Package measures is valuerx's pure quality-measure engine: the Pharmacy Quality Alliance (PQA)
// medication adherence measures as CMS uses them in the Part D Star Ratings, computed from a
// patient's fills.
//
//   - PDC-DR   Medication Adherence for Diabetes Medications (non-insulin)   (Star measure D08)
//   - PDC-RASA Medication Adherence for Hypertension (RAS antagonists)        (Star measure D09)
//   - PDC-STA  Medication Adherence for Cholesterol (Statins)                 (Star measure D10)
//   - SUPD     Statin Use in Persons with Diabetes                            (Star measure D12)
//
// and, for acting during the year, the PDC to date at any date, whether the patient can still reach
// 80 % by the end of the year ("redeemable") and how many days without medication the patient can
// still afford.
//
// The rules, with where each comes from (see also valuesets/README.md):
//
//   - Proportion of Days Covered: "the proportion of days in the measurement period covered by
//     prescription claims for the same medication or another in its therapeutic category"; the
//     threshold is 80 % for diabetes and cardiovascular drugs (PQA measure specifications, "Proportion
//     of Days Covered (PDC)", studylib.net/doc/7960602).
//   - Denominator: at least two fills of the class on different dates of service in the measurement
//     year (PQA PDC-STA/-RASA/-DR overviews, pqaalliance.org/assets/Measures/pdc-*.js.txt; AHRQ NQMC
//     summary of the PQA diabetes measure). Ages 18 and older as of the last day of the measurement
//     period (PQA specification above). The index date (first fill) at least 91 days before the end
//     of the treatment period (same PQA specification: "The index date should occur at least 91 days
//     before the end of the enrollment period").
//   - Treatment period: the index date through the end of the measurement year, or death or
//     disenrollment when earlier (same PQA specification).
//   - Exclusions visible in claims and clinical data: hospice and end-stage renal disease for all
//     four measures (PQA overviews; CMS added the ESRD exclusion to the adherence measures and SUPD,
//     advalent.com summary of the CMS 2020 Call Letter); one or more insulin fills for PDC-DR and
//     one or more sacubitril/valsartan fills for PDC-RASA (CMS Part C & D Star Ratings Technical
//     Notes, measures D08 and D09).
//   - Overlaps: fills of the same medication (ingredient) that overlap are shifted forward, the later
//     one starting the day after the earlier supply runs out; fills of different medications of the
//     class that overlap are counted once per day, without shifting (PQA worked examples in
//     pdc-sta.js.txt / pdc-dr.js.txt: two drugs filled the same day cover the same 90 days; an early
//     refill of the same drug starts the day after the previous supply ends). Supply past the end of
//     the treatment period is not counted. Supply from fills before the measurement year is not
//     counted: the treatment period starts at the first fill in the year. Two or more fills of one
//     ingredient on the same date of service count once, with the longest days' supply of them
//     (PQA/CMS rule as the pharmacist review of 2026-12-01 states it: "for the same drug dispensed
//     on the same date, keep the one with the longest days' supply"; two strengths filled together
//     are taken together, not in sequence); the caller drops reversed and re-billed claims
//     (population keeps only completed dispenses and active claims).
//   - Inpatient and skilled-nursing stays: the days of the stay are removed from the treatment
//     period, and supply on hand during the stay is shifted to after discharge, which shifts the
//     fills after it in turn (CMS Star Ratings Technical Notes since the 2013 ratings, as quoted and
//     implemented in Chang & Gillespie, "A SAS Macro to Calculate the PDC Adjustment of Inpatient
//     Stays", SAS Global Forum paper 3560-2015).
//   - SUPD: ages 40 to 75 as of the first day of the measurement year (CMS from measurement year
//     2024: a person aged 75 at the start of the year counts for the whole year; Premera provider
//     news, 2024-03-07), at least two fills of any diabetes medication, insulin included, on
//     different dates of service; numerator: at least one statin fill in the year; exclusions
//     hospice, ESRD, and the clinical exclusions (rhabdomyolysis or myopathy, pregnancy, lactation or
//     fertility, liver disease, pre-diabetes, polycystic ovary syndrome) when the data show them
//     (PQA SUPD overview, pqa.memberclicks.net/assets/Measures/supd.js.txt).
//
// What the engine cannot see and the caller must decide: continuous enrollment (CMS has used the
// PQA continuous-enrollment rule since measurement year 2024: a gap in enrollment removes the
// member), and which encounters are hospice, inpatient or SNF stays. Days are calendar days in the
// proleptic Gregorian calendar, with no time zone: a FHIR date is a Day.
//
// The package is pure: no I/O, no clock, no logging, no globals that change; it imports nothing of
// the rest of valuerx (make imports checks this).
package measures
