package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/store/pgtest"
)

// valuerx demo-traffic -postgres writes the same record as -store FILE for the same seed: ten
// days of generated orders (decisions, feedback, administrations, divergence), then the summary,
// every order record and the dashboard rollup compared between the two stores.
func TestDemoTrafficPostgresEqualsSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	pg := pgtest.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	dsn, err := pg.CreateDatabase(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo.db")
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-days", "10", "-orders", "8", "-seed", "3", "-end", "2026-03-11"}
	// The connection string from a file, never the command line (ps shows it).
	for _, target := range [][]string{{"-store", path}, {"-postgres", "-postgres-dsn-file", dsnFile}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(append([]string{"demo-traffic"}, target...), args...), &out, &errb); code != 0 {
			t.Fatalf("demo-traffic %s: exit %d: %s %s", target[0], code, out.String(), errb.String())
		}
		if target[0] == "-postgres" && (strings.Contains(out.String(), "password") || !strings.Contains(out.String(), "into postgres host=")) {
			t.Errorf("demo-traffic -postgres says: %s", out.String())
		}
	}
	ctx = context.Background()
	lite, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	p, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sl, err := lite.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := p.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sl) == 0 || !reflect.DeepEqual(sl, sp) {
		t.Fatalf("summary:\n sqlite   %+v\n postgres %+v", sl, sp)
	}
	ol, err := lite.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	op, err := p.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	key := func(os []store.OrderRecord) []string {
		var out []string
		for _, o := range os {
			out = append(out, fmt.Sprintf("%+v", o))
		}
		sort.Strings(out)
		return out
	}
	kl, kp := key(ol), key(op)
	if len(kl) != len(kp) {
		t.Fatalf("%d orders in SQLite, %d in PostgreSQL", len(kl), len(kp))
	}
	for i := range kl {
		if kl[i] != kp[i] {
			t.Fatalf("order %d:\n sqlite   %s\n postgres %s", i, kl[i], kp[i])
		}
	}
	q := store.AggQuery{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)}
	fl, err := lite.FamilyMonths(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := p.FamilyMonths(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(fl, func(i, j int) bool { return fmt.Sprint(fl[i]) < fmt.Sprint(fl[j]) })
	sort.Slice(fp, func(i, j int) bool { return fmt.Sprint(fp[i]) < fmt.Sprint(fp[j]) })
	if !reflect.DeepEqual(fl, fp) {
		t.Fatalf("rollup:\n sqlite   %+v\n postgres %+v", fl, fp)
	}
	t.Logf("%d orders, %d contracts: the same on both stores", len(ol), len(sl))
}
