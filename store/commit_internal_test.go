package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// committerDB is a SQLite file with one table, w (v TEXT), closed when the test ends.
func committerDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE w (v TEXT)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// insertW is a write of v into committerDB's table.
func insertW(v string) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO w VALUES (?)`, v)
		return err
	}
}

// A write marked alone (a rollup fold chunk) commits in a transaction of its own: queued as
// hook, hook, fold, hook, the batches are {hook, hook}, {fold}, {hook}; the fold failing rolls
// back only its own work and fails no hook's write. Before, all four shared one transaction.
func TestCommitterRunsAFoldAlone(t *testing.T) {
	db := committerDB(t)
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

// A write's ended runs when its outcome is settled, not when its caller stops waiting: queued
// behind a batch that is still running, the caller's context ends and do returns, but ended waits
// for the write's own commit. After close, doEnded refuses the write and still runs ended. The
// feedback filter's lock (feedbackFilter.adding) relies on this: released at the caller's return,
// a rebuild could fall between the key's add and the row's late commit and lose the key.
func TestWriteEndedOutlivesItsCaller(t *testing.T) {
	db := committerDB(t)
	c := newCommitter(db)
	// The leader: its write holds the batch until release is closed.
	release, running := make(chan struct{}), make(chan struct{})
	leaderDone := make(chan error, 1)
	go func() {
		leaderDone <- c.do(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			close(running)
			<-release
			return insertW("leader")(ctx, tx)
		})
	}()
	<-running
	ended := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.doEnded(ctx, insertW("late"), func() { close(ended) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("doEnded queued behind a running batch: %v, want the caller's deadline", err)
	}
	select {
	case <-ended:
		t.Fatal("ended ran when the caller gave up, before the write was committed")
	default:
	}
	close(release)
	if err := <-leaderDone; err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second * raceSlowdown):
		t.Fatal("ended never ran after the late write's batch")
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM w WHERE v = 'late'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("late write rows %d (%v), want 1: it commits after its caller left", n, err)
	}
	c.close()
	ranAfterClose := false
	if err := c.doEnded(context.Background(), insertW("x"), func() { ranAfterClose = true }); !errors.Is(err, errClosed) || !ranAfterClose {
		t.Fatalf("doEnded after close: %v, ended ran %v; want errClosed and ended run", err, ranAfterClose)
	}
}

// A write that panics is answered with its panic, which its own caller raises again (and its
// handler's recovery turns into a 500, with the write's stack); the other writes of its batch
// fail (rolled back), nobody else panics, and the committer goes on: here a second panicking
// write, leading a batch of its own, and then a write whose function calls runtime.Goexit (as
// t.Fatal does) with one more write queued behind it. Before, the first panic left the committer
// "leading" with no leader, and a second one on the hand-off goroutine crashed the process.
func TestCommitterSurvivesAPanickingWrite(t *testing.T) {
	db := committerDB(t)
	c := newCommitter(db)
	bug := func(context.Context, *sql.Tx) error { panic("a bug in a write") }
	same := &writeOp{run: insertW("same-batch"), err: make(chan error, 1)}
	boom := &writeOp{run: bug, err: make(chan error, 1)}
	c.mu.Lock()
	c.queue, c.leading = []*writeOp{same, boom}, true
	c.lead() // unlocks; must not panic
	if err := <-same.err; !errors.Is(err, errWritePanicked) {
		t.Errorf("write in the panicking batch: %v, want errWritePanicked", err)
	}
	var wp *writePanic
	if err := <-boom.err; !errors.As(err, &wp) || wp.value != "a bug in a write" || !strings.Contains(string(wp.PanicStack()), "TestCommitterSurvivesAPanickingWrite") {
		t.Errorf("the panicking write: %v, want its panic with its stack", err)
	}

	// A second panicking write, its caller leading: the panic reaches that caller only.
	raised := make(chan any, 1)
	go func() {
		defer func() { raised <- recover() }()
		_ = c.do(context.Background(), bug)
	}()
	if r, ok := (<-raised).(*writePanic); !ok || r.value != "a bug in a write" {
		t.Fatalf("the panicking write's caller raised %v, want its *writePanic", r)
	}

	// A write whose function ends its goroutine while another write is queued behind it.
	var queued *writeOp
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = c.do(context.Background(), func(context.Context, *sql.Tx) error {
			queued = &writeOp{run: insertW("queued"), err: make(chan error, 1)}
			c.mu.Lock()
			c.queue = append(c.queue, queued)
			c.mu.Unlock()
			runtime.Goexit()
			return nil
		})
	}()
	<-exited
	select {
	case err := <-queued.err:
		if err != nil {
			t.Errorf("write queued behind a Goexit: %v", err)
		}
	case <-time.After(10 * time.Second * raceSlowdown):
		t.Fatal("write queued behind a Goexit never led")
	}

	if n := c.panics.Load(); n != 2 {
		t.Errorf("%d write panics counted, want 2 (the Goexit is not one)", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second*raceSlowdown)
	defer cancel()
	if err := c.do(ctx, insertW("later")); err != nil {
		t.Fatalf("a later write: %v", err)
	}
	var got []string
	rows, err := db.Query(`SELECT v FROM w ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		_ = rows.Scan(&v)
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[queued later]" {
		t.Errorf("rows %v, want [queued later] (the panicking batch rolled back)", got)
	}
	c.close()
}
