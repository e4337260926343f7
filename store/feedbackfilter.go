package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// feedbackFilter answers, without a read of the database, that an order has no feedback: the
// question every hook asks of every draft order (OrderState, OrderStates: was this card
// overridden before?) and whose answer is nearly always no.
//
// Why: a read on the hook readers begins a read transaction, and every hook's commit has changed
// the WAL since that connection's last read, so SQLite drops its page cache and reads the pages
// back (shared-memory lock syscalls, pread). Under load that one-row look-up was 5 % of a
// one-draft hook's CPU and 4 % of a twenty-draft hook's (CPU profiles of `valuerx load`, 2
// December 2026).
//
// It is a Bloom filter over (client, order key) of every feedback row: a key it does not hold has
// no feedback, and a key it holds (or might: about 1 % false positives at capacity) is read as
// before. It is exact only because this process writes all the feedback: the SQLite file serves
// one instance (README "The SQLite file serves one instance"). Feedback written by another
// process while this one runs is not seen until the next restart, and its order's card is shown
// again: the failure suppression already has when the store cannot answer. Deleted feedback
// (retention) leaves false positives, which cost only the read.
//
// Until the table has been read into it (at open, in the background) the filter holds every key.
// RecordFeedback adds its keys before its commit, to the filter it finds current, and counts
// itself pending on that filter until its commit's outcome is settled, however long after its
// caller gave up (committer.doEnded). A rebuild (the filter past capacity) swaps in an empty,
// bigger filter, waits until no write is pending on the one it replaced, then reads the table: a
// row whose key went into the old filter is committed (or failed) before that read, a row whose
// key went into the new one is in it. No write ever waits for a rebuild: the feedback path takes
// no lock (an RWMutex held across the commit made a new RecordFeedback wait past its deadline
// behind a rebuild waiting for a slow batch).
type feedbackFilter struct {
	cur  atomic.Pointer[bloom]
	seed maphash.Seed
	rd   *sql.DB // the readers: the loading scan must not hold the writer
	min  int     // the smallest capacity (feedbackFilterMin when made)

	mu         sync.Mutex // guards closed, rebuilding and wg.Add; drained's lock
	drained    *sync.Cond // broadcast when a retired filter's last pending write settles, and at close
	closed     bool
	rebuilding bool           // one rebuild at a time
	wg         sync.WaitGroup // the rebuild in flight
	stop       chan struct{}  // closed by close: a scan in flight gives up
}

// feedbackFilterMin is the smallest capacity (keys) a filter is built for: 80 KiB of bits.
var feedbackFilterMin = 1 << 16

// bloom is a fixed-size Bloom filter of 10 bits a key at capacity and 7 probes (about 1 % false
// positives when full), its words set with atomic OR so hooks read it without a lock.
type bloom struct {
	words    []atomic.Uint64
	mask     uint64 // bits - 1 (bits is a power of two)
	capacity int64
	// n counts the keys that set at least one new bit: a key sent again (feedback is resent by
	// design, and stored once) does not count, so resending cannot grow the filter.
	n       atomic.Int64
	ready   atomic.Bool  // the table has been read in
	pending atomic.Int64 // feedback writes whose keys are in this filter, their commit not settled
	retired atomic.Bool  // swapped out: its rebuild waits for pending to reach 0
}

const bloomProbes = 7

func newBloom(capacity int) *bloom {
	nbits := uint64(1) << bits.Len64(uint64(capacity*10-1))
	return &bloom{words: make([]atomic.Uint64, nbits/64), mask: nbits - 1, capacity: int64(capacity)}
}

// add sets the probes of h: double hashing (Kirsch and Mitzenmacher), the second hash h's
// halves swapped, made odd so the probes cover the power-of-two table.
func (b *bloom) add(h uint64) {
	h1, h2 := h, h>>32|h<<32|1
	fresh := false
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) & b.mask
		bit := uint64(1) << (p % 64)
		if b.words[p/64].Or(bit)&bit == 0 {
			fresh = true
		}
	}
	if fresh {
		b.n.Add(1)
	}
}

func (b *bloom) has(h uint64) bool {
	h1, h2 := h, h>>32|h<<32|1
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) & b.mask
		if b.words[p/64].Load()&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// newFeedbackFilter returns a filter that holds every key until the feedback table, read from rd
// in the background, is in it.
func newFeedbackFilter(rd *sql.DB) *feedbackFilter {
	f := &feedbackFilter{seed: maphash.MakeSeed(), rd: rd, min: feedbackFilterMin, stop: make(chan struct{})}
	f.drained = sync.NewCond(&f.mu)
	f.cur.Store(newBloom(f.min)) // not ready: every key "maybe" until the rebuild has read the table
	f.goRebuild(f.min)
	return f
}

func (f *feedbackFilter) hash(client, orderKey string) uint64 {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(client)
	h.WriteByte(0)
	h.WriteString(orderKey)
	return h.Sum64()
}

// mayHave reports whether (client, orderKey) may have feedback; false is certain.
func (f *feedbackFilter) mayHave(client, orderKey string) bool {
	b := f.cur.Load()
	return !b.ready.Load() || b.has(f.hash(client, orderKey))
}

// adding adds the keys of fs to the current filter, pending on it, and returns the function to
// call once their commit's outcome is settled (committed or not: an uncommitted key is only a
// false positive). The write counts itself pending before it checks the filter is still
// current: a rebuild that swapped it out meanwhile either sees the count (and waits) or is seen
// (and the write moves to the new filter).
func (f *feedbackFilter) adding(fs []Feedback) (ended func()) {
	var b *bloom
	for {
		b = f.cur.Load()
		b.pending.Add(1)
		if f.cur.Load() == b {
			break
		}
		f.settle(b)
	}
	for _, fb := range fs {
		b.add(f.hash(fb.Client, fb.OrderKey))
	}
	return func() {
		n := b.n.Load()
		full := n > b.capacity && !b.retired.Load()
		f.settle(b)
		if full {
			f.goRebuild(int(n) * 4)
		}
	}
}

// settle ends one pending write on b, waking its rebuild when b is retired and that was the last.
func (f *feedbackFilter) settle(b *bloom) {
	if b.pending.Add(-1) == 0 && b.retired.Load() {
		f.mu.Lock()
		f.drained.Broadcast()
		f.mu.Unlock()
	}
}

// goRebuild runs rebuild on a goroutine close waits for, unless the filter is closed.
func (f *feedbackFilter) goRebuild(capacity int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.rebuilding {
		return
	}
	f.rebuilding = true
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.rebuild(capacity)
		f.mu.Lock()
		f.rebuilding = false
		f.mu.Unlock()
	}()
}

// rebuildRetry is the first wait before a failed scan is tried again (doubling up to
// rebuildRetryMax): until one succeeds the filter is not ready and every hook reads the table.
var rebuildRetry, rebuildRetryMax = 100 * time.Millisecond, 30 * time.Second

// rebuild swaps in an empty filter for capacity keys (at least f.min), waits for the writes
// pending on the filter it replaced, and reads the feedback table into it, again bigger while
// the keys outgrow it. A failed scan is retried with backoff until close.
func (f *feedbackFilter) rebuild(capacity int) {
	for {
		b := newBloom(max(capacity, f.min))
		old := f.cur.Swap(b)
		old.retired.Store(true)
		f.mu.Lock()
		for old.pending.Load() > 0 && !f.closed {
			f.drained.Wait()
		}
		f.mu.Unlock()
		for wait := rebuildRetry; ; wait = min(2*wait, rebuildRetryMax) {
			if err := f.load(b); err == nil {
				break
			}
			select {
			case <-f.stop:
				return
			case <-time.After(wait):
			}
		}
		b.ready.Store(true)
		n := b.n.Load()
		if n <= b.capacity {
			return
		}
		capacity = int(n) * 4
	}
}

// load reads every feedback key into b.
func (f *feedbackFilter) load(b *bloom) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-f.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	rows, err := f.rd.QueryContext(ctx, `SELECT client, order_key FROM feedback`)
	if err != nil {
		return fmt.Errorf("store: feedback filter: %w", err)
	}
	defer rows.Close()
	var client, key string
	for rows.Next() {
		if err := rows.Scan(&client, &key); err != nil {
			return fmt.Errorf("store: feedback filter: %w", err)
		}
		b.add(f.hash(client, key))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: feedback filter: %w", err)
	}
	return nil
}

// close stops a rebuild in flight and waits for it (before the readers are closed); none starts
// after.
func (f *feedbackFilter) close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.stop)
		f.drained.Broadcast()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
