package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valuerx/internal/traffic"
	"valuerx/scoring"
	"valuerx/store"
	"valuerx/tracking"
)

// demo-traffic writes a record the report reads back whole: every generated order is one
// record (though most have a select and a sign card), the feedback splits into accepted and
// overridden exactly, every accepted order books one of its card's own suggestions, and the same
// seed writes the same record.
func TestDemoTraffic(t *testing.T) {
	sc, reg, cat, err := traffic.DemoScorer()
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	run := func(seed uint64) (traffic.Stats, []store.OrderRecord) {
		st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "demo.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stats, err := traffic.Generate(context.Background(), st, sc, reg, cat, traffic.Config{Seed: seed, Days: 14, PerDay: 20, End: end})
		if err != nil {
			t.Fatal(err)
		}
		orders, err := st.Orders(context.Background(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return stats, orders
	}
	stats, orders := run(1)
	if stats.Orders == 0 || stats.Cards <= stats.CardOrders || len(orders) != stats.Orders {
		t.Fatalf("stats %+v, %d order records: want one record per order and more cards than orders with one", stats, len(orders))
	}
	rep := tracking.Build(orders, tracking.Filter{}, nil)
	if rep.Total.Accepted+rep.Total.Overridden != stats.Feedback || rep.Total.NoFeedback != stats.CardOrders-stats.Feedback ||
		rep.Total.Orders != stats.Orders || rep.Total.NoCard != stats.NoCard || stats.NoCard == 0 {
		t.Errorf("report %+v vs stats %+v", rep.Total, stats)
	}
	contracts := map[string]bool{}
	for _, o := range orders {
		contracts[o.ContractID] = true
		if o.FirstAt.Before(end.AddDate(0, 0, -14)) || !o.FirstAt.Before(end) {
			t.Errorf("order outside the 14 days: %v", o.FirstAt)
		}
		if o.Outcome == "accepted" && (o.AcceptedProductID == "" || o.AcceptedProductID == o.OrderedProductID) {
			t.Errorf("accepted order books no suggested product: %+v", o)
		}
		if !strings.HasPrefix(o.Prescriber, "Practitioner/dr-") {
			t.Errorf("prescriber %q", o.Prescriber)
		}
	}
	if len(contracts) < 2 {
		t.Errorf("orders under %d contracts, want several", len(contracts))
	}
	if rep.Total.PayerSavedUSD <= 0 {
		t.Errorf("a fortnight of accepted switches saved the payers %v", rep.Total.PayerSavedUSD)
	}
	again, orders2 := run(1)
	if again != stats || len(orders2) != len(orders) || tracking.Build(orders2, tracking.Filter{}, nil).Total.PayerSavedUSD != rep.Total.PayerSavedUSD {
		t.Errorf("seed 1 twice: %+v vs %+v", again, stats)
	}
}

func TestDemoTrafficFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo-traffic", "-days", "0", "-store", "x.db"}, &out, &errb); code != 2 {
		t.Errorf("-days 0: exit %d", code)
	}
	if code := run(context.Background(), []string{"demo-traffic"}, &out, &errb); code != 2 {
		t.Errorf("no -store: exit %d", code)
	}
	path := filepath.Join(t.TempDir(), "d.db")
	if code := run(context.Background(), []string{"demo-traffic", "-store", path, "-days", "3", "-end", "2026-03-04"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "from 2026-03-01 to 2026-03-03") {
		t.Errorf("exit %d: %s %s", code, out.String(), errb.String())
	}
}

// TestDemoTrafficRefusesAStoreOfItsOwn (attacker review finding 10), against real SQLite files:
//
//	an empty store                                   written
//	the same store again                             refused (it holds demo traffic; exit 1)
//	the same store with -append                      written
//	a store holding one decision of another client   refused, -append or not
//	a DSN on the command line (-postgres DSN)        refused as an argument (exit 2)
//	a DSN file readable by others (0644)             refused, saying chmod 600 (exit 2)
func TestDemoTrafficRefusesAStoreOfItsOwn(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	demo, prod := filepath.Join(dir, "demo.db"), filepath.Join(dir, "prod.db")
	p, err := store.OpenSQLite(prod)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.RecordDecisions(ctx, []store.Decision{{CardUUID: "real-1", HookInstance: "h", ServiceID: "svc", Hook: "order-select",
		Client: "https://ehr.hospital.example/cds", ContractID: "mssp-aco", GroupID: "trastuzumab", OrderedProductID: "herceptin",
		At: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	loose := filepath.Join(dir, "dsn")
	if err := os.WriteFile(loose, []byte("postgres://u:secret@db/valuerx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	days := []string{"-days", "2", "-orders", "3", "-end", "2026-03-04"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"empty store", []string{"-store", demo}, 0, "wrote"},
		{"demo traffic already", []string{"-store", demo}, 1, "-append"},
		{"appending", []string{"-store", demo, "-append"}, 0, "wrote"},
		{"another client's store", []string{"-store", prod}, 1, "other clients"},
		{"another client's store, appending", []string{"-store", prod, "-append"}, 1, "other clients"},
		{"a DSN on the command line", []string{"-postgres", "postgres://u:secret@db/valuerx"}, 2, "VALUERX_PG_DSN"},
		{"a DSN file others may read", []string{"-postgres-dsn-file", loose}, 2, "chmod 600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(ctx, append(append([]string{"demo-traffic"}, tc.args...), days...), &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.says) {
				t.Fatalf("exit %d, want %d saying %q: %s %s", code, tc.code, tc.says, out.String(), errb.String())
			}
			if strings.Contains(errb.String(), "secret") {
				t.Fatalf("the connection string's password is in the message: %s", errb.String())
			}
		})
	}
	// dashboard-bench takes its connection string the same way.
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"dashboard-bench", "-postgres", "postgres://u:secret@db/valuerx"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "VALUERX_BENCH_PG_DSN") || strings.Contains(errb.String(), "secret") {
		t.Errorf("dashboard-bench with a DSN argument: exit %d: %s", code, errb.String())
	}
	for _, f := range []string{demo, prod} {
		if fi, err := os.Stat(f); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
	s, err := store.OpenSQLite(prod)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if orders, err := s.Orders(ctx, time.Time{}, time.Time{}); err != nil || len(orders) != 1 {
		t.Fatalf("the refused store holds %d orders (%v), want its 1", len(orders), err)
	}
}

// demo-traffic writes the fingerprint of the configuration it scored with into every stored
// scoring request (as the gateway does), and its divergence rows name it: 3 days of demo
// traffic, every decision with a request naming traffic.DemoScorer's fingerprint, every row of
// answers computed under it, none left not scored for another configuration. Before, the
// requests named none and the rows no configuration.
func TestDemoTrafficWritesItsConfiguration(t *testing.T) {
	sc, reg, _, err := traffic.DemoScorer()
	if err != nil {
		t.Fatal(err)
	}
	fp := scoring.ConfigFingerprint(reg, sc.Policy())
	path := filepath.Join(t.TempDir(), "d.db")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo-traffic", "-store", path, "-days", "3", "-end", "2026-03-04"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT score_request FROM decisions WHERE score_request <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var enc string
		if err := rows.Scan(&enc); err != nil {
			t.Fatal(err)
		}
		var req struct {
			Config string `json:"config"`
		}
		if err := json.Unmarshal([]byte(enc), &req); err != nil || req.Config != fp {
			t.Fatalf("stored request names configuration %q (%v), want %q", req.Config, err, fp)
		}
		n++
	}
	rows.Close()
	var answers, other int
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE (config <> ? AND not_scored = '') OR not_scored IN (?, ?)) FROM divergence_answers`,
		fp, store.DivNotScoredConfig, store.DivNotScoredCatalog).Scan(&answers, &other); err != nil {
		t.Fatal(err)
	}
	if n == 0 || answers == 0 || other != 0 {
		t.Errorf("%d requests, %d rows of answers, %d not under %s; want every row under it", n, answers, other, fp)
	}
}
