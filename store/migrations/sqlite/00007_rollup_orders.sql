-- Issue 16 item 6, second shape of the dashboard rollup (store/rollup.go): an order is
-- re-assembled from its rows by store.AssembleOrders whenever one of them changes, so the
-- rollup counts what Orders counts (no-card orders, signatures, administrations, claims,
-- divergence, location) with no second copy of the rules. rollup_cards indexes decisions by
-- order (the hook path keeps no such index: decisions are found by rowid here, off the hook's
-- commit); rollup_dirty queues orders whose imports (administrations, claims), divergence or
-- retention deletes changed them, filled by triggers on tables the hook never writes.
-- Version 6's tables are derived data: dropped and rebuilt from the record on the next read.

-- +goose Up
DROP TABLE rollup_cube;
DROP TABLE rollup_orders;
DROP TABLE rollup_reasons;
DROP TABLE rollup_state;

CREATE TABLE rollup_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL,          -- store.rollupVersion that filled the tables
	decisions_seen INTEGER NOT NULL,   -- rowid of the last decision folded
	feedback_seen INTEGER NOT NULL     -- rowid of the last feedback item folded
);
INSERT INTO rollup_state VALUES (1, 0, 0, 0);

CREATE TABLE rollup_slots (
	kind TEXT NOT NULL,  -- 'override' | 'nocard'
	code TEXT NOT NULL,
	slot INTEGER NOT NULL,
	PRIMARY KEY (kind, code),
	UNIQUE (kind, slot)
) WITHOUT ROWID;

CREATE TABLE rollup_cards (
	client TEXT NOT NULL,
	order_key TEXT NOT NULL, -- 'card:' || card_uuid for a decision without an order key
	dec_rowid INTEGER NOT NULL,
	PRIMARY KEY (client, order_key, dec_rowid)
) WITHOUT ROWID;

CREATE TABLE rollup_dirty (
	client TEXT NOT NULL,
	order_key TEXT NOT NULL
);

-- One row per order: the record Orders makes of it (JSON, without the options and divergence
-- answers), with the columns the drill-down filters and sorts on.
CREATE TABLE rollup_orders (
	client TEXT NOT NULL,
	order_key TEXT NOT NULL,
	first_at TEXT NOT NULL,
	offer_card TEXT NOT NULL,
	offer_at TEXT NOT NULL,
	contract_id TEXT NOT NULL,
	group_id TEXT NOT NULL,
	prescriber TEXT NOT NULL,
	location TEXT NOT NULL,
	record TEXT NOT NULL,
	PRIMARY KEY (client, order_key)
);
CREATE INDEX rollup_orders_first ON rollup_orders(first_at);

-- Sums of the orders per cell: cube 1 (contract, arrangement, family), 2 (prescriber, contract,
-- arrangement, family), 3 (prescriber), 4 (location, contract, arrangement, family), 5 (location),
-- 6 (prescriber, location, contract, arrangement, family); grain 0 per day (period: days since
-- 1970-01-01 UTC), 1 per month (period: year*12 + month - 1); month is the cell's month index.
-- Money in micro-dollars (store.Micro): exact sums. r0..r15 count overrides by reason slot,
-- n0..n15 orders without a card by reason slot (rollup_slots).
CREATE TABLE rollup_cube (
	cube INTEGER NOT NULL,
	grain INTEGER NOT NULL,
	period INTEGER NOT NULL,
	month INTEGER NOT NULL,
	contract TEXT NOT NULL,
	arrangement TEXT NOT NULL,
	family TEXT NOT NULL,
	prescriber TEXT NOT NULL,
	location TEXT NOT NULL,
	cards INTEGER NOT NULL,
	no_card INTEGER NOT NULL,
	accepted INTEGER NOT NULL,
	overridden INTEGER NOT NULL,
	no_feedback INTEGER NOT NULL,
	on_best INTEGER NOT NULL,
	payer INTEGER NOT NULL,
	patient INTEGER NOT NULL,
	org INTEGER NOT NULL,
	r0 INTEGER NOT NULL, r1 INTEGER NOT NULL, r2 INTEGER NOT NULL, r3 INTEGER NOT NULL,
	r4 INTEGER NOT NULL, r5 INTEGER NOT NULL, r6 INTEGER NOT NULL, r7 INTEGER NOT NULL,
	r8 INTEGER NOT NULL, r9 INTEGER NOT NULL, r10 INTEGER NOT NULL, r11 INTEGER NOT NULL,
	r12 INTEGER NOT NULL, r13 INTEGER NOT NULL, r14 INTEGER NOT NULL, r15 INTEGER NOT NULL,
	n0 INTEGER NOT NULL, n1 INTEGER NOT NULL, n2 INTEGER NOT NULL, n3 INTEGER NOT NULL,
	n4 INTEGER NOT NULL, n5 INTEGER NOT NULL, n6 INTEGER NOT NULL, n7 INTEGER NOT NULL,
	n8 INTEGER NOT NULL, n9 INTEGER NOT NULL, n10 INTEGER NOT NULL, n11 INTEGER NOT NULL,
	n12 INTEGER NOT NULL, n13 INTEGER NOT NULL, n14 INTEGER NOT NULL, n15 INTEGER NOT NULL,
	PRIMARY KEY (cube, grain, period, contract, arrangement, family, prescriber, location)
) WITHOUT ROWID;
CREATE INDEX rollup_cube_prescriber ON rollup_cube(cube, prescriber, grain, period);

-- Imports, divergence and retention change orders the hook did not touch: queue them.
-- +goose StatementBegin
CREATE TRIGGER rollup_admin_in AFTER INSERT ON administrations BEGIN
	INSERT INTO rollup_dirty (client, order_key) VALUES (NEW.client, NEW.order_key);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rollup_admin_out AFTER DELETE ON administrations BEGIN
	INSERT INTO rollup_dirty (client, order_key) VALUES (OLD.client, OLD.order_key);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rollup_claim_in AFTER INSERT ON claims BEGIN
	INSERT INTO rollup_dirty (client, order_key) VALUES (NEW.client, NEW.order_key);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rollup_claim_out AFTER DELETE ON claims BEGIN
	INSERT INTO rollup_dirty (client, order_key) VALUES (OLD.client, OLD.order_key);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rollup_divergence_in AFTER INSERT ON divergence BEGIN
	INSERT INTO rollup_dirty (client, order_key)
		SELECT d.client, CASE WHEN d.order_key = '' THEN 'card:' || d.card_uuid ELSE d.order_key END
		FROM decisions d WHERE d.card_uuid = NEW.card_uuid;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rollup_decision_out AFTER DELETE ON decisions BEGIN
	INSERT INTO rollup_dirty (client, order_key)
		VALUES (OLD.client, CASE WHEN OLD.order_key = '' THEN 'card:' || OLD.card_uuid ELSE OLD.order_key END);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rollup_feedback_out AFTER DELETE ON feedback BEGIN
	INSERT INTO rollup_dirty (client, order_key)
		VALUES (OLD.client, CASE WHEN OLD.order_key = '' THEN 'card:' || OLD.card_uuid ELSE OLD.order_key END);
END;
-- +goose StatementEnd

-- +goose Down
SELECT 'down migrations are not supported past version 3';
