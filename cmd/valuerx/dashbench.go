package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"valuerx/store"
	"valuerx/tracking"
)

// runDashboardBench times the dashboard's queries against a store as the gateway runs them
// (store sums, then tracking.FromAggregates; for a store without a rollup, Orders then
// tracking.Aggregate): the overview (the default period, no filter), the per-family page (one
// family), and a contract and a prescriber filter, then the same four filters of the outcomes
// report (realised savings and divergence: store sums, then tracking.OutcomesFromAggregates; for
// a store without a rollup, Orders then tracking.BuildOutcomes), each -n times in turn, and
// prints the latency percentiles of each. The store is refreshed first, so the figures are the steady state
// of a page view, not the one-off first fold (printed apart).
//
//	valuerx demo-traffic -store var/bench.db -days 365 -orders 2740 -seed 1 -end 2026-12-01
//	valuerx dashboard-bench -store var/bench.db -end 2026-12-01 -n 200
func runDashboardBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("dashboard-bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	path := fl.String("store", "", "SQLite store file to read")
	usePG := fl.Bool("postgres", false, "read PostgreSQL instead, its connection string from VALUERX_BENCH_PG_DSN or -postgres-dsn-file (never the command line, which ps shows)")
	dsnFile := fl.String("postgres-dsn-file", "", "file holding the PostgreSQL connection string (mode 0600)")
	n := fl.Int("n", 100, "runs of each query")
	end := fl.String("end", "", "the day the dashboard is opened (its default period is the 365 days up to it); default today, UTC")
	family := fl.String("family", "trastuzumab", "the family of the per-family page")
	contract := fl.String("contract", "mssp-aco", "the contract filter")
	prescriber := fl.String("prescriber", "Practitioner/dr-07", "the prescriber filter")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: valuerx dashboard-bench (-store FILE | -postgres [-postgres-dsn-file FILE]) [-n 100] [-end YYYY-MM-DD]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 0 {
		fmt.Fprintln(stderr, "valuerx dashboard-bench: unexpected arguments (a connection string goes in VALUERX_BENCH_PG_DSN or -postgres-dsn-file, not on the command line)")
		return 2
	}
	dsn, err := pgDSN(*usePG || *dsnFile != "" || *path == "", *dsnFile, "VALUERX_BENCH_PG_DSN")
	if err != nil {
		fmt.Fprintln(stderr, "valuerx dashboard-bench:", err)
		return 2
	}
	pg := &dsn
	if (*path == "") == (*pg == "") || *n <= 0 {
		fl.Usage()
		return 2
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if *end != "" {
		d, err := time.Parse("2006-01-02", *end)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx dashboard-bench: -end:", err)
			return 2
		}
		today = d
	}
	var st store.Store
	if *path != "" {
		st, err = store.OpenSQLite(*path)
	} else {
		st, err = store.OpenPostgres(ctx, *pg, store.PostgresOptions{})
	}
	if err != nil {
		fmt.Fprintln(stderr, "valuerx dashboard-bench:", err)
		return 1
	}
	defer st.Close()
	ru, hasRollup := st.(store.Rollups)
	if hasRollup {
		t0 := time.Now()
		if err := ru.RefreshRollups(ctx); err != nil {
			fmt.Fprintln(stderr, "valuerx dashboard-bench: refresh:", err)
			return 1
		}
		fmt.Fprintf(stdout, "rollup refreshed in %s (folds whatever was not folded yet)\n", time.Since(t0).Round(time.Millisecond))
	} else {
		fmt.Fprintln(stdout, "this store has no rollup: every query reads the period's orders")
	}
	to := today.AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -365)
	type benchCase struct {
		name     string
		f        tracking.Filter
		outcomes bool // the outcomes report (realised savings and divergence) rather than the overview's
	}
	var cases []benchCase
	for _, outcomes := range []bool{false, true} {
		prefix := ""
		if outcomes {
			prefix = "outcomes: "
		}
		cases = append(cases,
			benchCase{prefix + "overview (365 days, no filter)", tracking.Filter{From: from, To: to}, outcomes},
			benchCase{prefix + "per-family (" + *family + ")", tracking.Filter{From: from, To: to, Family: *family}, outcomes},
			benchCase{prefix + "contract filter (" + *contract + ")", tracking.Filter{From: from, To: to, Contract: *contract}, outcomes},
			benchCase{prefix + "prescriber filter (" + *prescriber + ")", tracking.Filter{From: from, To: to, Prescriber: *prescriber}, outcomes})
	}
	// runOutcomes is the gateway's outcomes report (gateway/outcomes.go): the rollup's sums, or
	// the period's orders for a store without them. It returns the number of orders.
	runOutcomes := func(f tracking.Filter) (int, error) {
		if hasRollup {
			q := store.AggQuery{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, PrescriberFilter: f.Prescriber != ""}
			fams, err := ru.FamilyMonths(ctx, q)
			var pairs []store.PairAggregate
			if err == nil {
				pairs, err = ru.DivergencePairs(ctx, q)
			}
			if err == nil {
				return tracking.OutcomesFromAggregates(fams, pairs, f, nil).Total.Orders, nil
			}
			if !errors.Is(err, store.ErrRollupUnavailable) {
				return 0, err
			}
		}
		orders, err := st.Orders(ctx, f.From, f.To)
		if err != nil {
			return 0, err
		}
		return tracking.BuildOutcomes(orders, f, nil).Total.Orders, nil
	}
	run := func(f tracking.Filter) (tracking.Dashboard, error) {
		if hasRollup {
			q := store.AggQuery{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, PrescriberFilter: f.Prescriber != ""}
			var ag tracking.Aggregates
			var err error
			if ag.Families, err = ru.FamilyMonths(ctx, q); err == nil {
				if ag.Prescribers, err = ru.Prescribers(ctx, q); err == nil {
					ag.Locations, err = ru.Locations(ctx, q)
				}
			}
			if err == nil {
				return tracking.FromAggregates(ag, f, nil), nil
			}
			if !errors.Is(err, store.ErrRollupUnavailable) {
				return tracking.Dashboard{}, err
			}
		}
		orders, err := st.Orders(ctx, f.From, f.To)
		if err != nil {
			return tracking.Dashboard{}, err
		}
		return tracking.FromAggregates(tracking.Aggregate(orders, f), f, nil), nil
	}
	for _, c := range cases {
		var lat []time.Duration
		var orders int
		for i := 0; i < *n; i++ {
			t0 := time.Now()
			if c.outcomes {
				orders, err = runOutcomes(c.f)
			} else {
				var rep tracking.Dashboard
				rep, err = run(c.f)
				orders = rep.Total.Orders
			}
			if err != nil {
				fmt.Fprintln(stderr, "valuerx dashboard-bench:", err)
				return 1
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		pct := func(p float64) time.Duration {
			return lat[min(len(lat)-1, int(float64(len(lat))*p))].Round(10 * time.Microsecond)
		}
		fmt.Fprintf(stdout, "%-50s orders %8d  p50 %9s  p95 %9s  p99 %9s  max %9s  (n=%d)\n", c.name, orders,
			pct(0.50), pct(0.95), pct(0.99), lat[len(lat)-1].Round(10*time.Microsecond), len(lat))
	}
	return 0
}
