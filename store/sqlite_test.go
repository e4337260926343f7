package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"valuerx/store"
	"valuerx/store/storetest"
)

func openTemp(t *testing.T) (*store.SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "valuerx.db")
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestSQLiteSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { s, _ := openTemp(t); return s })
}

// Everything written is on disk: reopening the file sees it.
func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if err := s.RecordDecision(ctx, store.Decision{CardUUID: "c1", ContractID: "x", Client: "a"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimJTI(ctx, "k", timeAt(10), timeAt(0)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	s.Close()
	s2, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if d, err := s2.Decision(ctx, "c1"); err != nil || d.Client != "a" {
		t.Fatalf("after reopen: %+v %v", d, err)
	}
	if ok, err := s2.ClaimJTI(ctx, "k", timeAt(10), timeAt(1)); err != nil || ok {
		t.Fatalf("a jti claimed before the restart must still be refused: %v %v", ok, err)
	}
	// The newest version is the number of migration files (each engineer adds one in turn).
	files, err := os.ReadDir("migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s2.SchemaVersion(ctx); err != nil || v != int64(len(files)) {
		t.Fatalf("schema version %d %v, want %d", v, err, len(files))
	}
}

// A v1 file (tables created before migrations were versioned) is adopted and migrated: its
// decisions and feedback survive, feedback for unknown cards is dropped, and override codes that
// were stored as sent become "other".
func TestSQLiteMigratesV1File(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE decisions (card_uuid TEXT PRIMARY KEY, hook_instance TEXT NOT NULL, service_id TEXT NOT NULL, hook TEXT NOT NULL, contract_id TEXT NOT NULL, arrangement TEXT NOT NULL, group_id TEXT NOT NULL, ordered_product TEXT NOT NULL, best_product TEXT NOT NULL, suggestions TEXT NOT NULL, payer_saving REAL NOT NULL, patient_saving REAL NOT NULL, org_impact REAL NOT NULL, created_at TEXT NOT NULL)`,
		`CREATE TABLE feedback (service_id TEXT NOT NULL, card_uuid TEXT NOT NULL, outcome TEXT NOT NULL, suggestion_uuid TEXT NOT NULL, reason_code TEXT NOT NULL, reason_system TEXT NOT NULL, has_comment INTEGER NOT NULL, outcome_at TEXT NOT NULL, received_at TEXT NOT NULL, UNIQUE (card_uuid, outcome, suggestion_uuid, outcome_at))`,
		`INSERT INTO decisions VALUES ('c1','h','svc','order-sign','mssp-aco','two-sided','g','herceptin','trazimera','["s1","s2"]',100,20,50,'2026-02-15T10:00:00Z')`,
		`INSERT INTO decisions VALUES ('c2','h','svc','order-sign','mssp-aco','two-sided','g','herceptin','trazimera','["s3"]',10,2,5,'2026-02-15T10:00:00Z')`,
		`INSERT INTO feedback VALUES ('svc','c1','accepted','s2','','',0,'2026-02-15T10:01:00Z','2026-02-15T10:01:01Z')`,
		`INSERT INTO feedback VALUES ('svc','c2','overridden','','Jane Doe 1EG4-TE5-MK73 1950-01-01','',0,'2026-02-15T10:01:00Z','2026-02-15T10:01:01Z')`,
		`INSERT INTO feedback VALUES ('svc','invented','accepted','x','','',0,'2026-02-15T10:01:00Z','2026-02-15T10:01:01Z')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1 {
		t.Fatalf("summary: %+v", sum)
	}
	c := sum[0]
	// v1 suggestions have no figures of their own: accepting s2 books the card's 100/20/50.
	if c.Cards != 2 || c.Accepted != 1 || c.Overridden != 1 || c.PayerSaved != 100 || c.Overrides["other"] != 1 || len(c.Overrides) != 1 {
		t.Fatalf("migrated summary: %+v", c)
	}
	d, err := s.Decision(ctx, "c1")
	if err != nil || len(d.Suggestions) != 2 || !d.HasSuggestion("s2") {
		t.Fatalf("migrated decision: %+v %v", d, err)
	}
}
