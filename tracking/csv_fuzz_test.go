package tracking_test

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/tracking"
)

// FuzzWriteCSV: whatever ids the record holds, the export parses back as CSV with the header's
// width on every line, and no cell starts a spreadsheet formula.
func FuzzWriteCSV(f *testing.F) {
	f.Add("mssp-aco", "trastuzumab", "Practitioner/a", "clinical-reason")
	f.Add("=1+1", "+x", "@SUM(A1)", "-2")
	f.Add("a,b", "\"q\"", "line\nbreak", "")
	f.Fuzz(func(t *testing.T, contract, family, prescriber, reason string) {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		rep := tracking.Build([]store.OrderRecord{
			{ContractID: contract, GroupID: family, Prescriber: prescriber, Outcome: "overridden", ReasonCode: reason, FirstAt: at},
			{ContractID: contract, GroupID: family, Prescriber: prescriber, Outcome: "accepted", PayerSaved: 1.005, OrgImpact: -3.5, FirstAt: at},
		}, tracking.Filter{}, nil)
		var buf bytes.Buffer
		if err := tracking.WriteCSV(&buf, rep); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("export does not parse: %v", err)
		}
		for _, rec := range recs {
			if len(rec) != len(tracking.CSVHeader) {
				t.Fatalf("line width %d, header %d", len(rec), len(tracking.CSVHeader))
			}
			for _, c := range rec {
				if _, err := strconv.ParseFloat(c, 64); err == nil {
					continue // a number (a negative org impact): no formula
				}
				if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
					t.Fatalf("cell %q starts a formula", c)
				}
			}
		}
	})
}
