package gateway

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"

	"valuerx/store"
)

// slowStore records decisions in order and can hold the writer until released.
type slowStore struct {
	mu      sync.Mutex
	got     []string
	release chan struct{} // nil: never blocks
}

func (s *slowStore) RecordDecision(_ context.Context, d store.Decision) error {
	if s.release != nil {
		<-s.release
	}
	s.mu.Lock()
	s.got = append(s.got, d.CardUUID)
	s.mu.Unlock()
	return nil
}
func (s *slowStore) RecordDecisions(ctx context.Context, ds []store.Decision) error {
	for _, d := range ds {
		if err := s.RecordDecision(ctx, d); err != nil {
			return err
		}
	}
	return nil
}
func (s *slowStore) RecordFeedback(context.Context, store.Feedback) error { return nil }
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
	t.Run("full queue writes in the caller, close drains", func(t *testing.T) {
		st := &slowStore{release: make(chan struct{})}
		l := newDecisionLog(st, slog.New(slog.DiscardHandler))
		// The writer blocks on the first decision; fill the queue behind it.
		for i := range decisionQueueSize + 1 {
			l.record(store.Decision{CardUUID: strconv.Itoa(i)})
		}
		done := make(chan struct{})
		go func() {
			l.record(store.Decision{CardUUID: "overflow"}) // queue full: written by the caller
			close(done)
		}()
		close(st.release)
		<-done
		l.close()
		got := st.cards()
		if len(got) != decisionQueueSize+2 {
			t.Fatalf("%d decisions written, want %d", len(got), decisionQueueSize+2)
		}
		l.record(store.Decision{CardUUID: "after close"}) // must not panic; written directly
		l.flush(context.Background())                     // returns at once
		if n := len(st.cards()); n != decisionQueueSize+3 {
			t.Fatalf("record after close: %d decisions", n)
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
