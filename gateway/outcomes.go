package gateway

import (
	"io"
	"net/http"

	"valuerx/tracking"
)

// The programme's outcomes (issue 16 items 2-4), behind analyst authentication like the report:
//
//	GET /analytics/outcomes       JSON tracking.Outcomes: projected per year, signed, administered,
//	                              paid, realised savings, biosimilar share of new starts against
//	                              target, the divergence report
//	GET /analytics/outcomes.csv   its rows as CSV (tracking.OutcomesCSVHeader)
//	GET /analytics/divergence.csv the divergence report as CSV (tracking.DivergenceCSVHeader)
//
// Same query parameters as /analytics/report. These read the period's orders themselves
// (store.Orders): the overview's pre-aggregated sums hold neither the options offered nor the
// signatures, administrations, claims and divergence they are priced from.

// errOutcomesBusy answers an outcomes request while another is being computed.
var errOutcomesBusy = errorf(KindUnavailable, "outcomes", "another outcomes report is being computed; try again shortly", nil)

func (g *Gateway) outcomes(r *http.Request) (reportQuery, tracking.Outcomes, error) {
	rq, err := g.parseReportQuery(r)
	if err != nil {
		return rq, tracking.Outcomes{}, err
	}
	// The outcomes read every order of the store (store.Orders: filtering by period happens
	// after the read), which at a few hundred thousand rows is seconds of CPU and hundreds of
	// megabytes: one at a time, so analysts cannot take the hooks' CPU and memory (analytics
	// review finding 2: four at once took a hook from 4 to 649 ms). Reading only the period's
	// orders in SQL is the lasting fix.
	select {
	case g.outcomesSlot <- struct{}{}:
		defer func() { <-g.outcomesSlot }()
	default:
		return rq, tracking.Outcomes{}, errOutcomesBusy
	}
	if g.cfg.Store == nil {
		return rq, tracking.BuildOutcomes(nil, rq.filter, g.cfg.Targets), nil
	}
	orders, err := g.cfg.Store.Orders(r.Context(), rq.filter.From, rq.filter.To)
	if err != nil {
		return rq, tracking.Outcomes{}, errorf(KindUnavailable, "outcomes", "could not read the decision store", err)
	}
	return rq, tracking.BuildOutcomes(orders, rq.filter, g.cfg.Targets), nil
}

func (g *Gateway) handleOutcomes(w http.ResponseWriter, r *http.Request) {
	_, out, err := g.outcomes(r)
	if err != nil {
		g.failOutcomes(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) handleOutcomesCSV(w http.ResponseWriter, r *http.Request) {
	g.outcomesCSV(w, r, "valuerx-outcomes", tracking.WriteOutcomesCSV)
}

func (g *Gateway) handleDivergenceCSV(w http.ResponseWriter, r *http.Request) {
	g.outcomesCSV(w, r, "valuerx-divergence", tracking.WriteDivergenceCSV)
}

func (g *Gateway) outcomesCSV(w http.ResponseWriter, r *http.Request, name string, write func(io.Writer, tracking.Outcomes) error) {
	rq, out, err := g.outcomes(r)
	if err != nil {
		g.failOutcomes(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`-`+rq.from+`-`+rq.to+`.csv"`)
	if err := write(w, out); err != nil {
		g.log.Warn("outcomes csv write failed", "request_id", requestID(r.Context()), "error", err.Error())
	}
}

func (g *Gateway) failOutcomes(w http.ResponseWriter, r *http.Request, err error) {
	if err == errOutcomesBusy {
		w.Header().Set("Retry-After", "2")
	}
	g.fail(w, r, err)
}
