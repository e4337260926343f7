package gateway

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"valuerx/store"
)

// slowStore records decisions in order and can hold the writer until released.
type slowStore struct {
	mu      sync.Mutex
	got     []string
	release chan struct{} // nil: never blocks
	blocked atomic.Int32  // callers waiting for release
	batches atomic.Int32  // RecordDecisions calls
}

func (s *slowStore) RecordDecision(_ context.Context, d store.Decision) error {
	if s.release != nil {
		s.blocked.Add(1)
		<-s.release
	}
	s.mu.Lock()
	s.got = append(s.got, d.CardUUID)
	s.mu.Unlock()
	return nil
}
func (s *slowStore) RecordDecisions(ctx context.Context, ds []store.Decision) error {
	s.batches.Add(1)
	for _, d := range ds {
		if err := s.RecordDecision(ctx, d); err != nil {
			return err
		}
	}
	return nil
}
func (s *slowStore) RecordFeedback(context.Context, []store.Feedback) error { return nil }
func (s *slowStore) Decision(context.Context, string) (store.Decision, error) {
	return store.Decision{}, store.ErrNotFound
}
func (s *slowStore) OrderState(context.Context, string, string) (store.OrderState, error) {
	return store.OrderState{}, store.ErrNotFound
}
func (s *slowStore) ClaimJTI(context.Context, string, time.Time, time.Time) (bool, error) {
	return true, nil
}
func (s *slowStore) Summary(context.Context) ([]store.ContractSummary, error) {
	return nil, nil
}
func (s *slowStore) Close() error { return nil }

func (s *slowStore) cards() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func TestDecisionLog(t *testing.T) {
	t.Run("flush sees every earlier decision", func(t *testing.T) {
		st := &slowStore{}
		l := newDecisionLog(st, slog.New(slog.DiscardHandler))
		defer l.close()
		for i := range 100 {
			l.record(store.Decision{CardUUID: strconv.Itoa(i)})
		}
		l.flush(context.Background())
		got := st.cards()
		if len(got) != 100 || got[0] != "0" || got[99] != "99" {
			t.Fatalf("after flush: %d decisions (%v...)", len(got), got[:min(3, len(got))])
		}
	})
	t.Run("decisions arriving together are written together", func(t *testing.T) {
		st := &slowStore{}
		l := newDecisionLog(st, slog.New(slog.DiscardHandler))
		defer l.close()
		const n = 2000
		for i := range n {
			l.record(store.Decision{CardUUID: strconv.Itoa(i)})
		}
		l.flush(context.Background())
		got := st.cards()
		if len(got) != n {
			t.Fatalf("%d decisions written, want %d", len(got), n)
		}
		for i, c := range got {
			if c != strconv.Itoa(i) {
				t.Fatalf("decision %d is %s: order lost", i, c)
			}
		}
		// Queued faster than one window, they fill batches of maxBatch; a writer that
		// wrote one decision per transaction would make n calls.
		if b, most := int(st.batches.Load()), 2*n/maxBatch+2; b > most {
			t.Fatalf("%d transactions for %d decisions, want at most %d", b, n, most)
		}
	})
	t.Run("full queue writes in the caller, close drains", func(t *testing.T) {
		st := &slowStore{release: make(chan struct{})}
		l := newDecisionLog(st, slog.New(slog.DiscardHandler))
		// The writer blocks on its first batch; fill the queue behind it from another
		// goroutine (a record that finds the queue full writes inline and so blocks on the
		// store too, which this goroutine must not do before it releases the store).
		// The writer holds at most a full queue's worth while it is blocked, so this many
		// fill the queue behind it and send the last ones down the inline path.
		n := 2*decisionQueueSize + 1
		filled := make(chan struct{})
		go func() {
			for i := range n {
				l.record(store.Decision{CardUUID: strconv.Itoa(i)})
			}
			l.record(store.Decision{CardUUID: "overflow"}) // queue full: written by the caller
			close(filled)
		}()
		// Wait until a caller besides the writer is blocked in the store: the overflow path
		// (queue full, the caller writes itself) was really taken.
		for deadline := time.Now().Add(10 * time.Second); st.blocked.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if st.blocked.Load() < 2 {
			l.mu.Lock()
			queued := len(l.pending)
			l.mu.Unlock()
			t.Fatalf("no caller wrote inline: %d blocked, queue %d of %d", st.blocked.Load(), queued, decisionQueueSize)
		}
		close(st.release)
		<-filled
		l.close()
		got := st.cards()
		if len(got) != n+1 {
			t.Fatalf("%d decisions written, want %d", len(got), n+1)
		}
		l.record(store.Decision{CardUUID: "after close"}) // must not panic; written directly
		l.flush(context.Background())                     // returns at once
		if got := len(st.cards()); got != n+2 {
			t.Fatalf("record after close: %d decisions", got)
		}
	})
	t.Run("flush honours its context", func(t *testing.T) {
		st := &slowStore{release: make(chan struct{})}
		l := newDecisionLog(st, slog.New(slog.DiscardHandler))
		l.record(store.Decision{CardUUID: "stuck"})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		l.flush(ctx) // the writer is stuck: a cancelled flush must not wait for it
		close(st.release)
		l.close()
		if got := st.cards(); len(got) != 1 {
			t.Fatalf("decisions %v", got)
		}
	})
}
