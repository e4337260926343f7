package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver: no cgo in the build
)

// SQLite is the embedded Store: one file, WAL mode, safe for one process.
type SQLite struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS decisions (
	card_uuid TEXT PRIMARY KEY,
	hook_instance TEXT NOT NULL,
	service_id TEXT NOT NULL,
	hook TEXT NOT NULL,
	contract_id TEXT NOT NULL,
	arrangement TEXT NOT NULL,
	group_id TEXT NOT NULL,
	ordered_product TEXT NOT NULL,
	best_product TEXT NOT NULL,
	suggestions TEXT NOT NULL,
	payer_saving REAL NOT NULL,
	patient_saving REAL NOT NULL,
	org_impact REAL NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
	service_id TEXT NOT NULL,
	card_uuid TEXT NOT NULL,
	outcome TEXT NOT NULL,
	suggestion_uuid TEXT NOT NULL,
	reason_code TEXT NOT NULL,
	reason_system TEXT NOT NULL,
	has_comment INTEGER NOT NULL,
	outcome_at TEXT NOT NULL,
	received_at TEXT NOT NULL,
	UNIQUE (card_uuid, outcome, suggestion_uuid, outcome_at)
);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback(card_uuid);
`

// OpenSQLite opens (creating if needed) the SQLite file at path. ":memory:" is accepted for tests
// that do not care about the file, but the product uses a real file.
func OpenSQLite(path string) (*SQLite, error) {
	dsn := path
	if path != ":memory:" {
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	// SQLite allows one writer; a single connection avoids SQLITE_BUSY between our own goroutines.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: create schema: %w", err)
	}
	return &SQLite{db: db}, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

const insertDecision = `INSERT OR IGNORE INTO decisions
	(card_uuid, hook_instance, service_id, hook, contract_id, arrangement, group_id,
	 ordered_product, best_product, suggestions, payer_saving, patient_saving, org_impact, created_at)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// RecordDecision stores one card. Recording the same card uuid twice keeps the first.
func (s *SQLite) RecordDecision(ctx context.Context, d Decision) error {
	return s.RecordDecisions(ctx, []Decision{d})
}

// RecordDecisions stores several cards in one transaction: a busy gateway's writer batches what
// queued up, so the commit (the expensive part of a SQLite write) is paid once per batch.
func (s *SQLite) RecordDecisions(ctx context.Context, ds []Decision) error {
	if len(ds) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: record decisions: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx, insertDecision)
	if err != nil {
		return fmt.Errorf("store: record decisions: %w", err)
	}
	defer stmt.Close()
	for _, d := range ds {
		sugg, err := json.Marshal(d.SuggestionUUIDs)
		if err != nil {
			return fmt.Errorf("store: encode suggestions: %w", err)
		}
		if _, err := stmt.ExecContext(ctx, d.CardUUID, d.HookInstance, d.ServiceID, d.Hook, d.ContractID, d.Arrangement,
			d.GroupID, d.OrderedProductID, d.BestProductID, string(sugg), d.PayerSaving, d.PatientSaving, d.OrgImpact, ts(d.At)); err != nil {
			return fmt.Errorf("store: record decision: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: record decisions: %w", err)
	}
	return nil
}

// RecordFeedback stores one feedback item; an identical repeat is a no-op. It returns
// ErrUnknownCard (after storing) when no decision has that card uuid.
func (s *SQLite) RecordFeedback(ctx context.Context, f Feedback) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO feedback
		(service_id, card_uuid, outcome, suggestion_uuid, reason_code, reason_system, has_comment, outcome_at, received_at)
		VALUES (?,?,?,?,?,?,?,?,?)`,
		f.ServiceID, f.CardUUID, f.Outcome, f.SuggestionUUID, f.ReasonCode, f.ReasonSystem, f.HasComment,
		ts(f.OutcomeAt), ts(time.Now()))
	if err != nil {
		return fmt.Errorf("store: record feedback: %w", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM decisions WHERE card_uuid = ?`, f.CardUUID).Scan(&n); err != nil {
		return fmt.Errorf("store: look up card: %w", err)
	}
	if n == 0 {
		return ErrUnknownCard
	}
	return nil
}

// Summary reports, per contract, the cards shown, what became of them, and the money they moved:
// savings count only for accepted cards. A card's latest feedback wins when it has several.
func (s *SQLite) Summary(ctx context.Context) ([]ContractSummary, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT d.contract_id, d.arrangement, d.payer_saving, d.patient_saving, d.org_impact,
		       COALESCE(f.outcome, ''), COALESCE(f.reason_code, '')
		FROM decisions d
		LEFT JOIN (
			SELECT card_uuid, outcome, reason_code,
			       ROW_NUMBER() OVER (PARTITION BY card_uuid ORDER BY outcome_at DESC, received_at DESC) AS rn
			FROM feedback) f
		ON f.card_uuid = d.card_uuid AND f.rn = 1`)
	if err != nil {
		return nil, fmt.Errorf("store: summary: %w", err)
	}
	defer rows.Close()
	by := map[string]*ContractSummary{}
	for rows.Next() {
		var contract, arr, outcome, reason string
		var payer, patient, org float64
		if err := rows.Scan(&contract, &arr, &payer, &patient, &org, &outcome, &reason); err != nil {
			return nil, fmt.Errorf("store: summary row: %w", err)
		}
		cs := by[contract]
		if cs == nil {
			cs = &ContractSummary{ContractID: contract, Arrangement: arr, Overrides: map[string]int{}}
			by[contract] = cs
		}
		cs.Cards++
		switch outcome {
		case "accepted":
			cs.Accepted++
			cs.PayerSaved += payer
			cs.PatientSaved += patient
			cs.OrgImpact += org
		case "overridden":
			cs.Overridden++
			if reason == "" {
				reason = "(no reason)"
			}
			cs.Overrides[reason]++
		default:
			cs.NoFeedback++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: summary rows: %w", err)
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
	return out, nil
}

var _ Store = (*SQLite)(nil)

// IsUnknownCard reports whether err is ErrUnknownCard.
func IsUnknownCard(err error) bool { return errors.Is(err, ErrUnknownCard) }
