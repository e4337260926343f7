package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"valuerx/store"
)

// decisionQueueSize bounds the decisions waiting to be written.
const decisionQueueSize = 4096

// decisionLog writes decisions to the store from one background goroutine, so the SQLite insert
// (one connection, so one writer at a time) is not on the EHR's path: under load the hook waited
// for every earlier hook's insert (docs/performance.md). Nothing is dropped: when the queue is
// full the hook writes its decision itself. Readers of the store (feedback, the summary) flush
// first, so they see every decision of a card already answered.
type decisionLog struct {
	st  store.Store
	log *slog.Logger

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
	queue  chan decisionItem
	done   chan struct{}
}

// decisionItem is a decision to write, or (flushed != nil) a marker to close once every earlier
// item is written.
type decisionItem struct {
	d       store.Decision
	flushed chan struct{}
}

func newDecisionLog(st store.Store, log *slog.Logger) *decisionLog {
	l := &decisionLog{st: st, log: log, queue: make(chan decisionItem, decisionQueueSize), done: make(chan struct{})}
	go l.run()
	return l
}

// maxBatch bounds the decisions written in one transaction.
const maxBatch = 256

// batchWindow is how long the writer gathers decisions after the first of a batch. A SQLite
// commit costs more than the inserts it commits, so at a few hundred hooks a second gathering
// for a moment turns one commit per hook into one per window. Nothing waits on it: a flush ends
// the window at once.
const batchWindow = 25 * time.Millisecond

// run writes what is queued in batches: it takes one item, then gathers what arrives within
// batchWindow (up to maxBatch, or until a flush marker), and writes them in one transaction. A
// flush marker closes only after every decision queued before it is written.
func (l *decisionLog) run() {
	defer close(l.done)
	batch := make([]store.Decision, 0, maxBatch)
	var markers []chan struct{}
	timer := time.NewTimer(batchWindow)
	timer.Stop()
	for it := range l.queue {
		batch, markers = l.add(batch[:0], markers[:0], it)
		timer.Reset(batchWindow)
	gather:
		for len(batch) < maxBatch && len(markers) == 0 {
			select {
			case more, ok := <-l.queue:
				if !ok {
					break gather
				}
				batch, markers = l.add(batch, markers, more)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		l.write(batch...)
		for _, m := range markers {
			close(m)
		}
	}
}

func (l *decisionLog) add(batch []store.Decision, markers []chan struct{}, it decisionItem) ([]store.Decision, []chan struct{}) {
	if it.flushed != nil {
		return batch, append(markers, it.flushed)
	}
	return append(batch, it.d), markers
}

func (l *decisionLog) write(ds ...store.Decision) {
	if len(ds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.st.RecordDecisions(ctx, ds); err != nil {
		l.log.Error("recording decisions failed", "count", len(ds), "error", err.Error())
	}
}

// record queues d, or writes it now when the queue is full or closed.
func (l *decisionLog) record(d store.Decision) {
	l.mu.RLock()
	if !l.closed {
		select {
		case l.queue <- decisionItem{d: d}:
			l.mu.RUnlock()
			return
		default:
		}
	}
	l.mu.RUnlock()
	l.write(d)
}

// flush returns once every decision queued before the call is written (or ctx ends).
func (l *decisionLog) flush(ctx context.Context) {
	c := make(chan struct{})
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return
	}
	select {
	case l.queue <- decisionItem{flushed: c}:
	case <-ctx.Done():
		l.mu.RUnlock()
		return
	}
	l.mu.RUnlock()
	select {
	case <-c:
	case <-ctx.Done():
	}
}

// close writes what is queued and stops the writer.
func (l *decisionLog) close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.mu.Unlock()
	<-l.done
}
