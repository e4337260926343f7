package gateway

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"valuerx/store"
	"valuerx/tracking"
)

// Two trusted EHRs (clients) that both call their prescriber "Practitioner/123" and their clinic
// "Location/clinic-1": two people, two places.
const (
	clientA = "https://ehr-a.test"
	clientB = "https://ehr-b.test tenant=b1"
)

// twoClientOrders records, in st:
//
//	a1 clientA mssp-aco trastuzumab Feb 03  accepted, 100.00 payer
//	a2 clientA mssp-aco trastuzumab Feb 04  overridden (clinical-reason)
//	b1 clientB mssp-aco trastuzumab Feb 05  accepted,  40.00 payer
//
// all by Practitioner/123 at Location/clinic-1. By hand, per (client, prescriber): A 2 orders,
// 2 cards, 1 accepted, 1 overridden, 100.00 payer; B 1 order, 1 accepted, 40.00; total 3 orders,
// 140.00. The same per (client, location).
func twoClientOrders(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	for i, x := range []struct {
		client, key, outcome string
		payer                float64
	}{{clientA, "a1", "accepted", 100}, {clientA, "a2", "overridden", 100}, {clientB, "b1", "accepted", 40}} {
		at := time.Date(2026, 2, 3+i, 14, 0, 0, 0, time.UTC)
		d := store.Decision{CardUUID: x.key + "-card", HookInstance: "h-" + x.key, ServiceID: "valuerx-order-sign", Hook: "order-sign",
			Client: x.client, OrderKey: x.key, Fingerprint: "fp", UserID: "Practitioner/123", Location: "Location/clinic-1",
			ContractID: "mssp-aco", Arrangement: "arr", GroupID: "trastuzumab", OrderedProductID: "ref", BestProductID: "p0",
			PayerSaving: x.payer, At: at,
			Suggestions: []store.Suggestion{{UUID: x.key + "-s0", ProductID: "p0", PayerSaving: x.payer}}}
		if err := st.RecordDecisions(ctx, []store.Decision{d}); err != nil {
			t.Fatal(err)
		}
		when := at.Add(time.Minute)
		f := store.Feedback{Client: x.client, ServiceID: d.ServiceID, CardUUID: d.CardUUID, OrderKey: x.key, Fingerprint: "fp",
			Outcome: x.outcome, OutcomeSent: when, OutcomeAt: when, ReceivedAt: when}
		if x.outcome == "accepted" {
			f.SuggestionUUID = x.key + "-s0"
		} else {
			f.ReasonCode = "clinical-reason"
		}
		if err := st.RecordFeedback(ctx, []store.Feedback{f}); err != nil {
			t.Fatal(err)
		}
	}
}

const febPeriod = "?from=2026-02-01&to=2026-02-28"

// The per-prescriber and per-location rows are per client: the same userId and Location from two
// EHRs are two rows each, with the client named in the JSON, the CSV and the page; from the
// rollup and from the orders alike. (Before: one row of 3 orders each.)
func TestDashboardRowsPerClient(t *testing.T) {
	for _, rollup := range []bool{true, false} {
		e := newEnv(t, func(c *Config) { c.Now = func() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) } })
		twoClientOrders(t, e.store)
		if !rollup {
			e.swapStore(ordersOnly{e.store})
		}
		var rep tracking.Dashboard
		st, out, _ := e.do(http.MethodGet, "/analytics/report"+febPeriod, nil, analystHeader())
		if st != 200 || json.Unmarshal(out, &rep) != nil {
			t.Fatalf("report: %d %s", st, out)
		}
		if rep.Total.Orders != 3 || rep.Total.PayerSavedUSD != 140 {
			t.Fatalf("rollup %v: total %+v, want 3 orders, 140.00", rollup, rep.Total)
		}
		type row struct {
			name, client     string
			orders, acc, ovr int
			payer            float64
		}
		want := []row{{"Practitioner/123", clientA, 2, 1, 1, 100}, {"Practitioner/123", clientB, 1, 1, 0, 40}}
		if len(rep.Prescribers) != 2 {
			t.Fatalf("rollup %v: prescribers %+v, want one row per client", rollup, rep.Prescribers)
		}
		for i, w := range want {
			p := rep.Prescribers[i]
			if p.Prescriber != w.name || p.Client != w.client || p.Orders != w.orders || p.Accepted != w.acc || p.Overridden != w.ovr || p.PayerSavedUSD != w.payer {
				t.Errorf("rollup %v: prescriber row %d = %+v, want %+v", rollup, i, p, w)
			}
			l := rep.Locations[i]
			if l.Location != "Location/clinic-1" || l.Client != w.client || l.Orders != w.orders || l.Accepted != w.acc || l.PayerSavedUSD != w.payer {
				t.Errorf("rollup %v: location row %d = %+v, want %+v", rollup, i, l, w)
			}
		}
		for _, table := range []string{"prescribers", "locations"} {
			_, out, _ := e.do(http.MethodGet, "/analytics/report.csv"+febPeriod+"&table="+table, nil, analystHeader())
			recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
			if err != nil || len(recs) != 3 || recs[0][1] != "client" {
				t.Fatalf("rollup %v: csv %s: %v %q", rollup, table, err, recs)
			}
			for i, w := range want {
				if r := recs[1+i]; r[1] != w.client || r[2] != map[int]string{2: "2", 1: "1"}[w.orders] {
					t.Errorf("rollup %v: csv %s row %q, want client %s, %d orders", rollup, table, r, w.client, w.orders)
				}
			}
		}
		_, all, _ := e.do(http.MethodGet, "/analytics/report.csv"+febPeriod, nil, analystHeader())
		if n := strings.Count(string(all), "prescriber,,,,Practitioner/123,"); n != 2 {
			t.Errorf("rollup %v: all-tables csv has %d prescriber lines for Practitioner/123, want 2:\n%s", rollup, n, all)
		}
		_, page, _ := e.do(http.MethodGet, "/analytics/dashboard/people"+febPeriod, nil, analystHeader())
		for _, w := range want {
			re := regexp.MustCompile(`<tr data-prescriber="Practitioner/123" data-client="` + regexp.QuoteMeta(w.client) + `"><td>Practitioner/123</td><td class="client">` +
				regexp.QuoteMeta(w.client) + `</td><td class="n">` + map[int]string{2: "2", 1: "1"}[w.orders] + `</td>`)
			if !re.Match(page) {
				t.Errorf("rollup %v: people page has no prescriber row of %s with %d orders", rollup, w.client, w.orders)
			}
			if !strings.Contains(string(page), `<tr data-location="Location/clinic-1" data-client="`+w.client+`">`) {
				t.Errorf("rollup %v: people page has no location row of %s", rollup, w.client)
			}
		}
		// The client filter narrows every table to one EHR.
		var b tracking.Dashboard
		_, out, _ = e.do(http.MethodGet, "/analytics/report"+febPeriod+"&client="+strings.ReplaceAll(clientB, " ", "%20"), nil, analystHeader())
		if json.Unmarshal(out, &b) != nil || b.Total.Orders != 1 || b.Total.PayerSavedUSD != 40 || len(b.Prescribers) != 1 || b.Prescribers[0].Client != clientB {
			t.Errorf("rollup %v: client filter: %s", rollup, out)
		}
		var d decisionsJSON
		_, out, _ = e.do(http.MethodGet, "/analytics/report/decisions"+febPeriod, nil, analystHeader())
		if json.Unmarshal(out, &d) != nil || len(d.Decisions) != 3 || d.Decisions[0].Client != clientB || d.Decisions[2].Client != clientA {
			t.Errorf("rollup %v: decisions %s", rollup, out)
		}
	}
}

// Analysts limited to clients (item 3 of the tracking follow-up): a local account with
// Clients [A], an OIDC token or browser session admitted only by a role scoped to [A], see A's
// two orders and nothing of B's, on every page, JSON API and CSV export; the health system's
// team (an account without Clients, a token that also carries an unscoped role) sees all three;
// an account with Clients [] sees none. Hand counts as twoClientOrders: A 2 orders (1 accepted,
// 100.00), B 1 (40.00).
func TestAnalystScopedToClients(t *testing.T) {
	p := newOIDCProvider(t)
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) }
		h := testAnalystHash(t)
		c.Analysts.Accounts = []AnalystAccount{{Name: "team", PasswordHash: h}, {Name: "ehr-a", PasswordHash: h, Clients: []string{clientA}},
			{Name: "nobody", PasswordHash: h, Clients: []string{}}}
		c.Analysts.OIDC = &AnalystOIDC{Issuer: p.issuer(), Audience: "valuerx-analytics", Claim: "realm_access.roles",
			Values: []string{"vbc-analysts", "ehr-a-analysts"}, ClientScopes: map[string][]string{"ehr-a-analysts": {clientA}},
			ClientID: "valuerx-dashboard", ClientSecret: "dashboard-secret"}
	})
	twoClientOrders(t, e.store)
	basic := func(name string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+testAnalystPassword))}
	}
	roles := func(rs ...string) map[string]string {
		return bearer(p.token(t, p.key, func(c jwt.MapClaims) { c["realm_access"] = map[string]any{"roles": rs} }))
	}
	// A browser signed in with the provider, its ID token carrying the scoped role only.
	p.editID = func(c jwt.MapClaims) { c["realm_access"] = map[string]any{"roles": []string{"ehr-a-analysts"}} }
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/analytics/oidc/login", nil) // local accounts too: the form would be the default
	req.Header.Set("Accept", "text/html")
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || p.exchanges.Load() != 1 {
		t.Fatalf("browser sign-in: %d, %d code exchanges", resp.StatusCode, p.exchanges.Load())
	}
	get := func(who string, hdr map[string]string, path string) (int, string) {
		t.Helper()
		if hdr != nil {
			st, out, _ := e.do(http.MethodGet, path, nil, hdr)
			return st, string(out)
		}
		resp, err := browser.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	type seen struct {
		orders int
		payer  float64
		b      bool // sees client B anywhere
	}
	for _, c := range []struct {
		who  string
		hdr  map[string]string
		want seen
	}{
		{"local account scoped to A", basic("ehr-a"), seen{2, 100, false}},
		{"OIDC token with the scoped role", roles("ehr-a-analysts"), seen{2, 100, false}},
		{"OIDC browser session with the scoped role", nil, seen{2, 100, false}},
		{"local account of the team", basic("team"), seen{3, 140, true}},
		{"OIDC token with the scoped and the team's role", roles("ehr-a-analysts", "vbc-analysts"), seen{3, 140, true}},
		{"local account scoped to no client", basic("nobody"), seen{0, 0, false}},
	} {
		var rep tracking.Dashboard
		st, out := get(c.who, c.hdr, "/analytics/report"+febPeriod)
		if st != 200 || json.Unmarshal([]byte(out), &rep) != nil {
			t.Fatalf("%s: report %d %s", c.who, st, out)
		}
		if rep.Total.Orders != c.want.orders || rep.Total.PayerSavedUSD != c.want.payer || strings.Contains(out, clientB) != c.want.b {
			t.Errorf("%s: report total %d orders %.2f, client B named %v; want %+v", c.who, rep.Total.Orders, rep.Total.PayerSavedUSD, strings.Contains(out, clientB), c.want)
		}
		for _, path := range []string{"/analytics/report.csv" + febPeriod, "/analytics/report.csv" + febPeriod + "&table=decisions",
			"/analytics/report.csv" + febPeriod + "&table=prescribers", "/analytics/report.csv" + febPeriod + "&table=locations",
			"/analytics/report/decisions" + febPeriod, "/analytics/dashboard/people" + febPeriod, "/analytics/dashboard/decisions" + febPeriod} {
			st, out := get(c.who, c.hdr, path)
			if st != 200 || strings.Contains(out, clientB) != c.want.b {
				t.Errorf("%s: %s: %d, client B named %v, want %v", c.who, path, st, strings.Contains(out, clientB), c.want.b)
			}
		}
		// The page says the account is limited (and to what), and only then.
		if _, page := get(c.who, c.hdr, "/analytics/dashboard"+febPeriod); strings.Contains(page, `id="scope"`) != (!c.want.b) {
			t.Errorf("%s: the overview says the account is limited: %v, want %v", c.who, strings.Contains(page, `id="scope"`), !c.want.b)
		}
		// The measures page (a FHIR export's worklist, naming patients, of no one client) is not
		// shown to an account limited to some clients.
		if st, _ := get(c.who, c.hdr, "/analytics/measures"); (st == 200) != c.want.b {
			t.Errorf("%s: measures page %d", c.who, st)
		}
		// The drill-down's CSV: one row per order the analyst may see.
		_, csvOut := get(c.who, c.hdr, "/analytics/report.csv"+febPeriod+"&table=decisions")
		if recs, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll(); err != nil || len(recs)-1 != c.want.orders {
			t.Errorf("%s: decisions csv %d rows (%v), want %d", c.who, len(recs)-1, err, c.want.orders)
		}
		var outc tracking.Outcomes
		if st, out := get(c.who, c.hdr, "/analytics/outcomes"+febPeriod); st != 200 || json.Unmarshal([]byte(out), &outc) != nil || outc.Total.Orders != c.want.orders {
			t.Errorf("%s: outcomes %d, %d orders, want %d", c.who, st, outc.Total.Orders, c.want.orders)
		}
		if _, out := get(c.who, c.hdr, "/analytics/outcomes.csv"+febPeriod); !strings.Contains(out, "\ntotal,,,,,"+strconv.Itoa(c.want.orders)+",") {
			t.Errorf("%s: outcomes csv total line not %d orders:\n%s", c.who, c.want.orders, out)
		}
		// The legacy summary counts the same orders.
		var sum struct{ Contracts []store.ContractSummary }
		if st, out := get(c.who, c.hdr, "/analytics/summary"); st != 200 || json.Unmarshal([]byte(out), &sum) != nil {
			t.Errorf("%s: summary %d %s", c.who, st, out)
		} else if cards := func() (n int) {
			for _, s := range sum.Contracts {
				n += s.Cards
			}
			return n
		}(); cards != c.want.orders {
			t.Errorf("%s: summary counts %d cards, want %d", c.who, cards, c.want.orders)
		}
		// B's decision page exists only for those who may see B; A's for those who may see A.
		if st, _ := get(c.who, c.hdr, "/analytics/decisions/b1-card"); (st == 200) != c.want.b {
			t.Errorf("%s: client B's decision page: %d", c.who, st)
		}
		if st, _ := get(c.who, c.hdr, "/analytics/decisions/a1-card"); (st == 200) != (c.want.orders > 0) {
			t.Errorf("%s: client A's decision page: %d", c.who, st)
		}
		// Asking for B by name gives nothing to whom may not see it.
		var onlyB tracking.Dashboard
		_, out = get(c.who, c.hdr, "/analytics/report"+febPeriod+"&client="+url.QueryEscape(clientB))
		if json.Unmarshal([]byte(out), &onlyB) != nil || (onlyB.Total.Orders == 1) != c.want.b || (!c.want.b && onlyB.Total.Orders != 0) {
			t.Errorf("%s: client=B filter: %s", c.who, out)
		}
	}
}

// The background folder folds what was written without waiting for a read: three orders
// recorded straight into the store are in the rollup (rollup_state has seen every decision and
// feedback row) within a few periods, with no request made; before, nothing was folded until a
// dashboard read, which then waited for the whole fold. With RollupFoldEvery < 0 nothing is.
func TestRollupFoldedInTheBackground(t *testing.T) {
	for _, every := range []time.Duration{10 * time.Millisecond, -1} {
		e := newEnv(t, func(c *Config) { c.RollupFoldEvery = every })
		twoClientOrders(t, e.store)
		db, err := sql.Open("sqlite", "file:"+e.storePath+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		folded := func() bool {
			var dSeen, fSeen, dMax, fMax int64
			if err := db.QueryRow(`SELECT decisions_seen, feedback_seen, (SELECT MAX(rowid) FROM decisions), (SELECT MAX(rowid) FROM feedback)
				FROM rollup_state`).Scan(&dSeen, &fSeen, &dMax, &fMax); err != nil {
				t.Fatal(err)
			}
			return dSeen == dMax && fSeen == fMax && dMax == 3
		}
		deadline := time.Now().Add(10 * time.Second)
		for !folded() && every > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if every > 0 && !folded() {
			t.Errorf("every %v: the three orders were not folded in the background", every)
		}
		if every < 0 {
			time.Sleep(100 * time.Millisecond)
			if folded() {
				t.Errorf("folded without a read although the background folder is off")
			}
		}
		db.Close()
	}
}
