package web

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"valuerx/csvcell"
	"valuerx/tracking"
)

// The CSV export of one dashboard table (?table=): the same rows and figures as the table on the
// page and in the JSON API (one tracking.Dashboard). Money to the cent, shares to four decimals,
// override and no-card reasons as "code=count" pairs separated by ";" in code order. Cells a
// spreadsheet would run as a formula are prefixed with a quote (csvcell, the one CSV writer).

// rowCSVHeader are the figure columns every report row has.
var rowCSVHeader = []string{"orders", "noCard", "cards", "accepted", "overridden", "noFeedback", "acceptanceRate",
	"projectedPayerSavedUSD", "projectedPatientSavedUSD", "projectedOrgImpactUSD", "overrideReasons", "noCardReasons"}

func rowCSV(r tracking.Row) []string {
	return []string{strconv.Itoa(r.Orders), strconv.Itoa(r.NoCard), strconv.Itoa(r.Cards), strconv.Itoa(r.Accepted),
		strconv.Itoa(r.Overridden), strconv.Itoa(r.NoFeedback), strconv.FormatFloat(r.AcceptanceRate, 'f', 4, 64),
		csvMoney(r.PayerSavedUSD), csvMoney(r.PatientSavedUSD), csvMoney(r.OrgImpactUSD), counts(r.Overrides), counts(r.NoCardReasons)}
}

// WriteTableCSV writes table (one of CSVTables) of d; decisions are the drill-down's rows.
func WriteTableCSV(w io.Writer, table string, d tracking.Dashboard, decisions []DecisionView) error {
	var head []string
	var rows [][]string
	switch table {
	case "contracts":
		head = append([]string{"contract", "arrangement"}, rowCSVHeader...)
		for _, r := range d.Contracts {
			rows = append(rows, append([]string{r.Contract, r.Arrangement}, rowCSV(r)...))
		}
	case "families":
		head = append([]string{"contract", "arrangement", "family"}, rowCSVHeader...)
		for _, r := range d.Families {
			rows = append(rows, append([]string{r.Contract, r.Arrangement, r.Family}, rowCSV(r)...))
		}
	case "prescribers":
		head = append([]string{"prescriber", "client"}, rowCSVHeader...)
		for _, r := range d.Prescribers {
			rows = append(rows, append([]string{r.Prescriber, r.Client}, rowCSV(r)...))
		}
	case "locations":
		head = append([]string{"location", "client"}, rowCSVHeader...)
		for _, r := range d.Locations {
			rows = append(rows, append([]string{r.Location, r.Client}, rowCSV(r.Row)...))
		}
	case "months":
		head = append([]string{"month"}, rowCSVHeader...)
		for _, r := range d.Months {
			rows = append(rows, append([]string{r.Month}, rowCSV(r)...))
		}
	case "adoption":
		head = []string{"family", "month", "orders", "onRecommended", "share"}
		for _, r := range d.Adoption {
			rows = append(rows, []string{r.Family, "", strconv.Itoa(r.Orders), strconv.Itoa(r.OnBest), strconv.FormatFloat(r.Share, 'f', 4, 64)})
			for _, m := range r.Months {
				rows = append(rows, []string{r.Family, m.Month, strconv.Itoa(m.Orders), strconv.Itoa(m.OnBest), strconv.FormatFloat(m.Share, 'f', 4, 64)})
			}
		}
	case "decisions":
		head = []string{"firstSeenUTC", "contract", "family", "ordered", "recommended", "outcome", "detail", "signed", "administrations",
			"projectedPayerSavedUSD", "prescriber", "location", "client"}
		for _, r := range decisions {
			rows = append(rows, []string{r.At.UTC().Format("2006-01-02T15:04:05Z"), r.Contract, r.Family, r.Ordered, r.Best, r.Outcome,
				r.Detail, r.Signed, strconv.Itoa(r.Administrations), csvMoney(r.PayerSavedUSD), r.Prescriber, r.Location, r.Client})
		}
	default:
		return fmt.Errorf("web: no table %q", table)
	}
	// The last column, on every line, as on the report's own CSV (tracking.CSVHeader): the time up
	// to which orders may book the change in the allowed amount as the payer's saving, or empty
	// (finance review, 6 December 2026: the one-table exports carried payer savings of both bases
	// and did not say so). The earlier columns keep their places.
	basis := ""
	if u := d.PayerOnAllowedUntil; u != nil {
		basis = u.UTC().Format(time.RFC3339)
	}
	head = append(head, "payerSavingsOnAllowedUntil")
	cw := csvcell.NewWriter(w)
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("web: csv: %w", err)
	}
	for _, r := range rows {
		if err := cw.Write(append(r, basis)); err != nil {
			return fmt.Errorf("web: csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("web: csv: %w", err)
	}
	return nil
}

func csvMoney(v float64) string { return strconv.FormatFloat(cents(v), 'f', 2, 64) }

func counts(m map[string]int) string {
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
