package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The SQLite side of the rollup (rollup.go; tables in migrations/sqlite/00006_rollup.sql).
// Folding runs in the writer's group commits, a bounded chunk per transaction, so a first fold of
// a large record (a million decisions after an upgrade) holds the writer for a fraction of a
// second at a time and hooks keep committing between chunks.

// rollupVersion names the shape of what the rollup stores: a file filled by another version is
// emptied and rebuilt from the record on the next read.
const rollupVersion = 11 // 11: an order overridden at its deciding card but switched by an earlier one keeps that card's reason code (AssembleOrders); 10: an order overridden at its later card and put back on another product stays overridden (AssembleOrders); 9: an order accepted at one card and overridden at a later one stays the accepted switch (chainOf, AssembleOrders); 8: a chain across a dose change counted at the deciding card's dose, options excluded but priced shifted, chains across price books and contracts on the deciding card's figures (chainOf, shift), a product given that the card had no price for realised unpriced; 7: chained acceptances counted from the product first ordered (AssembleOrders); 6: each order's savings booked in whole cents (CentsMicro); adoption by the product given; realised at the product paid for

// rollupChunk bounds the decisions, feedback items or queued orders one transaction folds
// (PostgreSQL; SQLite's is sqliteFoldChunk).
const rollupChunk = 1000

// sqliteFoldChunk bounds what one SQLite fold transaction takes. SQLite has one writer: hooks
// that commit while a chunk is being folded wait for it, so chunks are small (a chunk runs in a
// transaction of its own, committer.doAlone, never in the hooks' batch).
const sqliteFoldChunk = 250

var cubeCols = func() []string {
	c := []string{"cards", "no_card", "accepted", "overridden", "no_feedback", "on_best", "payer", "patient", "org"}
	for i := 0; i < reasonSlots; i++ {
		c = append(c, fmt.Sprintf("r%d", i))
	}
	for i := 0; i < reasonSlots; i++ {
		c = append(c, fmt.Sprintf("n%d", i))
	}
	return append(c, outcomeCols...)
}()

const cubeKeyCols = "cube, grain, period, month, client, contract, arrangement, family, prescriber, location"

var upsertCubeSQL = func() string {
	var set []string
	for _, c := range cubeCols {
		set = append(set, c+" = "+c+" + excluded."+c)
	}
	return `INSERT INTO rollup_cube (` + cubeKeyCols + `, ` + strings.Join(cubeCols, ", ") + `) VALUES (?` +
		strings.Repeat(",?", 9+len(cubeCols)) + `)
		ON CONFLICT (cube, grain, period, contract, arrangement, family, prescriber, location, client) DO UPDATE SET ` + strings.Join(set, ", ")
}()

const upsertOrderSQL = `INSERT INTO rollup_orders (client, order_key, first_at, offer_card, offer_at, contract_id, group_id,
	prescriber, location, record, div_key, div_in, figures) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
	ON CONFLICT (client, order_key) DO UPDATE SET first_at = excluded.first_at, offer_card = excluded.offer_card,
	offer_at = excluded.offer_at, contract_id = excluded.contract_id, group_id = excluded.group_id,
	prescriber = excluded.prescriber, location = excluded.location, record = excluded.record,
	div_key = excluded.div_key, div_in = excluded.div_in, figures = excluded.figures`

const pairCols = "cube, grain, period, month, client, contract, arrangement, family, prescriber, ffs, value_based, vb_arrangement"

const upsertPairSQL = `INSERT INTO rollup_divpairs (` + pairCols + `, orders, diverged, payer, org) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
	ON CONFLICT (cube, grain, period, contract, arrangement, family, prescriber, ffs, value_based, vb_arrangement, client) DO UPDATE SET
	orders = orders + excluded.orders, diverged = diverged + excluded.diverged, payer = payer + excluded.payer, org = org + excluded.org`

// orderKeyOf is the rollup's key of a decision's order.
func orderKeyOf(client, orderKey, card string) [2]string {
	if orderKey == "" {
		return [2]string{client, "card:" + card}
	}
	return [2]string{client, orderKey}
}

// RefreshRollups folds every decision, feedback item, import and divergence committed so far
// into the rollup.
func (s *SQLite) RefreshRollups(ctx context.Context) error {
	// Nothing new (the usual case on a page view): answered by a reader, the writer is not asked.
	var version, dSeen, fSeen, dMax, fMax int64
	var dirty bool
	err := s.rd.QueryRowContext(ctx, `SELECT version, decisions_seen, feedback_seen,
		COALESCE((SELECT MAX(rowid) FROM decisions), 0), COALESCE((SELECT MAX(rowid) FROM feedback), 0),
		EXISTS (SELECT 1 FROM rollup_dirty) OR EXISTS (SELECT 1 FROM rollup_divdirty)
		FROM rollup_state WHERE id = 1`).Scan(&version, &dSeen, &fSeen, &dMax, &fMax, &dirty)
	if err != nil {
		return fmt.Errorf("store: rollup state: %w", err)
	}
	if version == rollupVersion && dSeen >= dMax && fSeen >= fMax && !dirty {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: rollup refresh: %w", err)
		}
		done := false
		err := s.c.doAlone(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var err error
			done, err = s.foldChunk(ctx, tx)
			return err
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// foldChunk folds the next chunk: new decisions first, then new feedback, then queued orders;
// done when nothing was left.
func (s *SQLite) foldChunk(ctx context.Context, tx *sql.Tx) (done bool, err error) {
	var version, dSeen, fSeen int64
	if err := tx.QueryRowContext(ctx, `SELECT version, decisions_seen, feedback_seen FROM rollup_state WHERE id = 1`).
		Scan(&version, &dSeen, &fSeen); err != nil {
		return false, fmt.Errorf("store: rollup state: %w", err)
	}
	if version != rollupVersion {
		// Derived data of another shape: empty it; the record itself is untouched.
		for _, q := range []string{`DELETE FROM rollup_cube`, `DELETE FROM rollup_orders`, `DELETE FROM rollup_cards`,
			`DELETE FROM rollup_dirty`, `DELETE FROM rollup_slots`, `DELETE FROM rollup_divpairs`, `DELETE FROM rollup_divdirty`,
			`UPDATE rollup_state SET version = ` + fmt.Sprint(rollupVersion) + `, decisions_seen = 0, feedback_seen = 0`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return false, fmt.Errorf("store: rollup reset: %w", err)
			}
		}
		return false, nil
	}
	touched := map[[2]string]bool{}
	var order [][2]string
	touch := func(k [2]string) {
		if !touched[k] {
			touched[k] = true
			order = append(order, k)
		}
	}
	var dMax, fMax int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(rowid) FROM decisions), 0), COALESCE((SELECT MAX(rowid) FROM feedback), 0)`).
		Scan(&dMax, &fMax); err != nil {
		return false, fmt.Errorf("store: rollup: %w", err)
	}
	var fresh bool
	if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM rollup_orders)`).Scan(&fresh); err != nil {
		return false, fmt.Errorf("store: rollup: %w", err)
	}
	if fresh && dSeen == 0 && fSeen == 0 && dMax > 0 {
		// A first build (nothing folded yet; retention may also bring the marks down to 0, but
		// then the rollup holds orders whose deletion is queued): the pass over every decision assembles every order from all its rows as
		// they stand, so the feedback and the queued orders committed so far need no pass of their
		// own (what arrives from now on has a higher rowid or a new queue row).
		for _, q := range []string{`DELETE FROM rollup_dirty`, `DELETE FROM rollup_divdirty`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return false, fmt.Errorf("store: rollup queue: %w", err)
			}
		}
		fSeen = fMax
	}
	var dirtyMax int64
	switch {
	case dSeen < dMax:
		// New decisions: index them by order (rollup_cards) and assemble their orders again.
		upTo := min(dSeen+sqliteFoldChunk, dMax)
		rows, err := tx.QueryContext(ctx, `SELECT rowid, client, order_key, card_uuid FROM decisions WHERE rowid > ? AND rowid <= ? ORDER BY rowid`, dSeen, upTo)
		if err != nil {
			return false, fmt.Errorf("store: rollup decisions: %w", err)
		}
		type card struct {
			rowid int64
			key   [2]string
		}
		var cards []card
		for rows.Next() {
			var id int64
			var client, key, uuid string
			if err := rows.Scan(&id, &client, &key, &uuid); err != nil {
				rows.Close()
				return false, fmt.Errorf("store: rollup decisions: %w", err)
			}
			cards = append(cards, card{id, orderKeyOf(client, key, uuid)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("store: rollup decisions: %w", err)
		}
		ins, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO rollup_cards (client, order_key, dec_rowid) VALUES (?, ?, ?)`)
		if err != nil {
			return false, fmt.Errorf("store: rollup prepare: %w", err)
		}
		for _, c := range cards {
			if _, err := ins.ExecContext(ctx, c.key[0], c.key[1], c.rowid); err != nil {
				ins.Close()
				return false, fmt.Errorf("store: rollup cards: %w", err)
			}
			touch(c.key)
		}
		ins.Close()
		dSeen = upTo
	case fSeen < fMax:
		upTo := min(fSeen+sqliteFoldChunk, fMax)
		rows, err := tx.QueryContext(ctx, `SELECT client, order_key, card_uuid FROM feedback WHERE rowid > ? AND rowid <= ?`, fSeen, upTo)
		if err != nil {
			return false, fmt.Errorf("store: rollup feedback: %w", err)
		}
		for rows.Next() {
			var client, key, uuid string
			if err := rows.Scan(&client, &key, &uuid); err != nil {
				rows.Close()
				return false, fmt.Errorf("store: rollup feedback: %w", err)
			}
			touch(orderKeyOf(client, key, uuid))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("store: rollup feedback: %w", err)
		}
		fSeen = upTo
	default:
		rows, err := tx.QueryContext(ctx, `SELECT rowid, client, order_key FROM rollup_dirty ORDER BY rowid LIMIT ?`, sqliteFoldChunk)
		if err != nil {
			return false, fmt.Errorf("store: rollup queue: %w", err)
		}
		for rows.Next() {
			var client, key string
			if err := rows.Scan(&dirtyMax, &client, &key); err != nil {
				rows.Close()
				return false, fmt.Errorf("store: rollup queue: %w", err)
			}
			touch([2]string{client, key})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("store: rollup queue: %w", err)
		}
		if len(order) == 0 {
			return s.foldAnswers(ctx, tx)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM rollup_dirty WHERE rowid <= ?`, dirtyMax); err != nil {
			return false, fmt.Errorf("store: rollup queue: %w", err)
		}
	}
	if err := s.reassemble(ctx, tx, order); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rollup_state SET decisions_seen = ?, feedback_seen = ? WHERE id = 1`, dSeen, fSeen); err != nil {
		return false, fmt.Errorf("store: rollup state: %w", err)
	}
	return false, nil
}

// reassemble assembles each order of keys from its rows (AssembleOrders, as Orders does) and
// moves its contribution in the cubes when it changed. An order's divergence is that of its
// offering decision's request (answers by key, when stored).
func (s *SQLite) reassemble(ctx context.Context, tx *sql.Tx, keys [][2]string) error {
	slots, err := loadSlots(ctx, tx)
	if err != nil {
		return err
	}
	prep, done := txPrep(ctx, tx)
	defer done()
	answers := answerCache(ctx, prep)
	f := newFold(slots.slot)
	for _, k := range keys {
		old, oldFig, oldKey, oldIn, hadOld, err := s.storedOrder(ctx, prep, k)
		if err != nil {
			return err
		}
		rec, offer, ok, err := s.assembleOrder(ctx, prep, k)
		if err != nil {
			return err
		}
		var oldAns, newAns DivergenceState
		if hadOld && oldIn {
			var found bool
			if oldAns, found, err = answers(oldKey); err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%w: counted answers of an order are gone", ErrRollupUnavailable)
			}
		}
		newKey, newIn := "", false
		if ok {
			newKey = offer.Decision.DivergenceKey()
			if newAns, newIn, err = answers(newKey); err != nil {
				return err
			}
		}
		newFig := rec.OutcomeFigures()
		if hadOld && ok && sameContribution(old, oldFig, oldAns, rec, newFig, newAns, slots.slot) {
			// The figures did not move; the stored record may still (a signature, a claim).
		} else {
			if hadOld && !f.order(old, oldFig, oldAns, -1) {
				return ErrRollupUnavailable
			}
			if ok && !f.order(rec, newFig, newAns, +1) {
				return fmt.Errorf("%w: more than %d codes of one kind", ErrRollupUnavailable, reasonSlots)
			}
		}
		if !ok {
			if hadOld {
				del, err := prep(`DELETE FROM rollup_orders WHERE client = ? AND order_key = ?`)
				if err != nil {
					return err
				}
				if _, err := del.ExecContext(ctx, k[0], k[1]); err != nil {
					return fmt.Errorf("store: rollup order: %w", err)
				}
			}
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
		put, err := prep(upsertOrderSQL)
		if err != nil {
			return err
		}
		if _, err := put.ExecContext(ctx, k[0], k[1], ts(rec.FirstAt), offer.Decision.CardUUID, ts(offer.Decision.At), rec.ContractID,
			rec.GroupID, rec.Prescriber, rec.Location, string(enc), newKey, newIn, string(figEnc)); err != nil {
			return fmt.Errorf("store: rollup order: %w", err)
		}
	}
	if err := slots.save(ctx, tx); err != nil {
		return err
	}
	return writeFold(ctx, prep, f)
}

// foldAnswers adds the divergence of answers stored after their orders were folded: a chunk of
// queued keys (rollup_divdirty), each to the orders of that key that do not count it yet, without
// assembling them again. Done when the queue was empty.
func (s *SQLite) foldAnswers(ctx context.Context, tx *sql.Tx) (bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT rowid, req_key FROM rollup_divdirty ORDER BY rowid LIMIT ?`, sqliteFoldChunk)
	if err != nil {
		return false, fmt.Errorf("store: rollup divergence queue: %w", err)
	}
	var last int64
	var keys []string
	seen := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&last, &k); err != nil {
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
	slots, err := loadSlots(ctx, tx)
	if err != nil {
		return false, err
	}
	prep, done := txPrep(ctx, tx)
	defer done()
	answers := answerCache(ctx, prep)
	f := newFold(slots.slot)
	sel, err := prep(`SELECT client, order_key, record FROM rollup_orders WHERE div_key = ? AND div_key <> '' AND div_in = 0`)
	if err != nil {
		return false, err
	}
	mark, err := prep(`UPDATE rollup_orders SET div_in = 1 WHERE client = ? AND order_key = ?`)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		ans, ok, err := answers(k)
		if err != nil {
			return false, err
		}
		if !ok {
			continue // deleted since (retention): no order refers to them
		}
		rs, err := sel.QueryContext(ctx, k)
		if err != nil {
			return false, fmt.Errorf("store: rollup divergence: %w", err)
		}
		var marks [][2]string
		for rs.Next() {
			var o [2]string
			var enc string
			if err := rs.Scan(&o[0], &o[1], &enc); err != nil {
				rs.Close()
				return false, fmt.Errorf("store: rollup divergence: %w", err)
			}
			var r OrderRecord
			if err := json.Unmarshal([]byte(enc), &r); err != nil {
				rs.Close()
				return false, fmt.Errorf("store: rollup divergence: %w", err)
			}
			f.divergence(r, ans, +1)
			marks = append(marks, o)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return false, fmt.Errorf("store: rollup divergence: %w", err)
		}
		for _, o := range marks {
			if _, err := mark.ExecContext(ctx, o[0], o[1]); err != nil {
				return false, fmt.Errorf("store: rollup divergence: %w", err)
			}
		}
	}
	if err := writeFold(ctx, prep, f); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM rollup_divdirty WHERE rowid <= ?`, last); err != nil {
		return false, fmt.Errorf("store: rollup divergence queue: %w", err)
	}
	return false, nil
}

// txPrep prepares each statement once per transaction; done closes them.
func txPrep(ctx context.Context, tx *sql.Tx) (prepFunc, func()) {
	stmts := map[string]*sql.Stmt{}
	prep := func(q string) (*sql.Stmt, error) {
		if st := stmts[q]; st != nil {
			return st, nil
		}
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("store: rollup prepare: %w", err)
		}
		stmts[q] = st
		return st, nil
	}
	return prep, func() {
		for _, st := range stmts {
			st.Close()
		}
	}
}

// answerCache reads the divergence state of a key ("" has none), once per key and transaction;
// false when nothing is stored for it.
func answerCache(ctx context.Context, prep prepFunc) func(key string) (DivergenceState, bool, error) {
	type got struct {
		ds DivergenceState
		ok bool
	}
	cache := map[string]got{}
	return func(key string) (DivergenceState, bool, error) {
		if key == "" {
			return DivergenceState{}, false, nil
		}
		if g, ok := cache[key]; ok {
			return g.ds, g.ok, nil
		}
		st, err := prep(`SELECT answers, not_scored FROM divergence_answers WHERE req_key = ?`)
		if err != nil {
			return DivergenceState{}, false, err
		}
		var enc, ns string
		err = st.QueryRowContext(ctx, key).Scan(&enc, &ns)
		if errors.Is(err, sql.ErrNoRows) {
			cache[key] = got{}
			return DivergenceState{}, false, nil
		}
		if err != nil {
			return DivergenceState{}, false, fmt.Errorf("store: rollup divergence: %w", err)
		}
		var as []Answer
		if err := json.Unmarshal([]byte(enc), &as); err != nil {
			return DivergenceState{}, false, fmt.Errorf("store: rollup divergence: %w", err)
		}
		ds := DivergenceState{Answers: as, NotScored: ns}
		cache[key] = got{ds, true}
		return ds, true, nil
	}
}

// writeFold adds f's cells and pairs to the cubes (SQLite).
func writeFold(ctx context.Context, prep prepFunc, f *fold) error {
	up, err := prep(upsertCubeSQL)
	if err != nil {
		return err
	}
	args := make([]any, 0, 10+len(cubeCols))
	for k, c := range f.cells {
		args = append(args[:0], k.cube, k.grain, k.period, k.month, k.client, k.contract, k.arrangement, k.family, k.prescriber, k.location)
		for _, v := range c.values() {
			args = append(args, v)
		}
		if _, err := up.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("store: rollup cube: %w", err)
		}
	}
	if len(f.pairs) == 0 {
		return nil
	}
	pp, err := prep(upsertPairSQL)
	if err != nil {
		return err
	}
	for k, d := range f.pairs {
		if _, err := pp.ExecContext(ctx, k.cube, k.grain, k.period, k.month, k.client, k.contract, k.arrangement, k.family, k.prescriber,
			k.ffs, k.valueBased, k.vbArrangem, d.orders, d.diverged, d.payer, d.org); err != nil {
			return fmt.Errorf("store: rollup pairs: %w", err)
		}
	}
	return nil
}

type prepFunc func(q string) (*sql.Stmt, error)

// storedOrder is the record the rollup holds for order k, with its divergence key and whether
// that key's answers are counted.
func (s *SQLite) storedOrder(ctx context.Context, prep prepFunc, k [2]string) (rec OrderRecord, fig OutcomeSums, divKey string, divIn, ok bool, err error) {
	st, err := prep(`SELECT record, figures, div_key, div_in FROM rollup_orders WHERE client = ? AND order_key = ?`)
	if err != nil {
		return rec, fig, "", false, false, err
	}
	var enc, figEnc string
	err = st.QueryRowContext(ctx, k[0], k[1]).Scan(&enc, &figEnc, &divKey, &divIn)
	if errors.Is(err, sql.ErrNoRows) {
		return rec, fig, "", false, false, nil
	}
	if err != nil {
		return rec, fig, "", false, false, fmt.Errorf("store: rollup order: %w", err)
	}
	if err := json.Unmarshal([]byte(enc), &rec); err != nil {
		return rec, fig, "", false, false, fmt.Errorf("store: rollup order: %w", err)
	}
	if err := json.Unmarshal([]byte(figEnc), &fig); err != nil {
		return rec, fig, "", false, false, fmt.Errorf("store: rollup order figures: %w", err)
	}
	return rec, fig, divKey, divIn, true, nil
}

// assembleOrder reads order k's decisions (each with its latest feedback, as decisionRows reads
// them), administrations and claims, and assembles its record; ok is false when no
// decision of it is left (retention).
func (s *SQLite) assembleOrder(ctx context.Context, prep prepFunc, k [2]string) (OrderRecord, *DecisionRow, bool, error) {
	st, err := prep(`SELECT ` + decisionCols + `,
		COALESCE(f.outcome, ''), COALESCE(f.reason_code, ''), COALESCE(f.outcome_at, ''), COALESCE(f.received_at, ''),
		COALESCE(f.suggestion_uuid, '')
		FROM rollup_cards rc JOIN decisions d ON d.rowid = rc.dec_rowid
		LEFT JOIN feedback f ON f.rowid = (SELECT f2.rowid FROM feedback f2 WHERE f2.card_uuid = d.card_uuid
			ORDER BY f2.outcome_at DESC, f2.received_at DESC LIMIT 1)
		WHERE rc.client = ? AND rc.order_key = ?`)
	if err != nil {
		return OrderRecord{}, nil, false, err
	}
	rows, err := st.QueryContext(ctx, k[0], k[1])
	if err != nil {
		return OrderRecord{}, nil, false, fmt.Errorf("store: rollup assemble: %w", err)
	}
	var drs []DecisionRow
	for rows.Next() {
		var r DecisionRow
		var fbAt, fbRecv string
		dst, finish := scanDecision(&r.Decision)
		dst = append(dst, &r.Outcome, &r.ReasonCode, &fbAt, &fbRecv, &r.SuggestionUUID)
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return OrderRecord{}, nil, false, fmt.Errorf("store: rollup assemble: %w", err)
		}
		if err := finish(); err != nil {
			rows.Close()
			return OrderRecord{}, nil, false, err
		}
		r.FeedbackAt, r.FeedbackReceived = parseTS(fbAt), parseTS(fbRecv)
		drs = append(drs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return OrderRecord{}, nil, false, fmt.Errorf("store: rollup assemble: %w", err)
	}
	if len(drs) == 0 {
		return OrderRecord{}, nil, false, nil
	}
	var admins []Administration
	var claims []Claim
	if !strings.HasPrefix(k[1], "card:") {
		ast, err := prep(`SELECT client, admin_key, order_key, product_id, status, at, imported_at FROM administrations INDEXED BY administrations_order WHERE client = ? AND order_key = ?`)
		if err != nil {
			return OrderRecord{}, nil, false, err
		}
		ar, err := ast.QueryContext(ctx, k[0], k[1])
		if err != nil {
			return OrderRecord{}, nil, false, fmt.Errorf("store: rollup administrations: %w", err)
		}
		for ar.Next() {
			var a Administration
			var at, imp string
			if err := ar.Scan(&a.Client, &a.Key, &a.OrderKey, &a.ProductID, &a.Status, &at, &imp); err != nil {
				ar.Close()
				return OrderRecord{}, nil, false, fmt.Errorf("store: rollup administrations: %w", err)
			}
			a.At, a.ImportedAt = parseTS(at), parseTS(imp)
			admins = append(admins, a)
		}
		ar.Close()
		cst, err := prep(`SELECT client, claim_key, order_key, service_date, hcpcs, product_id, units, allowed_usd, paid_usd,
			patient_usd, imported_at FROM claims INDEXED BY claims_order WHERE client = ? AND order_key = ?`)
		if err != nil {
			return OrderRecord{}, nil, false, err
		}
		cr, err := cst.QueryContext(ctx, k[0], k[1])
		if err != nil {
			return OrderRecord{}, nil, false, fmt.Errorf("store: rollup claims: %w", err)
		}
		for cr.Next() {
			var c Claim
			var sd, imp string
			if err := cr.Scan(&c.Client, &c.Key, &c.OrderKey, &sd, &c.HCPCS, &c.ProductID, &c.Units, &c.AllowedUSD, &c.PaidUSD,
				&c.PatientUSD, &imp); err != nil {
				cr.Close()
				return OrderRecord{}, nil, false, fmt.Errorf("store: rollup claims: %w", err)
			}
			c.ServiceDate, c.ImportedAt = parseTS(sd), parseTS(imp)
			claims = append(claims, c)
		}
		cr.Close()
	}
	// No answers: the rollup's records and cubes hold no divergence (a divergence row changes no
	// order, store/divergence.go).
	recs := AssembleOrders(drs, admins, claims, nil, time.Time{}, time.Time{})
	if len(recs) != 1 {
		return OrderRecord{}, nil, false, fmt.Errorf("store: rollup: order assembled into %d records", len(recs))
	}
	return recs[0], offeringDecision(drs), true, nil
}

// slotTable is rollup_slots in memory for one transaction.
type slotTable struct {
	bySlot map[[2]string]int
	count  map[string]int
	added  map[[2]string]int
}

func loadSlots(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (*slotTable, error) {
	t := &slotTable{bySlot: map[[2]string]int{}, count: map[string]int{}, added: map[[2]string]int{}}
	rows, err := q.QueryContext(ctx, `SELECT kind, code, slot FROM rollup_slots`)
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

func (t *slotTable) slot(kind, code string) (int, bool) {
	k := [2]string{kind, code}
	if i, ok := t.bySlot[k]; ok {
		return i, true
	}
	if t.count[kind] >= reasonSlots {
		return 0, false
	}
	i := t.count[kind]
	t.count[kind]++
	t.bySlot[k], t.added[k] = i, i
	return i, true
}

// codes returns the code of each slot of kind ("" and false where unused).
func (t *slotTable) codes(kind string) ([reasonSlots]string, [reasonSlots]bool) {
	var codes [reasonSlots]string
	var used [reasonSlots]bool
	for k, i := range t.bySlot {
		if k[0] == kind {
			codes[i], used[i] = k[1], true
		}
	}
	return codes, used
}

func (t *slotTable) save(ctx context.Context, tx *sql.Tx) error {
	for k, slot := range t.added {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rollup_slots (kind, code, slot) VALUES (?, ?, ?)`, k[0], k[1], slot); err != nil {
			return fmt.Errorf("store: rollup slots: %w", err)
		}
	}
	t.added = map[[2]string]int{}
	return nil
}

// aggCols sums every measure of the cube.
var aggCols = func() string {
	var s []string
	for _, c := range cubeCols {
		s = append(s, "SUM("+c+")")
	}
	return strings.Join(s, ", ")
}()

// cubeRows returns the cells of cube selected by q's period and filters, summed per groupBy
// (columns of rollup_cube), each with its measures.
func (s *SQLite) cubeRows(ctx context.Context, cube int, q AggQuery, groupBy []string) ([]Aggregate, error) {
	plan, err := planPeriod(q.From, q.To)
	if err != nil || q.selectsNothing() {
		return nil, err
	}
	var where []string
	var fargs []any
	if q.Contract != "" {
		where, fargs = append(where, "contract = ?"), append(fargs, q.Contract)
	}
	if q.Family != "" {
		where, fargs = append(where, "family = ?"), append(fargs, q.Family)
	}
	if q.PrescriberFilter {
		where, fargs = append(where, "prescriber = ?"), append(fargs, q.Prescriber)
	}
	if q.clientsFilter() {
		where, fargs = append(where, "client IN (?"+strings.Repeat(",?", len(q.Clients)-1)+")"), append(fargs, anys(q.Clients)...)
	}
	filter := ""
	if len(where) > 0 {
		filter = " AND " + strings.Join(where, " AND ")
	}
	// Three ranges of the primary key (whole months, days before, days after), each an index range.
	var parts []string
	var args []any
	for _, r := range []struct {
		grain  int
		lo, hi int64
	}{{1, plan.m0, plan.m1}, {0, plan.d0, plan.d1}, {0, plan.d2, plan.d3}} {
		if r.lo >= r.hi {
			continue
		}
		parts = append(parts, `SELECT * FROM rollup_cube WHERE cube = ? AND grain = ? AND period >= ? AND period < ?`+filter)
		args = append(append(args, cube, r.grain, r.lo, r.hi), fargs...)
	}
	if len(parts) == 0 {
		return nil, nil
	}
	g := strings.Join(groupBy, ", ")
	query := `SELECT ` + g + `, ` + aggCols + ` FROM (` + strings.Join(parts, " UNION ALL ") + `) GROUP BY ` + g +
		` HAVING SUM(cards) != 0 OR SUM(no_card) != 0`
	slots, err := loadSlots(ctx, s.rd)
	if err != nil {
		return nil, err
	}
	rows, err := s.rd.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: rollup query: %w", err)
	}
	defer rows.Close()
	return scanAggregates(rows, groupBy, slots)
}

// FamilyMonths returns q's aggregates per (month, contract, arrangement, family).
func (s *SQLite) FamilyMonths(ctx context.Context, q AggQuery) ([]Aggregate, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	return s.cubeRows(ctx, familyMonthsCube(q), q, []string{"month", "contract", "arrangement", "family"})
}

// Prescribers returns q's aggregates per prescriber.
func (s *SQLite) Prescribers(ctx context.Context, q AggQuery) ([]Aggregate, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	return s.cubeRows(ctx, prescribersCube(q), q, []string{"client", "prescriber"})
}

// Locations returns q's aggregates per location.
func (s *SQLite) Locations(ctx context.Context, q AggQuery) ([]Aggregate, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	return s.cubeRows(ctx, locationsCube(q), q, []string{"client", "location"})
}

// DivergencePairs returns q's divergence pairs per (month, family, FFS, value-based contract).
func (s *SQLite) DivergencePairs(ctx context.Context, q AggQuery) ([]PairAggregate, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	plan, err := planPeriod(q.From, q.To)
	if err != nil || q.selectsNothing() {
		return nil, err
	}
	filter, fargs := "", []any{}
	if q.Contract != "" {
		filter, fargs = filter+" AND contract = ?", append(fargs, q.Contract)
	}
	if q.Family != "" {
		filter, fargs = filter+" AND family = ?", append(fargs, q.Family)
	}
	if q.PrescriberFilter {
		filter, fargs = filter+" AND prescriber = ?", append(fargs, q.Prescriber)
	}
	if q.clientsFilter() {
		filter, fargs = filter+" AND client IN (?"+strings.Repeat(",?", len(q.Clients)-1)+")", append(fargs, anys(q.Clients)...)
	}
	var parts []string
	var args []any
	for _, r := range plan.ranges() {
		parts = append(parts, `SELECT * FROM rollup_divpairs WHERE cube = ? AND grain = ? AND period >= ? AND period < ?`+filter)
		args = append(append(args, familyMonthsCube(q), r.grain, r.lo, r.hi), fargs...)
	}
	if len(parts) == 0 {
		return nil, nil
	}
	rows, err := s.rd.QueryContext(ctx, `SELECT `+pairSelect+` FROM (`+strings.Join(parts, " UNION ALL ")+`) GROUP BY `+pairGroup+
		` HAVING SUM(orders) != 0`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: rollup pairs: %w", err)
	}
	defer rows.Close()
	return scanPairs(rows)
}

// RecentOrders returns up to limit decided orders of q, newest first card first.
func (s *SQLite) RecentOrders(ctx context.Context, q AggQuery, offset, limit int) ([]DecidedOrder, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	if q.selectsNothing() {
		return nil, nil
	}
	where := []string{"1 = 1"}
	var args []any
	if !q.From.IsZero() {
		where, args = append(where, "first_at >= ?"), append(args, ts(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "first_at < ?"), append(args, ts(q.To))
	}
	if q.Contract != "" {
		where, args = append(where, "contract_id = ?"), append(args, q.Contract)
	}
	if q.Family != "" {
		where, args = append(where, "group_id = ?"), append(args, q.Family)
	}
	if q.PrescriberFilter {
		where, args = append(where, "prescriber = ?"), append(args, q.Prescriber)
	}
	if q.clientsFilter() {
		where, args = append(where, "client IN (?"+strings.Repeat(",?", len(q.Clients)-1)+")"), append(args, anys(q.Clients)...)
	}
	rows, err := s.rd.QueryContext(ctx, `SELECT offer_card, offer_at, record FROM rollup_orders WHERE `+strings.Join(where, " AND ")+
		` ORDER BY first_at DESC, offer_card LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("store: recent orders: %w", err)
	}
	defer rows.Close()
	var out []DecidedOrder
	for rows.Next() {
		var o DecidedOrder
		var at, enc string
		if err := rows.Scan(&o.CardUUID, &at, &enc); err != nil {
			return nil, fmt.Errorf("store: recent orders: %w", err)
		}
		if err := json.Unmarshal([]byte(enc), &o.OrderRecord); err != nil {
			return nil, fmt.Errorf("store: recent orders: %w", err)
		}
		o.CardAt = parseTS(at)
		out = append(out, o)
	}
	return out, rows.Err()
}

// OrderOf returns the order of a decision's (client, order key); a decision without an order key
// is an order of its own, named by its card (use "card:" + uuid).
func (s *SQLite) OrderOf(ctx context.Context, client, orderKey string) (DecidedOrder, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return DecidedOrder{}, err
	}
	var o DecidedOrder
	var at, enc string
	err := s.rd.QueryRowContext(ctx, `SELECT offer_card, offer_at, record FROM rollup_orders WHERE client = ? AND order_key = ?`, client, orderKey).
		Scan(&o.CardUUID, &at, &enc)
	if errors.Is(err, sql.ErrNoRows) {
		return DecidedOrder{}, ErrNotFound
	}
	if err != nil {
		return DecidedOrder{}, fmt.Errorf("store: order: %w", err)
	}
	if err := json.Unmarshal([]byte(enc), &o.OrderRecord); err != nil {
		return DecidedOrder{}, fmt.Errorf("store: order: %w", err)
	}
	o.CardAt = parseTS(at)
	return o, nil
}

// OrderKeyOf is the key OrderOf takes for a decision.
func OrderKeyOf(d Decision) string { return orderKeyOf(d.Client, d.OrderKey, d.CardUUID)[1] }

var _ Rollups = (*SQLite)(nil)

// anys is ss as query arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
