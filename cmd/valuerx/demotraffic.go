package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
	usePG := fl.Bool("postgres", false, "write to PostgreSQL instead, its connection string from VALUERX_PG_DSN or -postgres-dsn-file (never the command line, which ps shows); migrated if needed")
	dsnFile := fl.String("postgres-dsn-file", "", "file holding the PostgreSQL connection string (mode 0600)")
	appendTo := fl.Bool("append", false, "add to a store that already holds demo traffic (a store holding any other client's decisions is always refused)")
	days := fl.Int("days", 365, "days of traffic, ending yesterday (or the day before -end)")
	seed := fl.Uint64("seed", 1, "random seed: the same seed, days and end write the same record")
	perDay := fl.Int("orders", 30, "mean orders a day")
	end := fl.String("end", "", "first day after the traffic, YYYY-MM-DD (default today, UTC)")
	divergence := fl.Bool("divergence", true, "score every decision under the other sample contracts too (the divergence report; slow for millions)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: valuerx demo-traffic (-store FILE | -postgres [-postgres-dsn-file FILE]) [-append] [-days 365] [-seed 1] [-orders 30] [-end YYYY-MM-DD]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 0 {
		fmt.Fprintln(stderr, "valuerx demo-traffic: unexpected arguments (a connection string goes in VALUERX_PG_DSN or -postgres-dsn-file, not on the command line)")
		return 2
	}
	if *dsnFile != "" {
		*usePG = true
	}
	pg, err := pgDSN(*usePG || *path == "", *dsnFile, "VALUERX_PG_DSN")
	if err != nil {
		fmt.Fprintln(stderr, "valuerx demo-traffic:", err)
		return 2
	}
	if *usePG && (pg == "" || *path != "") {
		fmt.Fprintln(stderr, "valuerx demo-traffic: -postgres takes its connection string from VALUERX_PG_DSN or -postgres-dsn-file, and not with -store")
		return 2
	}
	if (*path == "") == (pg == "") || *days <= 0 || *days > 3650 || *perDay <= 0 || *perDay > 10000 {
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
	if pg != "" {
		p, err := store.OpenPostgres(ctx, pg, store.PostgresOptions{})
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
	if err := demoTarget(ctx, st, *appendTo); err != nil {
		fmt.Fprintln(stderr, "valuerx demo-traffic:", err)
		return 1
	}
	tc := traffic.Config{Seed: *seed, Days: *days, PerDay: *perDay, End: endDay}
	if *divergence {
		// The fingerprint of the configuration it scored with, as the gateway writes it: the
		// divergence of these requests is computed under that configuration only.
		tc.ScoreRequest = gateway.ScoreRequestEncoder(reg, sc.Policy())
	}
	stats, err := traffic.Generate(ctx, st, sc, reg, cat, tc)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx demo-traffic:", err)
		return 1
	}
	if *divergence {
		run, err := gateway.ComputePendingDivergence(ctx, st, sc, reg, "demo", func() time.Time { return endDay })
		if err != nil {
			fmt.Fprintln(stderr, "valuerx demo-traffic: divergence:", err)
			return 1
		}
		fmt.Fprintf(stdout, "divergence computed for %d distinct scoring requests (%d not scored under their own contract)\n", run.Scored,
			run.NotScored[store.DivNotScoredFailed])
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

// pgDSN is the PostgreSQL connection string when wanted: from file (which the group and others
// may not read) or else the environment variable env. A command-line argument would show in ps
// (attacker review finding 10).
func pgDSN(wanted bool, file, env string) (string, error) {
	if !wanted {
		return "", nil
	}
	if file == "" {
		return os.Getenv(env), nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("-postgres-dsn-file: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return "", fmt.Errorf("-postgres-dsn-file %s is readable by group or others (mode %04o): chmod 600 it", file, m)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("-postgres-dsn-file: %w", err)
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return "", fmt.Errorf("-postgres-dsn-file %s is empty", file)
	}
	return dsn, nil
}

// demoTarget refuses a store that holds another client's decisions (a production record: the
// generated traffic would mix into its reports), and one that holds demo traffic already
// unless appending was asked for (attacker review finding 10).
func demoTarget(ctx context.Context, st any, appending bool) error {
	lister, ok := st.(interface {
		DecisionClients(ctx context.Context, limit int) ([]string, error)
	})
	if !ok {
		return errors.New("this store cannot list its clients: refused")
	}
	clients, err := lister.DecisionClients(ctx, 2)
	if err != nil {
		return err
	}
	for _, c := range clients {
		if c != traffic.DemoClient {
			return errors.New("the store holds decisions of other clients than the demo's: refused (demo traffic goes into a store of its own)")
		}
	}
	if len(clients) > 0 && !appending {
		return errors.New("the store already holds demo traffic: refused (-append to add to it)")
	}
	return nil
}
