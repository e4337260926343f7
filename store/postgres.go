package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// Postgres is the Store that several gateway instances share: decisions, feedback and jti claims
// live in one PostgreSQL database, so an order seen at order-select by one instance and at
// order-sign by another is one decision, feedback counts wherever it arrives, and a client JWT
// accepted by one instance is refused by every other.
//
// Writes go through a group commit of their own (postgres_commit.go) and return once committed
// (PostgreSQL's synchronous_commit, on by default, makes that a WAL flush); reads run on the
// pool beside them. The schema is migrated at open with goose under an advisory lock, so
// instances starting together migrate once.
type Postgres struct {
	pool *pgxpool.Pool
	b    *pgBatcher

	// jti sweep: the caller's clock of the last sweep (UnixNano) and whether one is running.
	lastSweep atomic.Int64
	sweeping  atomic.Bool
}

// PostgresOptions tunes OpenPostgres.
type PostgresOptions struct {
	// MaxConns bounds the pool (default 8: one for the group commit, the rest for reads and
	// retention). pool_max_conns in the DSN wins over it.
	MaxConns int32
}

// OpenPostgres connects to the database of dsn (a libpq connection string or postgres:// URL;
// passwords may also come from PGPASSWORD or a passfile, as libpq's) and migrates it to the
// newest schema. Errors never carry the password.
func OpenPostgres(ctx context.Context, dsn string, o PostgresOptions) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn redacts passwords from its parse errors only "on a best-effort basis": none of
		// its text is passed on.
		return nil, errors.New("store: postgres: the connection string does not parse (not shown: it may hold a password; try it with psql)")
	}
	if !hasPoolMaxConns(dsn) {
		cfg.MaxConns = 8
		if o.MaxConns > 0 {
			cfg.MaxConns = o.MaxConns
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", DescribePostgres(cfg), err)
	}
	if err := migratePostgres(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Postgres{pool: pool, b: newPGBatcher(pool)}, nil
}

// DescribePostgres names the server and database of cfg for logs: host, port, database and
// user, never the password.
func DescribePostgres(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s", c.Host, c.Port, c.Database, c.User)
}

// Describe is DescribePostgres of the open store.
func (p *Postgres) Describe() string { return DescribePostgres(p.pool.Config()) }

func hasPoolMaxConns(dsn string) bool { return strings.Contains(dsn, "pool_max_conns") }

// migrateLockID keys the advisory lock instances take while migrating ("valuerx" in ASCII).
const migrateLockID = 0x76616c7565727 // fits int64

// migratePostgres brings the schema to the newest version with goose (versions in the
// goose_db_version table; the files are in migrations/postgres). A session advisory lock makes
// a second instance starting at the same moment wait for the first one's migration.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	sub, err := fs.Sub(postgresMigrations, "migrations/postgres")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 120))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return convertLegacyPostgres(ctx, pool) // divergence.go
}

// SchemaVersion reports the migration version the database is at.
func (p *Postgres) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := p.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// AllowedBasisUntil implements PayerBasis (migration 00009).
func (p *Postgres) AllowedBasisUntil(ctx context.Context) (time.Time, error) {
	var until *time.Time
	if err := p.pool.QueryRow(ctx, `SELECT allowed_until FROM payer_basis WHERE id = 1`).Scan(&until); err != nil {
		return time.Time{}, fmt.Errorf("store: payer basis: %w", err)
	}
	if until == nil {
		return time.Time{}, nil
	}
	return until.UTC(), nil
}

// Close commits what is queued and closes the pool.
// WritePanics counts the write batches in which a scan function or pgx panicked (the batcher
// answered them and went on).
func (p *Postgres) WritePanics() int64 { return p.b.panics.Load() }

func (p *Postgres) Close() error {
	p.b.close()
	p.pool.Close()
	return nil
}

const pgInsertDecision = `INSERT INTO decisions
	(card_uuid, hook_instance, service_id, hook, client, order_key, fingerprint, contract_id, arrangement, group_id,
	 ordered_product, best_product, suggestions, payer_saving, patient_saving, org_impact, created_at, user_id,
	 tenant, location, no_card_reason, therapy, price_period, catalog_version, admins_per_year, ordered_rel, options, score_request)
	VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13::jsonb,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27::jsonb,$28)
	ON CONFLICT (card_uuid) DO NOTHING`

// pgDecisionCols are the decision columns pgScanDecision reads, prefixed d.
const pgDecisionCols = `d.card_uuid, d.hook_instance, d.service_id, d.hook, d.client, d.order_key, d.fingerprint, d.contract_id,
	d.arrangement, d.group_id, d.ordered_product, d.best_product, d.suggestions::text, d.payer_saving, d.patient_saving, d.org_impact,
	d.created_at, d.user_id, d.tenant, d.location, d.no_card_reason, d.therapy, d.price_period, d.catalog_version,
	d.admins_per_year, d.ordered_rel, d.options::text, d.score_request`

// pgScanDecision returns the scan destinations of pgDecisionCols into d and a function that
// decodes the JSON columns once scanned.
func pgScanDecision(d *Decision) ([]any, func() error) {
	var suggs, opts string
	var req []byte
	dst := []any{&d.CardUUID, &d.HookInstance, &d.ServiceID, &d.Hook, &d.Client, &d.OrderKey, &d.Fingerprint, &d.ContractID,
		&d.Arrangement, &d.GroupID, &d.OrderedProductID, &d.BestProductID, &suggs, &d.PayerSaving, &d.PatientSaving, &d.OrgImpact,
		&d.At, &d.UserID, &d.Tenant, &d.Location, &d.NoCardReason, &d.Therapy, &d.PricePeriod, &d.CatalogVersion,
		&d.AdministrationsPerYear, &d.OrderedRelationship, &opts, &req}
	return dst, func() error {
		d.At = d.At.UTC()
		var err error
		if d.Suggestions, err = decodeSuggestions(suggs); err != nil {
			return err
		}
		if d.Options, err = decodeOptions(opts, d.Suggestions); err != nil {
			return err
		}
		if len(req) > 0 {
			d.ScoreRequest = req
		}
		return nil
	}
}

// RecordDecisions stores decisions in the next group commit and returns once it is committed.
// Recording the same card uuid twice keeps the first.
func (p *Postgres) RecordDecisions(ctx context.Context, ds []Decision) error {
	return p.RecordHook(ctx, nil, ds)
}

// pgTakeOverJTI and pgInsertJTI are a hook's claim inside its decisions' transaction: an expired
// claim of the key is deleted, then the key inserted. A live claim makes the insert fail on the
// primary key (jti_pkey), which rolls the batch back; the batcher then runs each op alone, and
// the replayed hook's op fails alone with ErrReplay. Two instances claiming one key at once
// serialise on the key's index entry as pgClaimJTI's do: the second insert waits for the first
// transaction and fails once it commits (or succeeds if it rolled back).
const (
	pgTakeOverJTI = `DELETE FROM jti WHERE key = $1 AND expires_at <= $2`
	pgInsertJTI   = `INSERT INTO jti (key, expires_at) VALUES ($1, $2)`
)

// RecordHook stores a hook's jti claim (when not nil) and decisions in one transaction of the
// next group commit and returns once it is committed; a live claim of the key is ErrReplay and
// nothing is recorded.
func (p *Postgres) RecordHook(ctx context.Context, jti *JTI, ds []Decision) error {
	if len(ds) == 0 {
		if jti == nil {
			return nil
		}
		fresh, err := p.ClaimJTI(ctx, jti.Key, jti.Expires, jti.Now)
		if err == nil && !fresh {
			err = ErrReplay
		}
		return err
	}
	stmts := make([]pgStmt, 0, len(ds)+2)
	order := "d" + ds[0].CardUUID
	if jti != nil {
		p.maybeSweepJTI(jti.Now)
		key := []byte(jti.Key)
		stmts = append(stmts, pgStmt{sql: pgTakeOverJTI, args: []any{key, jti.Now.UTC()}},
			pgStmt{sql: pgInsertJTI, args: []any{key, jti.Expires.UTC()}})
		order = "j" + jti.Key
	}
	for _, d := range ds {
		suggs, err := encodeSuggestions(d.Suggestions)
		if err != nil {
			return err
		}
		opts, err := encodeOptions(d.Options, d.Suggestions)
		if err != nil {
			return err
		}
		req := d.ScoreRequest
		if req == nil {
			req = []byte{}
		}
		stmts = append(stmts, pgStmt{sql: pgInsertDecision, args: []any{d.CardUUID, d.HookInstance, d.ServiceID, d.Hook, d.Client,
			d.OrderKey, d.Fingerprint, d.ContractID, d.Arrangement, d.GroupID, d.OrderedProductID, d.BestProductID,
			suggs, d.PayerSaving, d.PatientSaving, d.OrgImpact, d.At.UTC(), d.UserID,
			d.Tenant, d.Location, d.NoCardReason, d.Therapy, d.PricePeriod, d.CatalogVersion, d.AdministrationsPerYear,
			d.OrderedRelationship, opts, req}})
	}
	if err := p.b.do(ctx, order, stmts...); err != nil {
		if jti != nil && jtiTaken(err) {
			return ErrReplay
		}
		return fmt.Errorf("store: record decision: %w", err)
	}
	return nil
}

// jtiTaken reports the primary-key violation of a claim of a live jti.
func jtiTaken(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "jti_pkey"
}

// Decision returns the card with uuid, or ErrNotFound (also for a no-card decision).
func (p *Postgres) Decision(ctx context.Context, cardUUID string) (Decision, error) {
	var d Decision
	dst, finish := pgScanDecision(&d)
	err := p.pool.QueryRow(ctx, `SELECT `+pgDecisionCols+` FROM decisions d WHERE d.card_uuid = $1 AND d.no_card_reason = ''`,
		cardUUID).Scan(dst...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Decision{}, ErrNotFound
	}
	if err != nil {
		return Decision{}, fmt.Errorf("store: look up card: %w", err)
	}
	if err := finish(); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// OrderState returns the latest feedback on any card of the client's order, or ErrNotFound:
// latest by clamped outcome time, then by arrival (later, as SQLite orders them).
func (p *Postgres) OrderState(ctx context.Context, client, orderKey string) (OrderState, error) {
	if orderKey == "" {
		return OrderState{}, ErrNotFound
	}
	var st OrderState
	err := p.pool.QueryRow(ctx, `SELECT outcome, fingerprint, outcome_at FROM feedback WHERE client = $1 AND order_key = $2
		ORDER BY outcome_at DESC, received_at DESC LIMIT 1`, client, orderKey).Scan(&st.Outcome, &st.Fingerprint, &st.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return OrderState{}, ErrNotFound
	}
	if err != nil {
		return OrderState{}, fmt.Errorf("store: order state: %w", err)
	}
	st.At = st.At.UTC()
	return st, nil
}

const pgInsertFeedback = `INSERT INTO feedback
	(client, service_id, card_uuid, order_key, fingerprint, outcome, suggestion_uuid, reason_code, reason_system, has_comment,
	 outcome_sent, outcome_at, received_at)
	VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
	ON CONFLICT (card_uuid, outcome, suggestion_uuid, outcome_sent) DO NOTHING`

// RecordFeedback stores checked feedback items (all or none) in the next group commit; an
// identical repeat is a no-op.
func (p *Postgres) RecordFeedback(ctx context.Context, fs []Feedback) error {
	if len(fs) == 0 {
		return nil
	}
	stmts := make([]pgStmt, len(fs))
	for i, f := range fs {
		stmts[i] = pgStmt{sql: pgInsertFeedback, args: []any{f.Client, f.ServiceID, f.CardUUID, f.OrderKey, f.Fingerprint,
			f.Outcome, f.SuggestionUUID, f.ReasonCode, f.ReasonSystem, f.HasComment, f.OutcomeSent.UTC(), f.OutcomeAt.UTC(), f.ReceivedAt.UTC()}}
	}
	if err := p.b.do(ctx, "f"+fs[0].CardUUID, stmts...); err != nil {
		return fmt.Errorf("store: record feedback: %w", err)
	}
	return nil
}

// pgClaimJTI inserts a new claim, or takes over one whose expiry has passed; RETURNING yields a
// row exactly when the claim is this caller's. Concurrent claims of one key, from any number of
// instances, serialise on the key's index entry: the second waits for the first to commit and
// then finds the row unexpired, so exactly one of them wins.
const pgClaimJTI = `INSERT INTO jti (key, expires_at) VALUES ($1, $2)
	ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE jti.expires_at <= $3
	RETURNING true`

// ClaimJTI records key until expires in the next group commit and reports whether it was new
// (or its earlier claim had expired by now). The answer is given once the claim is committed.
func (p *Postgres) ClaimJTI(ctx context.Context, key string, expires, now time.Time) (bool, error) {
	p.maybeSweepJTI(now)
	var fresh bool
	err := p.b.do(ctx, "j"+key, pgStmt{sql: pgClaimJTI, args: []any{[]byte(key), expires.UTC(), now.UTC()},
		scan: func(row pgx.Row) error {
			err := row.Scan(&fresh)
			if errors.Is(err, pgx.ErrNoRows) {
				fresh = false
				return nil
			}
			return err
		}})
	if err != nil {
		return false, fmt.Errorf("store: claim jti: %w", err)
	}
	return fresh, nil
}

// maybeSweepJTI deletes claims that expired by now, at most once a minute of the callers' clock,
// in a transaction of its own beside the hooks (a claim never waits for it).
func (p *Postgres) maybeSweepJTI(now time.Time) {
	last := p.lastSweep.Load()
	if now.UnixNano()-last < int64(jtiSweepEvery) || !p.sweeping.CompareAndSwap(false, true) {
		return
	}
	p.lastSweep.Store(now.UnixNano())
	go func() {
		defer p.sweeping.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		defer cancel()
		_, _ = p.pool.Exec(ctx, `DELETE FROM jti WHERE expires_at <= $1`, now.UTC()) // retried next minute
	}()
}

// decisionRows reads every decision with its latest feedback (by clamped outcome time, then
// arrival) for AssembleOrders, shared with SQLite.
func (p *Postgres) decisionRows(ctx context.Context) ([]DecisionRow, error) {
	rows, err := p.pool.Query(ctx, `
		SELECT `+pgDecisionCols+`,
		       COALESCE(f.outcome, ''), COALESCE(f.reason_code, ''), f.outcome_at, f.received_at, COALESCE(f.suggestion_uuid, '')
		FROM decisions d
		LEFT JOIN (
			SELECT DISTINCT ON (card_uuid) card_uuid, outcome, reason_code, suggestion_uuid, outcome_at, received_at
			FROM feedback ORDER BY card_uuid, outcome_at DESC, received_at DESC) f
		ON f.card_uuid = d.card_uuid`)
	if err != nil {
		return nil, fmt.Errorf("store: orders: %w", err)
	}
	defer rows.Close()
	var out []DecisionRow
	for rows.Next() {
		var r DecisionRow
		var fbAt, fbRecv *time.Time
		dst, finish := pgScanDecision(&r.Decision)
		dst = append(dst, &r.Outcome, &r.ReasonCode, &fbAt, &fbRecv, &r.SuggestionUUID)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: orders row: %w", err)
		}
		if err := finish(); err != nil {
			return nil, err
		}
		if fbAt != nil {
			r.FeedbackAt = fbAt.UTC()
		}
		if fbRecv != nil {
			r.FeedbackReceived = fbRecv.UTC()
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: orders rows: %w", err)
	}
	return out, nil
}

// Orders returns one record per order first seen in [from, to); a zero bound is open.
func (p *Postgres) Orders(ctx context.Context, from, to time.Time) ([]OrderRecord, error) {
	rows, err := p.decisionRows(ctx)
	if err != nil {
		return nil, err
	}
	admins, err := p.administrations(ctx)
	if err != nil {
		return nil, err
	}
	claims, err := p.claims(ctx)
	if err != nil {
		return nil, err
	}
	divs, err := p.divergences(ctx)
	if err != nil {
		return nil, err
	}
	return AssembleOrders(rows, admins, claims, answersByCard(rows, divs), from, to), nil
}

// Summary reports, per contract, the orders that got a card, what became of them, and the money
// they moved, as SQLite's Summary does (SummarizeOrders).
func (p *Postgres) Summary(ctx context.Context) ([]ContractSummary, error) {
	rows, err := p.decisionRows(ctx)
	if err != nil {
		return nil, err
	}
	return SummarizeOrders(AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})), nil
}

var _ Store = (*Postgres)(nil)

// JTIHeld reports whether key is claimed and unexpired at now: a read-only lookup on the jti
// table's primary key, outside the group commit, for the gateway's early refusal of a replayed
// token before any FHIR work. ClaimJTI stays the authority.
func (p *Postgres) JTIHeld(ctx context.Context, key string, now time.Time) (bool, error) {
	var held bool
	err := p.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jti WHERE key = $1 AND expires_at > $2)`, []byte(key), now.UTC()).Scan(&held)
	if err != nil {
		return false, fmt.Errorf("store: read jti: %w", err)
	}
	return held, nil
}
