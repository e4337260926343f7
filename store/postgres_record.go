package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The realised side of the record and the divergence in PostgreSQL (see sqlite_record.go). These
// writes come from imports and the divergence job, through the group commit like any write.

// countInserted is a pgStmt scan for INSERT ... ON CONFLICT DO NOTHING RETURNING true: it counts
// the rows that were new.
func countInserted(n *int) func(pgx.Row) error {
	return func(row pgx.Row) error {
		var ok bool
		err := row.Scan(&ok)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err == nil {
			*n++
		}
		return err
	}
}

// RecordAdministrations stores administrations (all or none) and reports how many were new or
// changed (as SQLite.RecordAdministrations: a correction replaces the stored administration).
func (p *Postgres) RecordAdministrations(ctx context.Context, as []Administration) (int, error) {
	if len(as) == 0 {
		return 0, nil
	}
	var added int
	stmts := make([]pgStmt, len(as))
	for i, a := range as {
		stmts[i] = pgStmt{sql: `INSERT INTO administrations (client, admin_key, order_key, product_id, status, at, imported_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (client, admin_key) DO UPDATE SET product_id = EXCLUDED.product_id,
				status = EXCLUDED.status, at = EXCLUDED.at, imported_at = EXCLUDED.imported_at
			WHERE administrations.status <> EXCLUDED.status OR administrations.product_id <> EXCLUDED.product_id OR administrations.at <> EXCLUDED.at
			RETURNING true`,
			args: []any{a.Client, a.Key, a.OrderKey, a.ProductID, a.Status, a.At.UTC(), a.ImportedAt.UTC()}, scan: countInserted(&added)}
	}
	// A batch that is retried runs its scans again: count from zero each time.
	stmts[0].scan = resetThen(&added, stmts[0].scan)
	if err := p.b.do(ctx, "a"+as[0].Client+"\x00"+as[0].Key, stmts...); err != nil {
		return 0, fmt.Errorf("store: record administrations: %w", err)
	}
	return added, nil
}

// resetThen zeroes *n before scan: the first statement of an op that counts.
func resetThen(n *int, scan func(pgx.Row) error) func(pgx.Row) error {
	return func(row pgx.Row) error { *n = 0; return scan(row) }
}

// RecordClaims stores claim lines like RecordAdministrations.
func (p *Postgres) RecordClaims(ctx context.Context, cs []Claim) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	var added int
	stmts := make([]pgStmt, len(cs))
	for i, c := range cs {
		stmts[i] = pgStmt{sql: `INSERT INTO claims (client, claim_key, order_key, service_date, hcpcs, product_id, units, allowed_usd,
			paid_usd, patient_usd, imported_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
			ON CONFLICT (client, claim_key) DO NOTHING RETURNING true`,
			args: []any{c.Client, c.Key, c.OrderKey, c.ServiceDate.UTC(), c.HCPCS, c.ProductID, c.Units, c.AllowedUSD, c.PaidUSD,
				c.PatientUSD, c.ImportedAt.UTC()}, scan: countInserted(&added)}
	}
	stmts[0].scan = resetThen(&added, stmts[0].scan)
	if err := p.b.do(ctx, "c"+cs[0].Client+"\x00"+cs[0].Key, stmts...); err != nil {
		return 0, fmt.Errorf("store: record claims: %w", err)
	}
	return added, nil
}

func (p *Postgres) administrations(ctx context.Context) ([]Administration, error) {
	rows, err := p.pool.Query(ctx, `SELECT client, admin_key, order_key, product_id, status, at, imported_at FROM administrations`)
	if err != nil {
		return nil, fmt.Errorf("store: administrations: %w", err)
	}
	defer rows.Close()
	var out []Administration
	for rows.Next() {
		var a Administration
		if err := rows.Scan(&a.Client, &a.Key, &a.OrderKey, &a.ProductID, &a.Status, &a.At, &a.ImportedAt); err != nil {
			return nil, fmt.Errorf("store: administration row: %w", err)
		}
		a.At, a.ImportedAt = a.At.UTC(), a.ImportedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: administrations: %w", err)
	}
	return out, nil
}

func (p *Postgres) claims(ctx context.Context) ([]Claim, error) {
	rows, err := p.pool.Query(ctx, `SELECT client, claim_key, order_key, service_date, hcpcs, product_id, units, allowed_usd, paid_usd,
		patient_usd, imported_at FROM claims`)
	if err != nil {
		return nil, fmt.Errorf("store: claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var c Claim
		if err := rows.Scan(&c.Client, &c.Key, &c.OrderKey, &c.ServiceDate, &c.HCPCS, &c.ProductID, &c.Units, &c.AllowedUSD, &c.PaidUSD,
			&c.PatientUSD, &c.ImportedAt); err != nil {
			return nil, fmt.Errorf("store: claim row: %w", err)
		}
		c.ServiceDate, c.ImportedAt = c.ServiceDate.UTC(), c.ImportedAt.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: claims: %w", err)
	}
	return out, nil
}

// DecisionClients lists the clients whose decisions the store holds (at most limit of them), as
// SQLite.DecisionClients.
func (p *Postgres) DecisionClients(ctx context.Context, limit int) ([]string, error) {
	rows, err := p.pool.Query(ctx, `SELECT DISTINCT client FROM decisions ORDER BY client LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: decision clients: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("store: decision clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: decision clients: %w", err)
	}
	return out, nil
}
