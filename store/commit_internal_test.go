package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// A write marked alone (a rollup fold chunk) commits in a transaction of its own: queued as
// hook, hook, fold, hook, the batches are {hook, hook}, {fold}, {hook}; the fold failing rolls
// back only its own work and fails no hook's write. Before, all four shared one transaction.
func TestCommitterRunsAFoldAlone(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE w (v TEXT)`); err != nil {
		t.Fatal(err)
	}
	c := newCommitter(db)
	txOf := map[string]*sql.Tx{} // the pointers kept: no address reused
	op := func(name string, alone, fail bool) *writeOp {
		return &writeOp{alone: alone, err: make(chan error, 1), run: func(ctx context.Context, tx *sql.Tx) error {
			txOf[name] = tx
			if _, err := tx.ExecContext(ctx, `INSERT INTO w VALUES (?)`, name); err != nil {
				return err
			}
			if fail {
				return errors.New("fold failed")
			}
			return nil
		}}
	}
	ops := []*writeOp{op("h1", false, false), op("h2", false, false), op("fold", true, true), op("h3", false, false)}
	c.mu.Lock()
	c.queue, c.leading = ops, true
	c.lead() // unlocks
	for i, o := range ops {
		if err := <-o.err; (err != nil) != (i == 2) {
			t.Errorf("op %d: %v", i, err)
		}
	}
	if txOf["h1"] != txOf["h2"] || txOf["fold"] == txOf["h1"] || txOf["h3"] == txOf["fold"] || txOf["h3"] == txOf["h1"] {
		t.Errorf("transactions %v, want {h1 h2} {fold} {h3}", txOf)
	}
	var got []string
	rows, err := db.Query(`SELECT v FROM w ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		_ = rows.Scan(&v)
		got = append(got, v)
	}
	rows.Close()
	if fmt.Sprint(got) != "[h1 h2 h3]" {
		t.Errorf("rows %v, want h1 h2 h3 (the failed fold's insert rolled back)", got)
	}
}
