package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// settled waits until the feedback filter of s has read the table and is not rebuilding.
func settled(t *testing.T, s *SQLite) *bloom {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second * raceSlowdown)
	for time.Now().Before(deadline) {
		if b := s.fb.cur.Load(); b.ready.Load() && !s.fb.isRebuilding() {
			return b
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the feedback filter never finished reading the table")
	return nil
}

func (f *feedbackFilter) isRebuilding() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rebuilding
}

// filterStore is a SQLite store on a new file whose feedback filters hold at least min keys
// (0: feedbackFilterMin as it is), closed when the test ends.
func filterStore(t *testing.T, min int) *SQLite {
	t.Helper()
	if min > 0 {
		defer func(n int) { feedbackFilterMin = n }(feedbackFilterMin)
		feedbackFilterMin = min // read once, by OpenSQLite
	}
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func feedbackFor(client, key, outcome string, at time.Time) Feedback {
	return Feedback{Client: client, ServiceID: "svc", CardUUID: "card-" + key, OrderKey: key, Fingerprint: "fp-" + key,
		Outcome: outcome, OutcomeSent: at, OutcomeAt: at, ReceivedAt: at}
}

// An order without feedback is answered without a read of the database (the hook readers are
// closed here, so a read fails), an order with feedback is still read: the filter only ever
// says no for certain.
func TestFeedbackFilterSkipsTheRead(t *testing.T) {
	ctx := context.Background()
	s := filterStore(t, 0)
	settled(t, s)
	at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	if err := s.RecordFeedback(ctx, []Feedback{feedbackFor("ehr-a", "k1", "overridden", at)}); err != nil {
		t.Fatal(err)
	}
	st, err := s.OrderState(ctx, "ehr-a", "k1")
	if err != nil || st.Outcome != "overridden" || st.Fingerprint != "fp-k1" {
		t.Fatalf("order state of k1: %+v, %v", st, err)
	}
	s.hr.Close()
	if _, err := s.OrderState(ctx, "ehr-a", "k2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an order without feedback, readers closed: %v, want ErrNotFound without a read", err)
	}
	if _, err := s.OrderState(ctx, "ehr-b", "k1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the same order key of another client, readers closed: %v, want ErrNotFound", err)
	}
	if states, err := s.OrderStates(ctx, "ehr-a", []string{"k2", "k3"}); err != nil || len(states) != 0 {
		t.Errorf("orders without feedback, readers closed: %v, %v, want none without a read", states, err)
	}
	if _, err := s.OrderState(ctx, "ehr-a", "k1"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("an order with feedback, readers closed: %v, want the read's error", err)
	}
}

// Feedback already in the file when it is opened is read into the filter: every order keeps its
// state across a restart, and orders without feedback are mostly told so by the filter alone.
func TestFeedbackFilterLoadsTheTable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	var fs []Feedback
	for i := range 300 {
		fs = append(fs, feedbackFor("ehr-a", fmt.Sprintf("k%d", i), "overridden", at))
	}
	if err := s.RecordFeedback(ctx, fs); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := settled(t, s)
	for i := range 300 {
		if st, err := s.OrderState(ctx, "ehr-a", fmt.Sprintf("k%d", i)); err != nil || st.Outcome != "overridden" {
			t.Fatalf("k%d after reopening: %+v, %v", i, st, err)
		}
	}
	maybe := 0
	for i := range 10000 {
		if s.fb.mayHave("ehr-a", fmt.Sprintf("unknown-%d", i)) {
			maybe++
		}
	}
	if maybe > 100 {
		t.Errorf("%d of 10,000 orders without feedback would be read (filter of %d keys, capacity %d): want at most 1 %%", maybe, b.n.Load(), b.capacity)
	}
}

// Past its capacity the filter is rebuilt bigger while feedback keeps arriving and hooks keep
// reading: no order with feedback is ever reported as without.
func TestFeedbackFilterGrows(t *testing.T) {
	ctx := context.Background()
	s := filterStore(t, 64)
	at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	const writers, each = 4, 250
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("w%d-%d", w, i)
				if err := s.RecordFeedback(ctx, []Feedback{feedbackFor("ehr-a", k, "overridden", at)}); err != nil {
					errs <- err
					return
				}
				// Committed: from now on every read must find it, whatever the filter is doing.
				if st, err := s.OrderState(ctx, "ehr-a", k); err != nil || st.Outcome != "overridden" {
					errs <- fmt.Errorf("%s just after its commit: %+v, %v", k, st, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	b := settled(t, s)
	if b.capacity < writers*each {
		t.Errorf("filter capacity %d after %d keys: it did not grow", b.capacity, writers*each)
	}
	for w := range writers {
		for i := range each {
			if !s.fb.mayHave("ehr-a", fmt.Sprintf("w%d-%d", w, i)) {
				t.Fatalf("w%d-%d has feedback but the filter says not", w, i)
			}
		}
	}
}

// Feedback sent again (the feedback endpoint is idempotent by design: the row is stored once)
// does not count again, so resending cannot grow the filter: 500 resends of one 64-key body into
// a filter of 64 keys leave it as it was. Counting every add, it was rebuilt at four times its
// count each time it passed capacity (65,536 keys to a million in 1,400 resends).
func TestFeedbackFilterResentDoesNotGrow(t *testing.T) {
	ctx := context.Background()
	s := filterStore(t, 128)
	before := settled(t, s)
	at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	body := make([]Feedback, 64)
	for i := range body {
		body[i] = feedbackFor("ehr-a", fmt.Sprintf("k%d", i), "overridden", at)
	}
	for range 500 {
		if err := s.RecordFeedback(ctx, body); err != nil {
			t.Fatal(err)
		}
	}
	after := settled(t, s)
	if after != before || after.n.Load() > 64 {
		t.Fatalf("after 500 resends of 64 keys: filter replaced %v, %d keys counted (capacity %d); want the same filter, at most 64",
			after != before, after.n.Load(), after.capacity)
	}
}

// A feedback write never waits for a rebuild. Here a rebuild waits for write A, queued behind a
// batch that does not end until released; write B, arriving meanwhile, gives up at its own
// deadline (before, B waited on the filter's lock until the batch ended). A's row, committed
// after its caller gave up and after the rebuild swapped the filter, is in the rebuilt filter.
func TestFeedbackWriteDoesNotWaitForARebuild(t *testing.T) {
	ctx := context.Background()
	s := filterStore(t, 0)
	settled(t, s)
	at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	release, running := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- s.c.do(ctx, func(context.Context, *sql.Tx) error {
			close(running)
			<-release
			return nil
		})
	}()
	<-running
	record := func(key string) error {
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		return s.RecordFeedback(c, []Feedback{feedbackFor("ehr-a", key, "overridden", at)})
	}
	if err := record("a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("A behind the blocked batch: %v, want its deadline", err)
	}
	old := s.fb.cur.Load()
	s.fb.goRebuild(1 << 10)
	for s.fb.cur.Load() == old { // the rebuild has swapped and now waits for A
		time.Sleep(time.Millisecond)
	}
	bDone := make(chan error, 1)
	go func() { bDone <- record("b") }()
	select {
	case err := <-bDone:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("B behind the blocked batch: %v, want its deadline", err)
		}
	case <-time.After(10 * time.Second * raceSlowdown):
		close(release)
		t.Fatal("B waited for the rebuild past its deadline")
	}
	close(release)
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	b := settled(t, s)
	for _, k := range []string{"a", "b"} {
		if !b.has(s.fb.hash("ehr-a", k)) {
			t.Errorf("%s committed after its caller gave up, not in the rebuilt filter", k)
		}
		if st, err := s.OrderState(ctx, "ehr-a", k); err != nil || st.Outcome != "overridden" {
			t.Errorf("%s: %+v, %v; want its late-committed override", k, st, err)
		}
	}
}

// A scan that fails (here: no feedback table yet) leaves the filter not ready, so every order is
// read, and is tried again until it succeeds.
func TestFeedbackFilterRetriesAFailedScan(t *testing.T) {
	defer func(d time.Duration) { rebuildRetry = d }(rebuildRetry)
	rebuildRetry = time.Millisecond
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := newFeedbackFilter(db)
	defer f.close()
	time.Sleep(20 * time.Millisecond) // several failed scans
	if !f.mayHave("ehr-a", "x") || f.cur.Load().ready.Load() {
		t.Fatal("filter ready although its scan cannot have succeeded")
	}
	if _, err := db.Exec(`CREATE TABLE feedback (client TEXT, order_key TEXT); INSERT INTO feedback VALUES ('ehr-a', 'known')`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second * raceSlowdown)
	for !f.cur.Load().ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the scan was not tried again")
		}
		time.Sleep(time.Millisecond)
	}
	if !f.mayHave("ehr-a", "known") || f.mayHave("ehr-a", "x") {
		t.Errorf("after the retried scan: known %v, x %v; want true, false", f.mayHave("ehr-a", "known"), f.mayHave("ehr-a", "x"))
	}
}
