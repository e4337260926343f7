package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL side of the dashboard rollup (rollup.go; tables and triggers in
// migrations/postgres/00003_rollup.sql). The cubes, the order records and how an order moves in
// them are SQLite's (AssembleOrders, contribute, sameContribution); what differs is how changed
// orders are found: a trigger queues them in rollup_dirty inside the writing transaction, so an
// order is queued exactly when its row commits, whatever the commit order of concurrent
// transactions and instances. A refresh takes queued orders a chunk per transaction under an
// advisory lock (one instance at a time), assembles each again from its rows, and moves its
// contribution; assembling is idempotent, so an order queued twice is merely assembled twice.

// pgRollupVersion names the shape of what the PostgreSQL rollup stores: tables filled by another
// version are emptied and rebuilt from the record on the next read.
const pgRollupVersion = 10 // 10: an order overridden at its deciding card but switched by an earlier one keeps that card's reason code (AssembleOrders); 9: an order overridden at its later card and put back on another product stays overridden (AssembleOrders); 8: an order accepted at one card and overridden at a later one stays the accepted switch (chainOf, AssembleOrders); 7: a chain across a dose change counted at the deciding card's dose, options excluded but priced shifted, chains across price books and contracts on the deciding card's figures (chainOf, shift), a product given that the card had no price for realised unpriced; 6: chained acceptances counted from the product first ordered (AssembleOrders); 5: each order's savings booked in whole cents (CentsMicro); adoption by the product given; realised at the product paid for

// rollupLockID keys the advisory lock of a refresh ("vrxroll" in ASCII).
const rollupLockID = 0x767278726f6c6c

// RefreshRollups folds every decision, feedback item, import and divergence committed so far
// into the rollup.
func (p *Postgres) RefreshRollups(ctx context.Context) error {
	var version int
	var dirty bool
	if err := p.pool.QueryRow(ctx, `SELECT version, EXISTS (SELECT 1 FROM rollup_dirty) OR EXISTS (SELECT 1 FROM rollup_divdirty) FROM rollup_state WHERE id = 1`).
		Scan(&version, &dirty); err != nil {
		return fmt.Errorf("store: rollup state: %w", err)
	}
	if version == pgRollupVersion && !dirty {
		return nil // the usual page view: nothing new
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: rollup refresh: %w", err)
		}
		done, err := p.foldChunk(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// foldChunk assembles up to rollupChunk queued orders again in one transaction; done when the
// queue was empty.
func (p *Postgres) foldChunk(ctx context.Context) (done bool, err error) {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store: rollup: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(rollupLockID)); err != nil {
		return false, fmt.Errorf("store: rollup lock: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT version FROM rollup_state WHERE id = 1`).Scan(&version); err != nil {
		return false, fmt.Errorf("store: rollup state: %w", err)
	}
	if version != pgRollupVersion {
		// Derived data of another shape (or none yet): empty it and queue every decision.
		// rollup_dirty is emptied row by row, not truncated: TRUNCATE would block the hooks'
		// triggers until this transaction ends.
		for _, q := range []string{`TRUNCATE rollup_cube, rollup_orders, rollup_cards, rollup_slots, rollup_divpairs`, `DELETE FROM rollup_dirty`,
			`DELETE FROM rollup_divdirty`,
			`INSERT INTO rollup_dirty (client, order_key, card_uuid)
				SELECT client, CASE WHEN order_key = '' THEN 'card:' || card_uuid ELSE order_key END, card_uuid
				FROM decisions ORDER BY created_at`,
			fmt.Sprintf(`UPDATE rollup_state SET version = %d WHERE id = 1`, pgRollupVersion)} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return false, fmt.Errorf("store: rollup reset: %w", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return false, fmt.Errorf("store: rollup reset: %w", err)
		}
		return false, nil
	}
	rows, err := tx.Query(ctx, `DELETE FROM rollup_dirty WHERE id IN (SELECT id FROM rollup_dirty ORDER BY id LIMIT $1)
		RETURNING client, order_key, card_uuid`, rollupChunk)
	if err != nil {
		return false, fmt.Errorf("store: rollup queue: %w", err)
	}
	touched := map[[2]string]bool{}
	var keys [][2]string
	var cards [][3]string
	for rows.Next() {
		var client, key string
		var card *string
		if err := rows.Scan(&client, &key, &card); err != nil {
			rows.Close()
			return false, fmt.Errorf("store: rollup queue: %w", err)
		}
		k := [2]string{client, key}
		if !touched[k] {
			touched[k] = true
			keys = append(keys, k)
		}
		if card != nil {
			cards = append(cards, [3]string{client, key, *card})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("store: rollup queue: %w", err)
	}
	if len(keys) == 0 {
		done, err := p.foldAnswers(ctx, tx)
		if err != nil {
			return false, err
		}
		return done, tx.Commit(ctx)
	}
	if len(cards) > 0 {
		var b pgx.Batch
		for _, c := range cards {
			b.Queue(`INSERT INTO rollup_cards (client, order_key, card_uuid) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, c[0], c[1], c[2])
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return false, fmt.Errorf("store: rollup cards: %w", err)
		}
	}
	if err := p.reassemble(ctx, tx, keys); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("store: rollup commit: %w", err)
	}
	return false, nil
}

// reassemble assembles each order of keys from its rows and moves its contribution in the cubes
// when it changed (as SQLite.reassemble).
func (p *Postgres) reassemble(ctx context.Context, tx pgx.Tx, keys [][2]string) error {
	slots, err := pgLoadSlots(ctx, tx)
	if err != nil {
		return err
	}
	stored, err := pgStoredOrders(ctx, tx, keys)
	if err != nil {
		return err
	}
	assembled, err := pgAssembleOrders(ctx, tx, keys)
	if err != nil {
		return err
	}
	var divKeys []string
	for _, k := range keys {
		if o, ok := stored[k]; ok && o.divIn {
			divKeys = append(divKeys, o.divKey)
		}
		if a, ok := assembled[k]; ok {
			if dk := a.offer.Decision.DivergenceKey(); dk != "" {
				divKeys = append(divKeys, dk)
			}
		}
	}
	answers, err := pgAnswers(ctx, tx, divKeys)
	if err != nil {
		return err
	}
	f := newFold(slots.slot)
	var writes pgx.Batch
	var up orderRows
	var gone [][2]string
	for _, k := range keys {
		so, hadOld := stored[k]
		old := so.rec
		a, ok := assembled[k]
		rec, offer := a.rec, a.offer
		var oldAns, newAns DivergenceState
		if hadOld && so.divIn {
			var found bool
			if oldAns, found = answers[so.divKey]; !found {
				return fmt.Errorf("%w: counted answers of an order are gone", ErrRollupUnavailable)
			}
		}
		newKey, newIn := "", false
		if ok {
			newKey = offer.Decision.DivergenceKey()
			newAns, newIn = answers[newKey]
		}
		newFig := rec.OutcomeFigures()
		if !(hadOld && ok && sameContribution(old, so.fig, oldAns, rec, newFig, newAns, slots.slot)) {
			if hadOld && !f.order(old, so.fig, oldAns, -1) {
				return ErrRollupUnavailable
			}
			if ok && !f.order(rec, newFig, newAns, +1) {
				return fmt.Errorf("%w: more than %d codes of one kind", ErrRollupUnavailable, reasonSlots)
			}
		}
		if !ok {
			gone = append(gone, k)
			continue
		}
		stored := rec
		stored.Options, stored.Answers = nil, nil
		enc, err := json.Marshal(stored)
		if err != nil {
			return fmt.Errorf("store: rollup order: %w", err)
		}
		figEnc, err := json.Marshal(newFig)
		if err != nil {
			return fmt.Errorf("store: rollup order: %w", err)
		}
		up.add(k, rec, offer, string(enc), newKey, newIn, string(figEnc))
	}
	if len(gone) > 0 {
		cl, ok := keyArrays(gone)
		writes.Queue(chunkKeys+` DELETE FROM rollup_orders ro USING k WHERE ro.client = k.client AND ro.order_key = k.order_key`, cl, ok)
		writes.Queue(chunkKeys+` DELETE FROM rollup_cards rc USING k WHERE rc.client = k.client AND rc.order_key = k.order_key`, cl, ok)
	}
	if len(up.client) > 0 {
		writes.Queue(pgUpsertOrdersSQL, up.client, up.key, up.firstAt, up.offerCard, up.offerAt, up.contract, up.group, up.prescriber,
			up.location, up.record, up.divKey, up.divIn, up.fig)
	}
	for k, slot := range slots.added {
		writes.Queue(`INSERT INTO rollup_slots (kind, code, slot) VALUES ($1, $2, $3)`, k[0], k[1], slot)
	}
	queueFold(&writes, f)
	if writes.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &writes).Close(); err != nil {
		return fmt.Errorf("store: rollup write: %w", err)
	}
	return nil
}

// orderRows are the rollup_orders rows of a chunk as column arrays: one upsert statement for all.
type orderRows struct {
	client, key, offerCard, contract, group, prescriber, location, record, divKey, fig []string
	firstAt, offerAt                                                                   []time.Time
	divIn                                                                              []bool
}

func (r *orderRows) add(k [2]string, rec OrderRecord, offer *DecisionRow, enc, divKey string, divIn bool, fig string) {
	r.divKey, r.divIn, r.fig = append(r.divKey, divKey), append(r.divIn, divIn), append(r.fig, fig)
	r.client, r.key = append(r.client, k[0]), append(r.key, k[1])
	r.firstAt, r.offerCard, r.offerAt = append(r.firstAt, rec.FirstAt.UTC()), append(r.offerCard, offer.Decision.CardUUID), append(r.offerAt, offer.Decision.At.UTC())
	r.contract, r.group, r.prescriber = append(r.contract, rec.ContractID), append(r.group, rec.GroupID), append(r.prescriber, rec.Prescriber)
	r.location, r.record = append(r.location, rec.Location), append(r.record, enc)
}

const pgUpsertOrdersSQL = `INSERT INTO rollup_orders (client, order_key, first_at, offer_card, offer_at, contract_id, group_id,
	prescriber, location, record, div_key, div_in, figures)
	SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::boolean[], $13::text[])
	ON CONFLICT (client, order_key) DO UPDATE SET first_at = EXCLUDED.first_at, offer_card = EXCLUDED.offer_card,
	offer_at = EXCLUDED.offer_at, contract_id = EXCLUDED.contract_id, group_id = EXCLUDED.group_id,
	prescriber = EXCLUDED.prescriber, location = EXCLUDED.location, record = EXCLUDED.record,
	div_key = EXCLUDED.div_key, div_in = EXCLUDED.div_in, figures = EXCLUDED.figures`

// pgUpsertCubesSQL adds the deltas of many cells (one element of each array per cell) to the
// cube in one statement; a chunk's cells are distinct, as ON CONFLICT DO UPDATE requires.
var pgUpsertCubesSQL = func() string {
	var set []string
	for _, c := range cubeCols {
		set = append(set, c+" = rollup_cube."+c+" + EXCLUDED."+c)
	}
	types := []string{"int", "int", "bigint", "bigint", "text", "text", "text", "text", "text", "text"}
	for range cubeCols {
		types = append(types, "bigint")
	}
	ph := make([]string, len(types))
	for i, ty := range types {
		ph[i] = fmt.Sprintf("$%d::%s[]", i+1, ty)
	}
	return `INSERT INTO rollup_cube (` + cubeKeyCols + `, ` + strings.Join(cubeCols, ", ") + `) SELECT * FROM unnest(` +
		strings.Join(ph, ", ") + `)
		ON CONFLICT (cube, grain, period, contract, arrangement, family, prescriber, location, client) DO UPDATE SET ` + strings.Join(set, ", ")
}()

// cubeArgs are the column arrays of pgUpsertCubesSQL.
func cubeArgs(cells map[cubeKey]*cubeDelta) []any {
	n := len(cells)
	cube, grain := make([]int32, 0, n), make([]int32, 0, n)
	period, month := make([]int64, 0, n), make([]int64, 0, n)
	text := make([][]string, 6)
	meas := make([][]int64, len(cubeCols))
	for k, c := range cells {
		cube, grain = append(cube, int32(k.cube)), append(grain, int32(k.grain))
		period, month = append(period, k.period), append(month, k.month)
		for i, v := range []string{k.client, k.contract, k.arrangement, k.family, k.prescriber, k.location} {
			text[i] = append(text[i], v)
		}
		for i, v := range c.values() {
			meas[i] = append(meas[i], v)
		}
	}
	args := []any{cube, grain, period, month}
	for _, t := range text {
		args = append(args, t)
	}
	for _, m := range meas {
		args = append(args, m)
	}
	return args
}

// keyArrays are keys as the two text arrays the chunk queries unnest.
func keyArrays(keys [][2]string) (clients, orderKeys []string) {
	for _, k := range keys {
		clients, orderKeys = append(clients, k[0]), append(orderKeys, k[1])
	}
	return clients, orderKeys
}

const chunkKeys = `WITH k (client, order_key) AS (SELECT * FROM unnest($1::text[], $2::text[]))`

// storedRollupOrder is a record the rollup holds, with its divergence key and whether that key's
// answers are counted.
type storedRollupOrder struct {
	rec    OrderRecord
	fig    OutcomeSums
	divKey string
	divIn  bool
}

// pgStoredOrders reads the records the rollup holds for keys, in one query.
func pgStoredOrders(ctx context.Context, tx pgx.Tx, keys [][2]string) (map[[2]string]storedRollupOrder, error) {
	cl, ok := keyArrays(keys)
	rows, err := tx.Query(ctx, chunkKeys+` SELECT ro.client, ro.order_key, ro.record, ro.figures, ro.div_key, ro.div_in FROM rollup_orders ro JOIN k USING (client, order_key)`, cl, ok)
	if err != nil {
		return nil, fmt.Errorf("store: rollup orders: %w", err)
	}
	defer rows.Close()
	out := map[[2]string]storedRollupOrder{}
	for rows.Next() {
		var k [2]string
		var enc, figEnc string
		var so storedRollupOrder
		if err := rows.Scan(&k[0], &k[1], &enc, &figEnc, &so.divKey, &so.divIn); err != nil {
			return nil, fmt.Errorf("store: rollup orders: %w", err)
		}
		if err := json.Unmarshal([]byte(enc), &so.rec); err != nil {
			return nil, fmt.Errorf("store: rollup order: %w", err)
		}
		if err := json.Unmarshal([]byte(figEnc), &so.fig); err != nil {
			return nil, fmt.Errorf("store: rollup order figures: %w", err)
		}
		out[k] = so
	}
	return out, rows.Err()
}

// pgAnswers reads the stored answers of keys (those without are absent).
func pgAnswers(ctx context.Context, tx pgx.Tx, keys []string) (map[string]DivergenceState, error) {
	if len(keys) == 0 {
		return map[string]DivergenceState{}, nil
	}
	rows, err := tx.Query(ctx, `SELECT req_key, answers::text, not_scored FROM divergence_answers WHERE req_key = ANY($1)`, keys)
	if err != nil {
		return nil, fmt.Errorf("store: rollup divergence: %w", err)
	}
	defer rows.Close()
	return collectAnswers(rows)
}

// foldAnswers adds the divergence of answers stored after their orders were folded (as
// SQLite.foldAnswers): a chunk of queued keys, each to the orders of that key not counting it yet.
func (p *Postgres) foldAnswers(ctx context.Context, tx pgx.Tx) (bool, error) {
	rows, err := tx.Query(ctx, `DELETE FROM rollup_divdirty WHERE id IN (SELECT id FROM rollup_divdirty ORDER BY id LIMIT $1) RETURNING req_key`, rollupChunk)
	if err != nil {
		return false, fmt.Errorf("store: rollup divergence queue: %w", err)
	}
	var keys []string
	seen := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return false, fmt.Errorf("store: rollup divergence queue: %w", err)
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("store: rollup divergence queue: %w", err)
	}
	if len(keys) == 0 {
		return true, nil
	}
	answers, err := pgAnswers(ctx, tx, keys)
	if err != nil {
		return false, err
	}
	slots, err := pgLoadSlots(ctx, tx)
	if err != nil {
		return false, err
	}
	f := newFold(slots.slot)
	or, err := tx.Query(ctx, `UPDATE rollup_orders SET div_in = true WHERE div_key = ANY($1) AND div_key <> '' AND NOT div_in
		AND div_key IN (SELECT req_key FROM divergence_answers WHERE req_key = ANY($1)) RETURNING div_key, record`, keys)
	if err != nil {
		return false, fmt.Errorf("store: rollup divergence: %w", err)
	}
	for or.Next() {
		var k, enc string
		if err := or.Scan(&k, &enc); err != nil {
			or.Close()
			return false, fmt.Errorf("store: rollup divergence: %w", err)
		}
		var r OrderRecord
		if err := json.Unmarshal([]byte(enc), &r); err != nil {
			or.Close()
			return false, fmt.Errorf("store: rollup divergence: %w", err)
		}
		f.divergence(r, answers[k], +1)
	}
	or.Close()
	if err := or.Err(); err != nil {
		return false, fmt.Errorf("store: rollup divergence: %w", err)
	}
	var writes pgx.Batch
	queueFold(&writes, f)
	if writes.Len() > 0 {
		if err := tx.SendBatch(ctx, &writes).Close(); err != nil {
			return false, fmt.Errorf("store: rollup write: %w", err)
		}
	}
	return false, nil
}

// queueFold queues f's cube cells and pairs (one statement each).
func queueFold(b *pgx.Batch, f *fold) {
	if len(f.cells) > 0 {
		b.Queue(pgUpsertCubesSQL, cubeArgs(f.cells)...)
	}
	if len(f.pairs) == 0 {
		return
	}
	n := len(f.pairs)
	cube, grain := make([]int32, 0, n), make([]int32, 0, n)
	period, month := make([]int64, 0, n), make([]int64, 0, n)
	text := make([][]string, 8)
	meas := make([][]int64, 4)
	for k, d := range f.pairs {
		cube, grain = append(cube, int32(k.cube)), append(grain, int32(k.grain))
		period, month = append(period, k.period), append(month, k.month)
		for i, v := range []string{k.client, k.contract, k.arrangement, k.family, k.prescriber, k.ffs, k.valueBased, k.vbArrangem} {
			text[i] = append(text[i], v)
		}
		for i, v := range []int64{d.orders, d.diverged, d.payer, d.org} {
			meas[i] = append(meas[i], v)
		}
	}
	args := []any{cube, grain, period, month}
	for _, t := range text {
		args = append(args, t)
	}
	for _, m := range meas {
		args = append(args, m)
	}
	b.Queue(pgUpsertPairsSQL, args...)
}

const pgUpsertPairsSQL = `INSERT INTO rollup_divpairs (cube, grain, period, month, client, contract, arrangement, family, prescriber, ffs,
	value_based, vb_arrangement, orders, diverged, payer, org)
	SELECT * FROM unnest($1::int[], $2::int[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
		$10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[])
	ON CONFLICT (cube, grain, period, contract, arrangement, family, prescriber, ffs, value_based, vb_arrangement, client) DO UPDATE SET
	orders = rollup_divpairs.orders + EXCLUDED.orders, diverged = rollup_divpairs.diverged + EXCLUDED.diverged,
	payer = rollup_divpairs.payer + EXCLUDED.payer, org = rollup_divpairs.org + EXCLUDED.org`

// assembledOrder is an order's record and its offering decision.
type assembledOrder struct {
	rec   OrderRecord
	offer *DecisionRow
}

// pgAssembleOrders reads the decisions (each with its latest feedback),
// administrations and claims of keys, one query each for the whole chunk, and assembles each
// order's record; an order without a decision left (retention) is absent.
func pgAssembleOrders(ctx context.Context, tx pgx.Tx, keys [][2]string) (map[[2]string]assembledOrder, error) {
	cl, ok := keyArrays(keys)
	rows, err := tx.Query(ctx, chunkKeys+` SELECT rc.client, rc.order_key, `+pgDecisionCols+`,
		COALESCE(f.outcome, ''), COALESCE(f.reason_code, ''), f.outcome_at, f.received_at, COALESCE(f.suggestion_uuid, '')
		FROM k JOIN rollup_cards rc USING (client, order_key)
		JOIN decisions d ON d.card_uuid = rc.card_uuid
		LEFT JOIN LATERAL (SELECT outcome, reason_code, suggestion_uuid, outcome_at, received_at FROM feedback f2
			WHERE f2.card_uuid = d.card_uuid ORDER BY f2.outcome_at DESC, f2.received_at DESC LIMIT 1) f ON true`, cl, ok)
	if err != nil {
		return nil, fmt.Errorf("store: rollup assemble: %w", err)
	}
	drs := map[[2]string][]DecisionRow{}
	for rows.Next() {
		var k [2]string
		var r DecisionRow
		var fbAt, fbRecv *time.Time
		dst, finish := pgScanDecision(&r.Decision)
		dst = append([]any{&k[0], &k[1]}, dst...)
		dst = append(dst, &r.Outcome, &r.ReasonCode, &fbAt, &fbRecv, &r.SuggestionUUID)
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: rollup assemble: %w", err)
		}
		if err := finish(); err != nil {
			rows.Close()
			return nil, err
		}
		if fbAt != nil {
			r.FeedbackAt = fbAt.UTC()
		}
		if fbRecv != nil {
			r.FeedbackReceived = fbRecv.UTC()
		}
		drs[k] = append(drs[k], r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rollup assemble: %w", err)
	}
	admins := map[[2]string][]Administration{}
	ar, err := tx.Query(ctx, chunkKeys+` SELECT a.client, a.admin_key, a.order_key, a.product_id, a.status, a.at, a.imported_at
		FROM k JOIN administrations a USING (client, order_key)`, cl, ok)
	if err != nil {
		return nil, fmt.Errorf("store: rollup administrations: %w", err)
	}
	for ar.Next() {
		var a Administration
		if err := ar.Scan(&a.Client, &a.Key, &a.OrderKey, &a.ProductID, &a.Status, &a.At, &a.ImportedAt); err != nil {
			ar.Close()
			return nil, fmt.Errorf("store: rollup administrations: %w", err)
		}
		a.At, a.ImportedAt = a.At.UTC(), a.ImportedAt.UTC()
		k := [2]string{a.Client, a.OrderKey}
		admins[k] = append(admins[k], a)
	}
	ar.Close()
	if err := ar.Err(); err != nil {
		return nil, fmt.Errorf("store: rollup administrations: %w", err)
	}
	claims := map[[2]string][]Claim{}
	cr, err := tx.Query(ctx, chunkKeys+` SELECT c.client, c.claim_key, c.order_key, c.service_date, c.hcpcs, c.product_id, c.units,
		c.allowed_usd, c.paid_usd, c.patient_usd, c.imported_at FROM k JOIN claims c USING (client, order_key)`, cl, ok)
	if err != nil {
		return nil, fmt.Errorf("store: rollup claims: %w", err)
	}
	for cr.Next() {
		var c Claim
		if err := cr.Scan(&c.Client, &c.Key, &c.OrderKey, &c.ServiceDate, &c.HCPCS, &c.ProductID, &c.Units, &c.AllowedUSD, &c.PaidUSD,
			&c.PatientUSD, &c.ImportedAt); err != nil {
			cr.Close()
			return nil, fmt.Errorf("store: rollup claims: %w", err)
		}
		c.ServiceDate, c.ImportedAt = c.ServiceDate.UTC(), c.ImportedAt.UTC()
		k := [2]string{c.Client, c.OrderKey}
		claims[k] = append(claims[k], c)
	}
	cr.Close()
	if err := cr.Err(); err != nil {
		return nil, fmt.Errorf("store: rollup claims: %w", err)
	}
	out := map[[2]string]assembledOrder{}
	for k, rs := range drs {
		var as []Administration
		var cs []Claim
		if !strings.HasPrefix(k[1], "card:") {
			as, cs = admins[k], claims[k]
		}
		recs := AssembleOrders(rs, as, cs, nil, time.Time{}, time.Time{})
		if len(recs) != 1 {
			return nil, fmt.Errorf("store: rollup: order assembled into %d records", len(recs))
		}
		out[k] = assembledOrder{rec: recs[0], offer: offeringDecision(rs)}
	}
	return out, nil
}

// pgLoadSlots reads rollup_slots for one transaction (or a reader: q is the pool).
func pgLoadSlots(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (*slotTable, error) {
	t := &slotTable{bySlot: map[[2]string]int{}, count: map[string]int{}, added: map[[2]string]int{}}
	rows, err := q.Query(ctx, `SELECT kind, code, slot FROM rollup_slots`)
	if err != nil {
		return nil, fmt.Errorf("store: rollup slots: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, code string
		var slot int
		if err := rows.Scan(&kind, &code, &slot); err != nil {
			return nil, fmt.Errorf("store: rollup slots: %w", err)
		}
		t.bySlot[[2]string{kind, code}] = slot
		t.count[kind]++
	}
	return t, rows.Err()
}

// cubeRows returns the cells of cube selected by q's period and filters, summed per groupBy
// (columns of rollup_cube), each with its measures (as SQLite.cubeRows).
func (p *Postgres) cubeRows(ctx context.Context, cube int, q AggQuery, groupBy []string) ([]Aggregate, error) {
	plan, err := planPeriod(q.From, q.To)
	if err != nil || q.selectsNothing() {
		return nil, err
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var filter string
	if q.Contract != "" {
		filter += " AND contract = " + arg(q.Contract)
	}
	if q.Family != "" {
		filter += " AND family = " + arg(q.Family)
	}
	if q.PrescriberFilter {
		filter += " AND prescriber = " + arg(q.Prescriber)
	}
	if q.clientsFilter() {
		filter += " AND client = ANY(" + arg(q.Clients) + ")"
	}
	var ranges []string
	for _, r := range []struct {
		grain  int
		lo, hi int64
	}{{1, plan.m0, plan.m1}, {0, plan.d0, plan.d1}, {0, plan.d2, plan.d3}} {
		if r.lo >= r.hi {
			continue
		}
		ranges = append(ranges, "(grain = "+arg(r.grain)+" AND period >= "+arg(r.lo)+" AND period < "+arg(r.hi)+")")
	}
	if len(ranges) == 0 {
		return nil, nil
	}
	g := strings.Join(groupBy, ", ")
	query := `SELECT ` + g + `, ` + aggCols + ` FROM rollup_cube WHERE cube = ` + arg(cube) + ` AND (` + strings.Join(ranges, " OR ") + `)` +
		filter + ` GROUP BY ` + g + ` HAVING SUM(cards) != 0 OR SUM(no_card) != 0`
	slots, err := pgLoadSlots(ctx, p.pool)
	if err != nil {
		return nil, err
	}
	rows, err := p.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: rollup query: %w", err)
	}
	defer rows.Close()
	return scanAggregates(rows, groupBy, slots)
}

// FamilyMonths returns q's aggregates per (month, contract, arrangement, family).
func (p *Postgres) FamilyMonths(ctx context.Context, q AggQuery) ([]Aggregate, error) {
	if err := p.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	return p.cubeRows(ctx, familyMonthsCube(q), q, []string{"month", "contract", "arrangement", "family"})
}

// Prescribers returns q's aggregates per prescriber.
func (p *Postgres) Prescribers(ctx context.Context, q AggQuery) ([]Aggregate, error) {
	if err := p.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	return p.cubeRows(ctx, prescribersCube(q), q, []string{"client", "prescriber"})
}

// Locations returns q's aggregates per location.
func (p *Postgres) Locations(ctx context.Context, q AggQuery) ([]Aggregate, error) {
	if err := p.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	return p.cubeRows(ctx, locationsCube(q), q, []string{"client", "location"})
}

// DivergencePairs returns q's divergence pairs per (month, family, FFS, value-based contract).
func (p *Postgres) DivergencePairs(ctx context.Context, q AggQuery) ([]PairAggregate, error) {
	if err := p.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	plan, err := planPeriod(q.From, q.To)
	if err != nil || q.selectsNothing() {
		return nil, err
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var filter string
	if q.Contract != "" {
		filter += " AND contract = " + arg(q.Contract)
	}
	if q.Family != "" {
		filter += " AND family = " + arg(q.Family)
	}
	if q.PrescriberFilter {
		filter += " AND prescriber = " + arg(q.Prescriber)
	}
	if q.clientsFilter() {
		filter += " AND client = ANY(" + arg(q.Clients) + ")"
	}
	var ranges []string
	for _, r := range plan.ranges() {
		ranges = append(ranges, "(grain = "+arg(r.grain)+" AND period >= "+arg(r.lo)+" AND period < "+arg(r.hi)+")")
	}
	if len(ranges) == 0 {
		return nil, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT `+pairSelect+` FROM rollup_divpairs WHERE cube = `+arg(familyMonthsCube(q))+` AND (`+
		strings.Join(ranges, " OR ")+`)`+filter+` GROUP BY `+pairGroup+` HAVING SUM(orders) != 0`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: rollup pairs: %w", err)
	}
	defer rows.Close()
	return scanPairs(rows)
}

// RecentOrders returns up to limit decided orders of q, newest first card first.
func (p *Postgres) RecentOrders(ctx context.Context, q AggQuery, offset, limit int) ([]DecidedOrder, error) {
	if err := p.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	if q.selectsNothing() {
		return nil, nil
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := "true"
	if !q.From.IsZero() {
		where += " AND first_at >= " + arg(q.From.UTC())
	}
	if !q.To.IsZero() {
		where += " AND first_at < " + arg(q.To.UTC())
	}
	if q.Contract != "" {
		where += " AND contract_id = " + arg(q.Contract)
	}
	if q.Family != "" {
		where += " AND group_id = " + arg(q.Family)
	}
	if q.PrescriberFilter {
		where += " AND prescriber = " + arg(q.Prescriber)
	}
	if q.clientsFilter() {
		where += " AND client = ANY(" + arg(q.Clients) + ")"
	}
	rows, err := p.pool.Query(ctx, `SELECT offer_card, offer_at, record FROM rollup_orders WHERE `+where+
		` ORDER BY first_at DESC, offer_card LIMIT `+arg(limit)+` OFFSET `+arg(offset), args...)
	if err != nil {
		return nil, fmt.Errorf("store: recent orders: %w", err)
	}
	defer rows.Close()
	var out []DecidedOrder
	for rows.Next() {
		var o DecidedOrder
		var enc string
		if err := rows.Scan(&o.CardUUID, &o.CardAt, &enc); err != nil {
			return nil, fmt.Errorf("store: recent orders: %w", err)
		}
		if err := json.Unmarshal([]byte(enc), &o.OrderRecord); err != nil {
			return nil, fmt.Errorf("store: recent orders: %w", err)
		}
		o.CardAt = o.CardAt.UTC()
		out = append(out, o)
	}
	return out, rows.Err()
}

var _ Rollups = (*Postgres)(nil)

// ResetRollups empties the rollup; the next read rebuilds it from the record (an operator's
// repair, and the tests' reference).
func (p *Postgres) ResetRollups(ctx context.Context) error {
	if _, err := p.pool.Exec(ctx, `UPDATE rollup_state SET version = 0 WHERE id = 1`); err != nil {
		return fmt.Errorf("store: rollup reset: %w", err)
	}
	return nil
}
