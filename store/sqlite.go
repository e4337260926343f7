package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // pure-Go SQLite driver: no cgo in the build
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// SQLite is the embedded Store: one file, WAL mode. Writes go through one connection as group
// commits (commit.go); reads use a small pool of their own, which WAL lets run beside the writer.
//
// Durability: synchronous=NORMAL in WAL mode makes a commit survive the process being killed
// (the kill -9 test in cmd/valuerx); surviving a power cut as well needs synchronous=FULL, which
// OpenSQLiteOptions offers at the price of an fsync per group commit.
type SQLite struct {
	path string  // the database file ("" for ":memory:")
	db   *sql.DB // the writer's single connection
	rd   *sql.DB // readers; == db for ":memory:"
	// hr reads for the hook path (OrderState) on connections of its own, which no long dashboard
	// query holds: a wait for one is a wait behind other one-row look-ups, so its statements can
	// run without the caller's deadline (see stmtContext). nil for ":memory:" (rd serves).
	hr *sql.DB
	c  *committer
	ck *checkpointer   // nil for ":memory:" and when SQLiteOptions.CheckpointEvery < 0
	fb *feedbackFilter // which orders have no feedback, without a read (feedbackfilter.go)

	// Statements prepared once: parsing SQL is a large part of a small write.
	insDecision, insFeedback, claimJTI, sweepJTI *sql.Stmt
	insDivergence                                *sql.Stmt
	orderState, orderStates                      *sql.Stmt
	jtiHeld                                      *sql.Stmt // on the hook readers: a fetching hook asks before any FHIR work

	lastSweep time.Time // jti sweep; touched only inside the writer's transactions

	// insMany[n-1] inserts n decisions in one statement (insMany[0] is insDecision), prepared
	// on first use by insertStmt, before the write is queued: inside the group transaction the
	// writer's one connection is busy.
	insMu   sync.Mutex
	insMany [decisionsPerInsert]*sql.Stmt
	// insShared[n-2] inserts n decisions of one hook binding once the columns they all share
	// (sharesHookColumns), also prepared on first use.
	insShared [decisionsPerInsert - 1]*sql.Stmt
}

// decisionsPerInsert bounds the rows of one multi-row decision insert (28 parameters each, far
// below SQLite's 32,766).
const decisionsPerInsert = 32

// decisionColumns is the number of columns insertDecision writes.
const decisionColumns = 28

// insertStmt returns the insert of n decisions (1 <= n <= decisionsPerInsert), preparing it on
// the writer the first time. shared (n >= 2) is the form that binds the hook's columns once for all n
// rows (insertDecisionShared): a 20-draft hook binds 427 arguments instead of 560, each one a
// conversion in database/sql, a copy into C memory and a bind call in the driver.
func (s *SQLite) insertStmt(ctx context.Context, n int, shared bool) (*sql.Stmt, error) {
	s.insMu.Lock()
	defer s.insMu.Unlock()
	slot, head := &s.insMany[n-1], insertDecision
	if shared {
		slot, head = &s.insShared[n-2], insertDecisionShared
	}
	if *slot != nil {
		return *slot, nil
	}
	row := head[strings.LastIndex(head, "VALUES ")+len("VALUES "):]
	var b strings.Builder
	b.WriteString(head)
	for range n - 1 {
		b.WriteString(",")
		b.WriteString(row)
	}
	st, err := s.db.PrepareContext(ctx, b.String())
	if err != nil {
		return nil, fmt.Errorf("store: prepare decision insert: %w", err)
	}
	*slot = st
	return st, nil
}

// sharesHookColumns reports whether every decision of ds has ds[0]'s hook columns, the seven
// insertDecisionShared binds once per statement: what every decision of one hook has alike by
// construction (gateway recorder.base), checked per statement all the same.
func sharesHookColumns(ds []Decision) bool {
	a := &ds[0]
	for i := range ds[1:] {
		d := &ds[i+1]
		if d.HookInstance != a.HookInstance || d.ServiceID != a.ServiceID || d.Hook != a.Hook || d.Client != a.Client ||
			d.UserID != a.UserID || d.Tenant != a.Tenant || d.Location != a.Location {
			return false
		}
	}
	return true
}

// SQLiteOptions tunes OpenSQLiteOptions.
type SQLiteOptions struct {
	// FullSync makes every commit wait for an fsync (synchronous=FULL): durable across power loss,
	// not only across a crash of the process.
	FullSync bool
	// CheckpointEvery is how often the WAL is copied into the database off the writer's path
	// (checkpoint.go); 0 is checkpointEvery, negative leaves checkpoints to the writer's commits
	// as SQLite does by default.
	CheckpointEvery time.Duration
}

// OpenSQLite opens (creating and migrating if needed) the SQLite file at path. ":memory:" is
// accepted for tests that do not care about the file, but the product uses a real file.
func OpenSQLite(path string) (*SQLite, error) { return OpenSQLiteOptions(path, SQLiteOptions{}) }

// OpenSQLiteOptions is OpenSQLite with options.
func OpenSQLiteOptions(path string, o SQLiteOptions) (*SQLite, error) {
	sync := "NORMAL"
	if o.FullSync {
		sync = "FULL"
	}
	dsn := path
	if path != ":memory:" {
		// Created 0600 (attacker review finding 11): the record is the programme's, not the
		// machine's; SQLite gives its -wal and -shm files the database file's mode.
		if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			f.Close()
		} else if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("store: create sqlite: %w", err)
		}
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(" + sync + ")&_pragma=foreign_keys(1)"
	}
	writer := dsn
	if path != ":memory:" {
		// The writer's page cache: SQLite's default of 2 MiB let every insert of a busy gateway
		// (random card UUIDs as keys) read B-tree pages back with pread; 8 MiB keeps most. Only
		// the one writer connection gets it (performance helper: issue 15).
		writer += "&_pragma=cache_size(-8192)"
		// The savepoint of a multi-statement write (a hook's several decisions) keeps its
		// statement journal in memory: at SQLite's default it spilled past 64 KiB to a temporary
		// file, written with a syscall per page (2.8 % of valuerx's CPU with 20 draft orders).
		// The journal holds at most the pages one write touches.
		writer += "&_pragma=temp_store(MEMORY)"
		if o.CheckpointEvery >= 0 {
			writer += "&_pragma=wal_autocheckpoint(" + strconv.Itoa(walBackstopPages) + ")" + // checkpoint.go
				"&_pragma=journal_size_limit(" + strconv.Itoa(walSizeLimit) + ")"
		}
	}
	db, err := sql.Open("sqlite", writer)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	// SQLite allows one writer; a single connection avoids SQLITE_BUSY between our own goroutines.
	db.SetMaxOpenConns(1)
	if err := migrateSQLite(db); err != nil {
		db.Close()
		return nil, err
	}
	s := &SQLite{db: db, rd: db}
	if path != ":memory:" {
		s.path = path
		rd, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("store: open sqlite readers: %w", err)
		}
		rd.SetMaxOpenConns(4)
		s.rd = rd
		hr, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
		if err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("store: open sqlite readers: %w", err)
		}
		hr.SetMaxOpenConns(2)
		hr.SetMaxIdleConns(2)
		s.hr = hr
	}
	hookReader := s.rd
	if s.hr != nil {
		hookReader = s.hr
	}
	for _, p := range []struct {
		db   *sql.DB
		dst  **sql.Stmt
		text string
	}{
		{db, &s.insDecision, insertDecision}, {db, &s.insFeedback, insertFeedback}, {db, &s.insDivergence, insertDivergence},
		{db, &s.claimJTI, claimJTISQL}, {db, &s.sweepJTI, `DELETE FROM jti WHERE expires_at <= ?`},
		{hookReader, &s.orderState, `SELECT outcome, fingerprint, outcome_at, received_at FROM feedback WHERE client = ? AND order_key = ?`},
		{hookReader, &s.jtiHeld, `SELECT 1 FROM jti WHERE key = ? AND expires_at > ?`},
		{hookReader, &s.orderStates, `SELECT order_key, outcome, fingerprint, outcome_at, received_at FROM feedback
			WHERE client = ? AND order_key IN (SELECT value FROM json_each(?))`},
	} {
		st, err := p.db.Prepare(p.text)
		if err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("store: prepare: %w", err)
		}
		*p.dst = st
	}
	s.insMany[0] = s.insDecision
	s.c = newCommitter(db)
	if path != ":memory:" && o.CheckpointEvery >= 0 {
		ck, err := sql.Open("sqlite", dsn)
		if err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("store: open sqlite checkpointer: %w", err)
		}
		ck.SetMaxOpenConns(1)
		every := o.CheckpointEvery
		if every == 0 {
			every = checkpointEvery
		}
		s.ck = startCheckpointer(ck, every)
	}
	s.fb = newFeedbackFilter(s.rd)
	return s, nil
}

// migrateSQLite brings the schema to the newest version with goose (versions in the
// goose_db_version table; the files are in migrations/sqlite).
func migrateSQLite(db *sql.DB) error {
	sub, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(context.Background()); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return convertLegacySQLite(context.Background(), db) // divergence.go
}

// WALHealth is what an operator watches of a SQLite file's write-ahead log.
type WALHealth struct {
	// CheckpointFailures counts the checkpointer's checkpoints that failed since open: while
	// they fail the log is copied only by the writer's backstop, and grows to it.
	CheckpointFailures int64
	// WALBytes is the -wal file's size now (0 when it cannot be read).
	WALBytes int64
}

// WALHealth reports the log's health; ok is false for an in-memory store or one without the
// checkpointer.
func (s *SQLite) WALHealth() (h WALHealth, ok bool) {
	if s.ck == nil {
		return h, false
	}
	h.CheckpointFailures = s.ck.failures.Load()
	if fi, err := os.Stat(s.path + "-wal"); err == nil {
		h.WALBytes = fi.Size()
	}
	return h, true
}

// WritePanics counts the writes whose function panicked since open (a bug: each is answered
// with its panic, its batch rolled back).
func (s *SQLite) WritePanics() int64 { return s.c.panics.Load() }

// SchemaVersion reports the migration version the file is at.
func (s *SQLite) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.rd.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// Close commits what is queued and closes the database.
func (s *SQLite) Close() error {
	s.c.close()
	s.fb.close()
	if s.ck != nil {
		s.ck.close()
	}
	return s.closeDBs()
}

func (s *SQLite) closeDBs() error {
	for _, st := range append([]*sql.Stmt{s.insDecision, s.insFeedback, s.insDivergence, s.claimJTI, s.sweepJTI, s.orderState, s.orderStates, s.jtiHeld}, s.insMany[1:]...) {
		if st != nil {
			st.Close()
		}
	}
	if s.hr != nil {
		s.hr.Close()
	}
	if s.rd != s.db {
		s.rd.Close()
	}
	return s.db.Close()
}

// tsLayout has a fixed width, so stored instants also sort as text.
const tsLayout = "2006-01-02T15:04:05.000000000Z07:00"

func ts(t time.Time) string { return t.UTC().Format(tsLayout) }

func parseTS(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

const insertDecision = `INSERT OR IGNORE INTO decisions
	(card_uuid, hook_instance, service_id, hook, client, order_key, fingerprint, contract_id, arrangement, group_id,
	 ordered_product, best_product, suggestions, payer_saving, patient_saving, org_impact, created_at, user_id,
	 tenant, location, no_card_reason, therapy, price_period, catalog_version, admins_per_year, ordered_rel, options, score_request)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// insertDecisionShared is insertDecision with the hook's seven columns first, numbered ?1..?7: every
// further row of the statement names the same seven parameters, and its other columns' plain ?
// number on from the largest before them (SQLite: "?" is one more than the largest parameter
// number already assigned). Only these seven are numbered: SQLite looks a parameter's name up in
// a list of the named ones, and naming all 560 of a 20-row insert made binding quadratic.
const insertDecisionShared = `INSERT OR IGNORE INTO decisions
	(hook_instance, service_id, hook, client, user_id, tenant, location,
	 card_uuid, order_key, fingerprint, contract_id, arrangement, group_id, ordered_product, best_product,
	 suggestions, payer_saving, patient_saving, org_impact, created_at, no_card_reason, therapy, price_period,
	 catalog_version, admins_per_year, ordered_rel, options, score_request)
	VALUES (?1,?2,?3,?4,?5,?6,?7,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// decisionCols are the decision columns scanDecision reads, prefixed d.
const decisionCols = `d.card_uuid, d.hook_instance, d.service_id, d.hook, d.client, d.order_key, d.fingerprint, d.contract_id,
	d.arrangement, d.group_id, d.ordered_product, d.best_product, d.suggestions, d.payer_saving, d.patient_saving, d.org_impact,
	d.created_at, d.user_id, d.tenant, d.location, d.no_card_reason, d.therapy, d.price_period, d.catalog_version,
	d.admins_per_year, d.ordered_rel, d.options, d.score_request`

// scanDecision returns the scan destinations of decisionCols into d and a function that decodes
// the text columns once scanned.
func scanDecision(d *Decision) ([]any, func() error) {
	var at, suggs, opts, req string
	dst := []any{&d.CardUUID, &d.HookInstance, &d.ServiceID, &d.Hook, &d.Client, &d.OrderKey, &d.Fingerprint, &d.ContractID,
		&d.Arrangement, &d.GroupID, &d.OrderedProductID, &d.BestProductID, &suggs, &d.PayerSaving, &d.PatientSaving, &d.OrgImpact,
		&at, &d.UserID, &d.Tenant, &d.Location, &d.NoCardReason, &d.Therapy, &d.PricePeriod, &d.CatalogVersion,
		&d.AdministrationsPerYear, &d.OrderedRelationship, &opts, &req}
	return dst, func() error {
		d.At = parseTS(at)
		var err error
		if d.Suggestions, err = decodeSuggestions(suggs); err != nil {
			return err
		}
		if d.Options, err = decodeOptions(opts, d.Suggestions); err != nil {
			return err
		}
		if req != "" {
			d.ScoreRequest = []byte(req)
		}
		return nil
	}
}

// storedSuggestion is one element of decisions.suggestions. YearIsCourse ("yc") stands for
// per-year figures equal to the per-course ones in cents (jsonenc.go).
type storedSuggestion struct {
	UUID         string  `json:"uuid"`
	Product      string  `json:"product"`
	Payer        float64 `json:"payer"`
	Patient      float64 `json:"patient"`
	Org          float64 `json:"org"`
	Year         *Saving `json:"year,omitempty"`
	YearIsCourse bool    `json:"yc,omitempty"`
}

func encodeSuggestions(ss []Suggestion) (string, error) {
	b, err := appendSuggestions(make([]byte, 0, 32+96*len(ss)), ss)
	if err != nil {
		return "", fmt.Errorf("store: encode suggestions: %w", err)
	}
	return string(b), nil
}

func decodeSuggestions(s string) ([]Suggestion, error) {
	var in []storedSuggestion
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("store: decode suggestions: %w", err)
	}
	out := make([]Suggestion, len(in))
	for i, sg := range in {
		out[i] = Suggestion{UUID: sg.UUID, ProductID: sg.Product, PayerSaving: sg.Payer, PatientSaving: sg.Patient, OrgImpact: sg.Org}
		switch {
		case sg.Year != nil:
			out[i].PerYear = *sg.Year
		case sg.YearIsCourse:
			out[i].PerYear = courseCents(out[i])
		}
	}
	return out, nil
}

// storedOption is one element of decisions.options: the per-year figures are left out when they
// equal the per-course ones (a trastuzumab course is a year of therapy), which keeps a decision's
// row small on a record of millions. An option that repeats one of the decision's suggestions
// names it instead (Sugg, "s": its index; jsonenc.go) and has no product or figures of its own.
type storedOption struct {
	Product   string  `json:"p"`
	Sugg      *int    `json:"s,omitempty"`
	Rel       string  `json:"r,omitempty"`
	Eligible  bool    `json:"e,omitempty"`
	Exclusion string  `json:"x,omitempty"`
	Course    Saving  `json:"c"`
	Year      *Saving `json:"y,omitempty"`
	// LongProduct is set only by the long form (Option's own JSON, "product"), which it tells
	// apart: a first option of the short form with an empty product looked long before.
	LongProduct *string `json:"product,omitempty"`
}

// EncodeOptions is the JSON form of options in the decisions table for a decision without
// suggestions (both implementations write encodeOptions, with the decision's suggestions).
func EncodeOptions(os []Option) (string, error) { return encodeOptions(os, nil) }

// encodeOptions is the options column of a decision whose suggestions are ss.
func encodeOptions(os []Option, ss []Suggestion) (string, error) {
	if len(os) == 0 {
		return "[]", nil
	}
	b, err := appendOptions(make([]byte, 0, 96*len(os)), os, ss)
	if err != nil {
		return "", fmt.Errorf("store: encode options: %w", err)
	}
	return string(b), nil
}

// decodeOptions reads the options column of a decision whose (decoded) suggestions are ss.
func decodeOptions(s string, ss []Suggestion) ([]Option, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var in []storedOption
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("store: decode options: %w", err)
	}
	if len(in) > 0 && in[0].LongProduct != nil {
		// Written by the first days of schema version 5, before the short form: Option's own JSON.
		var long []Option
		if err := json.Unmarshal([]byte(s), &long); err != nil {
			return nil, fmt.Errorf("store: decode options: %w", err)
		}
		return long, nil
	}
	out := make([]Option, len(in))
	for i, o := range in {
		if o.Sugg != nil {
			if *o.Sugg < 0 || *o.Sugg >= len(ss) {
				return nil, fmt.Errorf("store: decode options: option %d names suggestion %d of %d", i, *o.Sugg, len(ss))
			}
			sg := ss[*o.Sugg]
			out[i] = Option{ProductID: sg.ProductID, Relationship: o.Rel, Eligible: o.Eligible, Exclusion: o.Exclusion, PerCourse: courseCents(sg), PerYear: sg.PerYear}
			continue
		}
		out[i] = Option{ProductID: o.Product, Relationship: o.Rel, Eligible: o.Eligible, Exclusion: o.Exclusion, PerCourse: o.Course, PerYear: o.Course}
		if o.Year != nil {
			out[i].PerYear = *o.Year
		}
	}
	return out, nil
}

// RecordDecision stores one card.
func (s *SQLite) RecordDecision(ctx context.Context, d Decision) error {
	return s.RecordDecisions(ctx, []Decision{d})
}

// RecordDecisions stores decisions in the next group commit and returns once it is committed.
func (s *SQLite) RecordDecisions(ctx context.Context, ds []Decision) error {
	return s.RecordHook(ctx, nil, ds)
}

// stmtContext is the context a hook's statements run with inside the group transaction: ctx
// without its deadline. The driver watches a context that can end with a goroutine, a channel
// and a progress handler per statement (4 % of a 20-decision hook's CPU), and a hook's statements
// are small inserts that an interrupt would not shorten. The transaction itself still ends at
// the commit timeout: database/sql rolls it back then, and later statements fail.
func stmtContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// RecordHook stores a hook's jti claim (when not nil) and decisions in the next group commit and
// returns once it is committed. The claim runs first: a replay (ErrReplay) returns before any
// decision is written, so even a one-statement write needs no savepoint for it. A claim that was
// made and then followed by a failing insert stays claimed, as a claim made at verification did:
// a token is single-use whatever became of its hook.
func (s *SQLite) RecordHook(ctx context.Context, jti *JTI, ds []Decision) error {
	if len(ds) == 0 {
		if jti == nil {
			return nil
		}
		fresh, err := s.ClaimJTI(ctx, jti.Key, jti.Expires, jti.Now)
		if err == nil && !fresh {
			err = ErrReplay
		}
		return err
	}
	suggs := make([]string, len(ds))
	opts := make([]string, len(ds))
	for i, d := range ds {
		var err error
		if suggs[i], err = encodeSuggestions(d.Suggestions); err != nil {
			return err
		}
		if opts[i], err = encodeOptions(d.Options, d.Suggestions); err != nil {
			return err
		}
	}
	// A hook's decisions are one multi-row INSERT (per decisionsPerInsert): twenty draft orders
	// ran twenty statements, each a trip through database/sql's argument conversion and SQLite's
	// statement reset.
	stmts := make([]*sql.Stmt, 0, 1)
	shared := make([]bool, 0, 1)
	for from := 0; from < len(ds); from += decisionsPerInsert {
		n := min(decisionsPerInsert, len(ds)-from)
		sh := n > 1 && sharesHookColumns(ds[from:from+n])
		st, err := s.insertStmt(ctx, n, sh)
		if err != nil {
			return err
		}
		stmts, shared = append(stmts, st), append(shared, sh)
	}
	args := make([]any, 0, decisionColumns*min(len(ds), decisionsPerInsert))
	run := func(ctx context.Context, tx *sql.Tx) error {
		ctx = stmtContext(ctx)
		if jti != nil {
			fresh, err := s.claimIn(ctx, tx, jti.Key, jti.Expires, jti.Now)
			if err != nil {
				return err
			}
			if !fresh {
				return ErrReplay
			}
		}
		for from := 0; from < len(ds); from += decisionsPerInsert {
			chunk := ds[from:min(from+decisionsPerInsert, len(ds))]
			args := args[:0]
			if shared[from/decisionsPerInsert] {
				a := &chunk[0]
				args = append(args, a.HookInstance, a.ServiceID, a.Hook, a.Client, a.UserID, a.Tenant, a.Location)
				for j, d := range chunk {
					i := from + j
					args = append(args, d.CardUUID, d.OrderKey, d.Fingerprint, d.ContractID, d.Arrangement, d.GroupID,
						d.OrderedProductID, d.BestProductID, suggs[i], d.PayerSaving, d.PatientSaving, d.OrgImpact, ts(d.At),
						d.NoCardReason, d.Therapy, d.PricePeriod, d.CatalogVersion, d.AdministrationsPerYear,
						d.OrderedRelationship, opts[i], string(d.ScoreRequest))
				}
			} else {
				for j, d := range chunk {
					i := from + j
					args = append(args, d.CardUUID, d.HookInstance, d.ServiceID, d.Hook, d.Client,
						d.OrderKey, d.Fingerprint, d.ContractID, d.Arrangement, d.GroupID, d.OrderedProductID, d.BestProductID,
						suggs[i], d.PayerSaving, d.PatientSaving, d.OrgImpact, ts(d.At), d.UserID,
						d.Tenant, d.Location, d.NoCardReason, d.Therapy, d.PricePeriod, d.CatalogVersion, d.AdministrationsPerYear,
						d.OrderedRelationship, opts[i], string(d.ScoreRequest))
				}
			}
			if _, err := tx.StmtContext(ctx, stmts[from/decisionsPerInsert]).ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("store: record decision: %w", err)
			}
		}
		return nil
	}
	if len(stmts) == 1 {
		return s.c.doSingle(ctx, run) // one insert statement: atomic without a savepoint
	}
	return s.c.do(ctx, run)
}

// Decision returns the card with uuid, or ErrNotFound (also for a no-card decision).
func (s *SQLite) Decision(ctx context.Context, cardUUID string) (Decision, error) {
	var d Decision
	dst, finish := scanDecision(&d)
	err := s.rd.QueryRowContext(ctx, `SELECT `+decisionCols+` FROM decisions d WHERE d.card_uuid = ? AND d.no_card_reason = ''`, cardUUID).Scan(dst...)
	if errors.Is(err, sql.ErrNoRows) {
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

// hookReadContext is the context of a hook's one-row look-up (OrderState, OrderStates, JTIHeld)
// on the hook readers: without its deadline, neither database/sql nor the driver starts a
// goroutine to watch ctx (two per query, a fifth of its CPU). The callers check ctx first. On
// ":memory:" the look-ups share the one connection with the writer and keep the deadline.
func (s *SQLite) hookReadContext(ctx context.Context) context.Context {
	if s.hr == nil {
		return ctx
	}
	return stmtContext(ctx)
}

// OrderState returns the latest feedback on any card of the client's order, or ErrNotFound.
func (s *SQLite) OrderState(ctx context.Context, client, orderKey string) (OrderState, error) {
	if orderKey == "" {
		return OrderState{}, ErrNotFound
	}
	if err := ctx.Err(); err != nil {
		return OrderState{}, fmt.Errorf("store: order state: %w", err)
	}
	if !s.fb.mayHave(client, orderKey) {
		return OrderState{}, ErrNotFound
	}
	rows, err := s.orderState.QueryContext(s.hookReadContext(ctx), client, orderKey)
	if err != nil {
		return OrderState{}, fmt.Errorf("store: order state: %w", err)
	}
	states, err := latestStates(rows, false)
	if err != nil {
		return OrderState{}, err
	}
	best, ok := states[""]
	if !ok {
		return OrderState{}, ErrNotFound
	}
	return best, nil
}

// OrderStates is OrderState for several orders of the client in one read: the latest feedback
// of each key that has any (a key without is absent from the map). A hook with twenty draft
// orders asked twenty times, each a read transaction of its own.
func (s *SQLite) OrderStates(ctx context.Context, client string, orderKeys []string) (map[string]OrderState, error) {
	keys := make([]string, 0, len(orderKeys))
	for _, k := range orderKeys {
		if k != "" && s.fb.mayHave(client, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return map[string]OrderState{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: order states: %w", err)
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("store: order states: %w", err)
	}
	rows, err := s.orderStates.QueryContext(s.hookReadContext(ctx), client, string(list))
	if err != nil {
		return nil, fmt.Errorf("store: order states: %w", err)
	}
	return latestStates(rows, true)
}

// latestStates reads feedback rows (order_key first when keyed, then outcome, fingerprint,
// outcome_at, received_at) into the latest state per order key ("" when not keyed) and closes
// rows.
func latestStates(rows *sql.Rows, keyed bool) (map[string]OrderState, error) {
	defer rows.Close()
	type latest struct {
		st   OrderState
		recv time.Time
	}
	best := map[string]latest{}
	for rows.Next() {
		var key string
		var st OrderState
		var at, recv string
		var err error
		if keyed {
			err = rows.Scan(&key, &st.Outcome, &st.Fingerprint, &at, &recv)
		} else {
			err = rows.Scan(&st.Outcome, &st.Fingerprint, &at, &recv)
		}
		if err != nil {
			return nil, fmt.Errorf("store: order state row: %w", err)
		}
		st.At = parseTS(at)
		r := parseTS(recv)
		if b, found := best[key]; !found || later(st.At, r, b.st.At, b.recv) {
			best[key] = latest{st, r}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: order state rows: %w", err)
	}
	out := make(map[string]OrderState, len(best))
	for k, b := range best {
		out[k] = b.st
	}
	return out, nil
}

// later orders feedback: by (clamped) outcome time, then by arrival.
func later(at, recv, thanAt, thanRecv time.Time) bool {
	if !at.Equal(thanAt) {
		return at.After(thanAt)
	}
	return recv.After(thanRecv)
}

const insertFeedback = `INSERT OR IGNORE INTO feedback
	(client, service_id, card_uuid, order_key, fingerprint, outcome, suggestion_uuid, reason_code, reason_system, has_comment,
	 outcome_sent, outcome_at, received_at)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`

// RecordFeedback stores checked feedback items in the next group commit.
func (s *SQLite) RecordFeedback(ctx context.Context, fs []Feedback) error {
	if len(fs) == 0 {
		return nil
	}
	// The keys go in before the commit (no hook may find the row and not the key), and the
	// write stops pending on the filter when the commit's outcome is settled, not when ctx ends.
	ended := s.fb.adding(fs)
	return s.c.doEnded(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, f := range fs {
			if _, err := tx.StmtContext(ctx, s.insFeedback).ExecContext(ctx, f.Client, f.ServiceID, f.CardUUID, f.OrderKey, f.Fingerprint, f.Outcome, f.SuggestionUUID,
				f.ReasonCode, f.ReasonSystem, f.HasComment, ts(f.OutcomeSent), ts(f.OutcomeAt), ts(f.ReceivedAt)); err != nil {
				return fmt.Errorf("store: record feedback: %w", err)
			}
		}
		return nil
	}, ended)
}

const claimJTISQL = `INSERT INTO jti (key, expires_at) VALUES (?, ?)
	ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE jti.expires_at <= ?`

// jtiSweepEvery is how often expired jti rows are deleted (inside a claim's transaction).
const jtiSweepEvery = time.Minute

// ClaimJTI records key until expires in the next group commit and reports whether it was new,
// once that commit is done. An earlier claim whose expiry has passed is taken over.
func (s *SQLite) ClaimJTI(ctx context.Context, key string, expires, now time.Time) (bool, error) {
	var fresh bool
	err := s.c.doSingle(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		fresh, err = s.claimIn(stmtContext(ctx), tx, key, expires, now)
		return err
	})
	if err != nil {
		return false, err
	}
	return fresh, nil
}

// claimIn runs a jti claim inside the writer's transaction and reports whether it was new. Once a
// minute of the callers' clock it first deletes expired claims: a statement of its own, harmless
// to keep when the claim or the caller's later statements fail, so it needs no savepoint.
func (s *SQLite) claimIn(ctx context.Context, tx *sql.Tx, key string, expires, now time.Time) (bool, error) {
	if now.Sub(s.lastSweep) >= jtiSweepEvery {
		if _, err := tx.StmtContext(ctx, s.sweepJTI).ExecContext(ctx, now.UnixNano()); err != nil {
			return false, fmt.Errorf("store: sweep jti: %w", err)
		}
		s.lastSweep = now
	}
	res, err := tx.StmtContext(ctx, s.claimJTI).ExecContext(ctx, key, expires.UnixNano(), now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("store: claim jti: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: claim jti: %w", err)
	}
	return n == 1, nil
}

// decisionRows reads every decision with its latest feedback (by clamped outcome time, then
// arrival) for AssembleOrders.
func (s *SQLite) decisionRows(ctx context.Context) ([]DecisionRow, error) {
	rows, err := s.rd.QueryContext(ctx, `
		SELECT `+decisionCols+`,
		       COALESCE(f.outcome, ''), COALESCE(f.reason_code, ''), COALESCE(f.outcome_at, ''), COALESCE(f.received_at, ''),
		       COALESCE(f.suggestion_uuid, '')
		FROM decisions d
		LEFT JOIN (
			SELECT card_uuid, outcome, reason_code, suggestion_uuid, outcome_at, received_at,
			       ROW_NUMBER() OVER (PARTITION BY card_uuid ORDER BY outcome_at DESC, received_at DESC) AS rn
			FROM feedback) f
		ON f.card_uuid = d.card_uuid AND f.rn = 1`)
	if err != nil {
		return nil, fmt.Errorf("store: orders: %w", err)
	}
	defer rows.Close()
	var out []DecisionRow
	for rows.Next() {
		var r DecisionRow
		var fbAt, fbRecv string
		dst, finish := scanDecision(&r.Decision)
		dst = append(dst, &r.Outcome, &r.ReasonCode, &fbAt, &fbRecv, &r.SuggestionUUID)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: orders row: %w", err)
		}
		if err := finish(); err != nil {
			return nil, err
		}
		r.FeedbackAt, r.FeedbackReceived = parseTS(fbAt), parseTS(fbRecv)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: orders rows: %w", err)
	}
	return out, nil
}

// Orders returns one record per order first seen in [from, to); a zero bound is open.
func (s *SQLite) Orders(ctx context.Context, from, to time.Time) ([]OrderRecord, error) {
	rows, err := s.decisionRows(ctx)
	if err != nil {
		return nil, err
	}
	admins, err := s.administrations(ctx)
	if err != nil {
		return nil, err
	}
	claims, err := s.claims(ctx)
	if err != nil {
		return nil, err
	}
	divs, err := s.divergences(ctx)
	if err != nil {
		return nil, err
	}
	return AssembleOrders(rows, admins, claims, answersByCard(rows, divs), from, to), nil
}

// Summary reports, per contract, the orders that got a card, what became of them, and the money
// they moved (SummarizeOrders). Savings count only for accepted orders, with the accepted
// suggestion's own figures.
func (s *SQLite) Summary(ctx context.Context) ([]ContractSummary, error) {
	rows, err := s.decisionRows(ctx)
	if err != nil {
		return nil, err
	}
	return SummarizeOrders(AssembleOrders(rows, nil, nil, nil, time.Time{}, time.Time{})), nil
}

var _ Store = (*SQLite)(nil)

// JTIHeld reports whether key is claimed (by any instance sharing the file) and unexpired at now:
// a read-only point lookup on the jti table's primary key, on the hook readers, for the gateway's
// early refusal of a replayed token before any FHIR work. ClaimJTI stays the authority.
func (s *SQLite) JTIHeld(ctx context.Context, key string, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("store: read jti: %w", err)
	}
	var one int
	err := s.jtiHeld.QueryRowContext(s.hookReadContext(ctx), key, now.UnixNano()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: read jti: %w", err)
	}
	return true, nil
}
