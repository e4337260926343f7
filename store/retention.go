package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Deleted counts the rows one retention run removed.
type Deleted struct {
	Decisions       int64 `json:"decisions"`
	Feedback        int64 `json:"feedback"`
	Divergence      int64 `json:"divergence"`
	Administrations int64 `json:"administrations"`
	Claims          int64 `json:"claims"`
	JTI             int64 `json:"jti"`
	// RollupRows are dashboard rollup cells left at zero (all their orders gone): they would
	// still name prescribers and locations of deleted periods.
	RollupRows int64 `json:"rollupRows"`
}

// zeroCubeRow matches a rollup_cube row that counts nothing.
var zeroCubeRow = func() string {
	parts := make([]string, len(cubeCols))
	for i, c := range cubeCols {
		parts[i] = c + " = 0"
	}
	return strings.Join(parts, " AND ")
}()

// zeroPairRow matches a rollup_divpairs row that counts nothing.
const zeroPairRow = "orders = 0 AND diverged = 0 AND payer = 0 AND org = 0"

// retentionChunk bounds the rows one retention transaction deletes, so hooks never wait long
// behind it.
const retentionChunk = 2000

// DeleteBefore removes what the retention period no longer covers: decisions created before
// cutoff with every feedback item on them, feedback received before cutoff, the divergence
// answers computed before cutoff that no decision left refers to (store/divergence.go),
// and jti claims expired by now. Administrations and claim lines go with their order (attacker
// review finding 7): when no decision of their (client, order key) is left, whatever their own
// dates (a row dated 9999 went nowhere when retention went by it), and those of a kept order
// stay; lines that join no decision at all go too (they count for nothing and an import comes
// after its order's hooks). The rollup is
// then folded and its cells left at zero deleted. It deletes in small transactions through the
// group commit, so concurrent hooks wait for one chunk at most.
func (s *SQLite) DeleteBefore(ctx context.Context, cutoff, now time.Time) (Deleted, error) {
	var out Deleted
	c := ts(cutoff)
	// One scan on a reader finds the rowid range of what is old; the writer then deletes that
	// range in chunks, each a primary-key range.
	chunks := func(table, timeCol string, fn func(ctx context.Context, tx *sql.Tx, lo, hi int64) error) error {
		var lo, hi int64
		if err := s.rd.QueryRowContext(ctx, `SELECT COALESCE(MIN(rowid), 0), COALESCE(MAX(rowid), -1) FROM `+table+
			` WHERE `+timeCol+` < ?`, c).Scan(&lo, &hi); err != nil {
			return fmt.Errorf("store: retention: %w", err)
		}
		for ; lo <= hi; lo += retentionChunk {
			from, to := lo, lo+retentionChunk-1
			if err := s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error { return fn(ctx, tx, from, to) }); err != nil {
				return err
			}
		}
		return nil
	}
	exec := func(ctx context.Context, tx *sql.Tx, n *int64, q string, args ...any) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: retention: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: retention: %w", err)
		}
		*n += k
		return nil
	}
	err := chunks("decisions", "created_at", func(ctx context.Context, tx *sql.Tx, lo, hi int64) error {
		if err := exec(ctx, tx, &out.Feedback, `DELETE FROM feedback WHERE card_uuid IN
			(SELECT card_uuid FROM decisions WHERE rowid BETWEEN ? AND ? AND created_at < ?)`, lo, hi, c); err != nil {
			return err
		}
		if err := exec(ctx, tx, &out.Decisions, `DELETE FROM decisions WHERE rowid BETWEEN ? AND ? AND created_at < ?`, lo, hi, c); err != nil {
			return err
		}
		return lowerRollupMarks(ctx, tx)
	})
	if err != nil {
		return out, err
	}
	err = chunks("feedback", "received_at", func(ctx context.Context, tx *sql.Tx, lo, hi int64) error {
		if err := exec(ctx, tx, &out.Feedback, `DELETE FROM feedback WHERE rowid BETWEEN ? AND ? AND received_at < ?`, lo, hi, c); err != nil {
			return err
		}
		return lowerRollupMarks(ctx, tx)
	})
	if err != nil {
		return out, err
	}
	// administrations and claims are WITHOUT ROWID tables, small beside decisions (imports): one
	// statement each for the lines whose order has no decision left (decisions keep no order
	// index for the hook path's sake; SQLite builds an automatic one for the statement).
	err = s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, t := range []struct {
			n     *int64
			table string
		}{{&out.Administrations, "administrations"}, {&out.Claims, "claims"}} {
			// NOT IN over one value (client and order key joined by a NUL): SQLite materialises
			// the subquery once into an ephemeral index and looks each line up in it. The
			// correlated NOT EXISTS before scanned every decision per line (no index on
			// decisions(client, order_key) by design), and so did NOT IN over the row value
			// (client, order_key): both took over 10 s, the commit timeout, on the generated year
			// of TestRollupEqualsBuild under -race.
			if err := exec(ctx, tx, t.n, `DELETE FROM `+t.table+` WHERE client || char(0) || order_key NOT IN
				(SELECT client || char(0) || order_key FROM decisions)`); err != nil {
				return err
			}
		}
		return exec(ctx, tx, &out.JTI, `DELETE FROM jti WHERE expires_at <= ?`, now.UnixNano())
	})
	if err != nil {
		return out, err
	}
	// A rollup that cannot hold this record (ErrRollupUnavailable: the dashboard reads the
	// orders instead) is no failure of retention; its zero cells go all the same (a zero cell
	// adds nothing to any sum).
	if err := s.RefreshRollups(ctx); err != nil && !errors.Is(err, ErrRollupUnavailable) {
		return out, fmt.Errorf("store: retention: %w", err)
	}
	err = s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := exec(ctx, tx, &out.RollupRows, `DELETE FROM rollup_cube WHERE `+zeroCubeRow); err != nil {
			return err
		}
		return exec(ctx, tx, &out.RollupRows, `DELETE FROM rollup_divpairs WHERE `+zeroPairRow)
	})
	if err != nil {
		return out, err
	}
	out.Divergence, err = s.deleteUnreferencedAnswers(ctx, cutoff)
	return out, err
}

// lowerRollupMarks keeps the dashboard rollup (rollup_sqlite.go) right after a deletion. It
// folds decisions and feedback in by rowid up to a mark, and SQLite hands the rowid of a deleted
// newest row out again: without this, a row recorded after retention deleted the newest ones
// would get a rowid below the mark and never be counted. In the deleting transaction (the
// writer is single, so no row comes in between), a mark above what is left comes down to the
// newest rowid left. The deleted rows' orders are requeued by the rollup's own delete triggers.
func lowerRollupMarks(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE rollup_state SET
		decisions_seen = MIN(decisions_seen, (SELECT COALESCE(MAX(rowid), 0) FROM decisions)),
		feedback_seen = MIN(feedback_seen, (SELECT COALESCE(MAX(rowid), 0) FROM feedback)) WHERE id = 1`)
	if err != nil {
		return fmt.Errorf("store: retention: rollup marks: %w", err)
	}
	return nil
}

// retentionLockID keys the advisory lock under which one instance at a time runs retention
// ("vrxretn" in ASCII).
const retentionLockID = 0x7672787265746e

// DeleteBefore removes what the retention period no longer covers (see SQLite.DeleteBefore), in
// transactions of retentionChunk rows. Instances sharing the database take turns: one that finds
// another running retention returns at once with nothing deleted.
func (p *Postgres) DeleteBefore(ctx context.Context, cutoff, now time.Time) (Deleted, error) {
	var out Deleted
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return out, fmt.Errorf("store: retention: %w", err)
	}
	defer conn.Release()
	var mine bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(retentionLockID)).Scan(&mine); err != nil {
		return out, fmt.Errorf("store: retention: %w", err)
	}
	if !mine {
		return out, nil
	}
	defer func() {
		// A fresh context: the lock must go even when ctx ended.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, int64(retentionLockID)); err != nil {
			conn.Conn().Close(uctx) // the session goes, and its lock with it
		}
	}()
	c := cutoff.UTC()
	for {
		var d, f int64
		err := conn.QueryRow(ctx, `
			WITH gone AS (
				DELETE FROM decisions WHERE card_uuid IN (
					SELECT card_uuid FROM decisions WHERE created_at < $1 ORDER BY created_at LIMIT $2)
				RETURNING card_uuid),
			fb AS (DELETE FROM feedback f USING gone WHERE f.card_uuid = gone.card_uuid RETURNING 1)
			SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM fb)`, c, retentionChunk).Scan(&d, &f)
		if err != nil {
			return out, fmt.Errorf("store: retention: %w", err)
		}
		out.Decisions += d
		out.Feedback += f
		if d < retentionChunk {
			break
		}
	}
	chunked := func(n *int64, q string, args ...any) error {
		for {
			tag, err := conn.Exec(ctx, q, args...)
			if err != nil {
				return fmt.Errorf("store: retention: %w", err)
			}
			*n += tag.RowsAffected()
			if tag.RowsAffected() < retentionChunk {
				return nil
			}
		}
	}
	if err := chunked(&out.Feedback, `DELETE FROM feedback WHERE ctid IN (
		SELECT ctid FROM feedback WHERE received_at < $1 LIMIT $2)`, c, retentionChunk); err != nil {
		return out, err
	}
	// The lines whose order has no decision left: one statement each (a hash anti-join over
	// decisions, which keep no order index for the hook path's sake; MVCC lets hooks go on).
	for _, t := range []struct {
		n     *int64
		table string
	}{{&out.Administrations, "administrations"}, {&out.Claims, "claims"}} {
		tag, err := conn.Exec(ctx, `DELETE FROM `+t.table+` x WHERE NOT EXISTS (SELECT 1 FROM decisions d
			WHERE d.client = x.client AND d.order_key = x.order_key)`)
		if err != nil {
			return out, fmt.Errorf("store: retention: %w", err)
		}
		*t.n += tag.RowsAffected()
	}
	if err := chunked(&out.JTI, `DELETE FROM jti WHERE key IN (
		SELECT key FROM jti WHERE expires_at <= $1 LIMIT $2)`, now.UTC(), retentionChunk); err != nil {
		return out, err
	}
	if err := p.RefreshRollups(ctx); err != nil && !errors.Is(err, ErrRollupUnavailable) { // as SQLite's
		return out, fmt.Errorf("store: retention: %w", err)
	}
	if err := chunked(&out.RollupRows, `DELETE FROM rollup_cube WHERE ctid IN (
		SELECT ctid FROM rollup_cube WHERE `+zeroCubeRow+` LIMIT $1)`, retentionChunk); err != nil {
		return out, err
	}
	if err := chunked(&out.RollupRows, `DELETE FROM rollup_divpairs WHERE ctid IN (
		SELECT ctid FROM rollup_divpairs WHERE `+zeroPairRow+` LIMIT $1)`, retentionChunk); err != nil {
		return out, err
	}
	out.Divergence, err = p.deleteUnreferencedAnswers(ctx, conn, c)
	return out, err
}
