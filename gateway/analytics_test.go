package gateway

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"valuerx/scoring"
	"valuerx/store"
	"valuerx/tracking"
)

// analyticsOrders records, in the env's real SQLite store, five orders of the sample contracts:
//
//	o1 mssp-aco     trastuzumab  Jan 10  select + sign cards, 3rd suggestion accepted  1200.50 payer
//	o2 mssp-aco     trastuzumab  Feb 02  overridden, clinical-reason
//	o3 mssp-aco     bevacizumab  Feb 20  1st suggestion accepted                        3000.25 payer
//	o4 ma-capitation trastuzumab Mar 05  1st suggestion accepted                         500.00 payer
//	o5 mssp-aco     trastuzumab  Apr 10  accepted (after the period queried)
//
// Over 2026-01-01..2026-03-31: 4 orders, 3 accepted, 1 overridden; payer 4700.75.
func analyticsOrders(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	type o struct {
		key, contract, family string
		at                    time.Time
		both                  bool
		outcome               string
		accept                int
		payer                 [3]float64
		reason                string
	}
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 14, 0, 0, 0, time.UTC) }
	for _, x := range []o{
		{"o1", "mssp-aco", "trastuzumab", day(1, 10), true, "accepted", 2, [3]float64{2000, 1500, 1200.50}, ""},
		{"o2", "mssp-aco", "trastuzumab", day(2, 2), false, "overridden", 0, [3]float64{2000, 1500, 1200.50}, "clinical-reason"},
		{"o3", "mssp-aco", "bevacizumab", day(2, 20), false, "accepted", 0, [3]float64{3000.25, 100, 50}, ""},
		{"o4", "ma-capitation", "trastuzumab", day(3, 5), false, "accepted", 0, [3]float64{500, 400, 300}, ""},
		{"o5", "mssp-aco", "trastuzumab", day(4, 10), false, "accepted", 0, [3]float64{999, 1, 1}, ""},
	} {
		mk := func(id, hook string, at time.Time) store.Decision {
			d := store.Decision{CardUUID: id, HookInstance: "h-" + id, ServiceID: "valuerx-" + hook, Hook: hook, Client: "https://ehr.test/cds-client",
				OrderKey: x.key, Fingerprint: "fp", ContractID: x.contract, Arrangement: "arr", GroupID: x.family, OrderedProductID: "ref", At: at}
			for i, p := range x.payer {
				d.Suggestions = append(d.Suggestions, store.Suggestion{UUID: fmt.Sprintf("%s-s%d", id, i), ProductID: fmt.Sprintf("p%d", i), PayerSaving: p, PatientSaving: p / 10})
			}
			d.BestProductID, d.PayerSaving = "p0", x.payer[0]
			return d
		}
		sign := mk(x.key+"-sign", "order-sign", x.at)
		ds := []store.Decision{sign}
		if x.both {
			ds = append(ds, mk(x.key+"-select", "order-select", x.at.Add(-time.Hour)))
		}
		if err := st.RecordDecisions(ctx, ds); err != nil {
			t.Fatal(err)
		}
		when := x.at.Add(time.Minute)
		f := store.Feedback{Client: "https://ehr.test/cds-client", ServiceID: sign.ServiceID, CardUUID: sign.CardUUID, OrderKey: x.key,
			Fingerprint: "fp", Outcome: x.outcome, ReasonCode: x.reason, OutcomeSent: when, OutcomeAt: when, ReceivedAt: when}
		if x.outcome == "accepted" {
			f.SuggestionUUID = sign.Suggestions[x.accept].UUID
		}
		if err := st.RecordFeedback(ctx, []store.Feedback{f}); err != nil {
			t.Fatal(err)
		}
	}
}

func analyticsEnv(t *testing.T) *testEnv {
	acc := 0.8
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) }
		c.Targets = []tracking.Target{{Contract: "mssp-aco", AcceptanceRate: &acc}}
	})
	analyticsOrders(t, e.store)
	return e
}

const period = "?from=2026-01-01&to=2026-03-31"

func getReport(t *testing.T, e *testEnv, query string) tracking.Report {
	t.Helper()
	st, out, _ := e.do(http.MethodGet, "/analytics/report"+query, nil, analystHeader())
	if st != http.StatusOK {
		t.Fatalf("report%s: %d %s", query, st, out)
	}
	var rep tracking.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAnalyticsReportJSON(t *testing.T) {
	e := analyticsEnv(t)
	rep := getReport(t, e, period)
	// Hand count: o1 (1200.50, the third suggestion's), o3 (3000.25), o4 (500.00) accepted; o2
	// overridden; o5 is in April.
	if rep.Total.Cards != 4 || rep.Total.Accepted != 3 || rep.Total.Overridden != 1 || rep.Total.PayerSavedUSD != 4700.75 {
		t.Errorf("total = %+v, want 4 cards, 3 accepted, 1 overridden, payer 4700.75", rep.Total)
	}
	if !rep.From.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !rep.To.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("period = %v..%v, want 2026-01-01..2026-04-01 (to inclusive)", rep.From, rep.To)
	}
	if len(rep.Contracts) != 2 || rep.Contracts[1].Contract != "mssp-aco" || rep.Contracts[1].Cards != 3 ||
		math.Abs(rep.Contracts[1].AcceptanceRate-2.0/3) > 1e-9 || rep.Contracts[1].PayerSavedUSD != 4200.75 ||
		rep.Contracts[1].Overrides["clinical-reason"] != 1 {
		t.Errorf("contracts = %+v", rep.Contracts)
	}
	if tg := rep.Contracts[1].Targets; len(tg) != 1 || !tg[0].Measured || tg[0].Met || tg[0].Target != 0.8 {
		t.Errorf("mssp-aco targets = %+v, want acceptance 0.8 measured and missed (2/3)", tg)
	}
	fam := getReport(t, e, period+"&family=bevacizumab")
	if fam.Total.Cards != 1 || fam.Total.PayerSavedUSD != 3000.25 || len(fam.Families) != 1 {
		t.Errorf("bevacizumab = %+v", fam)
	}
	// The default period is the 365 days up to today (June 1): every order.
	if all := getReport(t, e, ""); all.Total.Cards != 5 || all.Total.PayerSavedUSD != 5699.75 {
		t.Errorf("default period total = %+v, want 5 orders, payer 5699.75", all.Total)
	}
}

func TestAnalyticsReportRefusals(t *testing.T) {
	e := analyticsEnv(t)
	for _, path := range []string{"/analytics/report", "/analytics/report.csv", "/analytics/dashboard", "/analytics/dashboard.css"} {
		if st, _, _ := e.do(http.MethodGet, path, nil, nil); st != http.StatusUnauthorized {
			t.Errorf("%s without a credential: %d, want 401", path, st)
		}
		if st, _, _ := e.do(http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + e.token(path)}); st != http.StatusUnauthorized {
			t.Errorf("%s with a CDS client's JWT: %d, want 401", path, st)
		}
	}
	for _, q := range []string{"?from=yesterday", "?to=2026-13-01", "?from=2026-03-01&to=2026-02-01", "?from=2000-01-01&to=2026-01-01", "?contract=" + strings.Repeat("x", 200)} {
		st, out, _ := e.do(http.MethodGet, "/analytics/report"+q, nil, analystHeader())
		if st != http.StatusBadRequest || !strings.Contains(string(out), "OperationOutcome") {
			t.Errorf("report%s: %d %s, want 400 OperationOutcome", q, st, out)
		}
	}
}

func TestAnalyticsCSVEqualsJSON(t *testing.T) {
	e := analyticsEnv(t)
	rep := getReport(t, e, period)
	st, out, h := e.do(http.MethodGet, "/analytics/report.csv"+period, nil, analystHeader())
	if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") ||
		h.Get("Content-Disposition") != `attachment; filename="valuerx-report-2026-01-01-2026-03-31.csv"` {
		t.Fatalf("csv: %d %v", st, h)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+1+len(rep.Contracts)+len(rep.Families)+len(rep.Prescribers)+len(rep.Months) {
		t.Fatalf("csv has %d lines: %q", len(recs), recs)
	}
	if recs[1][0] != "total" || recs[1][6] != strconv.Itoa(rep.Total.Cards) || recs[1][11] != strconv.FormatFloat(rep.Total.PayerSavedUSD, 'f', 2, 64) {
		t.Errorf("csv total %q vs json %+v", recs[1], rep.Total)
	}
	for i, c := range rep.Contracts {
		r := recs[2+i]
		if r[1] != c.Contract || r[6] != strconv.Itoa(c.Cards) || r[7] != strconv.Itoa(c.Accepted) || r[11] != strconv.FormatFloat(c.PayerSavedUSD, 'f', 2, 64) {
			t.Errorf("csv %q vs json %+v", r, c)
		}
	}
}

var (
	kpiRE   = regexp.MustCompile(`id="(total-[a-z]+)">([^<]*)<`)
	rowRE   = regexp.MustCompile(`(?s)<tr data-contract="([^"]+)">(.*?)</tr>`)
	tdRE    = regexp.MustCompile(`<td class="n">([^<]*)</td>`)
	barRE   = regexp.MustCompile(`<rect class="bar" [^>]*><title>([^<:]+): ([^<]+)</title></rect>`)
	monthRE = regexp.MustCompile(`(?s)<tr data-month="([^"]+)">(.*?)</tr>`)
)

func dollars(v float64) string { return "$" + scoring.FormatUSD(v) }
func percent(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + " %" }

// The dashboard shows the JSON API's figures: totals, each contract's row and its bar.
func TestDashboardEqualsJSON(t *testing.T) {
	e := analyticsEnv(t)
	for _, q := range []string{period, period + "&contract=mssp-aco", period + "&family=trastuzumab", ""} {
		rep := getReport(t, e, q)
		st, out, h := e.do(http.MethodGet, "/analytics/dashboard"+q, nil, analystHeader())
		if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("dashboard%s: %d %v", q, st, h)
		}
		page := string(out)
		if strings.Contains(page, "<script") || strings.Contains(page, "http://") && !strings.Contains(page, `xmlns="http://www.w3.org/2000/svg"`) {
			t.Errorf("dashboard%s loads or runs something external", q)
		}
		kpi := map[string]string{}
		for _, m := range kpiRE.FindAllStringSubmatch(page, -1) {
			kpi[m[1]] = html.UnescapeString(m[2])
		}
		want := map[string]string{"total-cards": strconv.Itoa(rep.Total.Cards), "total-accepted": strconv.Itoa(rep.Total.Accepted),
			"total-overridden": strconv.Itoa(rep.Total.Overridden), "total-acceptance": percent(rep.Total.AcceptanceRate),
			"total-payer": dollars(rep.Total.PayerSavedUSD), "total-patient": dollars(rep.Total.PatientSavedUSD)}
		for k, v := range want {
			if kpi[k] != v {
				t.Errorf("dashboard%s %s = %q, JSON says %q", q, k, kpi[k], v)
			}
		}
		rows := rowRE.FindAllStringSubmatch(page, -1)
		if len(rows) != len(rep.Contracts) {
			t.Fatalf("dashboard%s: %d contract rows, JSON %d", q, len(rows), len(rep.Contracts))
		}
		bars := barRE.FindAllStringSubmatch(page, -1)
		if len(bars) != len(rep.Contracts) {
			t.Fatalf("dashboard%s: %d bars, JSON %d contracts", q, len(bars), len(rep.Contracts))
		}
		for i, c := range rep.Contracts {
			cells := tdRE.FindAllStringSubmatch(rows[i][2], -1)
			got := make([]string, len(cells))
			for j, m := range cells {
				got[j] = html.UnescapeString(m[1])
			}
			wantCells := []string{strconv.Itoa(c.Orders), strconv.Itoa(c.NoCard), strconv.Itoa(c.Cards), strconv.Itoa(c.Accepted), strconv.Itoa(c.Overridden),
				strconv.Itoa(c.NoFeedback), percent(c.AcceptanceRate), dollars(c.PayerSavedUSD), dollars(c.PatientSavedUSD), dollars(c.OrgImpactUSD)}
			if rows[i][1] != c.Contract || strings.Join(got, "|") != strings.Join(wantCells, "|") {
				t.Errorf("dashboard%s row %s = %v, JSON %v", q, rows[i][1], got, wantCells)
			}
			if bars[i][1] != c.Contract || html.UnescapeString(bars[i][2]) != dollars(c.PayerSavedUSD) {
				t.Errorf("dashboard%s bar %q, JSON %s %s", q, bars[i][1:], c.Contract, dollars(c.PayerSavedUSD))
			}
		}
		mrows := monthRE.FindAllStringSubmatch(page, -1)
		if len(mrows) != len(rep.Months) {
			t.Fatalf("dashboard%s: %d month rows, JSON %d", q, len(mrows), len(rep.Months))
		}
		for i, m := range rep.Months {
			cells := tdRE.FindAllStringSubmatch(mrows[i][2], -1)
			if mrows[i][1] != m.Month || len(cells) != 9 || cells[2][1] != strconv.Itoa(m.Cards) || html.UnescapeString(cells[7][1]) != dollars(m.PayerSavedUSD) {
				t.Errorf("dashboard%s month row %s = %q, JSON %+v", q, mrows[i][1], cells, m)
			}
		}
		if !strings.Contains(page, `href="/analytics/report.csv`) {
			t.Errorf("dashboard%s has no CSV link", q)
		}
	}
	// Hand figures on the page itself, not only equality with the API.
	_, out, _ := e.do(http.MethodGet, "/analytics/dashboard"+period, nil, analystHeader())
	if !strings.Contains(string(out), `id="total-payer">$4,700.75<`) || !strings.Contains(string(out), `id="total-acceptance">75.0 %<`) {
		t.Errorf("dashboard does not show the hand-counted $4,700.75 and 75.0 %%")
	}
	aco, _ := e.gw.current().reg.Contract("mssp-aco")
	tras, _ := e.gw.current().cat.Group("trastuzumab")
	if aco.Name == "" || tras.Name == "" || !strings.Contains(string(out), html.EscapeString(aco.Name)) || !strings.Contains(string(out), html.EscapeString(tras.Name)) {
		t.Errorf("dashboard does not name the contract %q and the family %q", aco.Name, tras.Name)
	}
	if st, css, h := e.do(http.MethodGet, "/analytics/dashboard.css", nil, analystHeader()); st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/css") || len(css) < 100 {
		t.Errorf("dashboard.css: %d %v", st, h)
	}
}

// End to end: a real hook and its feedback reach the report, with the accepted suggestion's own
// figures and the hook's userId as the prescriber.
func TestReportFromRealHookAndFeedback(t *testing.T) {
	e := newEnv(t)
	status, body, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select"))
	if status != 200 {
		t.Fatalf("hook: %d %s", status, body)
	}
	cards := decodeResponse(t, body).Cards
	if len(cards) == 0 || len(cards[0].Suggestions) == 0 {
		t.Fatalf("no card with suggestions: %s", body)
	}
	card := cards[0]
	last := card.Suggestions[len(card.Suggestions)-1]
	fb, _ := json.Marshal(map[string]any{"feedback": []any{map[string]any{"card": card.UUID, "outcome": "accepted",
		"acceptedSuggestions": []any{map[string]any{"id": last.UUID}}, "outcomeTimestamp": e.gw.cfg.Now().UTC().Format(time.RFC3339)}}})
	if st, out, _ := e.post(serviceOf("order-select")+"/feedback", fb); st != 200 {
		t.Fatalf("feedback: %d %s", st, out)
	}
	d, err := e.store.Decision(context.Background(), card.UUID)
	if err != nil {
		t.Fatal(err)
	}
	var booked store.Suggestion
	for _, s := range d.Suggestions {
		if s.UUID == last.UUID {
			booked = s
		}
	}
	if booked.UUID == "" || booked.PayerSaving == 0 {
		t.Fatalf("the accepted suggestion has no stored figures: %+v", d.Suggestions)
	}
	rep := getReport(t, e, "")
	if rep.Total.Cards != 1 || rep.Total.Accepted != 1 || rep.Total.PayerSavedUSD != math.Round(booked.PayerSaving*100)/100 {
		t.Errorf("report total = %+v, want 1 accepted booking the last suggestion's %v", rep.Total, booked.PayerSaving)
	}
	if len(rep.Prescribers) != 1 || rep.Prescribers[0].Prescriber != "Practitioner/dr-oncology" || d.UserID != "Practitioner/dr-oncology" {
		t.Errorf("prescriber = %+v (decision %q), want Practitioner/dr-oncology", rep.Prescribers, d.UserID)
	}
	if len(rep.Contracts) != 1 || rep.Contracts[0].Contract != "mssp-aco" {
		t.Errorf("contracts = %+v", rep.Contracts)
	}
}

// A browser without a session that opens a filtered dashboard is sent to the login form and,
// after signing in, back to the same filter (the query survives the round trip).
func TestDashboardLoginKeepsFilter(t *testing.T) {
	e := analyticsEnv(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	target := "/analytics/dashboard?from=2026-01-01&to=2026-03-31&family=trastuzumab"
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+target, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc != "/analytics/login?next="+url.QueryEscape(target) {
		t.Fatalf("no session: %d %q", resp.StatusCode, loc)
	}
	form := url.Values{"username": {testAnalyst}, "password": {testAnalystPassword}, "next": {target}}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/analytics/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != target || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Cookies()[0]
	st, page, _ := e.do(http.MethodGet, target, nil, map[string]string{"Cookie": ck.Name + "=" + ck.Value})
	if st != 200 || !strings.Contains(string(page), `<option value="trastuzumab" selected>`) {
		t.Errorf("dashboard after login: %d, family filter not kept", st)
	}
}
