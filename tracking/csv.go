package tracking

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"valuerx/csvcell"
	"valuerx/store"
)

// CSVHeader is the export's header: the total ("total" level), one line per contract
// ("contract"), per contract and drug family ("family"), per prescriber ("prescriber") and per
// calendar month ("month", YYYY-MM in the month column). The client column names the client
// (EHR) of a prescriber line: the same userId at two EHRs is two lines. Override reasons are one column,
// "code=count" pairs separated by ";" in code order; targets likewise as
// "measure=actual/target(met|missed|not measured)". orders and noCard (the tracked orders, and
// those that needed no card, as the page shows them) come last, so the earlier columns keep
// their places for existing readers, and after them payerSavingsOnAllowedUntil (basisCell).
var CSVHeader = []string{"level", "contract", "arrangement", "family", "prescriber", "month", "cards", "accepted", "overridden", "noFeedback",
	"acceptanceRate", "projectedPayerSavedUSD", "projectedPatientSavedUSD", "projectedOrgImpactUSD", "overrideReasons", "targets", "client",
	"orders", "noCard", "payerSavingsOnAllowedUntil"}

// basisCell is the last column of every export line: Report.PayerOnAllowedUntil as RFC 3339, the
// time up to which orders may book the change in the allowed amount as the payer's saving
// (decisions recorded before 3 December 2026), or empty when every order of the export books the
// payer's own payment. On every line, so a spreadsheet's filtered rows keep it.
func basisCell(until *time.Time) string {
	if until == nil {
		return ""
	}
	return until.UTC().Format(time.RFC3339)
}

// WriteCSV writes rep as CSV (RFC 4180, header first). Cells that a spreadsheet would run as a
// formula are prefixed with a quote (csvcell, the one CSV writer of valuerx): contract and family ids come from
// configuration, but an export must not become a way to run one.
func WriteCSV(w io.Writer, rep Report) error {
	cw := csvcell.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("tracking: csv: %w", err)
	}
	lines := []struct {
		level string
		r     Row
	}{{"total", rep.Total}}
	for _, r := range rep.Contracts {
		lines = append(lines, struct {
			level string
			r     Row
		}{"contract", r})
	}
	for _, r := range rep.Families {
		lines = append(lines, struct {
			level string
			r     Row
		}{"family", r})
	}
	for _, r := range rep.Prescribers {
		lines = append(lines, struct {
			level string
			r     Row
		}{"prescriber", r})
	}
	for _, r := range rep.Months {
		lines = append(lines, struct {
			level string
			r     Row
		}{"month", r})
	}
	for _, l := range lines {
		r := l.r
		rec := []string{l.level, r.Contract, r.Arrangement, r.Family, r.Prescriber, r.Month,
			strconv.Itoa(r.Cards), strconv.Itoa(r.Accepted), strconv.Itoa(r.Overridden), strconv.Itoa(r.NoFeedback),
			strconv.FormatFloat(r.AcceptanceRate, 'f', 4, 64),
			money(r.PayerSavedUSD), money(r.PatientSavedUSD), money(r.OrgImpactUSD),
			reasons(r.Overrides), targetsCell(r.Targets), r.Client, strconv.Itoa(r.Orders), strconv.Itoa(r.NoCard), basisCell(rep.PayerOnAllowedUntil)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("tracking: csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("tracking: csv: %w", err)
	}
	return nil
}

func money(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func reasons(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ";")
}

func targetsCell(ts []TargetResult) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		state := "not measured"
		if t.Measured && t.Met {
			state = "met"
		} else if t.Measured {
			state = "missed"
		}
		parts[i] = fmt.Sprintf("%s=%s/%s(%s)", t.Measure, strconv.FormatFloat(t.Actual, 'f', -1, 64),
			strconv.FormatFloat(t.Target, 'f', -1, 64), state)
	}
	return strings.Join(parts, ";")
}

// DivergenceCSVHeader is the divergence export's header: one "family" line per drug family and
// quarter (ffsContract and valueBasedContract empty), then one "pair" line per (FFS contract,
// value-based contract) of each, with what following the value-based answer was worth per year
// of therapy under the value-based contract's figures. The last columns say how many orders had a
// scoring request and how many of them were not scored (family lines), and, on one "notScored"
// line per reason (store.DivNotScored*, in reason) and one "pending" line, how many orders of the
// whole report were not scored, and why (orders column).
var DivergenceCSVHeader = []string{"level", "family", "quarter", "ffsContract", "valueBasedContract", "valueBasedArrangement", "orders",
	"comparable", "diverged", "divergedShare", "payerSavedPerYearUSD", "orgImpactPerYearUSD", "requested", "notScored", "pending", "reason",
	"payerSavingsOnAllowedUntil"}

// WriteDivergenceCSV writes the divergence report of rep as CSV (header first).
func WriteDivergenceCSV(w io.Writer, rep Outcomes) error {
	csvw := csvcell.NewWriter(w)
	if err := csvw.Write(DivergenceCSVHeader); err != nil {
		return fmt.Errorf("tracking: csv: %w", err)
	}
	basis := basisCell(rep.PayerOnAllowedUntil)
	cw := appendingWriter{csvw, basis}
	for _, r := range rep.Divergence {
		if err := cw.Write([]string{"family", r.Family, r.Quarter, "", "", "", strconv.Itoa(r.Orders), strconv.Itoa(r.Comparable),
			strconv.Itoa(r.Diverged), strconv.FormatFloat(r.Share, 'f', 4, 64), "", "", strconv.Itoa(r.Requested), strconv.Itoa(r.NotScored),
			strconv.Itoa(r.Pending), ""}); err != nil {
			return fmt.Errorf("tracking: csv: %w", err)
		}
	}
	for _, p := range rep.DivergencePairs {
		if err := cw.Write([]string{"pair", p.Family, p.Quarter, p.FFS, p.ValueBased, p.Arrangement,
			strconv.Itoa(p.Orders), strconv.Itoa(p.Orders), strconv.Itoa(p.Diverged), strconv.FormatFloat(p.Share, 'f', 4, 64),
			money(p.PayerSavedPerYearUSD), money(p.OrgImpactPerYearUSD), "", "", "", ""}); err != nil {
			return fmt.Errorf("tracking: csv: %w", err)
		}
	}
	g := rep.DivergenceGaps
	for _, reason := range store.DivNotScoredReasons {
		if err := cw.Write([]string{"notScored", "", "", "", "", "", strconv.Itoa(g.NotScored[reason]), "", "", "", "", "", "", "", "", reason}); err != nil {
			return fmt.Errorf("tracking: csv: %w", err)
		}
	}
	if err := cw.Write([]string{"pending", "", "", "", "", "", strconv.Itoa(g.Pending), "", "", "", "", "", "", "", "", ""}); err != nil {
		return fmt.Errorf("tracking: csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("tracking: csv: %w", err)
	}
	return nil
}

// OutcomesCSVHeader is the outcomes export's header: one "total" line, then "contract",
// "family" and "month" (YYYY-MM, UTC) lines; targets as in CSVHeader.
var OutcomesCSVHeader = []string{"level", "contract", "arrangement", "family", "month", "orders", "cards", "noCard", "accepted",
	"projectedPayerSavedPerYearUSD", "projectedPatientSavedPerYearUSD", "projectedOrgImpactPerYearUSD", "signed", "administered", "paid",
	"realisedOrders", "realisedSwitched", "realisedUnpriced", "realisedOverridden", "realisedUnanswered", "realisedPayerSavedPerYearUSD", "realisedPatientSavedPerYearUSD",
	"realisedOrgImpactPerYearUSD", "paidUSD", "newStarts", "newStartsBiosimilar", "biosimilarShareNewStarts", "targets",
	"payerSavingsOnAllowedUntil"}

// WriteOutcomesCSV writes rep's outcome rows as CSV (header first), formula cells defused.
func WriteOutcomesCSV(w io.Writer, rep Outcomes) error {
	cw := csvcell.NewWriter(w)
	if err := cw.Write(OutcomesCSVHeader); err != nil {
		return fmt.Errorf("tracking: csv: %w", err)
	}
	line := func(level string, r OutcomeRow) error {
		return cw.Write([]string{level, r.Contract, r.Arrangement, r.Family, r.Month,
			strconv.Itoa(r.Orders), strconv.Itoa(r.Cards), strconv.Itoa(r.NoCard), strconv.Itoa(r.Accepted),
			money(r.ProjectedPayerSavedPerYearUSD), money(r.ProjectedPatientSavedPerYearUSD), money(r.ProjectedOrgImpactPerYearUSD),
			strconv.Itoa(r.Signed), strconv.Itoa(r.Administered), strconv.Itoa(r.Paid), strconv.Itoa(r.RealisedOrders),
			strconv.Itoa(r.RealisedSwitched), strconv.Itoa(r.RealisedUnpriced), strconv.Itoa(r.RealisedOverridden),
			strconv.Itoa(r.RealisedUnanswered), money(r.RealisedPayerSavedPerYearUSD),
			money(r.RealisedPatientSavedPerYearUSD), money(r.RealisedOrgImpactPerYearUSD), money(r.PaidUSD),
			strconv.Itoa(r.NewStarts), strconv.Itoa(r.NewStartsBiosimilar), strconv.FormatFloat(r.BiosimilarShareNewStarts, 'f', 4, 64),
			targetsCell(r.Targets), basisCell(rep.PayerOnAllowedUntil)})
	}
	if err := line("total", rep.Total); err != nil {
		return fmt.Errorf("tracking: csv: %w", err)
	}
	for _, g := range []struct {
		level string
		rows  []OutcomeRow
	}{{"contract", rep.Contracts}, {"family", rep.Families}, {"month", rep.Months}} {
		for _, r := range g.rows {
			if err := line(g.level, r); err != nil {
				return fmt.Errorf("tracking: csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("tracking: csv: %w", err)
	}
	return nil
}

// appendingWriter writes each record with one more cell at its end (the divergence export's
// basisCell).
type appendingWriter struct {
	*csvcell.Writer
	last string
}

func (a appendingWriter) Write(rec []string) error { return a.Writer.Write(append(rec, a.last)) }
