package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"valuerx/store/pgtest"
)

func openPGInternal(t *testing.T) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := OpenPostgres(ctx, pgtest.NewDatabase(t), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// The group commit batches: while one pipeline is in flight, the writes of 63 other hooks queue
// and go together as the next one. The first pipeline is held until all 63 have queued, so the
// count is exact: 64 writes, 2 pipelines (1 + 63), every write committed.
func TestPostgresGroupCommitBatches(t *testing.T) {
	p := openPGInternal(t)
	var mu sync.Mutex
	var sizes []int
	release := make(chan struct{})
	p.b.beforeSend = func(n int) {
		mu.Lock()
		sizes = append(sizes, n)
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release
		}
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.RecordDecisions(ctx, []Decision{{CardUUID: fmt.Sprintf("c%02d", i), ContractID: "x", Client: "a", At: time.Now()}})
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		p.b.mu.Lock()
		queued := len(p.b.queue)
		p.b.mu.Unlock()
		if queued == 63 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes queued behind the first", queued)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(sizes) != 2 || sizes[0] != 1 || sizes[1] != 63 {
		t.Fatalf("pipelines of %v writes, want [1 63]", sizes)
	}
	sum, err := p.Summary(ctx)
	if err != nil || len(sum) != 1 || sum[0].Cards != 64 {
		t.Fatalf("summary %+v %v, want 64 cards", sum, err)
	}
}

// One bad write in a batch fails alone: PostgreSQL rolls the whole pipeline back, the batcher
// runs each write again by itself, and the others commit. A first write holds its pipeline until
// ten more have queued behind it, one of them bad (a userId holding a NUL, which PostgreSQL text
// refuses: SQLSTATE 22021), so the ten go as one pipeline.
func TestPostgresGroupCommitIsolatesAFailure(t *testing.T) {
	p := openPGInternal(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	p.b.beforeSend = func(int) { once.Do(func() { close(entered); <-release }) }
	ctx := context.Background()
	rec := func(id, user string) error {
		return p.RecordDecisions(ctx, []Decision{{CardUUID: id, ContractID: "x", Client: "a", UserID: user, At: time.Now()}})
	}
	lead := make(chan error, 1)
	go func() { lead <- rec("lead", "") }()
	<-entered
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := ""
			if i == 5 {
				user = "Practitioner/\x00"
			}
			errs[i] = rec(fmt.Sprintf("c%d", i), user)
		}()
	}
	for {
		p.b.mu.Lock()
		queued := len(p.b.queue)
		p.b.mu.Unlock()
		if queued == 10 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if err := <-lead; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if i == 5 {
			if err == nil || !strings.Contains(err.Error(), "22021") {
				t.Errorf("the bad write: %v, want SQLSTATE 22021", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("write %d failed with the bad one: %v", i, err)
		}
	}
	if sum, err := p.Summary(ctx); err != nil || len(sum) != 1 || sum[0].Cards != 10 {
		t.Fatalf("summary %+v %v, want the 10 good cards", sum, err)
	}
}

// BenchmarkPostgresRecordDecision: concurrent hooks (16 goroutines per core) each recording one
// decision, through the group commit ("batched") and, for comparison, as one autocommitted
// INSERT each on the same pool ("one-per-hook"). go test -run '^$' -bench PostgresRecordDecision
// -benchtime 4000x ./store
func BenchmarkPostgresRecordDecision(b *testing.B) {
	for _, mode := range []string{"batched", "one-per-hook"} {
		b.Run(mode, func(b *testing.B) {
			p := openPGInternalB(b)
			ctx := context.Background()
			var n atomicCounter
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d := Decision{CardUUID: fmt.Sprintf("c%d", n.next()), ContractID: "x", Client: "a", Suggestions: []Suggestion{{UUID: "s", PayerSaving: 1}}, At: time.Now()}
					var err error
					if mode == "batched" {
						err = p.RecordDecisions(ctx, []Decision{d})
					} else {
						suggs, _ := encodeSuggestions(d.Suggestions)
						_, err = p.pool.Exec(ctx, pgInsertDecision, d.CardUUID, d.HookInstance, d.ServiceID, d.Hook, d.Client, d.OrderKey,
							d.Fingerprint, d.ContractID, d.Arrangement, d.GroupID, d.OrderedProductID, d.BestProductID, suggs, d.PayerSaving,
							d.PatientSaving, d.OrgImpact, d.At.UTC(), d.UserID, d.Tenant, d.Location, d.NoCardReason, d.Therapy, d.PricePeriod,
							d.CatalogVersion, d.AdministrationsPerYear, d.OrderedRelationship, "[]", []byte{})
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func openPGInternalB(b *testing.B) *Postgres {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := OpenPostgres(ctx, pgtest.NewDatabase(b), PostgresOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) next() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

// A scan that panics (a bug) must not wedge the PostgreSQL group commit, as it did: the leader's
// goroutine unwound with leading still set, and every later write waited out its deadline. The
// panicking write's caller gets the panic with its stack, the pipeline's other write
// errPGBatchPanicked (its outcome unknown: PostgreSQL commits the pipeline at its Sync), a write
// whose scan ends its goroutine hands the queue to a new leader, and a later write commits.
func TestPostgresGroupCommitSurvivesAPanickingScan(t *testing.T) {
	p := openPGInternal(t)
	b := p.b
	ins := func(id string) pgStmt {
		return pgStmt{sql: pgInsertJTI, args: []any{[]byte(id), time.Now().Add(time.Hour).UTC()}}
	}
	bug := pgStmt{sql: `SELECT 1`, scan: func(pgx.Row) error { panic("a bug in a scan") }}
	same := &pgOp{stmts: []pgStmt{ins("same-batch")}, order: "a", err: make(chan error, 1)}
	boom := &pgOp{stmts: []pgStmt{bug}, order: "b", err: make(chan error, 1)}
	b.mu.Lock()
	b.queue, b.leading = []*pgOp{same, boom}, true
	b.lead() // unlocks; must not panic
	if err := <-same.err; !errors.Is(err, errPGBatchPanicked) {
		t.Errorf("write in the panicking pipeline: %v, want errPGBatchPanicked", err)
	}
	var wp *writePanic
	if err := <-boom.err; !errors.As(err, &wp) || wp.value != "a bug in a scan" || !strings.Contains(string(wp.PanicStack()), "TestPostgresGroupCommitSurvivesAPanickingScan") {
		t.Errorf("the panicking write: %v, want its panic with its stack", err)
	}

	// Its caller leading: the panic reaches that caller only.
	raised := make(chan any, 1)
	go func() {
		defer func() { raised <- recover() }()
		_ = b.do(context.Background(), "c", bug)
	}()
	if r, ok := (<-raised).(*writePanic); !ok || r.value != "a bug in a scan" {
		t.Fatalf("the panicking write's caller raised %v, want its *writePanic", r)
	}

	// A scan that ends its goroutine while another write is queued behind it.
	var queued *pgOp
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = b.do(context.Background(), "d", pgStmt{sql: `SELECT 1`, scan: func(pgx.Row) error {
			queued = &pgOp{stmts: []pgStmt{ins("queued")}, order: "e", err: make(chan error, 1)}
			b.mu.Lock()
			b.queue = append(b.queue, queued)
			b.mu.Unlock()
			runtime.Goexit()
			return nil
		}})
	}()
	<-exited
	select {
	case err := <-queued.err:
		if err != nil {
			t.Errorf("write queued behind a Goexit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("write queued behind a Goexit never led")
	}
	if n := p.WritePanics(); n != 2 {
		t.Errorf("%d write panics counted, want 2 (the Goexit is not one)", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.do(ctx, "f", ins("later")); err != nil {
		t.Fatalf("a later write: %v", err)
	}
	var n int
	if err := p.pool.QueryRow(ctx, `SELECT count(*) FROM jti WHERE key IN ('queued'::bytea, 'later'::bytea)`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d of the writes after the panics committed (%v), want 2", n, err)
	}
}
