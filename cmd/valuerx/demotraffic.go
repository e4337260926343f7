package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"valuerx/gateway"
	"valuerx/internal/traffic"
	"valuerx/store"
)

// runDemoTraffic writes a year of realistic decisions and feedback into a store (package
// internal/traffic says what and why directly into the store), then folds them into the
// dashboard's rollup so the first page view does not pay for it.
func runDemoTraffic(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("demo-traffic", flag.ContinueOnError)
	fl.SetOutput(stderr)
	path := fl.String("store", "", "SQLite store file to write (created if missing)")
	pg := fl.String("postgres", "", "PostgreSQL connection string to write to instead (or VALUERX_PG_DSN; migrated if needed)")
	days := fl.Int("days", 365, "days of traffic, ending yesterday (or the day before -end)")
	seed := fl.Uint64("seed", 1, "random seed: the same seed, days and end write the same record")
	perDay := fl.Int("orders", 30, "mean orders a day")
	end := fl.String("end", "", "first day after the traffic, YYYY-MM-DD (default today, UTC)")
	divergence := fl.Bool("divergence", true, "score every decision under the other sample contracts too (the divergence report; slow for millions)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: valuerx demo-traffic (-store FILE | -postgres DSN) [-days 365] [-seed 1] [-orders 30] [-end YYYY-MM-DD]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *pg == "" && *path == "" {
		*pg = os.Getenv("VALUERX_PG_DSN")
	}
	if (*path == "") == (*pg == "") || fl.NArg() != 0 || *days <= 0 || *days > 3650 || *perDay <= 0 || *perDay > 10000 {
		fl.Usage()
		return 2
	}
	endDay := time.Now().UTC().Truncate(24 * time.Hour)
	if *end != "" {
		d, err := time.Parse("2006-01-02", *end)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx demo-traffic: -end:", err)
			return 2
		}
		endDay = d
	}
	sc, reg, cat, err := traffic.DemoScorer()
	if err != nil {
		fmt.Fprintln(stderr, "valuerx demo-traffic:", err)
		return 1
	}
	var st interface {
		store.Store
		store.Rollups
	}
	where := *path
	if *pg != "" {
		p, err := store.OpenPostgres(ctx, *pg, store.PostgresOptions{})
		if err != nil {
			fmt.Fprintln(stderr, "valuerx demo-traffic:", err)
			return 1
		}
		st, where = p, "postgres "+p.Describe()
	} else {
		s, err := store.OpenSQLite(*path)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx demo-traffic:", err)
			return 1
		}
		st = s
	}
	defer st.Close()
	tc := traffic.Config{Seed: *seed, Days: *days, PerDay: *perDay, End: endDay}
	if *divergence {
		tc.ScoreRequest = gateway.EncodeScoreRequest
	}
	stats, err := traffic.Generate(ctx, st, sc, reg, cat, tc)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx demo-traffic:", err)
		return 1
	}
	if *divergence {
		n, failed, err := gateway.ComputePendingDivergence(ctx, st, sc, reg, "demo", func() time.Time { return endDay })
		if err != nil {
			fmt.Fprintln(stderr, "valuerx demo-traffic: divergence:", err)
			return 1
		}
		fmt.Fprintf(stdout, "divergence computed for %d decisions (%d not scored under their own contract)\n", n, failed)
	}
	t0 := time.Now()
	if err := st.RefreshRollups(ctx); err != nil {
		fmt.Fprintln(stderr, "valuerx demo-traffic: dashboard rollup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d orders (%d with a card, %d without; %d cards, %d feedback items, %d administrations) from %s to %s into %s; rollup folded in %s\n",
		stats.Orders, stats.CardOrders, stats.NoCard, stats.Cards, stats.Feedback, stats.Administrations, endDay.AddDate(0, 0, -*days).Format("2006-01-02"),
		endDay.AddDate(0, 0, -1).Format("2006-01-02"), where, time.Since(t0).Round(time.Millisecond))
	return 0
}
