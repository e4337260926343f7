package store

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// groupQueue is the leadership both group commits share (committer for SQLite, pgBatcher for
// PostgreSQL). A write is queued; the first caller to find no batch in flight leads, running
// batches in its own goroutine until the queue is empty, and the writes that queue meanwhile
// share the next batch. An idle store thus costs a lone write no hand-off to another goroutine,
// which on a busy two-core machine waited behind the hooks in the run queue
// (docs/performance.md).
//
// Each batch is given to commit, which answers every write of it and must not panic: the
// committers recover their writes' panics. Should the leader's goroutine still unwind
// (runtime.Goexit in a write: t.Fatal in a test), the queue is not left with no leader: the
// writes queued are led from a new goroutine.
type groupQueue[T any] struct {
	mu      sync.Mutex
	queue   []T
	leading bool // a caller is running batches
	closed  bool
	idle    *sync.Cond // signalled when leading ends

	// size returns how many of the queued writes (at least one) form the next batch.
	size func(queue []T) int
	// commit runs one batch and answers each of its writes.
	commit func(batch []T)
}

func (g *groupQueue[T]) init(size func([]T) int, commit func([]T)) {
	g.idle = sync.NewCond(&g.mu)
	g.size, g.commit = size, commit
}

// add queues op and, when no batch is in flight, leads until the queue is empty. It returns
// false, queueing nothing, once the queue is closed.
func (g *groupQueue[T]) add(op T) bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.queue = append(g.queue, op)
	if !g.leading {
		g.leading = true
		g.lead() // unlocks
	} else {
		g.mu.Unlock()
	}
	return true
}

// lead runs batches until the queue is empty. Called with mu held and leading set; returns with
// mu released.
func (g *groupQueue[T]) lead() {
	normal := false
	defer func() {
		if normal {
			return
		}
		g.mu.Lock()
		if len(g.queue) > 0 {
			go func() {
				g.mu.Lock()
				g.lead()
			}()
		} else {
			g.leading = false
			g.idle.Broadcast()
		}
		g.mu.Unlock()
	}()
	for {
		if len(g.queue) == 0 {
			g.leading = false
			g.queue = nil
			g.idle.Broadcast()
			g.mu.Unlock()
			normal = true
			return
		}
		n := g.size(g.queue)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.commit(batch)
		g.mu.Lock()
	}
}

// close waits for the batch in flight, commits what is queued and refuses further writes.
func (g *groupQueue[T]) close() {
	g.mu.Lock()
	g.closed = true
	for g.leading {
		g.idle.Wait()
	}
	if len(g.queue) > 0 {
		g.leading = true
		g.lead()
		return
	}
	g.mu.Unlock()
}

// await is a queued write's wait for its answer. A write whose own function panicked (a
// *writePanic) panics again here, in its own caller's goroutine, where its handler's recovery
// answers a 500 and logs the write's stack; the leader has gone on.
func await(ctx context.Context, answer <-chan error) error {
	select {
	case err := <-answer:
		if wp, ok := err.(*writePanic); ok {
			panic(wp)
		}
		return err
	case <-ctx.Done():
		return fmt.Errorf("store: waiting for commit: %w", ctx.Err())
	}
}

// panicAnswer is the answer to a write of a batch that ended in a panic (r, recover's value) or a
// Goexit (r nil): its own panic and stack when its own function panicked (self), else others.
// Called from the committer's deferred recovery, so the stack is the panicking write's.
func panicAnswer(r any, self bool, others error) error {
	switch {
	case r != nil && self:
		return &writePanic{value: r, stack: debug.Stack()}
	case r != nil:
		return fmt.Errorf("%w: %v", others, r)
	}
	return others
}
