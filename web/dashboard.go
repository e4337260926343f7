package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"valuerx/tracking"
)

// The analysts' dashboard: server-rendered pages over one tracking.Dashboard, the report the JSON
// API and the CSV exports serve, so they always agree. Filters are a plain GET form (query
// parameters), charts are inline SVG computed here, and the stylesheet is embedded and served by
// the gateway behind the same analyst authentication: no script, no CDN, no web font.
//
// Tabs: the overview (per contract), drug families (adoption of the recommended product over
// time), prescribers and locations, and the decisions (a drill-down to single orders and their
// comparison). No page shows a patient identifier: the record holds none.

//go:embed dashboard/*
var dashFiles embed.FS

var dashTmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"usd":   usd,
	"money": signedMoney,
	"pct":   func(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + " %" },
	"reasons": func(m map[string]int) []reasonCount {
		out := make([]reasonCount, 0, len(m))
		for k, n := range m {
			out = append(out, reasonCount{k, n})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
		return out
	},
	"target": targetText,
	"utc":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"measure": func(measure string, v float64) string {
		if measure == tracking.MeasureAnnualSavings {
			return signedMoney(v)
		}
		return strconv.FormatFloat(v*100, 'f', 1, 64) + " %"
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"name": func(names map[string]string, id string) string {
		if n := names[id]; n != "" {
			return n
		}
		return id
	},
	"day": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
}).ParseFS(dashFiles, "dashboard/*.html"))

// DashboardCSS is the dashboard's stylesheet (served by the gateway at DashboardPage.CSS).
func DashboardCSS() []byte {
	b, err := dashFiles.ReadFile("dashboard/dashboard.css")
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return b
}

type reasonCount struct {
	Code  string
	Count int
}

// Tabs of the dashboard (DashboardPage.Tab), each a path under DashboardPage.Base.
const (
	TabOverview  = "overview"
	TabFamilies  = "families"
	TabPeople    = "people"
	TabDecisions = "decisions"
	TabDecision  = "decision"
	TabOutcomes  = "outcomes"
)

// DashboardPage is what the gateway passes to RenderDashboard.
type DashboardPage struct {
	Tab    string
	Report tracking.Dashboard
	// From and To are the filter as the analyst entered it (YYYY-MM-DD; To inclusive).
	From, To string
	// Contracts, Families, Prescribers and Clients are the choices of the filter form (ids;
	// clients are the EHRs' verified identities, store.Decision.Client).
	Contracts, Families, Prescribers, Clients []string
	// Scope are the only clients the analyst may see (nil: every client); the page says so.
	Scope []string
	// Scoped is true when Scope applies (an analyst limited to some clients, possibly none).
	Scoped bool
	// Names are display names of contract, family and product ids (the catalog's and the
	// contracts'), shown beside the ids; an id without one is shown alone.
	Names map[string]string
	// CSS is the stylesheet's path; Base the overview's (tabs are Base/{tab}); JSONPath and
	// CSVPath the report API's (no query); DecisionPath the prefix of one decision's page.
	CSS, Base, JSONPath, CSVPath, DecisionPath string
	// Decisions are the drill-down's rows (TabDecisions), Offset the first one's position, More
	// whether older ones follow, Limit the page size.
	Decisions     []DecisionView
	Offset, Limit int
	More          bool
	// Decision is the one decision of TabDecision.
	Decision *DecisionDetail
	// Outcomes is the outcomes and divergence report of TabOutcomes (tracking.BuildOutcomes);
	// OutcomesCSV and DivergenceCSV its exports (with the filter).
	Outcomes                   *tracking.Outcomes
	OutcomesCSV, DivergenceCSV string
}

// DecisionView is one order of the drill-down: what was advised and what became of it. It holds
// no patient data (the record has none); Link is the decision's own page ("" for an order that
// got no card: there is no card to show).
type DecisionView struct {
	At                                time.Time
	Contract, Family, Ordered, Best   string
	Outcome, Detail                   string
	Signed, Administered              string
	Administrations                   int
	PayerSavedUSD                     float64
	Prescriber, Location, Link, NoRec string
	// Client is the order's client (EHR): prescriber and location are references of its EHR.
	Client string
}

// DecisionDetail is one card as recorded, for its page: every suggestion with its figures, and a
// link to the comparison page when the card's scoring could be reproduced to the cent.
type DecisionDetail struct {
	CardUUID, Hook, Contract, Arrangement, Family string
	Ordered, Best, Prescriber, Location, Client   string
	At                                            time.Time
	Outcome, Reason, AcceptedProduct              string
	Suggestions                                   []SuggestionView
	// CompareURL is a fresh signed link to the comparison page; CompareNote says why there is
	// none when it is empty.
	CompareURL, CompareNote string
	// PayerOnAllowedUntil is set when the card was recorded while payer savings were booked on
	// the allowed amount (tracking.PayerBasisNote of the card's time).
	PayerOnAllowedUntil *time.Time
}

// SuggestionView is one suggestion of a recorded card.
type SuggestionView struct {
	Product                               string
	PayerCourse, PatientCourse, OrgCourse float64
	PayerYear, PatientYear, OrgYear       float64
	Accepted                              bool
}

type dashView struct {
	DashboardPage
	Query      template.URL // the filter as a query string, for the tabs, JSON and CSV links
	Tabs       []tabLink
	Chart      savingsChart
	Monthly    savingsChart
	Adoption   lineChart
	Sparks     map[string]sparkline
	HasTarget  bool
	OlderQuery template.URL
	NewerQuery template.URL
	HasNewer   bool
	// Reasons are override-reason matrices (rows: contracts, families, prescribers, locations;
	// columns: the reason codes seen); Targets every target row of the tab.
	Reasons map[string]reasonMatrix
	Targets []targetRow
	// Divergence is the divergence share per quarter (all families of the filter).
	Divergence                 savingsChart
	OutcomesCSV, DivergenceCSV template.URL
	// CSV is each table's export link (the same filter); Self is this tab's path.
	CSV  map[string]template.URL
	Self string
}

type reasonMatrix struct {
	Codes []string
	Rows  []reasonMatrixRow
}

type reasonMatrixRow struct {
	Label, Sub string
	Counts     []int
	Total      int
}

func matrixOf(rows []tracking.Row, label func(tracking.Row) (string, string)) reasonMatrix {
	seen := map[string]bool{}
	for _, r := range rows {
		for k := range r.Overrides {
			seen[k] = true
		}
	}
	var m reasonMatrix
	for k := range seen {
		m.Codes = append(m.Codes, k)
	}
	sort.Strings(m.Codes)
	for _, r := range rows {
		l, sub := label(r)
		mr := reasonMatrixRow{Label: l, Sub: sub, Counts: make([]int, len(m.Codes))}
		for i, c := range m.Codes {
			mr.Counts[i] = r.Overrides[c]
			mr.Total += r.Overrides[c]
		}
		m.Rows = append(m.Rows, mr)
	}
	return m
}

// targetRow is one target of a contract (Family "") or of a family within a contract.
type targetRow struct {
	Contract, Family string
	tracking.TargetResult
}

// CSVTables are the tables the CSV export serves one at a time (?table=).
var CSVTables = []string{"contracts", "families", "prescribers", "locations", "months", "adoption", "decisions"}

type tabLink struct {
	Name, Label string
	Href        template.URL
	Current     bool
}

// savingsChart is a horizontal bar chart of projected payer savings per contract or month.
type savingsChart struct {
	Width, Height int
	Bars          []savingsBar
}

type savingsBar struct {
	Label, Value string
	Y, TextY     int
	W            float64
}

const (
	chartLabelW = 180
	chartBarW   = 400
	chartRowH   = 28
)

func buildChart(rows []tracking.Row, label func(tracking.Row) string) savingsChart {
	var max float64
	for _, r := range rows {
		if r.PayerSavedUSD > max {
			max = r.PayerSavedUSD
		}
	}
	c := savingsChart{Width: chartLabelW + chartBarW + 110, Height: chartRowH*len(rows) + 8}
	for i, r := range rows {
		b := savingsBar{Label: label(r), Value: usd(r.PayerSavedUSD), Y: 4 + i*chartRowH, TextY: 4 + i*chartRowH + 18}
		if r.PayerSavedUSD < 0 {
			b.Value = "-" + b.Value
		}
		if max > 0 && r.PayerSavedUSD > 0 {
			b.W = float64(int(r.PayerSavedUSD/max*chartBarW*10+0.5)) / 10
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// adoptionChart draws the share of orders on the recommended product per month for the whole
// filter (black, thick) and the five families with the most orders.
func adoptionChart(rows []tracking.AdoptionRow, total tracking.AdoptionRow, names map[string]string) lineChart {
	lc := lineChart{Width: 640, Left: 44, Right: 630, Top: 8, Bottom: 188, Unit: "%"}
	months := map[string]bool{}
	for _, m := range total.Months {
		months[m.Month] = true
	}
	var ms []string
	for m := range months {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	lc.Quarters = len(ms)
	if len(ms) == 0 {
		return lc
	}
	idx := map[string]int{}
	for i, m := range ms {
		idx[m] = i
	}
	xOf := func(i int) float64 {
		if len(ms) == 1 {
			return float64(lc.Left+lc.Right) / 2
		}
		return float64(lc.Left) + float64(i)*float64(lc.Right-lc.Left)/float64(len(ms)-1)
	}
	yOf := func(share float64) float64 { return float64(lc.Bottom) - share*float64(lc.Bottom-lc.Top) }
	top := append([]tracking.AdoptionRow(nil), rows...)
	sort.SliceStable(top, func(i, j int) bool { return top[i].Orders > top[j].Orders })
	// Five families at most beside the whole: more lines are a tangle (the table below has every
	// family's own line; the family filter draws one alone).
	if len(top) > 5 {
		top = top[:5]
	}
	sort.Slice(top, func(i, j int) bool { return top[i].Family < top[j].Family })
	all := total
	all.Family = "all families of the filter"
	for i, r := range append([]tracking.AdoptionRow{all}, top...) {
		name := r.Family
		if i > 0 {
			if n := names[r.Family]; n != "" {
				name = n
			}
		}
		color := "#000000"
		if i > 0 {
			color = palette[(i-1)%len(palette)]
			if color == "#000000" {
				color = "#882255"
			}
		}
		s := series{ID: r.Family, Name: name, Color: color, Width: 2}
		if i == 0 {
			s.Width = 3.5
		}
		var pts []string
		for _, m := range r.Months {
			x, y := round1(xOf(idx[m.Month])), round1(yOf(m.Share))
			pts = append(pts, fmt.Sprintf("%g,%g", x, y))
			s.Dots = append(s.Dots, dot{X: x, Y: y, Title: fmt.Sprintf("%s %s: %s of %d orders on the recommended product", name, m.Month,
				strconv.FormatFloat(m.Share*100, 'f', 1, 64)+" %", m.Orders)})
		}
		if len(pts) == 0 {
			continue
		}
		s.Points = strings.Join(pts, " ")
		lc.Series = append(lc.Series, s)
	}
	for i, m := range ms {
		if i == 0 || i == len(ms)-1 || i == len(ms)/2 {
			anchor := "middle"
			switch {
			case len(ms) == 1:
			case i == 0:
				anchor = "start"
			case i == len(ms)-1:
				anchor = "end"
			}
			lc.XLabels = append(lc.XLabels, axisLabel{X: round1(xOf(i)), Y: float64(lc.Bottom + 16), Text: m, Anchor: anchor})
		}
	}
	for _, f := range []float64{0, 0.5, 1} {
		lc.YLabels = append(lc.YLabels, axisLabel{X: float64(lc.Left - 4), Y: round1(yOf(f)) + 4, Text: strconv.Itoa(int(f*100)) + " %"})
	}
	for i := range lc.Series {
		lc.Series[i].LegendY = lc.Bottom + 40 + i*18
	}
	lc.Height = lc.Bottom + 40 + len(lc.Series)*18
	return lc
}

// divergenceChart is a bar per quarter: the share of comparable orders whose fee-for-service
// and value-based answers named different products, over the families of the filter.
func divergenceChart(rows []tracking.DivergenceRow) savingsChart {
	type q struct{ comparable, diverged int }
	by := map[string]*q{}
	for _, r := range rows {
		x := by[r.Quarter]
		if x == nil {
			x = &q{}
			by[r.Quarter] = x
		}
		x.comparable += r.Comparable
		x.diverged += r.Diverged
	}
	var quarters []string
	for k := range by {
		quarters = append(quarters, k)
	}
	sort.Strings(quarters)
	c := savingsChart{Width: chartLabelW + chartBarW + 110, Height: chartRowH*len(quarters) + 8}
	for i, k := range quarters {
		x := by[k]
		share := 0.0
		if x.comparable > 0 {
			share = float64(x.diverged) / float64(x.comparable)
		}
		c.Bars = append(c.Bars, savingsBar{Label: k, Value: fmt.Sprintf("%s of %d orders", strconv.FormatFloat(share*100, 'f', 1, 64)+" %", x.comparable),
			Y: 4 + i*chartRowH, TextY: 4 + i*chartRowH + 18, W: round1(share * chartBarW)})
	}
	return c
}

// sparkline is one family's monthly adoption, drawn small in its table row.
type sparkline struct {
	Points string
	Title  string
}

func sparkOf(r tracking.AdoptionRow, months []string) sparkline {
	idx := map[string]int{}
	for i, m := range months {
		idx[m] = i
	}
	var pts []string
	for _, m := range r.Months {
		x := 2.0
		if len(months) > 1 {
			x = 2 + float64(idx[m.Month])*116/float64(len(months)-1)
		}
		pts = append(pts, fmt.Sprintf("%g,%g", round1(x), round1(22-m.Share*20)))
	}
	first, last := "", ""
	if n := len(r.Months); n > 0 {
		first = r.Months[0].Month + " " + strconv.FormatFloat(r.Months[0].Share*100, 'f', 1, 64) + " %"
		last = r.Months[n-1].Month + " " + strconv.FormatFloat(r.Months[n-1].Share*100, 'f', 1, 64) + " %"
	}
	return sparkline{Points: strings.Join(pts, " "), Title: "from " + first + " to " + last}
}

func targetText(t tracking.TargetResult) string {
	var actual, target string
	switch t.Measure {
	case tracking.MeasureAnnualSavings:
		actual, target = usd(t.Actual), usd(t.Target)
	default:
		actual = strconv.FormatFloat(t.Actual*100, 'f', 1, 64) + " %"
		target = strconv.FormatFloat(t.Target*100, 'f', 1, 64) + " %"
	}
	switch {
	case !t.Measured:
		return fmt.Sprintf("%s: target %s, not measured (%s)", t.Measure, target, t.Note)
	case t.Met:
		return fmt.Sprintf("%s: %s against %s, met", t.Measure, actual, target)
	}
	return fmt.Sprintf("%s: %s against %s, missed", t.Measure, actual, target)
}

// signedMoney is usd with a minus sign for a negative figure (a switch that costs more).
func signedMoney(v float64) string {
	if cents(v) < 0 {
		return "-" + usd(v)
	}
	return usd(v)
}

// FilterQuery is the dashboard filter as a query string (no "?"), the same for every tab.
func FilterQuery(from, to, contract, family, prescriber, client string) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"from": from, "to": to, "contract": contract, "family": family, "prescriber": prescriber, "client": client} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// RenderDashboard writes the dashboard page for p with its security headers.
func RenderDashboard(w http.ResponseWriter, p DashboardPage) {
	rep := p.Report
	q := FilterQuery(p.From, p.To, rep.Contract, rep.Family, rep.Prescriber, rep.Client)
	v := dashView{DashboardPage: p,
		Chart:   buildChart(rep.Contracts, func(r tracking.Row) string { return r.Contract }),
		Monthly: buildChart(rep.Months, func(r tracking.Row) string { return r.Month })}
	if len(q) > 0 {
		v.Query = template.URL("?" + q.Encode())
	}
	v.CSV = map[string]template.URL{}
	for _, t := range CSVTables {
		qq := FilterQuery(p.From, p.To, rep.Contract, rep.Family, rep.Prescriber, rep.Client)
		qq.Set("table", t)
		v.CSV[t] = template.URL(p.CSVPath + "?" + qq.Encode())
	}
	for _, t := range []struct{ name, label, path string }{
		{TabOverview, "Overview", p.Base}, {TabFamilies, "Drug families", p.Base + "/families"},
		{TabPeople, "Prescribers and locations", p.Base + "/people"}, {TabOutcomes, "Realised savings and divergence", p.Base + "/outcomes"},
		{TabDecisions, "Decisions", p.Base + "/decisions"},
	} {
		v.Tabs = append(v.Tabs, tabLink{Name: t.name, Label: t.label, Href: template.URL(t.path) + v.Query, Current: t.name == p.Tab})
		if t.name == p.Tab {
			v.Self = t.path
		}
	}
	for _, r := range append(append([]tracking.Row{}, rep.Contracts...), rep.Families...) {
		if len(r.Targets) > 0 {
			v.HasTarget = true
		}
		if (p.Tab == TabOverview && r.Family == "") || (p.Tab == TabFamilies && r.Family != "") {
			for _, t := range r.Targets {
				v.Targets = append(v.Targets, targetRow{Contract: r.Contract, Family: r.Family, TargetResult: t})
			}
		}
	}
	v.Reasons = map[string]reasonMatrix{
		"contracts": matrixOf(rep.Contracts, func(r tracking.Row) (string, string) { return r.Contract, "" }),
		"families":  matrixOf(rep.Families, func(r tracking.Row) (string, string) { return r.Family, r.Contract }),
	}
	if p.Tab == TabPeople {
		locs := make([]tracking.Row, len(rep.Locations))
		for i, l := range rep.Locations {
			locs[i] = l.Row
			locs[i].Prescriber = l.Location // the matrix's label only
		}
		v.Reasons["prescribers"] = matrixOf(rep.Prescribers, func(r tracking.Row) (string, string) { return r.Prescriber, r.Client })
		v.Reasons["locations"] = matrixOf(locs, func(r tracking.Row) (string, string) { return r.Prescriber, r.Client })
	}
	if p.Tab == TabFamilies {
		v.Adoption = adoptionChart(rep.Adoption, rep.AdoptionTotal, p.Names)
		var months []string
		for _, m := range rep.AdoptionTotal.Months {
			months = append(months, m.Month)
		}
		v.Sparks = map[string]sparkline{}
		for _, r := range rep.Adoption {
			v.Sparks[r.Family] = sparkOf(r, months)
		}
	}
	if p.Tab == TabOutcomes && p.Outcomes != nil {
		for _, r := range append(append([]tracking.OutcomeRow{}, p.Outcomes.Contracts...), p.Outcomes.Families...) {
			for _, t := range r.Targets {
				v.Targets = append(v.Targets, targetRow{Contract: r.Contract, Family: r.Family, TargetResult: t})
			}
		}
		v.Divergence = divergenceChart(p.Outcomes.Divergence)
		v.OutcomesCSV = template.URL(p.OutcomesCSV) + v.Query
		v.DivergenceCSV = template.URL(p.DivergenceCSV) + v.Query
	}
	if p.Tab == TabDecisions {
		page := func(off int) template.URL {
			qq := FilterQuery(p.From, p.To, rep.Contract, rep.Family, rep.Prescriber, rep.Client)
			if off > 0 {
				qq.Set("offset", strconv.Itoa(off))
			}
			if len(qq) == 0 {
				return ""
			}
			return template.URL("?" + qq.Encode())
		}
		v.OlderQuery = page(p.Offset + p.Limit)
		v.HasNewer = p.Offset > 0
		v.NewerQuery = page(max(0, p.Offset-p.Limit))
	}
	var buf bytes.Buffer
	if err := dashTmpl.ExecuteTemplate(&buf, "dashboard.html", v); err != nil {
		http.Error(w, "could not render the dashboard", http.StatusInternalServerError)
		return
	}
	writePage(w, http.StatusOK, buf.Bytes())
}

// DashboardError is a page that says what went wrong (a bad filter, the store unreachable),
// with the status the JSON API would answer.
type DashboardError struct {
	Status  int
	Message string
	CSS     string
	Back    string
}

// RenderDashboardError writes e as a page.
func RenderDashboardError(w http.ResponseWriter, e DashboardError) {
	var buf bytes.Buffer
	if err := dashTmpl.ExecuteTemplate(&buf, "error.html", e); err != nil {
		http.Error(w, e.Message, e.Status)
		return
	}
	writePage(w, e.Status, buf.Bytes())
}

func writePage(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	w.Write(body)
}
