package gateway

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
)

// README: the CSV exports name the earlier payer basis "in a last column payerSavingsOnAllowedUntil
// on every line". The one-table exports (report.csv?table=contracts|...|decisions, each table's CSV
// link on the dashboard) carry payer savings too, and said nothing: a contracts export of November
// 2026 summed savings of both bases with no column to tell.
func TestTableCSVsSayTheBasisOfTheirPayerSavings(t *testing.T) {
	e := newEnv(t)
	if s, out, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select")); s != 200 {
		t.Fatal(s, string(out))
	}
	setAllowedBasisUntil(t, e, "2026-11-30T09:15:00.000000000Z")
	for _, table := range []string{"contracts", "families", "prescribers", "locations", "months", "adoption", "decisions"} {
		st, out, _ := e.do(http.MethodGet, "/analytics/report.csv?table="+table, nil, analystHeader())
		recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
		if st != 200 || err != nil || len(recs) < 2 {
			t.Fatalf("%s: %d %v %d lines", table, st, err, len(recs))
		}
		if h := recs[0]; h[len(h)-1] != "payerSavingsOnAllowedUntil" {
			t.Errorf("table %s: last column %q, want payerSavingsOnAllowedUntil", table, h[len(h)-1])
			continue
		}
		for _, rec := range recs[1:] {
			if rec[len(rec)-1] != "2026-11-30T09:15:00Z" {
				t.Errorf("table %s: line %v ends %q", table, rec[:2], rec[len(rec)-1])
				break
			}
		}
	}
}
