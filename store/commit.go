package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
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
	// caller's wait (the feedback filter's shared lock) ends here, not when do returns.
	ended   func()
	settled bool // finish has run (the leader's goroutine only)
}

// finish settles op with err.
func (op *writeOp) finish(err error) {
	op.settled = true
	if op.ended != nil {
		op.ended()
	}
	op.err <- err
}

// errWritePanicked settles the writes of a batch in which a write panicked.
var errWritePanicked = errors.New("store: a write in the same transaction panicked")

// committer is a group commit: every write waits for a commit, and writes that arrive while a
// commit is in progress share the next one. A SQLite commit costs more than the inserts it
// commits, so concurrent hooks pay for one commit per batch instead of one each.
//
// There is no writer goroutine: the first caller to find no commit in progress leads, running the
// batch in its own goroutine, and keeps leading while writes queue up behind it; the others wait
// for its answer. An idle store costs a lone hook no hand-off to another goroutine, which on a
// busy two-core machine waited behind the hooks in the run queue (docs/performance.md).
type committer struct {
	db *sql.DB

	mu      sync.Mutex
	queue   []*writeOp
	leading bool // a caller is running batches
	closed  bool
	idle    *sync.Cond // signalled when leading ends
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db}
	c.idle = sync.NewCond(&c.mu)
	return c
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

func (c *committer) enqueue(ctx context.Context, op *writeOp) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if op.ended != nil {
			op.ended()
		}
		return errClosed
	}
	c.queue = append(c.queue, op)
	if !c.leading {
		c.leading = true
		c.lead() // unlocks
	} else {
		c.mu.Unlock()
	}
	select {
	case err := <-op.err:
		return err
	case <-ctx.Done():
		return fmt.Errorf("store: waiting for commit: %w", ctx.Err())
	}
}

// lead runs batches until the queue is empty. Called with mu held and leading set; returns with
// mu released.
//
// A write that panics (a bug) fails its batch (commit) and the panic goes on up the leader's
// own call, to its HTTP handler's recovery, but the committer is not left leading with no
// leader: the writes queued meanwhile are led from a new goroutine, and later writes lead as
// usual. Before, every later write waited for a leader that was gone.
func (c *committer) lead() {
	defer func() {
		if r := recover(); r != nil {
			c.mu.Lock()
			if len(c.queue) > 0 {
				go func() {
					c.mu.Lock()
					c.lead()
				}()
			} else {
				c.leading = false
				c.idle.Broadcast()
			}
			c.mu.Unlock()
			panic(r)
		}
	}()
	for {
		n := min(len(c.queue), commitBatch)
		for i, op := range c.queue[:n] {
			if op.alone { // a batch of its own; the writes before it commit first
				n = max(i, 1)
				break
			}
		}
		if n == 0 {
			c.leading = false
			c.queue = nil
			c.idle.Broadcast()
			c.mu.Unlock()
			return
		}
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		c.mu.Unlock()
		c.commit(batch)
		c.mu.Lock()
	}
}

// close waits for the batch in progress, commits what is queued and refuses further writes.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	for c.leading {
		c.idle.Wait()
	}
	if len(c.queue) > 0 {
		c.leading = true
		c.lead()
		return
	}
	c.mu.Unlock()
}

// commit runs batch in one transaction. Each op has a savepoint, so one failing write is rolled
// back alone and the others still commit.
func (c *committer) commit(batch []*writeOp) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	errs := make([]error, len(batch))
	var tx *sql.Tx
	defer func() {
		if r := recover(); r != nil {
			if tx != nil {
				_ = tx.Rollback()
			}
			for _, op := range batch {
				if !op.settled {
					op.finish(errWritePanicked)
				}
			}
			panic(r)
		}
	}()
	fail := func(err error) {
		for _, op := range batch {
			op.finish(err)
		}
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("store: begin: %w", err))
		return
	}
	for i, op := range batch {
		if op.single {
			errs[i] = op.run(ctx, tx)
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			errs[i] = fmt.Errorf("store: savepoint: %w", err)
			continue
		}
		if err := op.run(ctx, tx); err != nil {
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
}
