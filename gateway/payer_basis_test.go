package gateway

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"valuerx/tracking"
)

// A store upgraded on 3 December 2026 holds decisions that booked the change in the allowed amount
// as the payer's saving: the programme report, the outcomes and both dashboard tabs say up to
// when, for the periods that reach back to it, and a store without such decisions says nothing of
// the kind.
func TestReportsSayTheBasisOfTheirPayerSavings(t *testing.T) {
	e := newEnv(t)
	if s, out, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select")); s != 200 {
		t.Fatal(s, string(out))
	}
	check := func(wantNote bool, query string) {
		t.Helper()
		st, out, _ := e.do(http.MethodGet, "/analytics/report"+query, nil, analystHeader())
		var rep tracking.Report
		if st != 200 || json.Unmarshal(out, &rep) != nil {
			t.Fatalf("report: %d %s", st, out)
		}
		st, out, _ = e.do(http.MethodGet, "/analytics/outcomes"+query, nil, analystHeader())
		var oc tracking.Outcomes
		if st != 200 || json.Unmarshal(out, &oc) != nil {
			t.Fatalf("outcomes: %d %s", st, out)
		}
		if (rep.PayerOnAllowedUntil != nil) != wantNote || (oc.PayerOnAllowedUntil != nil) != wantNote {
			t.Errorf("%q: report note %v, outcomes note %v; want one: %v", query, rep.PayerOnAllowedUntil, oc.PayerOnAllowedUntil, wantNote)
		}
		// The CSV exports: a last column on every line, the time or empty.
		for _, path := range []string{"/analytics/report.csv", "/analytics/outcomes.csv", "/analytics/divergence.csv"} {
			st, out, _ := e.do(http.MethodGet, path+query, nil, analystHeader())
			recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
			if st != 200 || err != nil || len(recs) < 2 {
				t.Fatalf("%s: %d %v %d lines", path, st, err, len(recs))
			}
			if h := recs[0]; h[len(h)-1] != "payerSavingsOnAllowedUntil" {
				t.Errorf("%s: last column %q", path, h[len(h)-1])
			}
			want := ""
			if wantNote {
				want = "2026-11-30T09:15:00Z"
			}
			for _, rec := range recs[1:] {
				if rec[len(rec)-1] != want {
					t.Errorf("%s%s: line %v ends %q, want %q", path, query, rec[:2], rec[len(rec)-1], want)
					break
				}
			}
		}
		for _, tab := range []string{"", "/outcomes"} {
			_, page, _ := e.do(http.MethodGet, "/analytics/dashboard"+tab+query, nil, analystHeader())
			if !strings.Contains(string(page), "Payer savings are the change in the payer's own payment") {
				t.Errorf("dashboard%s%s does not say what a payer saving is", tab, query)
			}
			if got := strings.Contains(string(page), "Orders first seen up to 2026-11-30 09:15 UTC may book the change in the allowed amount"); got != wantNote {
				t.Errorf("dashboard%s%s: the earlier basis named: %v, want %v", tab, query, got, wantNote)
			}
		}
	}
	check(false, "")
	// As the migration leaves a store whose last decision on the allowed amount was recorded then.
	setAllowedBasisUntil(t, e, "2026-11-30T09:15:00.000000000Z")
	check(true, "")
	check(true, "?from=2026-11-01&to=2026-12-31")
	check(false, "?from=2026-12-01&to=2026-12-31")
}

// setAllowedBasisUntil leaves e's SQLite store as the migration of 3 December 2026 leaves one whose
// last decision on the allowed amount was recorded at until (store.PayerBasis).
func setAllowedBasisUntil(t *testing.T, e *testEnv, until string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE payer_basis SET allowed_until = ?`, until); err != nil {
		t.Fatal(err)
	}
}
