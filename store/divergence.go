package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// How often the right choice differed (issue 16 item 4), stored once per distinct scoring
// request (issue 15: the divergence job was the largest cost on the hook path with many drafts).
//
// The answers under every contract depend only on the scoring request (no patient data: the
// contract, product, dose, course, date, site, indications), on the catalog the order was
// scored on and on the configuration scored with (contracts, P&T policy). The gateway's encoding
// of the request names that configuration's fingerprint (gateway/divergence.go), so decisions
// with the same request, configuration and catalog version share one row of
// divergence_answers, keyed by DivergenceKey. A decision refers to its answers through its own
// columns (score_request, catalog_version): nothing is written per decision, and the job scores
// and stores only requests it has not seen. Orders of a day, drug, dose and contract repeat the
// same request, so a busy gateway writes a few rows a minute rather than one per decision per
// contract. A new catalog version is a new key, and so is a new configuration (a new request
// encoding): requests are scored again under it, and the rows of before stay with the
// decisions recorded before.
//
// Version 8 (SQLite) and 4 (PostgreSQL) renamed the per-decision table of before to
// divergence_legacy; convertLegacyDivergence moves its rows here at open (the first computed
// answers of a key stay) and drops it.

// DivergenceKey names the answers of a scoring request on a catalog version: the first 16 bytes
// of SHA-256 over the version, a NUL and the request (which names the configuration scored
// with, when the gateway encoded it), in hex. "" for a decision without a
// request (recorded before store schema version 5): it has no answers.
func DivergenceKey(catalogVersion string, scoreRequest []byte) string {
	if len(scoreRequest) == 0 {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(catalogVersion))
	h.Write([]byte{0})
	h.Write(scoreRequest)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// DivergenceKey is the key of d's answers (DivergenceKey of its catalog version and request).
func (d Decision) DivergenceKey() string { return DivergenceKey(d.CatalogVersion, d.ScoreRequest) }

// pendingScan bounds the decisions one query of PendingDivergence reads.
const pendingScan = 2048

// answersByCard maps each decision of rows to its answers (by key): what AssembleOrders takes.
func answersByCard(rows []DecisionRow, byKey map[string]DivergenceState) map[string]DivergenceState {
	out := make(map[string]DivergenceState, len(rows))
	if len(byKey) == 0 {
		return out
	}
	for i := range rows {
		d := &rows[i].Decision
		if as, ok := byKey[d.DivergenceKey()]; ok {
			out[d.CardUUID] = as
		}
	}
	return out
}

// pendingFilter keeps the decisions of a scan whose key has no answers (known reports which of
// the scan's keys have some), oldest first, at most limit; it returns them and whether it
// stopped at limit, with the index of the last decision kept.
func pendingFilter(ds []Decision, known map[string]bool, limit int) (out []Decision, last int) {
	last = -1
	for i := range ds {
		if known[ds[i].DivergenceKey()] {
			continue
		}
		out = append(out, ds[i])
		last = i
		if len(out) == limit {
			break
		}
	}
	return out, last
}

func scanKeys(ds []Decision) []string {
	seen := map[string]bool{}
	var keys []string
	for i := range ds {
		if k := ds[i].DivergenceKey(); k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func encodeAnswers(ds []Divergence) ([]string, error) {
	enc := make([]string, len(ds))
	for i, d := range ds {
		if d.Key == "" {
			return nil, fmt.Errorf("store: record divergence: no key")
		}
		b, err := json.Marshal(d.Answers)
		if err != nil {
			return nil, fmt.Errorf("store: encode divergence: %w", err)
		}
		enc[i] = string(b)
	}
	return enc, nil
}

// --- SQLite ---

// insertDivergence is prepared once (OpenSQLite).
const insertDivergence = `INSERT OR IGNORE INTO divergence_answers (req_key, catalog_version, answers, computed_at, not_scored, config) VALUES (?,?,?,?,?,?)`

// RecordDivergence stores the answers of scoring requests; a key's first answers stay.
func (s *SQLite) RecordDivergence(ctx context.Context, ds []Divergence) error {
	if len(ds) == 0 {
		return nil
	}
	enc, err := encodeAnswers(ds)
	if err != nil {
		return err
	}
	return s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st := tx.StmtContext(ctx, s.insDivergence)
		for i, d := range ds {
			if _, err := st.ExecContext(ctx, d.Key, d.CatalogVersion, enc[i], ts(d.ComputedAt), d.NotScored, d.Config); err != nil {
				return fmt.Errorf("store: record divergence: %w", err)
			}
		}
		return nil
	})
}

// PendingDivergence returns up to limit decisions after cursor (by rowid) whose key has no
// answers yet, and the cursor to go on from ("" at the end of the record).
func (s *SQLite) PendingDivergence(ctx context.Context, cursor string, limit int) ([]Decision, string, error) {
	if limit <= 0 {
		return nil, cursor, nil
	}
	var after int64
	if cursor != "" {
		var err error
		if after, err = strconv.ParseInt(cursor, 10, 64); err != nil {
			return nil, "", fmt.Errorf("store: pending divergence: bad cursor")
		}
	}
	var out []Decision
	for {
		rows, err := s.rd.QueryContext(ctx, `SELECT rowid, card_uuid, catalog_version, score_request, created_at FROM decisions
			WHERE rowid > ? AND score_request <> '' ORDER BY rowid LIMIT ?`, after, pendingScan)
		if err != nil {
			return nil, "", fmt.Errorf("store: pending divergence: %w", err)
		}
		var ds []Decision
		var ids []int64
		for rows.Next() {
			var d Decision
			var id int64
			var req, at string
			if err := rows.Scan(&id, &d.CardUUID, &d.CatalogVersion, &req, &at); err != nil {
				rows.Close()
				return nil, "", fmt.Errorf("store: pending divergence: %w", err)
			}
			d.ScoreRequest, d.At = []byte(req), parseTS(at)
			ds, ids = append(ds, d), append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, "", fmt.Errorf("store: pending divergence: %w", err)
		}
		if len(ds) == 0 {
			return out, "", nil
		}
		known, err := s.knownKeys(ctx, scanKeys(ds))
		if err != nil {
			return nil, "", err
		}
		got, last := pendingFilter(ds, known, limit-len(out))
		out = append(out, got...)
		if len(out) == limit {
			return out, strconv.FormatInt(ids[last], 10), nil
		}
		if len(ds) < pendingScan {
			return out, "", nil
		}
		after = ids[len(ids)-1]
	}
}

// knownKeys reports which of keys have answers.
func (s *SQLite) knownKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	known := map[string]bool{}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		args := make([]any, n)
		for i := range args {
			args[i] = keys[i]
		}
		rows, err := s.rd.QueryContext(ctx, `SELECT req_key FROM divergence_answers WHERE req_key IN (?`+strings.Repeat(",?", n-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: pending divergence: %w", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: pending divergence: %w", err)
			}
			known[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: pending divergence: %w", err)
		}
		keys = keys[n:]
	}
	return known, nil
}

// divergences reads every stored answer by key.
func (s *SQLite) divergences(ctx context.Context) (map[string]DivergenceState, error) {
	rows, err := s.rd.QueryContext(ctx, `SELECT req_key, answers, not_scored FROM divergence_answers`)
	if err != nil {
		return nil, fmt.Errorf("store: divergence: %w", err)
	}
	defer rows.Close()
	return collectAnswers(rows)
}

func collectAnswers(rows queryRows) (map[string]DivergenceState, error) {
	out := map[string]DivergenceState{}
	for rows.Next() {
		var k, enc, ns string
		if err := rows.Scan(&k, &enc, &ns); err != nil {
			return nil, fmt.Errorf("store: divergence row: %w", err)
		}
		var as []Answer
		if err := json.Unmarshal([]byte(enc), &as); err != nil {
			return nil, fmt.Errorf("store: decode divergence: %w", err)
		}
		out[k] = DivergenceState{Answers: as, NotScored: ns}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: divergence: %w", err)
	}
	return out, nil
}

// referencedKeys returns the keys of every decision's request (a scan of the record).
func referencedKeys(rows queryRows) (map[string]bool, error) {
	out := map[string]bool{}
	for rows.Next() {
		var version string
		var req []byte
		if err := rows.Scan(&version, &req); err != nil {
			return nil, fmt.Errorf("store: retention: divergence keys: %w", err)
		}
		out[DivergenceKey(version, req)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: retention: divergence keys: %w", err)
	}
	return out, nil
}

// unreferencedAnswers lists the keys computed before cutoff that no decision refers to any more.
func unreferencedAnswers(rows queryRows, referenced map[string]bool) ([]string, error) {
	var gone []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("store: retention: divergence: %w", err)
		}
		if !referenced[k] {
			gone = append(gone, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: retention: divergence: %w", err)
	}
	return gone, nil
}

// deleteUnreferencedAnswers is retention's part of the divergence (SQLite): the answers computed
// before cutoff that no decision left refers to. Answers computed since stay even when
// unreferenced for now (the job may have stored them for a decision this scan did not see).
func (s *SQLite) deleteUnreferencedAnswers(ctx context.Context, cutoff time.Time) (int64, error) {
	rows, err := s.rd.QueryContext(ctx, `SELECT catalog_version, CAST(score_request AS BLOB) FROM decisions WHERE score_request <> ''`)
	if err != nil {
		return 0, fmt.Errorf("store: retention: divergence keys: %w", err)
	}
	referenced, err := referencedKeys(rows)
	rows.Close()
	if err != nil {
		return 0, err
	}
	rows, err = s.rd.QueryContext(ctx, `SELECT req_key FROM divergence_answers WHERE computed_at < ?`, ts(cutoff))
	if err != nil {
		return 0, fmt.Errorf("store: retention: divergence: %w", err)
	}
	gone, err := unreferencedAnswers(rows, referenced)
	rows.Close()
	if err != nil {
		return 0, err
	}
	var n int64
	for len(gone) > 0 {
		chunk := gone[:min(len(gone), retentionChunk)]
		gone = gone[len(chunk):]
		err := s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, `DELETE FROM divergence_answers WHERE req_key = ?`)
			if err != nil {
				return fmt.Errorf("store: retention: divergence: %w", err)
			}
			defer st.Close()
			for _, k := range chunk {
				res, err := st.ExecContext(ctx, k)
				if err != nil {
					return fmt.Errorf("store: retention: divergence: %w", err)
				}
				d, _ := res.RowsAffected()
				n += d
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// convertLegacySQLite moves the per-decision answers of before version 8 (divergence_legacy) to
// divergence_answers under each decision's key, earliest computed first (so a key's first
// answers stay, as they did per decision), and drops the old table. It runs at every open and
// does nothing once the table is gone.
// legacyNotScored is the not-scored reason of a per-decision row of before: one stored without
// answers (JSON null) was a request its own contract no longer scored.
func legacyNotScored(answers string) string {
	if strings.TrimSpace(answers) == "null" {
		return DivNotScoredFailed
	}
	return ""
}

func convertLegacySQLite(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'divergence_legacy'`).Scan(&n); err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	if n == 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT d.catalog_version, CAST(d.score_request AS BLOB), v.catalog_version, v.answers, v.computed_at
		FROM divergence_legacy v JOIN decisions d ON d.card_uuid = v.card_uuid WHERE d.score_request <> ''
		ORDER BY v.computed_at, v.card_uuid`)
	if err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	type row struct{ key, version, answers, at string }
	var rs []row
	for rows.Next() {
		var dv, vv, ans, at string
		var req []byte
		if err := rows.Scan(&dv, &req, &vv, &ans, &at); err != nil {
			rows.Close()
			return fmt.Errorf("store: divergence conversion: %w", err)
		}
		rs = append(rs, row{DivergenceKey(dv, req), vv, ans, at})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	st, err := tx.PrepareContext(ctx, insertDivergence)
	if err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	for _, r := range rs {
		if _, err := st.ExecContext(ctx, r.key, r.version, r.answers, r.at, legacyNotScored(r.answers), ""); err != nil {
			st.Close()
			return fmt.Errorf("store: divergence conversion: %w", err)
		}
	}
	st.Close()
	if _, err := tx.ExecContext(ctx, `DROP TABLE divergence_legacy`); err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	return tx.Commit()
}

// --- PostgreSQL ---

// RecordDivergence stores the answers of scoring requests; a key's first answers stay.
func (p *Postgres) RecordDivergence(ctx context.Context, ds []Divergence) error {
	if len(ds) == 0 {
		return nil
	}
	enc, err := encodeAnswers(ds)
	if err != nil {
		return err
	}
	stmts := make([]pgStmt, len(ds))
	for i, d := range ds {
		stmts[i] = pgStmt{sql: `INSERT INTO divergence_answers (req_key, catalog_version, answers, computed_at, not_scored, config)
			VALUES ($1,$2,$3::jsonb,$4,$5,$6) ON CONFLICT (req_key) DO NOTHING`, args: []any{d.Key, d.CatalogVersion, enc[i], d.ComputedAt.UTC(), d.NotScored, d.Config}}
	}
	if err := p.b.do(ctx, "v"+ds[0].Key, stmts...); err != nil {
		return fmt.Errorf("store: record divergence: %w", err)
	}
	return nil
}

// PendingDivergence returns up to limit decisions after cursor (by created_at, card_uuid: the
// index decisions_pending_divergence) whose key has no answers yet, and the cursor to go on
// from ("" at the end of the record).
func (p *Postgres) PendingDivergence(ctx context.Context, cursor string, limit int) ([]Decision, string, error) {
	if limit <= 0 {
		return nil, cursor, nil
	}
	afterAt, afterCard := time.Time{}, ""
	if cursor != "" {
		at, card, ok := strings.Cut(cursor, " ")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil {
			return nil, "", fmt.Errorf("store: pending divergence: bad cursor")
		}
		afterAt, afterCard = t, card
	}
	var out []Decision
	for {
		rows, err := p.pool.Query(ctx, `SELECT card_uuid, catalog_version, score_request, created_at FROM decisions
			WHERE length(score_request) > 0 AND (created_at, card_uuid) > ($1, $2) ORDER BY created_at, card_uuid LIMIT $3`,
			afterAt, afterCard, pendingScan)
		if err != nil {
			return nil, "", fmt.Errorf("store: pending divergence: %w", err)
		}
		var ds []Decision
		for rows.Next() {
			var d Decision
			if err := rows.Scan(&d.CardUUID, &d.CatalogVersion, &d.ScoreRequest, &d.At); err != nil {
				rows.Close()
				return nil, "", fmt.Errorf("store: pending divergence: %w", err)
			}
			d.At = d.At.UTC()
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, "", fmt.Errorf("store: pending divergence: %w", err)
		}
		if len(ds) == 0 {
			return out, "", nil
		}
		known := map[string]bool{}
		kr, err := p.pool.Query(ctx, `SELECT req_key FROM divergence_answers WHERE req_key = ANY($1)`, scanKeys(ds))
		if err != nil {
			return nil, "", fmt.Errorf("store: pending divergence: %w", err)
		}
		for kr.Next() {
			var k string
			if err := kr.Scan(&k); err != nil {
				kr.Close()
				return nil, "", fmt.Errorf("store: pending divergence: %w", err)
			}
			known[k] = true
		}
		kr.Close()
		if err := kr.Err(); err != nil {
			return nil, "", fmt.Errorf("store: pending divergence: %w", err)
		}
		got, last := pendingFilter(ds, known, limit-len(out))
		out = append(out, got...)
		if len(out) == limit {
			return out, pgCursor(ds[last]), nil
		}
		if len(ds) < pendingScan {
			return out, "", nil
		}
		afterAt, afterCard = ds[len(ds)-1].At, ds[len(ds)-1].CardUUID
	}
}

func pgCursor(d Decision) string { return d.At.UTC().Format(time.RFC3339Nano) + " " + d.CardUUID }

func (p *Postgres) divergences(ctx context.Context) (map[string]DivergenceState, error) {
	rows, err := p.pool.Query(ctx, `SELECT req_key, answers::text, not_scored FROM divergence_answers`)
	if err != nil {
		return nil, fmt.Errorf("store: divergence: %w", err)
	}
	defer rows.Close()
	return collectAnswers(rows)
}

// deleteUnreferencedAnswers is retention's part of the divergence (PostgreSQL), as SQLite's.
func (p *Postgres) deleteUnreferencedAnswers(ctx context.Context, conn *pgxpool.Conn, cutoff time.Time) (int64, error) {
	rows, err := conn.Query(ctx, `SELECT catalog_version, score_request FROM decisions WHERE length(score_request) > 0`)
	if err != nil {
		return 0, fmt.Errorf("store: retention: divergence keys: %w", err)
	}
	referenced, err := referencedKeys(rows)
	rows.Close()
	if err != nil {
		return 0, err
	}
	rows, err = conn.Query(ctx, `SELECT req_key FROM divergence_answers WHERE computed_at < $1`, cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("store: retention: divergence: %w", err)
	}
	gone, err := unreferencedAnswers(rows, referenced)
	rows.Close()
	if err != nil {
		return 0, err
	}
	var n int64
	for len(gone) > 0 {
		chunk := gone[:min(len(gone), retentionChunk)]
		gone = gone[len(chunk):]
		tag, err := conn.Exec(ctx, `DELETE FROM divergence_answers WHERE req_key = ANY($1)`, chunk)
		if err != nil {
			return n, fmt.Errorf("store: retention: divergence: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// convertLegacyPostgres is convertLegacySQLite on PostgreSQL, in one transaction under the
// migration's advisory lock, so instances starting together convert once.
func convertLegacyPostgres(ctx context.Context, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLockID)); err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('divergence_legacy') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	if !exists {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT d.catalog_version, d.score_request, v.catalog_version, v.answers::text, v.computed_at
		FROM divergence_legacy v JOIN decisions d ON d.card_uuid = v.card_uuid WHERE length(d.score_request) > 0
		ORDER BY v.computed_at, v.card_uuid`)
	if err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	var b pgx.Batch
	for rows.Next() {
		var dv, vv, ans string
		var req []byte
		var at time.Time
		if err := rows.Scan(&dv, &req, &vv, &ans, &at); err != nil {
			rows.Close()
			return fmt.Errorf("store: divergence conversion: %w", err)
		}
		b.Queue(`INSERT INTO divergence_answers (req_key, catalog_version, answers, computed_at, not_scored) VALUES ($1,$2,$3::jsonb,$4,$5)
			ON CONFLICT (req_key) DO NOTHING`, DivergenceKey(dv, req), vv, ans, at, legacyNotScored(ans))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("store: divergence conversion: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `DROP TABLE divergence_legacy`); err != nil {
		return fmt.Errorf("store: divergence conversion: %w", err)
	}
	return tx.Commit(ctx)
}
