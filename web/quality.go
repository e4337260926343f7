package web

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
)

// The quality page (/analytics/measures, issue 17 item 5): the rates of the latest `valuerx
// measures` run per contract and measure against the contracts' targets, and the top of its
// worklist. The worklist names patients (id, MBI): the page is served behind analyst
// authentication and never cached.

//go:embed quality/*.html
var qualityFiles embed.FS

var qualityTmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) },
	"target": func(t *float64) string {
		if t == nil {
			return ""
		}
		return fmt.Sprintf("%.1f %%", 100**t)
	},
	"short": func(n *int) string {
		if n == nil {
			return ""
		}
		return fmt.Sprint(*n)
	},
}).ParseFS(qualityFiles, "quality/*.html"))

// QualityRate is one contract's measure, as rates.json holds it.
type QualityRate struct {
	Contract, Measure, Name         string
	StarWeight                      float64
	Denominator, Numerator          int
	Rate                            float64
	Target                          *float64
	ShortOfTarget                   *int
	Excluded, BelowRedeemable, Lost int
}

// QualityRow is one worklist row, as worklist.csv holds it.
type QualityRow struct {
	Rank, Contract, PatientID, MBI, Measure, PDC, GapDaysLeft, RefillDue, Value, ValueUSD string
}

// QualityPage is what the page shows. Missing says why there is nothing to show (no run yet).
type QualityPage struct {
	CSS                       string
	Missing                   string
	Year, Patients            int
	AsOf, Attribution         string
	Rates                     []QualityRate
	Worklist                  []QualityRow
	WorklistTotal             int
	DashboardPath, RunCommand string
}

// RenderQuality writes the quality page with its security headers.
func RenderQuality(w http.ResponseWriter, p QualityPage) {
	securityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := qualityTmpl.ExecuteTemplate(w, "quality.html", p); err != nil {
		// The headers are out: nothing more to say to the client; the template is tested.
		return
	}
}
