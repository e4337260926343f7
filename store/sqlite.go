package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
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
	db *sql.DB // the writer's single connection
	rd *sql.DB // readers; == db for ":memory:"
	c  *committer

	// Statements prepared once: parsing SQL is a large part of a small write.
	insDecision, insFeedback, claimJTI, sweepJTI *sql.Stmt
	orderState                                   *sql.Stmt

	lastSweep time.Time // jti sweep; touched only inside the writer's transactions
}

// SQLiteOptions tunes OpenSQLiteOptions.
type SQLiteOptions struct {
	// FullSync makes every commit wait for an fsync (synchronous=FULL): durable across power loss,
	// not only across a crash of the process.
	FullSync bool
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
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(" + sync + ")&_pragma=foreign_keys(1)"
	}
	db, err := sql.Open("sqlite", dsn)
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
		rd, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("store: open sqlite readers: %w", err)
		}
		rd.SetMaxOpenConns(4)
		s.rd = rd
	}
	for _, p := range []struct {
		db   *sql.DB
		dst  **sql.Stmt
		text string
	}{
		{db, &s.insDecision, insertDecision}, {db, &s.insFeedback, insertFeedback},
		{db, &s.claimJTI, claimJTISQL}, {db, &s.sweepJTI, `DELETE FROM jti WHERE expires_at <= ?`},
		{s.rd, &s.orderState, `SELECT outcome, fingerprint, outcome_at, received_at FROM feedback WHERE client = ? AND order_key = ?`},
	} {
		st, err := p.db.Prepare(p.text)
		if err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("store: prepare: %w", err)
		}
		*p.dst = st
	}
	s.c = newCommitter(db)
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
	return nil
}

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
	return s.closeDBs()
}

func (s *SQLite) closeDBs() error {
	for _, st := range []*sql.Stmt{s.insDecision, s.insFeedback, s.claimJTI, s.sweepJTI, s.orderState} {
		if st != nil {
			st.Close()
		}
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
	 ordered_product, best_product, suggestions, payer_saving, patient_saving, org_impact, created_at, user_id)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// storedSuggestion is one element of decisions.suggestions.
type storedSuggestion struct {
	UUID    string  `json:"uuid"`
	Product string  `json:"product"`
	Payer   float64 `json:"payer"`
	Patient float64 `json:"patient"`
	Org     float64 `json:"org"`
}

func encodeSuggestions(ss []Suggestion) (string, error) {
	out := make([]storedSuggestion, len(ss))
	for i, sg := range ss {
		out[i] = storedSuggestion{sg.UUID, sg.ProductID, sg.PayerSaving, sg.PatientSaving, sg.OrgImpact}
	}
	b, err := json.Marshal(out)
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
		out[i] = Suggestion{sg.UUID, sg.Product, sg.Payer, sg.Patient, sg.Org}
	}
	return out, nil
}

// RecordDecision stores one card.
func (s *SQLite) RecordDecision(ctx context.Context, d Decision) error {
	return s.RecordDecisions(ctx, []Decision{d})
}

// RecordDecisions stores cards in the next group commit and returns once it is committed.
func (s *SQLite) RecordDecisions(ctx context.Context, ds []Decision) error {
	if len(ds) == 0 {
		return nil
	}
	suggs := make([]string, len(ds))
	for i, d := range ds {
		var err error
		if suggs[i], err = encodeSuggestions(d.Suggestions); err != nil {
			return err
		}
	}
	run := func(ctx context.Context, tx *sql.Tx) error {
		for i, d := range ds {
			_, err := tx.StmtContext(ctx, s.insDecision).ExecContext(ctx, d.CardUUID, d.HookInstance, d.ServiceID, d.Hook, d.Client,
				d.OrderKey, d.Fingerprint, d.ContractID, d.Arrangement, d.GroupID, d.OrderedProductID, d.BestProductID,
				suggs[i], d.PayerSaving, d.PatientSaving, d.OrgImpact, ts(d.At), d.UserID)
			if err != nil {
				return fmt.Errorf("store: record decision: %w", err)
			}
		}
		return nil
	}
	if len(ds) == 1 {
		return s.c.doSingle(ctx, run) // one statement: atomic without a savepoint
	}
	return s.c.do(ctx, run)
}

// Decision returns the card with uuid, or ErrNotFound.
func (s *SQLite) Decision(ctx context.Context, cardUUID string) (Decision, error) {
	d := Decision{CardUUID: cardUUID}
	var at, suggs string
	err := s.rd.QueryRowContext(ctx, `SELECT hook_instance, service_id, hook, client, order_key, fingerprint, contract_id,
		arrangement, group_id, ordered_product, best_product, suggestions, payer_saving, patient_saving, org_impact, created_at, user_id
		FROM decisions WHERE card_uuid = ?`, cardUUID).Scan(&d.HookInstance, &d.ServiceID, &d.Hook, &d.Client, &d.OrderKey,
		&d.Fingerprint, &d.ContractID, &d.Arrangement, &d.GroupID, &d.OrderedProductID, &d.BestProductID, &suggs,
		&d.PayerSaving, &d.PatientSaving, &d.OrgImpact, &at, &d.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		return Decision{}, ErrNotFound
	}
	if err != nil {
		return Decision{}, fmt.Errorf("store: look up card: %w", err)
	}
	d.At = parseTS(at)
	if d.Suggestions, err = decodeSuggestions(suggs); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// OrderState returns the latest feedback on any card of the client's order, or ErrNotFound.
func (s *SQLite) OrderState(ctx context.Context, client, orderKey string) (OrderState, error) {
	if orderKey == "" {
		return OrderState{}, ErrNotFound
	}
	rows, err := s.orderState.QueryContext(ctx, client, orderKey)
	if err != nil {
		return OrderState{}, fmt.Errorf("store: order state: %w", err)
	}
	defer rows.Close()
	var best OrderState
	var bestRecv time.Time
	found := false
	for rows.Next() {
		var st OrderState
		var at, recv string
		if err := rows.Scan(&st.Outcome, &st.Fingerprint, &at, &recv); err != nil {
			return OrderState{}, fmt.Errorf("store: order state row: %w", err)
		}
		st.At = parseTS(at)
		r := parseTS(recv)
		if !found || later(st.At, r, best.At, bestRecv) {
			best, bestRecv, found = st, r, true
		}
	}
	if err := rows.Err(); err != nil {
		return OrderState{}, fmt.Errorf("store: order state rows: %w", err)
	}
	if !found {
		return OrderState{}, ErrNotFound
	}
	return best, nil
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
	return s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, f := range fs {
			if _, err := tx.StmtContext(ctx, s.insFeedback).ExecContext(ctx, f.Client, f.ServiceID, f.CardUUID, f.OrderKey, f.Fingerprint, f.Outcome, f.SuggestionUUID,
				f.ReasonCode, f.ReasonSystem, f.HasComment, ts(f.OutcomeSent), ts(f.OutcomeAt), ts(f.ReceivedAt)); err != nil {
				return fmt.Errorf("store: record feedback: %w", err)
			}
		}
		return nil
	})
}

const claimJTISQL = `INSERT INTO jti (key, expires_at) VALUES (?, ?)
	ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE jti.expires_at <= ?`

// jtiSweepEvery is how often expired jti rows are deleted (inside a claim's transaction).
const jtiSweepEvery = time.Minute

// ClaimJTI records key until expires in the next group commit and reports whether it was new.
// An earlier claim whose expiry has passed is taken over.
func (s *SQLite) ClaimJTI(ctx context.Context, key string, expires, now time.Time) (bool, error) {
	var fresh bool
	// The sweep is a statement of its own but harmless to keep when the claim fails: no savepoint.
	// The answer is final once the upsert has run; the claim is committed with the batch, before
	// the hook's own decision commit returns (doEarly).
	err := s.c.doEarly(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if now.Sub(s.lastSweep) >= jtiSweepEvery {
			if _, err := tx.StmtContext(ctx, s.sweepJTI).ExecContext(ctx, now.UnixNano()); err != nil {
				return fmt.Errorf("store: sweep jti: %w", err)
			}
			s.lastSweep = now
		}
		res, err := tx.StmtContext(ctx, s.claimJTI).ExecContext(ctx, key, expires.UnixNano(), now.UnixNano())
		if err != nil {
			return fmt.Errorf("store: claim jti: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: claim jti: %w", err)
		}
		fresh = n == 1
		return nil
	})
	if err != nil {
		return false, err
	}
	return fresh, nil
}

// summaryRow is one card with its latest feedback and, when accepted, the accepted
// suggestion's figures.
type summaryRow struct {
	card, client, orderKey, contract, arr string
	service, group, ordered, best, user   string
	payer, patient, org                   float64
	at, firstAt                           time.Time
	outcome, reason, suggestion, suggs    string
	fbAt, fbRecv                          time.Time
	hasOpt                                bool
	optProduct                            string
	optPayer, optPatient, optOrg          float64
}

// decidedOrders reads every card with its latest feedback and keeps, per order, the card that
// decides it (decides), with the order's earliest card time in firstAt. One decision per order:
// the cards of one (client, order key) are one decision, decided by the latest feedback on any
// of them.
func (s *SQLite) decidedOrders(ctx context.Context) ([]summaryRow, error) {
	rows, err := s.rd.QueryContext(ctx, `
		SELECT d.card_uuid, d.client, d.order_key, d.contract_id, d.arrangement, d.payer_saving, d.patient_saving,
		       d.org_impact, d.created_at,
		       COALESCE(f.outcome, ''), COALESCE(f.reason_code, ''), COALESCE(f.outcome_at, ''), COALESCE(f.received_at, ''),
		       COALESCE(f.suggestion_uuid, ''), d.suggestions, d.service_id, d.group_id, d.ordered_product, d.best_product, d.user_id
		FROM decisions d
		LEFT JOIN (
			SELECT card_uuid, outcome, reason_code, suggestion_uuid, outcome_at, received_at,
			       ROW_NUMBER() OVER (PARTITION BY card_uuid ORDER BY outcome_at DESC, received_at DESC) AS rn
			FROM feedback) f
		ON f.card_uuid = d.card_uuid AND f.rn = 1`)
	if err != nil {
		return nil, fmt.Errorf("store: summary: %w", err)
	}
	defer rows.Close()
	orders := orderSet{}
	for rows.Next() {
		var r summaryRow
		var at, fbAt, fbRecv string
		if err := rows.Scan(&r.card, &r.client, &r.orderKey, &r.contract, &r.arr, &r.payer, &r.patient, &r.org, &at,
			&r.outcome, &r.reason, &fbAt, &fbRecv, &r.suggestion, &r.suggs, &r.service, &r.group, &r.ordered, &r.best, &r.user); err != nil {
			return nil, fmt.Errorf("store: summary row: %w", err)
		}
		r.at, r.fbAt, r.fbRecv = parseTS(at), parseTS(fbAt), parseTS(fbRecv)
		if err := orders.add(r); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: summary rows: %w", err)
	}
	return orders.rows(), nil
}

// orderSet keeps, per order, the card that decides it. Every store folds its rows through it,
// so one decision per order means the same on each.
type orderSet map[[2]string]summaryRow

// add folds one card (with its latest feedback, times parsed, suggestions still encoded) into
// the set.
func (orders orderSet) add(r summaryRow) error {
	if r.outcome == "accepted" {
		// Book the accepted suggestion's own figures (issue 10 item 7).
		ss, err := decodeSuggestions(r.suggs)
		if err != nil {
			return err
		}
		for _, sg := range ss {
			if sg.UUID == r.suggestion {
				r.hasOpt, r.optProduct, r.optPayer, r.optPatient, r.optOrg = true, sg.ProductID, sg.PayerSaving, sg.PatientSaving, sg.OrgImpact
			}
		}
	}
	r.suggs = ""
	r.firstAt = r.at
	key := [2]string{r.client, r.orderKey}
	if r.orderKey == "" {
		key = [2]string{"card", r.card}
	}
	prev, seen := orders[key]
	if seen && prev.firstAt.Before(r.firstAt) {
		r.firstAt = prev.firstAt
	}
	if !seen || decides(r, prev) {
		orders[key] = r
	} else {
		prev.firstAt = r.firstAt
		orders[key] = prev
	}
	return nil
}

// rows returns the deciding card of every order.
func (orders orderSet) rows() []summaryRow {
	out := make([]summaryRow, 0, len(orders))
	for _, r := range orders {
		out = append(out, r)
	}
	return out
}

// figures are the per-course savings an accepted order books: the accepted suggestion's own, or
// the card's recommended figures for a v1 suggestion stored without figures.
func (r summaryRow) figures() (payer, patient, org float64) {
	if r.hasOpt {
		return r.optPayer, r.optPatient, r.optOrg
	}
	return r.payer, r.patient, r.org
}

// Orders returns one record per order first advised in [from, to); a zero bound is open.
func (s *SQLite) Orders(ctx context.Context, from, to time.Time) ([]OrderRecord, error) {
	rows, err := s.decidedOrders(ctx)
	if err != nil {
		return nil, err
	}
	return ordersOf(rows, from, to), nil
}

// ordersOf builds the order records of the deciding cards rows first advised in [from, to).
func ordersOf(rows []summaryRow, from, to time.Time) []OrderRecord {
	out := make([]OrderRecord, 0, len(rows))
	for _, r := range rows {
		if (!from.IsZero() && r.firstAt.Before(from)) || (!to.IsZero() && !r.firstAt.Before(to)) {
			continue
		}
		o := OrderRecord{Client: r.client, ServiceID: r.service, ContractID: r.contract, Arrangement: r.arr, GroupID: r.group,
			OrderedProductID: r.ordered, Prescriber: r.user, RecommendedProductID: r.best, FirstAt: r.firstAt, Outcome: r.outcome}
		switch r.outcome {
		case "accepted":
			o.AcceptedProductID = r.optProduct
			if !r.hasOpt {
				o.AcceptedProductID = r.best
			}
			o.PayerSaved, o.PatientSaved, o.OrgImpact = r.figures()
		case "overridden":
			o.ReasonCode = r.reason
		}
		out = append(out, o)
	}
	// A stable order for callers and tests: by first card time, then contract and products.
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.FirstAt.Equal(b.FirstAt) {
			return a.FirstAt.Before(b.FirstAt)
		}
		if a.ContractID != b.ContractID {
			return a.ContractID < b.ContractID
		}
		return a.OrderedProductID < b.OrderedProductID
	})
	return out
}

// Summary reports, per contract, the orders advised on, what became of them, and the money they
// moved. One decision per order (decidedOrders). Savings count only for accepted orders, with the
// accepted suggestion's own figures.
func (s *SQLite) Summary(ctx context.Context) ([]ContractSummary, error) {
	orders, err := s.decidedOrders(ctx)
	if err != nil {
		return nil, err
	}
	return summaryOf(orders), nil
}

// summaryOf builds the per-contract summary of the deciding cards orders.
func summaryOf(orders []summaryRow) []ContractSummary {
	by := map[string]*ContractSummary{}
	for _, r := range orders {
		cs := by[r.contract]
		if cs == nil {
			cs = &ContractSummary{ContractID: r.contract, Arrangement: r.arr, Overrides: map[string]int{}}
			by[r.contract] = cs
		}
		cs.Cards++
		switch r.outcome {
		case "accepted":
			cs.Accepted++
			p, pt, o := r.figures()
			cs.PayerSaved += p
			cs.PatientSaved += pt
			cs.OrgImpact += o
		case "overridden":
			cs.Overridden++
			reason := r.reason
			if reason == "" {
				reason = "(no reason)"
			}
			if reason == ReasonFiguresWrong {
				cs.DataQualityFlags++
			}
			cs.Overrides[reason]++
		default:
			cs.NoFeedback++
		}
	}
	out := make([]ContractSummary, 0, len(by))
	for _, cs := range by {
		if answered := cs.Accepted + cs.Overridden; answered > 0 {
			cs.Acceptance = float64(cs.Accepted) / float64(answered)
		}
		if len(cs.Overrides) == 0 {
			cs.Overrides = nil
		}
		out = append(out, *cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContractID < out[j].ContractID })
	return out
}

// decides reports whether card r, rather than prev, stands for their order: a card with feedback
// beats one without; between two with feedback the later feedback wins; between two without, the
// later card.
func decides(r, prev summaryRow) bool {
	switch {
	case r.outcome != "" && prev.outcome == "":
		return true
	case r.outcome == "" && prev.outcome != "":
		return false
	case r.outcome != "":
		return later(r.fbAt, r.fbRecv, prev.fbAt, prev.fbRecv)
	}
	return r.at.After(prev.at)
}

var _ Store = (*SQLite)(nil)
