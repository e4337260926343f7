package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints off the hooks' path (issue 15: p99 at c=4).
//
// SQLite's default checkpoints the WAL into the database inside the commit that takes the log
// past 1,000 pages: the hook whose decision made that commit waited for the copy and its fsyncs,
// and so did every hook queued behind the one writer connection. With one decision per hook that
// was every 230 or so hooks, about 1.7 % of them, so the stall sat in the p99: a run with no
// checkpoints at all measured p99 4.8-5.6 ms against 7.1-8.1 ms with them, in three paired runs
// of `valuerx load -scenario prefetch -no-floor -c 4 -n 6000` on 2 December; with this
// checkpointer 5.2-5.9 ms against 7.9-8.6 ms in four paired runs of -n 8000, CPU per hook within
// the runs' noise of each other (572-679 µs against 598-670 µs).
//
// The checkpointer copies the log on a connection of its own every checkpointEvery instead,
// beside the writer (in WAL mode a PASSIVE checkpoint and the writer do not block each other),
// and copies each page once however many commits rewrote it in between. The writer keeps an
// automatic checkpoint at walBackstopPages, far beyond what the checkpointer lets accumulate, as
// the bound on the log's size: SQLite starts the log again from its beginning only when a write
// finds it fully copied, which a checkpoint running beside a steady stream of commits rarely
// leaves behind it; the writer's own checkpoint, run while no other write can start, does unless
// a read transaction still holds an older snapshot (a long report: then the log grows past the
// backstop until that read ends, as it did with SQLite's default). journal_size_limit cuts the
// file back once the log starts again.

const (
	// checkpointEvery is how often the checkpointer copies the log.
	checkpointEvery = 250 * time.Millisecond
	// walBackstopPages is the writer's automatic checkpoint (pages of the log): reached when the
	// checkpointer falls behind or the log was not started again, it keeps the -wal file to about
	// 32 MiB at the default 4 KiB page while no read holds an old snapshot.
	walBackstopPages = 8192
	// walSizeLimit is the size the -wal file is cut back to when the log starts again
	// (journal_size_limit), after a long read let it grow.
	walSizeLimit = 32 << 20
)

// checkpointer runs PASSIVE checkpoints on its own connection until stopped.
type checkpointer struct {
	db       *sql.DB
	every    time.Duration
	stop     chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup
	runs     atomic.Int64 // checkpoints that found a log to copy (tests)
	// failures counts checkpoints that returned an error (not a busy one, which PASSIVE reports
	// as a result): the operator's signal that the log is no longer being copied and will grow
	// to the writer's backstop (valuerx_store_checkpoint_failures_total).
	failures atomic.Int64
}

func startCheckpointer(db *sql.DB, every time.Duration) *checkpointer {
	c := &checkpointer{db: db, every: every, stop: make(chan struct{})}
	c.done.Add(1)
	go c.loop()
	return c
}

func (c *checkpointer) loop() {
	defer c.done.Done()
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.once()
	}
}

// once runs one PASSIVE checkpoint. A checkpoint that could not run (the writer's own backstop
// holding the checkpoint lock, a read holding an old snapshot) is no error: SQLite reports it as
// busy in the result row, and the next tick tries again. An error (I/O, a timeout, a closed
// connection) is counted in failures. There is no immediate repeat for the commits
// made while it ran: repeats were tried, each fsyncs the log and the database again, and under
// four steady writers the log still reached the backstop (TestCheckpointerKeepsTheLogBounded).
func (c *checkpointer) once() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second*raceSlowdown)
	defer cancel()
	var busy, log, ckpt int64
	err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &ckpt)
	switch {
	case err != nil:
		select {
		case <-c.stop: // closing: not a failure of the log
		default:
			c.failures.Add(1)
		}
	case log > 0:
		c.runs.Add(1)
	}
}

// close stops the checkpointer and closes its connection; closing twice is closing once, as for
// the store's Close.
func (c *checkpointer) close() {
	c.stopOnce.Do(func() {
		close(c.stop)
		c.done.Wait()
		c.db.Close()
	})
}
