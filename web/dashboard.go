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

	"valuerx/tracking"
)

// The analysts' dashboard: one server-rendered page over a tracking.Report, the same report the
// JSON API and the CSV export serve, so the three always agree. Filters are a plain GET form
// (query parameters), the chart is inline SVG, and the stylesheet is embedded and served by the
// gateway behind the same analyst authentication: no script, no CDN.

//go:embed dashboard/*
var dashFiles embed.FS

var dashTmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"usd": usd,
	"pct": func(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + " %" },
	"reasons": func(m map[string]int) []reasonCount {
		out := make([]reasonCount, 0, len(m))
		for k, n := range m {
			out = append(out, reasonCount{k, n})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
		return out
	},
	"target": targetText,
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

// DashboardPage is what the gateway passes to RenderDashboard.
type DashboardPage struct {
	Report tracking.Report
	// From and To are the filter as the analyst entered it (YYYY-MM-DD; To inclusive).
	From, To string
	// Contracts, Families and Prescribers are the choices of the filter form (ids).
	Contracts, Families, Prescribers []string
	// Names are display names of contract and family ids (the catalog's and the contracts'),
	// shown beside the ids; an id without one is shown alone.
	Names map[string]string
	// CSS, JSONPath and CSVPath are the stylesheet and the report's API paths (no query).
	CSS, JSONPath, CSVPath, Self string
}

type dashView struct {
	DashboardPage
	Query     template.URL // the filter as a query string, for the JSON and CSV links
	Chart     savingsChart
	Monthly   savingsChart
	HasTarget bool
}

// savingsChart is a horizontal bar chart of projected payer savings per contract.
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

// RenderDashboard writes the dashboard page for p with its security headers.
func RenderDashboard(w http.ResponseWriter, p DashboardPage) {
	q := url.Values{}
	for k, v := range map[string]string{"from": p.From, "to": p.To, "contract": p.Report.Contract, "family": p.Report.Family, "prescriber": p.Report.Prescriber} {
		if v != "" {
			q.Set(k, v)
		}
	}
	v := dashView{DashboardPage: p,
		Chart:   buildChart(p.Report.Contracts, func(r tracking.Row) string { return r.Contract }),
		Monthly: buildChart(p.Report.Months, func(r tracking.Row) string { return r.Month })}
	if len(q) > 0 {
		v.Query = template.URL("?" + q.Encode())
	}
	for _, r := range append(append([]tracking.Row{}, p.Report.Contracts...), p.Report.Families...) {
		if len(r.Targets) > 0 {
			v.HasTarget = true
		}
	}
	var buf bytes.Buffer
	if err := dashTmpl.ExecuteTemplate(&buf, "dashboard.html", v); err != nil {
		http.Error(w, "could not render the dashboard", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}
