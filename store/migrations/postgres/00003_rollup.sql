-- Issue 16 item 6, the dashboard's pre-aggregated tables on PostgreSQL (store/rollup.go explains
-- them; SQLite's are migrations/sqlite/00006-00007). The same cubes and order records, filled
-- by the same Go code (AssembleOrders, contribute); what differs is how new rows are found.
-- SQLite folds by rowid; PostgreSQL's sequences are not in commit order across concurrent
-- transactions (and instances), so a trigger queues the order of every row written in the
-- writing transaction itself: a queued order is committed exactly when its row is. The hook's
-- commit pays one small insert per decision and feedback item for it.
-- Everything here is derived data: emptied and rebuilt from the record when rollupVersion moves.

-- +goose Up
CREATE TABLE rollup_state (
	id integer PRIMARY KEY CHECK (id = 1),
	version integer NOT NULL
);
INSERT INTO rollup_state VALUES (1, 0);

-- Orders to assemble again; card_uuid names a new decision (indexed into rollup_cards).
CREATE TABLE rollup_dirty (
	id bigserial PRIMARY KEY,
	client text NOT NULL,
	order_key text NOT NULL,
	card_uuid text
);

CREATE TABLE rollup_slots (
	kind text NOT NULL,
	code text NOT NULL,
	slot integer NOT NULL,
	PRIMARY KEY (kind, code),
	UNIQUE (kind, slot)
);

-- The decisions of each order (the hook path keeps no (client, order_key) index on decisions).
CREATE TABLE rollup_cards (
	client text NOT NULL,
	order_key text NOT NULL,
	card_uuid text NOT NULL,
	PRIMARY KEY (client, order_key, card_uuid)
);

CREATE TABLE rollup_orders (
	client text NOT NULL,
	order_key text NOT NULL,
	first_at timestamptz NOT NULL,
	offer_card text NOT NULL,
	offer_at timestamptz NOT NULL,
	contract_id text NOT NULL,
	group_id text NOT NULL,
	prescriber text NOT NULL,
	location text NOT NULL,
	record text NOT NULL,
	PRIMARY KEY (client, order_key)
);
CREATE INDEX rollup_orders_first ON rollup_orders (first_at DESC, offer_card);

CREATE TABLE rollup_cube (
	cube integer NOT NULL,
	grain integer NOT NULL,
	period bigint NOT NULL,
	month bigint NOT NULL,
	contract text NOT NULL,
	arrangement text NOT NULL,
	family text NOT NULL,
	prescriber text NOT NULL,
	location text NOT NULL,
	cards bigint NOT NULL,
	no_card bigint NOT NULL,
	accepted bigint NOT NULL,
	overridden bigint NOT NULL,
	no_feedback bigint NOT NULL,
	on_best bigint NOT NULL,
	payer bigint NOT NULL,
	patient bigint NOT NULL,
	org bigint NOT NULL,
	r0 bigint NOT NULL, r1 bigint NOT NULL, r2 bigint NOT NULL, r3 bigint NOT NULL,
	r4 bigint NOT NULL, r5 bigint NOT NULL, r6 bigint NOT NULL, r7 bigint NOT NULL,
	r8 bigint NOT NULL, r9 bigint NOT NULL, r10 bigint NOT NULL, r11 bigint NOT NULL,
	r12 bigint NOT NULL, r13 bigint NOT NULL, r14 bigint NOT NULL, r15 bigint NOT NULL,
	n0 bigint NOT NULL, n1 bigint NOT NULL, n2 bigint NOT NULL, n3 bigint NOT NULL,
	n4 bigint NOT NULL, n5 bigint NOT NULL, n6 bigint NOT NULL, n7 bigint NOT NULL,
	n8 bigint NOT NULL, n9 bigint NOT NULL, n10 bigint NOT NULL, n11 bigint NOT NULL,
	n12 bigint NOT NULL, n13 bigint NOT NULL, n14 bigint NOT NULL, n15 bigint NOT NULL,
	PRIMARY KEY (cube, grain, period, contract, arrangement, family, prescriber, location)
);
CREATE INDEX rollup_cube_prescriber ON rollup_cube (cube, prescriber, grain, period);

-- +goose StatementBegin
CREATE FUNCTION rollup_queue() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
	IF TG_TABLE_NAME = 'decisions' THEN
		INSERT INTO rollup_dirty (client, order_key, card_uuid) VALUES (r.client,
			CASE WHEN r.order_key = '' THEN 'card:' || r.card_uuid ELSE r.order_key END,
			CASE WHEN TG_OP = 'INSERT' THEN r.card_uuid END);
	ELSIF TG_TABLE_NAME = 'feedback' THEN
		INSERT INTO rollup_dirty (client, order_key) VALUES (r.client,
			CASE WHEN r.order_key = '' THEN 'card:' || r.card_uuid ELSE r.order_key END);
	ELSIF TG_TABLE_NAME = 'divergence' THEN
		INSERT INTO rollup_dirty (client, order_key)
			SELECT d.client, CASE WHEN d.order_key = '' THEN 'card:' || d.card_uuid ELSE d.order_key END
			FROM decisions d WHERE d.card_uuid = r.card_uuid;
	ELSE -- administrations, claims
		INSERT INTO rollup_dirty (client, order_key) VALUES (r.client, r.order_key);
	END IF;
	RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER rollup_decisions AFTER INSERT OR DELETE ON decisions FOR EACH ROW EXECUTE FUNCTION rollup_queue();
CREATE TRIGGER rollup_feedback AFTER INSERT OR DELETE ON feedback FOR EACH ROW EXECUTE FUNCTION rollup_queue();
CREATE TRIGGER rollup_divergence AFTER INSERT ON divergence FOR EACH ROW EXECUTE FUNCTION rollup_queue();
CREATE TRIGGER rollup_administrations AFTER INSERT OR DELETE ON administrations FOR EACH ROW EXECUTE FUNCTION rollup_queue();
CREATE TRIGGER rollup_claims AFTER INSERT OR DELETE ON claims FOR EACH ROW EXECUTE FUNCTION rollup_queue();

-- +goose Down
DROP TRIGGER rollup_claims ON claims;
DROP TRIGGER rollup_administrations ON administrations;
DROP TRIGGER rollup_divergence ON divergence;
DROP TRIGGER rollup_feedback ON feedback;
DROP TRIGGER rollup_decisions ON decisions;
DROP FUNCTION rollup_queue();
DROP TABLE rollup_cube;
DROP TABLE rollup_orders;
DROP TABLE rollup_cards;
DROP TABLE rollup_slots;
DROP TABLE rollup_dirty;
DROP TABLE rollup_state;
