package gateway

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"valuerx/store"
	"valuerx/tracking"
	"valuerx/web"
)

// The programme report (issue 16): GET /analytics/report (JSON), /analytics/report.csv and the
// dashboard page /analytics/dashboard, all behind analyst authentication (the /analytics
// subrouter) and all from one tracking.Build over the store's order records, so the page, the
// API and the export show the same figures.
//
// Query parameters: from and to are dates (YYYY-MM-DD, UTC), to inclusive; contract and family
// are ids (a scoring contract id, a drug family's group id), prescriber a userId
// (Practitioner/{id}; "(not recorded)" for hooks without one). The default period is the 365 days
// up to today.

const (
	reportPath       = "/analytics/report"
	reportCSVPath    = "/analytics/report.csv"
	dashboardPath    = "/analytics/dashboard"
	dashboardCSSPath = "/analytics/dashboard.css"
	dateLayout       = "2006-01-02"
	// maxReportDays bounds a report's period: ten years is more than any contract runs.
	maxReportDays = 3660
)

// reportQuery is a parsed report request.
type reportQuery struct {
	filter   tracking.Filter
	from, to string // as entered (or defaulted), to inclusive
}

func (g *Gateway) parseReportQuery(r *http.Request) (reportQuery, error) {
	q := r.URL.Query()
	var rq reportQuery
	today := g.cfg.Now().UTC().Truncate(24 * time.Hour)
	to := today.AddDate(0, 0, 1)
	if s := q.Get("to"); s != "" {
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			return rq, errorf(KindInvalid, "report", "to must be a date (YYYY-MM-DD)", nil)
		}
		to = t.AddDate(0, 0, 1)
	}
	from := to.AddDate(0, 0, -365)
	if s := q.Get("from"); s != "" {
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			return rq, errorf(KindInvalid, "report", "from must be a date (YYYY-MM-DD)", nil)
		}
		from = t
	}
	if !to.After(from) {
		return rq, errorf(KindInvalid, "report", "from must not be after to", nil)
	}
	if to.Sub(from) > maxReportDays*24*time.Hour {
		return rq, errorf(KindInvalid, "report", "the period may not exceed ten years", nil)
	}
	contract, family, prescriber := q.Get("contract"), q.Get("family"), q.Get("prescriber")
	if len(contract) > 128 || len(family) > 128 || len(prescriber) > 128 {
		return rq, errorf(KindInvalid, "report", "contract, family and prescriber are ids of at most 128 characters", nil)
	}
	rq.filter = tracking.Filter{From: from, To: to, Contract: contract, Family: family, Prescriber: prescriber}
	rq.from, rq.to = from.Format(dateLayout), to.AddDate(0, 0, -1).Format(dateLayout)
	return rq, nil
}

// report reads the period's sums and builds the report; the second return is the sums (for the
// dashboard's filter choices).
func (g *Gateway) report(r *http.Request) (reportQuery, tracking.Dashboard, tracking.Aggregates, error) {
	rq, err := g.parseReportQuery(r)
	if err != nil {
		return rq, tracking.Dashboard{}, tracking.Aggregates{}, err
	}
	ag, err := g.aggregates(r.Context(), rq.filter)
	if err != nil {
		return rq, tracking.Dashboard{}, tracking.Aggregates{}, errorf(KindUnavailable, "report", "could not read the decision store", err)
	}
	return rq, tracking.FromAggregates(ag, rq.filter, g.cfg.Targets), ag, nil
}

// aggregates reads f's sums from the store's rollup (store.Rollups) when it has one, else sums
// the period's orders the same way (tracking.Aggregate): one computation of the report either way.
func (g *Gateway) aggregates(ctx context.Context, f tracking.Filter) (tracking.Aggregates, error) {
	var ag tracking.Aggregates
	if g.cfg.Store == nil {
		return ag, nil
	}
	if ru, ok := g.cfg.Store.(store.Rollups); ok {
		q := aggQuery(f)
		var err error
		if ag.Families, err = ru.FamilyMonths(ctx, q); err == nil {
			if ag.Prescribers, err = ru.Prescribers(ctx, q); err == nil {
				if ag.Locations, err = ru.Locations(ctx, q); err == nil {
					return ag, nil
				}
			}
		}
		if !errors.Is(err, store.ErrRollupUnavailable) {
			return ag, err
		}
		g.log.Warn("dashboard rollup cannot answer; summing the orders instead", "error", err.Error())
	}
	orders, err := g.cfg.Store.Orders(ctx, f.From, f.To)
	if err != nil {
		return ag, err
	}
	return tracking.Aggregate(orders, f), nil
}

// aggQuery is f as a rollup query: the "(not recorded)" prescriber is the empty userId.
func aggQuery(f tracking.Filter) store.AggQuery {
	q := store.AggQuery{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, PrescriberFilter: f.Prescriber != ""}
	if f.Prescriber == tracking.NoPrescriber {
		q.Prescriber = ""
	}
	return q
}

func (g *Gateway) handleReport(w http.ResponseWriter, r *http.Request) {
	_, rep, _, err := g.report(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (g *Gateway) handleReportCSV(w http.ResponseWriter, r *http.Request) {
	rq, rep, _, err := g.report(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="valuerx-report-`+rq.from+`-`+rq.to+`.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := tracking.WriteCSV(w, rep.Report); err != nil {
		g.log.Warn("report csv write failed", "request_id", requestID(r.Context()), "error", err.Error())
	}
}

func (g *Gateway) handleDashboard(w http.ResponseWriter, r *http.Request) {
	rq, rep, fams, err := g.report(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	// Filter choices: every configured contract, and every family and contract seen in the period
	// (a family filter keeps its choice even when it narrows the rows to none).
	contracts, families, prescribers := map[string]bool{}, map[string]bool{}, map[string]bool{}
	eng := g.current()
	names := map[string]string{}
	for _, c := range eng.reg.Contracts() {
		contracts[c.ID] = true
		names[c.ID] = c.Name
	}
	for _, gr := range eng.cat.Groups() {
		names[gr.ID] = gr.Name
	}
	for _, a := range fams.Families {
		contracts[a.Contract], families[a.Family] = true, true
	}
	for _, p := range rep.Prescribers {
		prescribers[p.Prescriber] = true
	}
	contracts[rq.filter.Contract], families[rq.filter.Family], prescribers[rq.filter.Prescriber] = true, true, true
	web.RenderDashboard(w, web.DashboardPage{Report: rep.Report, From: rq.from, To: rq.to,
		Contracts: filterChoices(contracts), Families: filterChoices(families), Prescribers: filterChoices(prescribers),
		Names: names, CSS: dashboardCSSPath, JSONPath: reportPath, CSVPath: reportCSVPath, Self: dashboardPath})
}

func (g *Gateway) handleDashboardCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(web.DashboardCSS())
}

func filterChoices(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
