package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The SQLite side of the rollup (rollup.go; tables in migrations/sqlite/00006_rollup.sql).
// Folding runs in the writer's group commits, a bounded chunk per transaction, so a first fold of
// a large record (a million decisions after an upgrade) holds the writer for a fraction of a
// second at a time and hooks keep committing between chunks.

// rollupChunk bounds the rows folded in one transaction.
const rollupChunk = 4000

var cubeCols = []string{"cards", "accepted", "overridden", "no_feedback", "on_best", "payer", "patient", "org",
	"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

var upsertCubeSQL = func() string {
	var set []string
	for _, c := range cubeCols {
		set = append(set, c+" = "+c+" + excluded."+c)
	}
	return `INSERT INTO rollup_cube (cube, grain, period, month, contract, arrangement, family, prescriber, ` +
		strings.Join(cubeCols, ", ") + `) VALUES (?,?,?,?,?,?,?,?` + strings.Repeat(",?", len(cubeCols)) + `)
		ON CONFLICT (cube, grain, period, contract, arrangement, family, prescriber) DO UPDATE SET ` + strings.Join(set, ", ")
}()

const upsertOrderSQL = `INSERT INTO rollup_orders (client, order_key, first_at, card_uuid, card_at, has_fb, fb_at, fb_recv,
	service_id, contract_id, arrangement, group_id, ordered_product, best_product, prescriber, outcome, reason_code,
	accepted_product, payer, patient, org) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
	ON CONFLICT (client, order_key) DO UPDATE SET first_at = excluded.first_at, card_uuid = excluded.card_uuid,
	card_at = excluded.card_at, has_fb = excluded.has_fb, fb_at = excluded.fb_at, fb_recv = excluded.fb_recv,
	service_id = excluded.service_id, contract_id = excluded.contract_id, arrangement = excluded.arrangement,
	group_id = excluded.group_id, ordered_product = excluded.ordered_product, best_product = excluded.best_product,
	prescriber = excluded.prescriber, outcome = excluded.outcome, reason_code = excluded.reason_code,
	accepted_product = excluded.accepted_product, payer = excluded.payer, patient = excluded.patient, org = excluded.org`

const orderStateCols = `client, order_key, first_at, card_uuid, card_at, has_fb, fb_at, fb_recv, service_id, contract_id,
	arrangement, group_id, ordered_product, best_product, prescriber, outcome, reason_code, accepted_product, payer, patient, org`

func scanOrderState(sc interface{ Scan(...any) error }) (*orderState, error) {
	var st orderState
	var first, cardAt, fbAt, fbRecv string
	r := &st.rec
	if err := sc.Scan(&st.client, &st.key, &first, &st.card, &cardAt, &st.hasFB, &fbAt, &fbRecv, &r.ServiceID, &r.ContractID,
		&r.Arrangement, &r.GroupID, &r.OrderedProductID, &r.RecommendedProductID, &r.Prescriber, &r.Outcome, &r.ReasonCode,
		&r.AcceptedProductID, &r.PayerSaved, &r.PatientSaved, &r.OrgImpact); err != nil {
		return nil, err
	}
	st.firstAt, st.cardAt, st.fbAt, st.fbRecv = parseTS(first), parseTS(cardAt), parseTS(fbAt), parseTS(fbRecv)
	r.Client, r.FirstAt = st.client, st.firstAt
	return &st, nil
}

// RefreshRollups folds every decision and feedback item committed so far into the rollup.
func (s *SQLite) RefreshRollups(ctx context.Context) error {
	// Nothing new (the usual case on a page view): answered by a reader, the writer is not asked.
	var dSeen, fSeen, dMax, fMax int64
	err := s.rd.QueryRowContext(ctx, `SELECT decisions_seen, feedback_seen,
		COALESCE((SELECT MAX(rowid) FROM decisions), 0), COALESCE((SELECT MAX(rowid) FROM feedback), 0)
		FROM rollup_state WHERE id = 1`).Scan(&dSeen, &fSeen, &dMax, &fMax)
	if err != nil {
		return fmt.Errorf("store: rollup state: %w", err)
	}
	if dSeen >= dMax && fSeen >= fMax {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: rollup refresh: %w", err)
		}
		done := false
		err := s.c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
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

// foldChunk folds up to rollupChunk decisions or feedback items; done when nothing was left.
func (s *SQLite) foldChunk(ctx context.Context, tx *sql.Tx) (done bool, err error) {
	var dSeen, fSeen, dTarget, fTarget int64
	if err := tx.QueryRowContext(ctx, `SELECT decisions_seen, feedback_seen, decisions_target, feedback_target FROM rollup_state WHERE id = 1`).
		Scan(&dSeen, &fSeen, &dTarget, &fTarget); err != nil {
		return false, fmt.Errorf("store: rollup state: %w", err)
	}
	if dSeen >= dTarget && fSeen >= fTarget {
		// Both caught up: take the next targets. Every feedback item up to the new feedback target
		// is about a card up to the new decisions target (feedback follows its card), so folding
		// decisions first means a feedback item always finds its card's order.
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(rowid) FROM decisions), 0), COALESCE((SELECT MAX(rowid) FROM feedback), 0)`).
			Scan(&dTarget, &fTarget); err != nil {
			return false, fmt.Errorf("store: rollup targets: %w", err)
		}
		if dSeen >= dTarget && fSeen >= fTarget {
			return true, nil
		}
	}
	slots, err := loadSlots(ctx, tx)
	if err != nil {
		return false, err
	}
	type keyed struct {
		client, key string
		c           foldCandidate
	}
	var cands []keyed
	const decCols = `d.card_uuid, d.client, d.order_key, d.service_id, d.contract_id, d.arrangement, d.group_id,
		d.ordered_product, d.best_product, d.user_id, d.payer_saving, d.patient_saving, d.org_impact, d.created_at`
	scanDec := func(sc interface{ Scan(...any) error }, extra ...any) (Decision, error) {
		var d Decision
		var at string
		dst := append([]any{&d.CardUUID, &d.Client, &d.OrderKey, &d.ServiceID, &d.ContractID, &d.Arrangement, &d.GroupID,
			&d.OrderedProductID, &d.BestProductID, &d.UserID, &d.PayerSaving, &d.PatientSaving, &d.OrgImpact, &at}, extra...)
		if err := sc.Scan(dst...); err != nil {
			return d, err
		}
		d.At = parseTS(at)
		return d, nil
	}
	orderOf := func(d Decision) (string, string) {
		if d.OrderKey == "" {
			return d.Client, "card:" + d.CardUUID
		}
		return d.Client, d.OrderKey
	}
	if dSeen < dTarget {
		upTo := min(dSeen+rollupChunk, dTarget)
		rows, err := tx.QueryContext(ctx, `SELECT `+decCols+` FROM decisions d WHERE d.rowid > ? AND d.rowid <= ? AND d.no_card_reason = '' ORDER BY d.rowid`, dSeen, upTo)
		if err != nil {
			return false, fmt.Errorf("store: rollup decisions: %w", err)
		}
		for rows.Next() {
			d, err := scanDec(rows)
			if err != nil {
				rows.Close()
				return false, fmt.Errorf("store: rollup decision row: %w", err)
			}
			cl, k := orderOf(d)
			cands = append(cands, keyed{cl, k, candidate(d, nil)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("store: rollup decisions: %w", err)
		}
		dSeen = upTo
	} else {
		upTo := min(fSeen+rollupChunk, fTarget)
		rows, err := tx.QueryContext(ctx, `SELECT `+decCols+`, d.suggestions, f.outcome, f.suggestion_uuid, f.reason_code, f.outcome_at, f.received_at
			FROM feedback f JOIN decisions d ON d.card_uuid = f.card_uuid WHERE f.rowid > ? AND f.rowid <= ? ORDER BY f.rowid`, fSeen, upTo)
		if err != nil {
			return false, fmt.Errorf("store: rollup feedback: %w", err)
		}
		for rows.Next() {
			var f Feedback
			var suggs, at, recv string
			d, err := scanDec(rows, &suggs, &f.Outcome, &f.SuggestionUUID, &f.ReasonCode, &at, &recv)
			if err != nil {
				rows.Close()
				return false, fmt.Errorf("store: rollup feedback row: %w", err)
			}
			f.OutcomeAt, f.ReceivedAt = parseTS(at), parseTS(recv)
			if f.Outcome == "accepted" {
				if d.Suggestions, err = decodeSuggestions(suggs); err != nil {
					rows.Close()
					return false, err
				}
			}
			cl, k := orderOf(d)
			cands = append(cands, keyed{cl, k, candidate(d, &f)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("store: rollup feedback: %w", err)
		}
		fSeen = upTo
	}

	// Fold each order's candidates into its stored state, in insertion order.
	type okey [2]string
	before := map[okey]*orderState{}
	after := map[okey]*orderState{}
	get, err := tx.PrepareContext(ctx, `SELECT `+orderStateCols+` FROM rollup_orders WHERE client = ? AND order_key = ?`)
	if err != nil {
		return false, fmt.Errorf("store: rollup prepare: %w", err)
	}
	defer get.Close()
	var order []okey
	for _, kc := range cands {
		k := okey{kc.client, kc.key}
		st, seen := after[k]
		if !seen {
			old, err := scanOrderState(get.QueryRowContext(ctx, kc.client, kc.key))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				old = nil
			case err != nil:
				return false, fmt.Errorf("store: rollup order state: %w", err)
			}
			before[k] = old
			st = old
			order = append(order, k)
		}
		after[k] = fold(st, kc.client, kc.key, kc.c)
	}
	cells := map[cubeKey]*cubeDelta{}
	slotOf := slots.slot
	put, err := tx.PrepareContext(ctx, upsertOrderSQL)
	if err != nil {
		return false, fmt.Errorf("store: rollup prepare: %w", err)
	}
	defer put.Close()
	for _, k := range order {
		old, nw := before[k], after[k]
		if old != nil && sameState(old, nw) {
			continue
		}
		if old != nil && !contribute(cells, old.rec, -1, slotOf) {
			return false, ErrRollupUnavailable
		}
		if !contribute(cells, nw.rec, +1, slotOf) {
			return false, fmt.Errorf("%w: more than %d override reason codes", ErrRollupUnavailable, reasonSlots)
		}
		r := nw.rec
		if _, err := put.ExecContext(ctx, nw.client, nw.key, ts(nw.firstAt), nw.card, ts(nw.cardAt), nw.hasFB, tsOrEmpty(nw.fbAt), tsOrEmpty(nw.fbRecv),
			r.ServiceID, r.ContractID, r.Arrangement, r.GroupID, r.OrderedProductID, r.RecommendedProductID, r.Prescriber, r.Outcome,
			r.ReasonCode, r.AcceptedProductID, r.PayerSaved, r.PatientSaved, r.OrgImpact); err != nil {
			return false, fmt.Errorf("store: rollup order: %w", err)
		}
	}
	if err := slots.save(ctx, tx); err != nil {
		return false, err
	}
	up, err := tx.PrepareContext(ctx, upsertCubeSQL)
	if err != nil {
		return false, fmt.Errorf("store: rollup prepare: %w", err)
	}
	defer up.Close()
	args := make([]any, 8+len(cubeCols))
	for k, c := range cells {
		args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7] = k.cube, k.grain, k.period, k.month, k.contract, k.arrangement, k.family, k.prescriber
		args[8], args[9], args[10], args[11], args[12], args[13], args[14], args[15] = c.cards, c.accepted, c.overridden, c.noFeedback, c.onBest, c.payer, c.patient, c.org
		for i, n := range c.reasons {
			args[16+i] = n
		}
		if _, err := up.ExecContext(ctx, args...); err != nil {
			return false, fmt.Errorf("store: rollup cube: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rollup_state SET decisions_seen = ?, feedback_seen = ?, decisions_target = ?, feedback_target = ? WHERE id = 1`,
		dSeen, fSeen, dTarget, fTarget); err != nil {
		return false, fmt.Errorf("store: rollup state: %w", err)
	}
	return false, nil
}

// tsOrEmpty stores the zero time (no feedback) as "".
func tsOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ts(t)
}

// reasonSlotTable is rollup_reasons in memory for one chunk.
type reasonSlotTable struct {
	bySlot map[string]int
	added  map[string]int
}

func loadSlots(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (*reasonSlotTable, error) {
	t := &reasonSlotTable{bySlot: map[string]int{}, added: map[string]int{}}
	rows, err := q.QueryContext(ctx, `SELECT code, slot FROM rollup_reasons`)
	if err != nil {
		return nil, fmt.Errorf("store: rollup reasons: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var slot int
		if err := rows.Scan(&code, &slot); err != nil {
			return nil, fmt.Errorf("store: rollup reasons: %w", err)
		}
		t.bySlot[code] = slot
	}
	return t, rows.Err()
}

func (t *reasonSlotTable) slot(code string) (int, bool) {
	if i, ok := t.bySlot[code]; ok {
		return i, true
	}
	if len(t.bySlot) >= reasonSlots {
		return 0, false
	}
	i := len(t.bySlot)
	t.bySlot[code], t.added[code] = i, i
	return i, true
}

func (t *reasonSlotTable) save(ctx context.Context, tx *sql.Tx) error {
	for code, slot := range t.added {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rollup_reasons (code, slot) VALUES (?, ?)`, code, slot); err != nil {
			return fmt.Errorf("store: rollup reasons: %w", err)
		}
	}
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
	if err != nil {
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
	query := `SELECT ` + g + `, ` + aggCols + ` FROM (` + strings.Join(parts, " UNION ALL ") + `) GROUP BY ` + g + ` HAVING SUM(cards) != 0`
	slots, err := loadSlots(ctx, s.rd)
	if err != nil {
		return nil, err
	}
	codes := make([]string, reasonSlots)
	used := make([]bool, reasonSlots)
	for code, i := range slots.bySlot {
		codes[i], used[i] = code, true
	}
	rows, err := s.rd.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: rollup query: %w", err)
	}
	defer rows.Close()
	var out []Aggregate
	for rows.Next() {
		var a Aggregate
		var month int64
		var r [reasonSlots]int64
		var cards, acc, ovr, nofb, best int64
		dst := make([]any, 0, len(groupBy)+len(cubeCols))
		for _, c := range groupBy {
			switch c {
			case "month":
				dst = append(dst, &month)
			case "contract":
				dst = append(dst, &a.Contract)
			case "arrangement":
				dst = append(dst, &a.Arrangement)
			case "family":
				dst = append(dst, &a.Family)
			case "prescriber":
				dst = append(dst, &a.Prescriber)
			}
		}
		dst = append(dst, &cards, &acc, &ovr, &nofb, &best, &a.PayerSaved, &a.PatientSaved, &a.OrgImpact)
		for i := range r {
			dst = append(dst, &r[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: rollup row: %w", err)
		}
		a.Cards, a.Accepted, a.Overridden, a.NoFeedback, a.OnBest = int(cards), int(acc), int(ovr), int(nofb), int(best)
		if month != 0 {
			a.Month = monthLabel(month)
		}
		for i, n := range r {
			if n != 0 && used[i] {
				if a.Overrides == nil {
					a.Overrides = map[string]int{}
				}
				a.Overrides[codes[i]] = int(n)
			}
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rollup rows: %w", err)
	}
	return out, nil
}

// FamilyMonths returns q's aggregates per (month, contract, arrangement, family).
func (s *SQLite) FamilyMonths(ctx context.Context, q AggQuery) ([]Aggregate, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	cube := 1
	if q.PrescriberFilter {
		cube = 2
	}
	return s.cubeRows(ctx, cube, q, []string{"month", "contract", "arrangement", "family"})
}

// Prescribers returns q's aggregates per prescriber.
func (s *SQLite) Prescribers(ctx context.Context, q AggQuery) ([]Aggregate, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return nil, err
	}
	cube := 3
	if q.Contract != "" || q.Family != "" {
		cube = 2
	}
	return s.cubeRows(ctx, cube, q, []string{"prescriber"})
}

// RecentOrders returns up to limit decided orders of q, newest first card first.
func (s *SQLite) RecentOrders(ctx context.Context, q AggQuery, offset, limit int) ([]DecidedOrder, error) {
	if err := s.RefreshRollups(ctx); err != nil {
		return nil, err
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
	rows, err := s.rd.QueryContext(ctx, `SELECT `+orderStateCols+` FROM rollup_orders WHERE `+strings.Join(where, " AND ")+
		` ORDER BY first_at DESC, card_uuid LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("store: recent orders: %w", err)
	}
	defer rows.Close()
	var out []DecidedOrder
	for rows.Next() {
		st, err := scanOrderState(rows)
		if err != nil {
			return nil, fmt.Errorf("store: recent orders: %w", err)
		}
		out = append(out, DecidedOrder{OrderRecord: st.rec, CardUUID: st.card, CardAt: st.cardAt})
	}
	return out, rows.Err()
}

var _ Rollups = (*SQLite)(nil)

// sameState reports whether folding changed nothing the rollup stores.
func sameState(a, b *orderState) bool {
	ra, rb := a.rec, b.rec
	ra.Options, rb.Options, ra.Answers, rb.Answers = nil, nil, nil, nil
	return a.client == b.client && a.key == b.key && a.firstAt.Equal(b.firstAt) && a.card == b.card && a.cardAt.Equal(b.cardAt) &&
		a.hasFB == b.hasFB && a.fbAt.Equal(b.fbAt) && a.fbRecv.Equal(b.fbRecv) && ra.Outcome == rb.Outcome && ra.ReasonCode == rb.ReasonCode &&
		ra.AcceptedProductID == rb.AcceptedProductID && ra.PayerSaved == rb.PayerSaved && ra.PatientSaved == rb.PatientSaved &&
		ra.OrgImpact == rb.OrgImpact && ra.ContractID == rb.ContractID && ra.GroupID == rb.GroupID && ra.Prescriber == rb.Prescriber &&
		ra.Arrangement == rb.Arrangement && ra.RecommendedProductID == rb.RecommendedProductID && ra.OrderedProductID == rb.OrderedProductID
}
