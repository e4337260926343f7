package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// errClosed is returned for writes after Close.
var errClosed = errors.New("store: closed")

// commitBatch bounds the writes committed in one transaction.
const commitBatch = 512

// commitTimeout bounds one transaction. Callers' contexts do not reach it: a batch holds many
// callers' writes, and one caller giving up must not roll back the others. Under the race
// detector (raceSlowdown) the pure-Go SQLite runs an order of magnitude slower, and a rollup fold
// or a batch of divergence answers sharing a transaction with other writes ran past 10 s on a
// loaded CI machine (TestOutcomesRollupEqualsBuild/sqlite, 2 December 2026).
const commitTimeout = 10 * time.Second * raceSlowdown

// writeOp is one caller's write: run inside the shared transaction, under its own savepoint
// when it has several statements (one statement is atomic on its own in SQLite).
type writeOp struct {
	run    func(ctx context.Context, tx *sql.Tx) error
	single bool
	// alone: a long write of no caller waiting to acknowledge anything (a rollup fold chunk)
	// runs in a transaction of its own, never in the hooks' batch: their commit does not wait
	// for its work, nor does its failure or timeout fail their writes.
	alone bool
	err   chan error // capacity 1
	// ended, when set, runs once the write's outcome is settled (committed, failed, or refused
	// after close), which may be long after its caller stopped waiting: what must outlive the
	// caller's wait (the write pending on the feedback filter) ends here, not when do returns.
	ended   func()
	settled bool // finish has run (the leader's goroutine only)
}

// finish settles op with err: its caller has its answer before ended runs.
func (op *writeOp) finish(err error) {
	op.settled = true
	op.err <- err
	if op.ended != nil {
		op.ended()
	}
}

// errWritePanicked settles the other writes of a batch in which a write panicked: the batch is
// rolled back.
var errWritePanicked = errors.New("store: a write in the same transaction panicked")

// writePanic settles a write whose own function panicked (a bug). Its caller panics with it
// again in its own goroutine (enqueue), where its handler's recovery answers a 500 and logs
// Stack, the write's own stack; no other caller sees the panic, and the committer goes on.
type writePanic struct {
	value any
	stack []byte
}

func (p *writePanic) Error() string { return fmt.Sprintf("store: write panicked: %v", p.value) }

// PanicStack is the stack of the write that panicked, for the recovery's log.
func (p *writePanic) PanicStack() []byte { return p.stack }

// committer is a group commit: every write waits for a commit, and writes that arrive while a
// commit is in progress share the next one (groupQueue). A SQLite commit costs more than the
// inserts it commits, so concurrent hooks pay for one commit per batch instead of one each.
type committer struct {
	db *sql.DB
	groupQueue[*writeOp]

	// panics counts writes whose function panicked: raised again only in a caller still waiting,
	// so one whose caller had gone would otherwise leave no trace
	// (valuerx_store_write_panics_total).
	panics atomic.Int64
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db}
	c.init(sqliteBatch, c.commit)
	return c
}

// sqliteBatch is how many queued writes commit together: up to commitBatch, and an alone write
// (writeOp.alone) in a batch of its own, after the writes queued before it.
func sqliteBatch(queue []*writeOp) int {
	n := min(len(queue), commitBatch)
	for i, op := range queue[:n] {
		if op.alone {
			return max(i, 1)
		}
	}
	return n
}

// do runs fn in the next group transaction and returns once that transaction is committed (nil)
// or failed. When ctx ends first the write may still commit later; the caller must then not
// acknowledge it.
func (c *committer) do(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return c.enqueue(ctx, &writeOp{run: fn, err: make(chan error, 1)})
}

// doEnded is do that also runs ended once the write's outcome is settled (writeOp.ended), even
// when ctx ends first.
func (c *committer) doEnded(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error, ended func()) error {
	return c.enqueue(ctx, &writeOp{run: fn, ended: ended, err: make(chan error, 1)})
}

// doAlone is do in a transaction of its own (writeOp.alone).
func (c *committer) doAlone(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return c.enqueue(ctx, &writeOp{run: fn, alone: true, err: make(chan error, 1)}) // under a savepoint: a failed fold leaves nothing
}

// doSingle is do for a write of exactly one statement: it needs no savepoint.
func (c *committer) doSingle(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return c.enqueue(ctx, &writeOp{run: fn, single: true, err: make(chan error, 1)})
}

// enqueue queues op (leading when no commit is in progress) and waits for its answer. A write
// whose own function panicked panics again here, in its own caller's goroutine.
func (c *committer) enqueue(ctx context.Context, op *writeOp) error {
	if !c.add(op) {
		if op.ended != nil {
			op.ended()
		}
		return errClosed
	}
	return await(ctx, op.err)
}

// commit runs batch in one transaction. Each op has a savepoint, so one failing write is rolled
// back alone and the others still commit.
func (c *committer) commit(batch []*writeOp) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	errs := make([]error, len(batch))
	var tx *sql.Tx
	running, normal := -1, false // the write whose function is running; the batch ended without a panic or Goexit
	defer func() {
		if normal {
			return
		}
		// A write panicked (recovered here: the batch is rolled back, the panicking write gets
		// its panic, the others errWritePanicked, and the leader goes on), or a write called
		// runtime.Goexit (recover is nil; the batch is settled the same way and lead hands off).
		r := recover()
		if r != nil {
			c.panics.Add(1)
		}
		if tx != nil {
			_ = tx.Rollback()
		}
		for i, op := range batch {
			if !op.settled {
				op.finish(panicAnswer(r, i == running, errWritePanicked))
			}
		}
	}()
	fail := func(err error) {
		for _, op := range batch {
			op.finish(err)
		}
		normal = true
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("store: begin: %w", err))
		return
	}
	for i, op := range batch {
		running = i
		if op.single {
			errs[i] = op.run(ctx, tx)
			running = -1
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			errs[i] = fmt.Errorf("store: savepoint: %w", err)
			continue
		}
		err := op.run(ctx, tx)
		running = -1
		if err != nil {
			errs[i] = err
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO w"); rerr != nil {
				_ = tx.Rollback()
				fail(fmt.Errorf("store: roll back a failed write: %w", rerr))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil {
			_ = tx.Rollback()
			fail(fmt.Errorf("store: release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("store: commit: %w", err))
		return
	}
	for i, op := range batch {
		op.finish(errs[i])
	}
	normal = true
}
