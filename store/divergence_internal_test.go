package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"valuerx/store/pgtest"
)

// A store written before version 8 (SQLite) / 4 (PostgreSQL) kept the answers per decision. At
// open they move to one row per key, the earliest computed first:
//
//	l1  request A, cat-1, computed 02-01 -> answers X       (the key's first: kept)
//	l2  request A, cat-1, computed 02-03 -> answers Y       (same key, later: dropped)
//	l3  request B, cat-1, computed 02-02 -> answers Y       (its own key)
//	l4  request A, cat-1, not computed                       (has X now: its request's)
//	l5  no request (before version 5), a stray legacy row    (dropped: it has no key)
//
// so every order of request A reads X, B reads Y; nothing is pending but nothing either; the
// legacy table is gone, and a second open changes nothing.
var (
	legacyX = []Answer{{ContractID: "mssp-aco", Arrangement: "shared-savings-two-sided", BestProductID: "trazimera", Card: true}}
	legacyY = []Answer{{ContractID: "mssp-aco", Arrangement: "shared-savings-two-sided", BestProductID: "herceptin", Reason: "already-best"}}
)

func legacyDecisions() []Decision {
	at := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	mk := func(id, req string) Decision {
		d := Decision{CardUUID: id, HookInstance: "h", ServiceID: "svc", Hook: "order-select", Client: "a", OrderKey: "k-" + id,
			Fingerprint: "fp", ContractID: "mssp-aco", Arrangement: "shared-savings-two-sided", GroupID: "trastuzumab",
			OrderedProductID: "herceptin", NoCardReason: "below-threshold", CatalogVersion: "cat-1", At: at}
		if req != "" {
			d.ScoreRequest = []byte(req)
		}
		return d
	}
	return []Decision{mk("l1", `{"r":"A"}`), mk("l2", `{"r":"A"}`), mk("l3", `{"r":"B"}`), mk("l4", `{"r":"A"}`), mk("l5", "")}
}

var legacyRows = []struct {
	card    string
	answers []Answer
	day     int
}{{"l1", legacyX, 1}, {"l2", legacyY, 3}, {"l3", legacyY, 2}, {"l5", legacyX, 1}}

func checkConverted(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	orders, err := s.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]Answer{"k-l1": legacyX, "k-l2": legacyX, "k-l3": legacyY, "k-l4": legacyX, "k-l5": nil}
	// Orders carry no order key: read each decision's answers through its own key instead.
	ds := legacyDecisions()
	got := map[string][]Answer{}
	var divs map[string]DivergenceState
	switch st := s.(type) {
	case *SQLite:
		divs, err = st.divergences(ctx)
	case *Postgres:
		divs, err = st.divergences(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(divs) != 2 {
		t.Errorf("%d keys after the conversion, want 2 (A and B)", len(divs))
	}
	for _, d := range ds {
		got[d.OrderKey] = divs[d.DivergenceKey()].Answers
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answers after the conversion = %+v, want %+v", got, want)
	}
	withAnswers := 0
	for _, o := range orders {
		if o.Answers != nil {
			withAnswers++
		}
	}
	if len(orders) != 5 || withAnswers != 4 {
		t.Errorf("%d orders, %d with answers; want 5 and 4", len(orders), withAnswers)
	}
	pend, _, err := s.PendingDivergence(ctx, "", 10)
	if err != nil || len(pend) != 0 {
		t.Errorf("pending after the conversion: %+v %v", pend, err)
	}
}

func TestLegacyDivergenceConvertedSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(sqliteMigrations, "migrations/sqlite")
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 7); err != nil {
		t.Fatal(err)
	}
	for _, d := range legacyDecisions() {
		if _, err := db.ExecContext(ctx, `INSERT INTO decisions (card_uuid, hook_instance, service_id, hook, client, order_key, fingerprint,
			contract_id, arrangement, group_id, ordered_product, best_product, suggestions, payer_saving, patient_saving, org_impact,
			created_at, user_id, no_card_reason, catalog_version, score_request) VALUES (?,?,?,?,?,?,?,?,?,?,?,'','[]',0,0,0,?,'',?,?,?)`,
			d.CardUUID, d.HookInstance, d.ServiceID, d.Hook, d.Client, d.OrderKey, d.Fingerprint, d.ContractID, d.Arrangement, d.GroupID,
			d.OrderedProductID, ts(d.At), d.NoCardReason, d.CatalogVersion, string(d.ScoreRequest)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range legacyRows {
		enc, _ := encodeAnswers([]Divergence{{Key: "x", Answers: r.answers}})
		if _, err := db.ExecContext(ctx, `INSERT INTO divergence (card_uuid, catalog_version, answers, computed_at) VALUES (?,?,?,?)`,
			r.card, "cat-1", enc[0], ts(time.Date(2026, 2, r.day, 0, 0, 0, 0, time.UTC))); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	for range 2 {
		s, err := OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		checkConverted(t, s)
		var n int
		if err := s.rd.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name IN ('divergence', 'divergence_legacy')`).Scan(&n); err != nil || n != 0 {
			t.Errorf("legacy table left: %d %v", n, err)
		}
		s.Close()
	}
}

func TestLegacyDivergenceConvertedPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	sub, _ := fs.Sub(postgresMigrations, "migrations/postgres")
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for _, d := range legacyDecisions() {
		if _, err := pool.Exec(ctx, `INSERT INTO decisions (card_uuid, hook_instance, service_id, hook, client, order_key, fingerprint,
			contract_id, arrangement, group_id, ordered_product, best_product, suggestions, payer_saving, patient_saving, org_impact,
			created_at, user_id, no_card_reason, catalog_version, score_request) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'','[]',0,0,0,$12,'',$13,$14,$15)`,
			d.CardUUID, d.HookInstance, d.ServiceID, d.Hook, d.Client, d.OrderKey, d.Fingerprint, d.ContractID, d.Arrangement, d.GroupID,
			d.OrderedProductID, d.At, d.NoCardReason, d.CatalogVersion, append([]byte{}, d.ScoreRequest...)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range legacyRows {
		enc, _ := encodeAnswers([]Divergence{{Key: "x", Answers: r.answers}})
		if _, err := pool.Exec(ctx, `INSERT INTO divergence (card_uuid, catalog_version, answers, computed_at) VALUES ($1,$2,$3::jsonb,$4)`,
			r.card, "cat-1", enc[0], time.Date(2026, 2, r.day, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	pool.Close()
	for range 2 {
		s, err := OpenPostgres(ctx, dsn, PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkConverted(t, s)
		var legacy bool
		if err := s.pool.QueryRow(ctx, `SELECT to_regclass('divergence_legacy') IS NOT NULL OR to_regclass('divergence') IS NOT NULL`).Scan(&legacy); err != nil || legacy {
			t.Errorf("legacy table left: %v %v", legacy, err)
		}
		s.Close()
	}
}
