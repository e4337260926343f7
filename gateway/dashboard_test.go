package gateway

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"valuerx/store"
	"valuerx/tracking"
)

// The dashboard's tabs, drill-down and exports over the hand-counted orders of analyticsOrders
// (o1-o4 in 2026-01-01..2026-03-31; o5 in April).

func TestDashboardRoutesNeedAnAnalyst(t *testing.T) {
	e := analyticsEnv(t)
	for _, path := range []string{"/analytics/dashboard/families", "/analytics/dashboard/people", "/analytics/dashboard/outcomes",
		"/analytics/dashboard/decisions", "/analytics/report/decisions", "/analytics/decisions/o1-sign"} {
		if st, _, _ := e.do(http.MethodGet, path, nil, nil); st != http.StatusUnauthorized {
			t.Errorf("%s without a credential: %d, want 401", path, st)
		}
		// A browser is sent to the login form (the client follows the redirect).
		if st, out, _ := e.do(http.MethodGet, path, nil, map[string]string{"Accept": "text/html"}); st != http.StatusOK || !strings.Contains(string(out), `name="password"`) ||
			strings.Contains(string(out), "mssp-aco") {
			t.Errorf("%s from a browser without a session: %d, want the login form and no data", path, st)
		}
	}
}

// Bad filter values: 400 with an OperationOutcome saying which for the API, a page saying the
// same for a browser; never a 200 with an empty report.
func TestDashboardBadFilters(t *testing.T) {
	e := analyticsEnv(t)
	html := analystHeader()
	html["Accept"] = "text/html"
	for _, c := range []struct{ query, says string }{
		{"?contract=no-such-contract", "contract is not the id of a configured contract"},
		{"?family=aspirin", "family is not the id of a drug family"},
		{"?prescriber=Patient/123", "prescriber must be Practitioner/{id}"},
		{"?prescriber=Practitioner/" + strings.Repeat("x", 70), "prescriber must be"},
		{"?table=patients", "table must be one of"},
		{"?offset=-1", "offset must be a whole number"},
		{"?offset=ten", "offset must be a whole number"},
		{"?from=2026-02-30", "from must be a date"},
		// Edge-of-calendar years made the JSON encoder fail (a 500): refused with a 400.
		{"?to=9999-12-31", "from and to must be dates from 2000 to 2100"},
		{"?from=9999-12-30&to=9999-12-31", "from and to must be dates from 2000 to 2100"},
		{"?to=0000-06-01", "from and to must be dates from 2000 to 2100"},
	} {
		for _, path := range []string{"/analytics/report", "/analytics/report.csv", "/analytics/report/decisions", "/analytics/dashboard/families"} {
			st, out, h := e.do(http.MethodGet, path+c.query, nil, analystHeader())
			if st != http.StatusBadRequest || !strings.Contains(h.Get("Content-Type"), "json") || !strings.Contains(string(out), c.says) {
				t.Errorf("%s%s: %d %s %s, want 400 JSON saying %q", path, c.query, st, h.Get("Content-Type"), out, c.says)
			}
			var oo map[string]any
			if json.Unmarshal(out, &oo) != nil || oo["resourceType"] != "OperationOutcome" {
				t.Errorf("%s%s: body is not an OperationOutcome: %s", path, c.query, out)
			}
		}
		st, out, h := e.do(http.MethodGet, "/analytics/dashboard"+c.query, nil, html)
		if st != http.StatusBadRequest || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(string(out), `id="error-message"`) ||
			!strings.Contains(strings.ReplaceAll(string(out), "&#39;", "'"), strings.Split(c.says, "{")[0]) {
			t.Errorf("dashboard%s from a browser: %d %s, want a 400 page saying %q", c.query, st, h.Get("Content-Type"), c.says)
		}
	}
	// A known contract and family, a prescriber reference and "(not recorded)" are accepted.
	for _, q := range []string{"?contract=mssp-aco&family=trastuzumab", "?prescriber=Practitioner/dr-1", "?prescriber=PractitionerRole/r.2",
		"?prescriber=" + strings.ReplaceAll(tracking.NoPrescriber, " ", "%20")} {
		if st, out, _ := e.do(http.MethodGet, "/analytics/report"+q, nil, analystHeader()); st != http.StatusOK {
			t.Errorf("report%s: %d %s", q, st, out)
		}
	}
}

// Each tab renders the JSON API's figures; each table's CSV is the same rows.
func TestDashboardTabsAndTableCSV(t *testing.T) {
	e := analyticsEnv(t)
	var rep tracking.Dashboard
	st, out, _ := e.do(http.MethodGet, "/analytics/report"+period, nil, analystHeader())
	if st != 200 || json.Unmarshal(out, &rep) != nil {
		t.Fatalf("report: %d %s", st, out)
	}
	// Hand counts: o1, o2, o3 (mssp-aco, two trastuzumab and one bevacizumab), o4 (ma-capitation).
	if rep.Total.Orders != 4 || len(rep.Families) != 3 || len(rep.Adoption) != 2 || rep.Adoption[1].Family != "trastuzumab" || rep.Adoption[1].Orders != 3 {
		t.Fatalf("report %+v, adoption %+v", rep.Total, rep.Adoption)
	}
	// Adoption: o4 accepted p0 (the recommended product), o1 accepted p2, o2 overridden on the
	// ordered product, o3 accepted p0: trastuzumab 1 of 3, bevacizumab 1 of 1.
	if rep.Adoption[1].OnBest != 1 || rep.Adoption[0].OnBest != 1 || rep.AdoptionTotal.OnBest != 2 || rep.AdoptionTotal.Share != 0.5 {
		t.Errorf("adoption %+v total %+v", rep.Adoption, rep.AdoptionTotal)
	}
	for _, tab := range []string{"", "/families", "/people", "/outcomes", "/decisions"} {
		st, out, h := e.do(http.MethodGet, "/analytics/dashboard"+tab+period, nil, analystHeader())
		page := string(out)
		if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || strings.Contains(page, "<script") {
			t.Fatalf("dashboard%s: %d", tab, st)
		}
		if !strings.Contains(page, `aria-current="page"`) || !strings.Contains(page, `name="contract"`) {
			t.Errorf("dashboard%s: no current tab or filter form", tab)
		}
	}
	_, fams, _ := e.do(http.MethodGet, "/analytics/dashboard/families"+period, nil, analystHeader())
	for _, a := range rep.Adoption {
		if !regexp.MustCompile(`<tr data-family="` + a.Family + `">.*?<td class="n">` + strconv.Itoa(a.Orders) + `</td><td class="n">` + strconv.Itoa(a.OnBest) + `</td>`).Match(fams) {
			t.Errorf("families page: no adoption row %s %d/%d", a.Family, a.OnBest, a.Orders)
		}
	}
	if !strings.Contains(string(fams), `id="adoption-chart"`) {
		t.Error("families page draws no adoption chart")
	}
	for _, table := range []string{"contracts", "families", "prescribers", "locations", "months", "adoption", "decisions"} {
		st, out, h := e.do(http.MethodGet, "/analytics/report.csv"+period+"&table="+table, nil, analystHeader())
		if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(h.Get("Content-Disposition"), "valuerx-"+table+"-2026-01-01-2026-03-31.csv") {
			t.Fatalf("csv %s: %d %v", table, st, h)
		}
		recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
		if err != nil {
			t.Fatalf("csv %s: %v", table, err)
		}
		want := map[string]int{"contracts": len(rep.Contracts), "families": len(rep.Families), "prescribers": len(rep.Prescribers),
			"locations": len(rep.Locations), "months": len(rep.Months), "adoption": len(rep.Adoption) + 4 /* trastuzumab in three months, bevacizumab in one */, "decisions": 4}[table]
		if len(recs)-1 != want {
			t.Errorf("csv %s: %d rows, want %d: %q", table, len(recs)-1, want, recs)
		}
		if table == "contracts" {
			for i, c := range rep.Contracts {
				r := recs[1+i]
				if r[0] != c.Contract || r[2] != strconv.Itoa(c.Orders) || r[5] != strconv.Itoa(c.Accepted) || r[9] != strconv.FormatFloat(c.PayerSavedUSD, 'f', 2, 64) {
					t.Errorf("csv contracts row %q, JSON %+v", r, c)
				}
			}
		}
	}
}

// The drill-down: newest first, paged, each card order linking to its decision page, which shows
// the suggestions as recorded and the order's outcome; an unknown card is a 404 page.
func TestDashboardDrillDown(t *testing.T) {
	e := analyticsEnv(t)
	var d decisionsJSON
	st, out, _ := e.do(http.MethodGet, "/analytics/report/decisions"+period, nil, analystHeader())
	if st != 200 || json.Unmarshal(out, &d) != nil {
		t.Fatalf("decisions: %d %s", st, out)
	}
	if len(d.Decisions) != 4 || d.More || d.Decisions[0].Contract != "ma-capitation" || d.Decisions[3].Outcome != "accepted" ||
		d.Decisions[3].Detail != "p2" || d.Decisions[3].PayerSavedUSD != 1200.50 || d.Decisions[2].Outcome != "overridden" || d.Decisions[2].Detail != "clinical-reason" {
		t.Fatalf("decisions %+v", d.Decisions)
	}
	// o1 was seen at order-select an hour before order-sign: its first hook is the select card,
	// its deciding card the sign card (the feedback came on it).
	if d.Decisions[3].Link != "/analytics/decisions/o1-sign" || !d.Decisions[3].At.Equal(d.Decisions[3].At.Truncate(0)) {
		t.Errorf("o1 links to %q", d.Decisions[3].Link)
	}
	st, page, _ := e.do(http.MethodGet, d.Decisions[3].Link, nil, analystHeader())
	if st != 200 || !strings.Contains(string(page), `id="decision-outcome">accepted: p2`) || strings.Count(string(page), "<tr><td>p") != 3 ||
		!strings.Contains(string(page), "$1,200.50") {
		t.Errorf("decision page: %d\n%s", st, page)
	}
	// Its products are not in the catalog, so it cannot be scored again: no link, a reason.
	if !strings.Contains(string(page), `id="compare-note"`) || strings.Contains(string(page), `id="compare-link"`) {
		t.Error("decision page offers a comparison it cannot rebuild")
	}
	html := analystHeader()
	html["Accept"] = "text/html"
	if st, page, _ := e.do(http.MethodGet, "/analytics/decisions/no-such-card", nil, html); st != http.StatusNotFound || !strings.Contains(string(page), "no such decision") {
		t.Errorf("unknown decision: %d %s", st, page)
	}
	// Paging: offset 3 leaves the oldest order, and no more.
	st, out, _ = e.do(http.MethodGet, "/analytics/report/decisions"+period+"&offset=3", nil, analystHeader())
	if st != 200 || json.Unmarshal(out, &d) != nil || len(d.Decisions) != 1 || d.More || d.Offset != 3 {
		t.Errorf("offset 3: %d %+v", st, d)
	}
}

// ordersOnly is a store without the dashboard rollup (it hides store.Rollups): the outcomes are
// then read from the orders themselves.
type ordersOnly struct{ store.Store }

// Without the rollup the outcomes tab reads every order of its period: over the bound it says so
// instead (422, a page naming the count), and under it shows the page. From the rollup the same
// period over the same bound is served (a few rows whatever the orders).
func TestDashboardOutcomesBounded(t *testing.T) {
	e := analyticsEnv(t)
	html0 := analystHeader()
	html0["Accept"] = "text/html"
	e.gw.cfg.MaxOutcomeOrders = 3 // the period has 4
	if st, out, _ := e.do(http.MethodGet, "/analytics/dashboard/outcomes"+period, nil, html0); st != http.StatusOK || !strings.Contains(string(out), `id="outcome-contracts"`) {
		t.Fatalf("outcomes from the rollup over the bound: %d", st)
	}
	e.gw.cfg.MaxOutcomeOrders = 0
	e.swapStore(ordersOnly{e.store})
	html := analystHeader()
	html["Accept"] = "text/html"
	if st, out, _ := e.do(http.MethodGet, "/analytics/dashboard/outcomes"+period, nil, html); st != http.StatusOK || !strings.Contains(string(out), `id="outcome-contracts"`) {
		t.Fatalf("outcomes: %d", st)
	}
	e.gw.cfg.MaxOutcomeOrders = 3 // the period has 4
	st, out, _ := e.do(http.MethodGet, "/analytics/dashboard/outcomes"+period, nil, html)
	if st != http.StatusUnprocessableEntity || !strings.Contains(string(out), "this period and filter have 4 orders") || strings.Contains(string(out), `id="outcome-contracts"`) {
		t.Errorf("outcomes over the bound: %d %s", st, out)
	}
	if st, _, _ := e.do(http.MethodGet, "/analytics/dashboard/outcomes"+period+"&contract=ma-capitation", nil, html); st != http.StatusOK {
		t.Errorf("outcomes of one contract (1 order): %d", st)
	}
}

// The outcomes report of a store without the rollup reads the whole record: one is computed at a time and a second request is
// answered at once with 503 and Retry-After rather than doubling the CPU and memory the hooks
// need (analytics review finding 2). Every answer says nosniff.
func TestOutcomesOneAtATime(t *testing.T) {
	e := analyticsEnv(t)
	e.gw.outcomesSlot <- struct{}{} // another report is being computed from the orders
	// From the rollup the slot is not needed: a few rows per report.
	if st, _, _ := e.do(http.MethodGet, "/analytics/outcomes", nil, analystHeader()); st != http.StatusOK {
		t.Errorf("outcomes from the rollup while a report reads the orders: %d", st)
	}
	e.swapStore(ordersOnly{e.store})
	for _, path := range []string{"/analytics/outcomes", "/analytics/outcomes.csv", "/analytics/divergence.csv"} {
		st, out, h := e.do(http.MethodGet, path, nil, analystHeader())
		if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(string(out), "OperationOutcome") {
			t.Errorf("%s while another runs: %d %v %s", path, st, h, out)
		}
	}
	<-e.gw.outcomesSlot
	st, out, h := e.do(http.MethodGet, "/analytics/outcomes", nil, analystHeader())
	if st != http.StatusOK || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("outcomes when free: %d %v %.200s", st, h, out)
	}
	if len(e.gw.outcomesSlot) != 0 {
		t.Fatal("the outcomes slot was not released")
	}
}
