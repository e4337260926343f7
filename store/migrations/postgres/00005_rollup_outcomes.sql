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
-- Derived data: store.pgRollupVersion moves to 2, so the tables are refilled from the record.

-- +goose Up
ALTER TABLE rollup_cube ADD COLUMN signed bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN administered bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN paid bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN paid_usd bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN proj_payer_y bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN proj_patient_y bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN proj_org_y bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN realised bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_switched bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_unpriced bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_overridden bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_unanswered bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_payer_y bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_patient_y bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN real_org_y bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN new_starts bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN new_starts_bio bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_orders bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_comparable bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_diverged bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_orders ADD COLUMN div_key text NOT NULL DEFAULT '';
ALTER TABLE rollup_orders ADD COLUMN div_in boolean NOT NULL DEFAULT false;
ALTER TABLE rollup_orders ADD COLUMN figures text NOT NULL DEFAULT '{}';
CREATE INDEX rollup_orders_div ON rollup_orders (div_key) WHERE div_key <> '';

CREATE TABLE rollup_divpairs (
	cube integer NOT NULL,
	grain integer NOT NULL,
	period bigint NOT NULL,
	month bigint NOT NULL,
	contract text NOT NULL,
	arrangement text NOT NULL,
	family text NOT NULL,
	prescriber text NOT NULL,
	ffs text NOT NULL,
	value_based text NOT NULL,
	vb_arrangement text NOT NULL,
	orders bigint NOT NULL,
	diverged bigint NOT NULL,
	payer bigint NOT NULL,
	org bigint NOT NULL,
	PRIMARY KEY (cube, grain, period, contract, arrangement, family, prescriber, ffs, value_based, vb_arrangement)
);

CREATE TABLE rollup_divdirty (
	id bigserial PRIMARY KEY,
	req_key text NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION rollup_divergence_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO rollup_divdirty (req_key) VALUES (NEW.req_key);
	RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER rollup_divergence_key AFTER INSERT ON divergence_answers FOR EACH ROW EXECUTE FUNCTION rollup_divergence_key();

-- +goose Down
DROP TRIGGER rollup_divergence_key ON divergence_answers;
DROP FUNCTION rollup_divergence_key();
DROP TABLE rollup_divdirty;
DROP TABLE rollup_divpairs;
DROP INDEX rollup_orders_div;
ALTER TABLE rollup_orders DROP COLUMN figures, DROP COLUMN div_in, DROP COLUMN div_key;
ALTER TABLE rollup_cube DROP COLUMN signed;
ALTER TABLE rollup_cube DROP COLUMN administered;
ALTER TABLE rollup_cube DROP COLUMN paid;
ALTER TABLE rollup_cube DROP COLUMN paid_usd;
ALTER TABLE rollup_cube DROP COLUMN proj_payer_y;
ALTER TABLE rollup_cube DROP COLUMN proj_patient_y;
ALTER TABLE rollup_cube DROP COLUMN proj_org_y;
ALTER TABLE rollup_cube DROP COLUMN realised;
ALTER TABLE rollup_cube DROP COLUMN real_switched;
ALTER TABLE rollup_cube DROP COLUMN real_unpriced;
ALTER TABLE rollup_cube DROP COLUMN real_overridden;
ALTER TABLE rollup_cube DROP COLUMN real_unanswered;
ALTER TABLE rollup_cube DROP COLUMN real_payer_y;
ALTER TABLE rollup_cube DROP COLUMN real_patient_y;
ALTER TABLE rollup_cube DROP COLUMN real_org_y;
ALTER TABLE rollup_cube DROP COLUMN new_starts;
ALTER TABLE rollup_cube DROP COLUMN new_starts_bio;
ALTER TABLE rollup_cube DROP COLUMN div_orders;
ALTER TABLE rollup_cube DROP COLUMN div_comparable;
ALTER TABLE rollup_cube DROP COLUMN div_diverged;
