package gateway

import (
	"errors"
	"io"
	"net/http"

	"valuerx/store"
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
// Same query parameters as /analytics/report. A store with the dashboard rollup (store.Rollups)
// answers from its pre-aggregated sums (FamilyMonths with their outcome figures and
// DivergencePairs: tracking.OutcomesFromAggregates), as fast as the overview whatever the number
// of orders; a store without one, or a rollup that cannot answer (ErrRollupUnavailable), reads
// the period's orders themselves (store.Orders, tracking.BuildOutcomes), one report at a time.

// errOutcomesBusy answers an outcomes request while another is being computed from the orders.
var errOutcomesBusy = errorf(KindUnavailable, "outcomes", "another outcomes report is being computed; try again shortly", nil)

// outcomesPreAggregated reports whether the store answers the outcomes from its rollup (so the
// dashboard's tab needs no bound on the orders of its period).
func (g *Gateway) outcomesPreAggregated() bool {
	_, ok := g.cfg.Store.(store.Rollups)
	return ok
}

func (g *Gateway) outcomes(r *http.Request) (reportQuery, tracking.Outcomes, error) {
	rq, out, err := g.outcomesOf(r)
	if err == nil {
		out.PayerOnAllowedUntil, err = g.payerBasis(r.Context(), rq.filter)
	}
	return rq, out, err
}

func (g *Gateway) outcomesOf(r *http.Request) (reportQuery, tracking.Outcomes, error) {
	rq, err := g.parseReportQuery(r)
	if err != nil {
		return rq, tracking.Outcomes{}, err
	}
	if g.cfg.Store == nil {
		return rq, tracking.BuildOutcomes(nil, rq.filter, g.targets()), nil
	}
	if ru, ok := g.cfg.Store.(store.Rollups); ok {
		q := aggQuery(rq.filter)
		fams, err := ru.FamilyMonths(r.Context(), q)
		var pairs []store.PairAggregate
		if err == nil {
			pairs, err = ru.DivergencePairs(r.Context(), q)
		}
		if err == nil {
			return rq, tracking.OutcomesFromAggregates(fams, pairs, rq.filter, g.targets()), nil
		}
		if !errors.Is(err, store.ErrRollupUnavailable) {
			return rq, tracking.Outcomes{}, errorf(KindUnavailable, "outcomes", "could not read the decision store", err)
		}
		g.log.Warn("dashboard rollup cannot answer the outcomes; reading the orders instead", "error", err.Error())
	}
	// The orders of the period, which at a few hundred thousand rows is seconds of CPU and
	// hundreds of megabytes: one at a time, so analysts cannot take the hooks' CPU and memory
	// (analytics review finding 2: four at once took a hook from 4 to 649 ms).
	select {
	case g.outcomesSlot <- struct{}{}:
		defer func() { <-g.outcomesSlot }()
	default:
		return rq, tracking.Outcomes{}, errOutcomesBusy
	}
	orders, err := g.cfg.Store.Orders(r.Context(), rq.filter.From, rq.filter.To)
	if err != nil {
		return rq, tracking.Outcomes{}, errorf(KindUnavailable, "outcomes", "could not read the decision store", err)
	}
	return rq, tracking.BuildOutcomes(orders, rq.filter, g.targets()), nil
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
