package web

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"

	"valuerx/tracking"
)

// FuzzTableCSV: whatever a contract, family, prescriber, location or reason code holds, every
// table's CSV parses back with one cell per header column, keeps the figures, and no cell starts a
// spreadsheet formula (a leading = + - @ tab or CR is quoted away unless the cell is a number).
func FuzzTableCSV(f *testing.F) {
	for _, s := range []string{"mssp-aco", "=cmd|' /C calc'!A0", "+1", "-12.50", "@SUM(A1)", "a,b\"c\nd", "\t", ""} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n%1000 + 1
		if n < 0 {
			n = -n
		}
		row := tracking.Row{Contract: s, Arrangement: s, Family: s, Prescriber: s, Month: s, Orders: n, Cards: n, Accepted: n,
			Overrides: map[string]int{s: n}, NoCardReasons: map[string]int{s: 1}, PayerSavedUSD: -12.5}
		d := tracking.Dashboard{Report: tracking.Report{Contracts: []tracking.Row{row}, Families: []tracking.Row{row}, Prescribers: []tracking.Row{row},
			Months: []tracking.Row{row}}, Locations: []tracking.LocationRow{{Location: s, Row: row}},
			Adoption: []tracking.AdoptionRow{{Family: s, Adoption: tracking.Adoption{Orders: n, OnBest: 1, Share: 1 / float64(n)}}}}
		for _, table := range CSVTables {
			var buf bytes.Buffer
			if err := WriteTableCSV(&buf, table, d, []DecisionView{{Contract: s, Family: s, Prescriber: s, Location: s, Outcome: s, Detail: s}}); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			recs, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatalf("%s: the CSV does not parse: %v", table, err)
			}
			if len(recs) < 2 {
				t.Fatalf("%s: %d records", table, len(recs))
			}
			for _, rec := range recs[1:] {
				if len(rec) != len(recs[0]) {
					t.Fatalf("%s: %d cells under %d columns", table, len(rec), len(recs[0]))
				}
				for _, c := range rec {
					if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
						if _, err := strconv.ParseFloat(c, 64); err != nil {
							t.Fatalf("%s: cell %q would run as a formula", table, c)
						}
					}
				}
			}
			if table == "contracts" && recs[1][2] != strconv.Itoa(n) {
				t.Fatalf("contracts: orders %q, want %d", recs[1][2], n)
			}
		}
	})
}
