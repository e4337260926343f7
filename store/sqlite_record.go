package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The realised side of the record (issue 16 item 2) and the divergence (item 4) in SQLite. These
// writes come from imports and from the divergence job, never from a hook, so they go through
// the group commit like any write but are not on the hook's latency path.

// RecordAdministrations stores administrations in one transaction and reports how many were new
// or changed: one imported again with another status, product or time (a correction, "completed"
// to "entered-in-error") replaces the stored one; the same one again changes nothing.
func (s *SQLite) RecordAdministrations(ctx context.Context, as []Administration) (int, error) {
	if len(as) == 0 {
		return 0, nil
	}
	added := 0
	err := s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		added = 0
		st, err := tx.PrepareContext(ctx, `INSERT INTO administrations
			(client, admin_key, order_key, product_id, status, at, imported_at) VALUES (?,?,?,?,?,?,?)
			ON CONFLICT (client, admin_key) DO UPDATE SET product_id = excluded.product_id, status = excluded.status,
				at = excluded.at, imported_at = excluded.imported_at
			WHERE administrations.status <> excluded.status OR administrations.product_id <> excluded.product_id OR administrations.at <> excluded.at`)
		if err != nil {
			return fmt.Errorf("store: record administrations: %w", err)
		}
		defer st.Close()
		for _, a := range as {
			res, err := st.ExecContext(ctx, a.Client, a.Key, a.OrderKey, a.ProductID, a.Status, ts(a.At), ts(a.ImportedAt))
			if err != nil {
				return fmt.Errorf("store: record administration: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				added++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// RecordClaims stores claim lines in one transaction and reports how many were new.
func (s *SQLite) RecordClaims(ctx context.Context, cs []Claim) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	added := 0
	err := s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		added = 0
		st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO claims
			(client, claim_key, order_key, service_date, hcpcs, product_id, units, allowed_usd, paid_usd, patient_usd, imported_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?)`)
		if err != nil {
			return fmt.Errorf("store: record claims: %w", err)
		}
		defer st.Close()
		for _, c := range cs {
			res, err := st.ExecContext(ctx, c.Client, c.Key, c.OrderKey, ts(c.ServiceDate), c.HCPCS, c.ProductID, c.Units,
				c.AllowedUSD, c.PaidUSD, c.PatientUSD, ts(c.ImportedAt))
			if err != nil {
				return fmt.Errorf("store: record claim: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				added++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

func (s *SQLite) administrations(ctx context.Context) ([]Administration, error) {
	rows, err := s.rd.QueryContext(ctx, `SELECT client, admin_key, order_key, product_id, status, at, imported_at FROM administrations`)
	if err != nil {
		return nil, fmt.Errorf("store: administrations: %w", err)
	}
	defer rows.Close()
	var out []Administration
	for rows.Next() {
		var a Administration
		var at, imp string
		if err := rows.Scan(&a.Client, &a.Key, &a.OrderKey, &a.ProductID, &a.Status, &at, &imp); err != nil {
			return nil, fmt.Errorf("store: administration row: %w", err)
		}
		a.At, a.ImportedAt = parseTS(at), parseTS(imp)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: administrations: %w", err)
	}
	return out, nil
}

func (s *SQLite) claims(ctx context.Context) ([]Claim, error) {
	rows, err := s.rd.QueryContext(ctx, `SELECT client, claim_key, order_key, service_date, hcpcs, product_id, units, allowed_usd, paid_usd,
		patient_usd, imported_at FROM claims`)
	if err != nil {
		return nil, fmt.Errorf("store: claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var c Claim
		var sd, imp string
		if err := rows.Scan(&c.Client, &c.Key, &c.OrderKey, &sd, &c.HCPCS, &c.ProductID, &c.Units, &c.AllowedUSD, &c.PaidUSD,
			&c.PatientUSD, &imp); err != nil {
			return nil, fmt.Errorf("store: claim row: %w", err)
		}
		c.ServiceDate, c.ImportedAt = parseTS(sd), parseTS(imp)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: claims: %w", err)
	}
	return out, nil
}

// DecisionClients lists the clients whose decisions the store holds (at most limit of them):
// demo-traffic refuses to write generated decisions beside real ones.
func (s *SQLite) DecisionClients(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.rd.QueryContext(ctx, `SELECT DISTINCT client FROM decisions ORDER BY client LIMIT ?`, limit)
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

// AllowedBasisUntil implements PayerBasis (migration 00013).
func (s *SQLite) AllowedBasisUntil(ctx context.Context) (time.Time, error) {
	var until string
	if err := s.rd.QueryRowContext(ctx, `SELECT allowed_until FROM payer_basis WHERE id = 1`).Scan(&until); err != nil {
		return time.Time{}, fmt.Errorf("store: payer basis: %w", err)
	}
	if until == "" {
		return time.Time{}, nil
	}
	return parseTS(until), nil
}
