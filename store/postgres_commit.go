package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStmt is one statement of a write. scan, when set, reads the statement's single result row
// (RETURNING); it is called with pgx.ErrNoRows folded into found=false.
type pgStmt struct {
	sql  string
	args []any
	scan func(row pgx.Row) error
}

// pgOp is one caller's write: its statements commit together or not at all.
type pgOp struct {
	stmts []pgStmt
	// order is the op's first lock key. Ops of a batch run in this order, so two instances'
	// batches that touch the same rows lock them in the same order and cannot deadlock on them.
	order   string
	err     chan error // capacity 1
	settled bool       // finish has run (the leader's goroutine only)
}

// finish answers op's caller (once).
func (op *pgOp) finish(err error) {
	op.settled = true
	op.err <- err
}

// errPGBatchPanicked answers the other writes of a pipeline in which a write's scan, or pgx, panicked.
// Unlike SQLite's errWritePanicked, the pipeline may have committed (PostgreSQL commits it at
// its Sync, whatever the client does with the results): the write is not acknowledged (decisions, feedback
// and imports are idempotent; a token's claim counts as spent either way).
var errPGBatchPanicked = errors.New("store: a write in the same PostgreSQL batch panicked; its outcome is unknown")

// pgBatcher is the PostgreSQL group commit: the writes of concurrent hooks that queue while a
// batch is in flight are sent together as the next batch, in one round trip (a pipeline that
// PostgreSQL runs as one implicit transaction, committed at its Sync). A hook thus waits for one
// round trip and one WAL flush shared with its neighbours, instead of holding a connection for
// its own. The leadership is groupQueue's, shared with committer (SQLite).
//
// A batch is all or nothing in PostgreSQL, unlike SQLite's savepoints: when a statement fails
// (a constraint, a deadlock with another instance, a serialization failure), every op of the
// batch is run again alone, so one bad write fails only its own caller. A lost connection
// fails the batch's ops without retry: nothing of it was committed.
type pgBatcher struct {
	pool *pgxpool.Pool
	groupQueue[*pgOp]

	// beforeSend, when set (tests), is called with the number of ops of each pipeline about to
	// be sent.
	beforeSend func(ops int)

	// panics counts batches in which a scan or pgx panicked (valuerx_store_write_panics_total).
	panics atomic.Int64
}

func newPGBatcher(pool *pgxpool.Pool) *pgBatcher {
	b := &pgBatcher{pool: pool}
	b.init(func(queue []*pgOp) int { return min(len(queue), commitBatch) }, b.commit)
	return b
}

// do commits stmts in the next batch and returns once that batch is committed (nil) or failed.
// When ctx ends first the write may still commit later; the caller must then not acknowledge it.
func (b *pgBatcher) do(ctx context.Context, order string, stmts ...pgStmt) error {
	op := &pgOp{stmts: stmts, order: order, err: make(chan error, 1)}
	if !b.add(op) {
		return errClosed
	}
	return await(ctx, op.err) // a scan's panic is raised again in its own caller only
}

// commit sends batch as one pipeline and answers every op.
//
// A panic (a scan function's bug, or pgx's) is recovered: the op whose scan panicked is answered
// with the panic and its stack (writePanic, raised again in its caller), the others with
// errPGBatchPanicked, and the leader goes on. A Goexit settles the batch the same way.
func (b *pgBatcher) commit(batch []*pgOp) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var running *pgOp // the op whose scan is running (send)
	normal := false
	defer func() {
		if normal {
			return
		}
		r := recover()
		if r != nil {
			b.panics.Add(1)
		}
		for _, op := range batch {
			if !op.settled {
				op.finish(panicAnswer(r, op == running, errPGBatchPanicked))
			}
		}
	}()
	sort.SliceStable(batch, func(i, j int) bool { return batch[i].order < batch[j].order })
	err := b.send(ctx, batch, &running)
	switch {
	case err == nil:
	case len(batch) == 1:
		if retryable(err) {
			err = b.sendAlone(ctx, batch[0], &running)
		}
	case statementFailed(err):
		// One statement failed and took the whole batch with it: each op again, alone.
		for _, op := range batch {
			op.finish(b.sendAlone(ctx, op, &running))
		}
		normal = true
		return
	}
	for _, op := range batch {
		op.finish(err)
	}
	normal = true
}

// sendAlone runs one op in a batch of its own, again after a deadlock or serialization failure
// (the other transaction has finished by then).
func (b *pgBatcher) sendAlone(ctx context.Context, op *pgOp, running **pgOp) error {
	var err error
	for range 3 {
		if err = b.send(ctx, []*pgOp{op}, running); err == nil || !retryable(err) {
			return err
		}
	}
	return err
}

// send runs the ops' statements in one pipeline: one implicit transaction. *running is the op
// whose scan is being called, for commit's recovery; the results are closed even when a scan
// panics, so the connection goes back to the pool.
func (b *pgBatcher) send(ctx context.Context, ops []*pgOp, running **pgOp) error {
	if b.beforeSend != nil {
		b.beforeSend(len(ops))
	}
	var pb pgx.Batch
	for _, op := range ops {
		for _, st := range op.stmts {
			pb.Queue(st.sql, st.args...)
		}
	}
	br := b.pool.SendBatch(ctx, &pb)
	closed := false
	defer func() {
		if !closed {
			_ = br.Close()
		}
	}()
	var first error
	for _, op := range ops {
		for _, st := range op.stmts {
			var err error
			if st.scan != nil {
				*running = op
				err = st.scan(br.QueryRow())
				*running = nil
			} else {
				_, err = br.Exec()
			}
			if err != nil && first == nil {
				first = err
			}
		}
	}
	closed = true
	if err := br.Close(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		return fmt.Errorf("store: postgres write: %w", first)
	}
	return nil
}

// statementFailed reports whether PostgreSQL refused a statement (as opposed to the connection
// failing): the batch was rolled back, and its other ops may well succeed alone.
func statementFailed(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// retryable reports a deadlock or serialization failure: the same write succeeds when tried again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}
