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
// callers' writes, and one caller giving up must not roll back the others.
const commitTimeout = 10 * time.Second

// writeOp is one caller's write: run inside the shared transaction, under its own savepoint.
type writeOp struct {
	run func(ctx context.Context, tx *sql.Tx) error
	err chan error // capacity 1
}

// committer is a group commit: every write waits for a commit, and writes that arrive while a
// commit is in progress share the next one. A SQLite commit costs more than the inserts it
// commits, so concurrent hooks pay for one commit per batch instead of one each, while a lone
// hook waits for no timer: the writer starts as soon as it is idle.
type committer struct {
	db *sql.DB

	mu     sync.Mutex
	queue  []*writeOp
	closed bool
	wake   chan struct{} // capacity 1: there is something queued
	done   chan struct{} // closed when the writer has drained and stopped
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.loop()
	return c
}

func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// do runs fn in the next group transaction and returns once that transaction is committed (nil)
// or failed. When ctx ends first the write may still commit later; the caller must then not
// acknowledge it.
func (c *committer) do(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	op := &writeOp{run: fn, err: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	c.queue = append(c.queue, op)
	c.mu.Unlock()
	c.signal()
	select {
	case err := <-op.err:
		return err
	case <-ctx.Done():
		return fmt.Errorf("store: waiting for commit: %w", ctx.Err())
	}
}

// close commits what is queued and stops the writer.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		<-c.wake
		for {
			c.mu.Lock()
			n := min(len(c.queue), commitBatch)
			batch := c.queue[:n:n]
			c.queue = c.queue[n:]
			if len(c.queue) == 0 {
				c.queue = nil
			}
			closed := c.closed && n == 0
			c.mu.Unlock()
			if closed {
				return
			}
			if n == 0 {
				break
			}
			c.commit(batch)
		}
	}
}

// commit runs batch in one transaction. Each op has a savepoint, so one failing write is rolled
// back alone and the others still commit.
func (c *committer) commit(batch []*writeOp) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	errs := make([]error, len(batch))
	fail := func(err error) {
		for _, op := range batch {
			op.err <- err
		}
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("store: begin: %w", err))
		return
	}
	for i, op := range batch {
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
		op.err <- errs[i]
	}
}
