package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/store/pgtest"
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
	// Its decisions booked the allowed amount as the payer's saving: the upgrade keeps when the
	// last of them was recorded, and a decision recorded since does not move it.
	want := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	if err := s.RecordDecisions(ctx, []store.Decision{{CardUUID: "c3", ContractID: "mssp-aco", At: want.AddDate(0, 10, 0)}}); err != nil {
		t.Fatal(err)
	}
	if until, err := s.AllowedBasisUntil(ctx); err != nil || !until.Equal(want) {
		t.Fatalf("AllowedBasisUntil = %v, %v; want %v, the last decision recorded before the upgrade", until, err, want)
	}
}

// Options written in the first, long JSON form of schema version 5 still decode; the short form
// leaves out per-year figures equal to the per-course ones and restores them.
func TestOptionsEncoding(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	opts := []store.Option{
		{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: store.Saving{Payer: 1, Patient: 2, Org: 3}, PerYear: store.Saving{Payer: 1, Patient: 2, Org: 3}},
		{ProductID: "ruxience", Exclusion: "mid-course", PerCourse: store.Saving{Payer: 4}, PerYear: store.Saving{Payer: 12}},
	}
	enc, err := store.EncodeOptions(opts)
	if err != nil || strings.Count(enc, `"y"`) != 1 {
		t.Fatalf("encoded %s %v: want one per-year object (the one that differs)", enc, err)
	}
	if err := s.RecordDecision(ctx, store.Decision{CardUUID: "c1", Client: "a", Options: opts}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Decision(ctx, "c1"); err != nil || !reflect.DeepEqual(d.Options, opts) {
		t.Fatalf("round trip: %+v %v", d.Options, err)
	}
	long := `[{"product":"trazimera","rel":"biosimilar","eligible":true,"course":{"payer":1,"patient":2,"org":3},"year":{"payer":1,"patient":2,"org":3}},` +
		`{"product":"ruxience","exclusion":"mid-course","course":{"payer":4,"patient":0,"org":0},"year":{"payer":12,"patient":0,"org":0}}]`
	if err := s.RecordDecision(ctx, store.Decision{CardUUID: "c2", Client: "a"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`UPDATE decisions SET options = ? WHERE card_uuid = 'c2'`, long)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.Decision(ctx, "c2"); err != nil || !reflect.DeepEqual(d.Options, opts) {
		t.Fatalf("long form: %+v %v", d.Options, err)
	}
}

// TestFilesArePrivate (attacker review finding 11): a new SQLite store and its WAL are created
// 0600 whatever the umask lets through, and the test PostgreSQL's directory (its socket trusts
// whoever reaches it) and socket are its owner's alone.
func TestFilesArePrivate(t *testing.T) {
	s, path := openTemp(t)
	if err := s.RecordDecisions(context.Background(), []store.Decision{{CardUUID: "c", HookInstance: "h", ServiceID: "s", Hook: "order-select",
		Client: "a", ContractID: "x", GroupID: "g", OrderedProductID: "p"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(f); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
	c := pgtest.Shared(t)
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{c.Dir(), 0o700}, {filepath.Join(c.Dir(), ".s.PGSQL.5432"), 0o700}} {
		if fi, err := os.Stat(f.path); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %04o, want %04o", f.path, fi.Mode().Perm(), f.mode)
		}
	}
}
