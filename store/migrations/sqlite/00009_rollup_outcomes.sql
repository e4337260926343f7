-- Issue 16 item 6 for the outcomes report (realised savings and divergence): its sums move into
-- the rollup (store/rollup.go, store/outcomes.go), so /analytics/outcomes reads cubes, not every
-- order of the period.
-- * rollup_cube gains the outcome figures of its orders (store.OutcomeSums: signed,
--   administered, paid, projected and realised per year in micro-dollars, new starts, and the
--   divergence counts: orders with answers, comparable, diverged).
-- * rollup_divpairs sums the (FFS, value-based) pairs of cubes 1 and 2 per day and month.
-- * An order's divergence comes from the answers of its offering decision's request
--   (rollup_orders.div_key, store.DivergenceKey); div_in says they are counted. Answers stored
--   after the order was folded are queued by key (rollup_divdirty, a trigger on
--   divergence_answers: one row per distinct request, never per decision) and added to the
--   orders of that key then, without assembling them again.
-- Derived data: store.rollupVersion moves to 3, so the tables are refilled from the record.

-- +goose Up
ALTER TABLE rollup_cube ADD COLUMN signed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN administered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN paid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN paid_usd INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN proj_payer_y INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN proj_patient_y INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN proj_org_y INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN realised INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_switched INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_unpriced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_overridden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_unanswered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_payer_y INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_patient_y INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_org_y INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN new_starts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN new_starts_bio INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_orders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_comparable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_diverged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_orders ADD COLUMN div_key TEXT NOT NULL DEFAULT '';
ALTER TABLE rollup_orders ADD COLUMN div_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_orders ADD COLUMN figures TEXT NOT NULL DEFAULT '{}'; -- its OutcomeFigures (JSON): what it adds, to take out exactly
CREATE INDEX rollup_orders_div ON rollup_orders(div_key) WHERE div_key <> '';

CREATE TABLE rollup_divpairs (
	cube INTEGER NOT NULL,
	grain INTEGER NOT NULL,
	period INTEGER NOT NULL,
	month INTEGER NOT NULL,
	contract TEXT NOT NULL,
	arrangement TEXT NOT NULL,
	family TEXT NOT NULL,
	prescriber TEXT NOT NULL,
	ffs TEXT NOT NULL,
	value_based TEXT NOT NULL,
	vb_arrangement TEXT NOT NULL,
	orders INTEGER NOT NULL,
	diverged INTEGER NOT NULL,
	payer INTEGER NOT NULL, -- micro-dollars
	org INTEGER NOT NULL,
	PRIMARY KEY (cube, grain, period, contract, arrangement, family, prescriber, ffs, value_based, vb_arrangement)
) WITHOUT ROWID;

CREATE TABLE rollup_divdirty (
	req_key TEXT NOT NULL
);

-- +goose StatementBegin
CREATE TRIGGER rollup_divergence_key AFTER INSERT ON divergence_answers BEGIN
	INSERT INTO rollup_divdirty (req_key) VALUES (NEW.req_key);
END;
-- +goose StatementEnd

-- +goose Down
SELECT 'down migrations are not supported past version 3';
