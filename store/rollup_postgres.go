package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// OrderOf returns the order of a decision's (client, order key) from the PostgreSQL rollup (the
// decision page's outcome); a decision without an order key is named "card:" + its uuid
// (OrderKeyOf), as on SQLite.
func (p *Postgres) OrderOf(ctx context.Context, client, orderKey string) (DecidedOrder, error) {
	if err := p.RefreshRollups(ctx); err != nil {
		return DecidedOrder{}, err
	}
	var o DecidedOrder
	var enc string
	err := p.pool.QueryRow(ctx, `SELECT offer_card, offer_at, record FROM rollup_orders WHERE client = $1 AND order_key = $2`, client, orderKey).
		Scan(&o.CardUUID, &o.CardAt, &enc)
	if errors.Is(err, pgx.ErrNoRows) {
		return DecidedOrder{}, ErrNotFound
	}
	if err != nil {
		return DecidedOrder{}, fmt.Errorf("store: order: %w", err)
	}
	if err := json.Unmarshal([]byte(enc), &o.OrderRecord); err != nil {
		return DecidedOrder{}, fmt.Errorf("store: order: %w", err)
	}
	o.CardAt = o.CardAt.UTC()
	return o, nil
}
