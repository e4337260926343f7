package store_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"valuerx/store"
	"valuerx/store/pgtest"
	"valuerx/store/storetest"
)

// openPG opens a PostgreSQL store on dsn, closed when the test ends.
func openPG(t *testing.T, dsn string) *store.Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The shared suite against a real PostgreSQL server (a fresh database per case).
func TestPostgresSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPG(t, pgtest.NewDatabase(t)) })
}

// Two instances (two pools on one database) claim the same jtis at once: for each key exactly
// one claim wins, whichever instance makes it. 40 keys, each claimed 6 times from each pool.
func TestPostgresTwoPoolsOneJTI(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	ctx := context.Background()
	now := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	const keys, perPool = 40, 6
	var wins [keys]atomic.Int32
	var wg sync.WaitGroup
	for _, s := range []*store.Postgres{a, b} {
		for range perPool {
			for k := range keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := s.ClaimJTI(ctx, fmt.Sprintf("https://ehr.test\x00jti-%d", k), now.Add(5*time.Minute), now)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						wins[k].Add(1)
					}
				}()
			}
		}
	}
	wg.Wait()
	for k := range keys {
		if n := wins[k].Load(); n != 1 {
			t.Errorf("jti-%d: %d claims won of %d, want exactly 1", k, n, 2*perPool)
		}
	}
	// A token refused on one instance stays refused on the other, and after both restart.
	if ok, err := b.ClaimJTI(ctx, "https://ehr.test\x00jti-0", now.Add(5*time.Minute), now.Add(time.Minute)); err != nil || ok {
		t.Fatalf("replay on the other instance: %v %v", ok, err)
	}
	a.Close()
	c := openPG(t, dsn)
	if ok, err := c.ClaimJTI(ctx, "https://ehr.test\x00jti-1", now.Add(5*time.Minute), now.Add(2*time.Minute)); err != nil || ok {
		t.Fatalf("replay after a restart: %v %v", ok, err)
	}
	// Once expired, the key may be claimed again, by exactly one of the two.
	later := now.Add(6 * time.Minute)
	var again atomic.Int32
	for _, s := range []*store.Postgres{b, c, b, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.ClaimJTI(ctx, "https://ehr.test\x00jti-2", later.Add(5*time.Minute), later); err == nil && ok {
				again.Add(1)
			}
		}()
	}
	wg.Wait()
	if again.Load() != 1 {
		t.Fatalf("an expired claim taken over %d times, want 1", again.Load())
	}
}

// Two instances record decisions and feedback at once, some for the same cards (an EHR retrying
// through the other instance): every card is stored once, every order counted once, and the
// savings are the hand sum: 60 cards of 10 USD each, the 30 even ones accepted = 300 USD.
func TestPostgresTwoPoolsConcurrentWrites(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	ctx := context.Background()
	at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 60 {
		for j, s := range []*store.Postgres{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("c%02d", i)
				d := dec(id, at)
				d.HookInstance = fmt.Sprintf("via-%d", j)
				if err := s.RecordDecisions(ctx, []store.Decision{d}); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					if err := s.RecordFeedback(ctx, []store.Feedback{feedback(id, "accepted", at.Add(time.Minute))}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, s := range []*store.Postgres{a, b} {
		sum, err := s.Summary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(sum) != 1 || sum[0].Cards != 60 || sum[0].Accepted != 30 || sum[0].NoFeedback != 30 || sum[0].PayerSaved != 300 {
			t.Fatalf("summary: %+v, want 60 cards, 30 accepted, 300 USD", sum)
		}
	}
	d, err := b.Decision(ctx, "c07")
	if err != nil || (d.HookInstance != "via-0" && d.HookInstance != "via-1") {
		t.Fatalf("c07: %+v %v", d, err)
	}
}

// Instances starting together on an empty database migrate it once (goose under an advisory
// lock) and both come up at the newest version.
func TestPostgresMigratesOnceWhenStartedTogether(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	stores := make([]*store.Postgres, 3)
	errs := make([]error, 3)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = store.OpenPostgres(context.Background(), dsn, store.PostgresOptions{MaxConns: 2})
		}()
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		defer s.Close()
		v, err := s.SchemaVersion(context.Background())
		if want := postgresSchemaVersion(t); err != nil || v != want {
			t.Fatalf("instance %d at version %d (%v), want %d", i, v, err, want)
		}
	}
}

// postgresSchemaVersion is the newest version: the number of files in store/migrations/postgres
// (each engineer adds one in turn).
func postgresSchemaVersion(t *testing.T) int64 {
	t.Helper()
	files, err := os.ReadDir("migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(files))
}

// Everything written is in the database: a new pool (a restarted instance) reads it.
func TestPostgresReopen(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	s := openPG(t, dsn)
	at := time.Date(2026, 2, 15, 10, 0, 0, 123456000, time.UTC)
	if err := s.RecordDecisions(ctx, []store.Decision{dec("c1", at)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	d, err := openPG(t, dsn).Decision(ctx, "c1")
	if err != nil || !d.At.Equal(at) || d.Suggestions[0].PayerSaving != 10 {
		t.Fatalf("after reopen: %+v %v", d, err)
	}
}

// A database whose decisions booked the allowed amount as the payer's saving (before migration
// 00009) is upgraded: the store keeps when the last of them was recorded.
func TestPostgresPayerBasisUpgrade(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	s := openPG(t, dsn)
	at := time.Date(2026, 11, 30, 9, 15, 0, 250000000, time.UTC)
	if err := s.RecordDecisions(ctx, []store.Decision{dec("c1", at.Add(-time.Hour)), dec("c2", at)}); err != nil {
		t.Fatal(err)
	}
	if until, err := s.AllowedBasisUntil(ctx); err != nil || !until.IsZero() {
		t.Fatalf("a store made after the change: AllowedBasisUntil = %v, %v; want zero", until, err)
	}
	// Back to the schema before 00009, as a store upgraded today was.
	s.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE payer_basis`, `DELETE FROM goose_db_version WHERE version_id = 9`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	conn.Close(ctx)
	s = openPG(t, dsn)
	if until, err := s.AllowedBasisUntil(ctx); err != nil || !until.Equal(at) {
		t.Fatalf("after the upgrade: AllowedBasisUntil = %v, %v; want %v (c2)", until, err, at)
	}
}

// A connection string's password appears in no error: not when it does not parse, not when the
// server cannot be reached.
func TestPostgresErrorsHideThePassword(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	for _, dsn := range []string{
		"host=/nonexistent-valuerx port=notaport user=u password=" + secret,
		"postgres://u:" + secret + "@[::1:bad/db",
		"host=/nonexistent-valuerx user=u password=" + secret + " connect_timeout=2",
		"postgres://u:" + secret + "@127.0.0.1:1/db?connect_timeout=2",
	} {
		_, err := store.OpenPostgres(context.Background(), dsn, store.PostgresOptions{})
		if err == nil {
			t.Fatalf("%q opened", dsn)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("the password is in the error: %v", err)
		}
	}
}
