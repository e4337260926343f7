-- Issue 16 item 6: pre-aggregated dashboard tables (store/rollup.go explains them). They are
-- derived from decisions and feedback only, folded in by rowid order: rollup_state remembers how
-- far. Dropping all four and the state row rebuilds them from the record on the next read.

-- +goose Up
CREATE TABLE rollup_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	decisions_seen INTEGER NOT NULL,   -- rowid of the last decision folded
	feedback_seen INTEGER NOT NULL,    -- rowid of the last feedback item folded
	decisions_target INTEGER NOT NULL, -- decisions are folded up to here before feedback past feedback_seen
	feedback_target INTEGER NOT NULL
);
INSERT INTO rollup_state VALUES (1, 0, 0, 0, 0);

CREATE TABLE rollup_reasons (
	code TEXT PRIMARY KEY,
	slot INTEGER NOT NULL UNIQUE
) WITHOUT ROWID;

-- One row per order: its earliest card, its deciding card and the record Orders makes of it.
CREATE TABLE rollup_orders (
	client TEXT NOT NULL,
	order_key TEXT NOT NULL, -- 'card:' || card_uuid for a card without an order key
	first_at TEXT NOT NULL,
	card_uuid TEXT NOT NULL,
	card_at TEXT NOT NULL,
	has_fb INTEGER NOT NULL,
	fb_at TEXT NOT NULL,
	fb_recv TEXT NOT NULL,
	service_id TEXT NOT NULL,
	contract_id TEXT NOT NULL,
	arrangement TEXT NOT NULL,
	group_id TEXT NOT NULL,
	ordered_product TEXT NOT NULL,
	best_product TEXT NOT NULL,
	prescriber TEXT NOT NULL,
	outcome TEXT NOT NULL,
	reason_code TEXT NOT NULL,
	accepted_product TEXT NOT NULL,
	payer REAL NOT NULL,
	patient REAL NOT NULL,
	org REAL NOT NULL,
	PRIMARY KEY (client, order_key)
);
CREATE INDEX rollup_orders_first ON rollup_orders(first_at);

-- Sums of rollup_orders per cell: cube 1 (contract, arrangement, family), 2 (prescriber,
-- contract, arrangement, family), 3 (prescriber); grain 0 per day (period: days since
-- 1970-01-01 UTC), 1 per month (period: year*12 + month - 1); month is the cell's month index.
CREATE TABLE rollup_cube (
	cube INTEGER NOT NULL,
	grain INTEGER NOT NULL,
	period INTEGER NOT NULL,
	month INTEGER NOT NULL,
	contract TEXT NOT NULL,
	arrangement TEXT NOT NULL,
	family TEXT NOT NULL,
	prescriber TEXT NOT NULL,
	cards INTEGER NOT NULL,
	accepted INTEGER NOT NULL,
	overridden INTEGER NOT NULL,
	no_feedback INTEGER NOT NULL,
	on_best INTEGER NOT NULL,
	payer INTEGER NOT NULL,   -- micro-dollars (store.Micro): exact sums
	patient INTEGER NOT NULL,
	org INTEGER NOT NULL,
	r0 INTEGER NOT NULL, r1 INTEGER NOT NULL, r2 INTEGER NOT NULL, r3 INTEGER NOT NULL,
	r4 INTEGER NOT NULL, r5 INTEGER NOT NULL, r6 INTEGER NOT NULL, r7 INTEGER NOT NULL,
	r8 INTEGER NOT NULL, r9 INTEGER NOT NULL, r10 INTEGER NOT NULL, r11 INTEGER NOT NULL,
	r12 INTEGER NOT NULL, r13 INTEGER NOT NULL, r14 INTEGER NOT NULL, r15 INTEGER NOT NULL,
	PRIMARY KEY (cube, grain, period, contract, arrangement, family, prescriber)
) WITHOUT ROWID;
-- A prescriber filter reads cube 2 by prescriber first.
CREATE INDEX rollup_cube_prescriber ON rollup_cube(cube, prescriber, grain, period);

-- +goose Down
DROP TABLE rollup_cube;
DROP TABLE rollup_orders;
DROP TABLE rollup_reasons;
DROP TABLE rollup_state;
