-- The PostgreSQL schema, equal in content to SQLite's version 4 (migrations/sqlite 00001-00004):
-- a PostgreSQL store starts here, so it needs none of SQLite's history (v1 adoption, the
-- decision_options detour). Versions are this directory's own; each later change to the record
-- gets a file here beside its SQLite one, and the shared suite (store/storetest) runs on both.
--
-- Differences that are PostgreSQL's and not the record's: instants are timestamptz (microsecond
-- precision; SQLite keeps the nanoseconds of its text), suggestions are jsonb, and decisions,
-- feedback and jti have the indexes that retention (store/retention.go) deletes by.

-- +goose Up
CREATE TABLE decisions (
	card_uuid text PRIMARY KEY,
	hook_instance text NOT NULL,
	service_id text NOT NULL,
	hook text NOT NULL,
	client text NOT NULL DEFAULT '',
	order_key text NOT NULL DEFAULT '',
	fingerprint text NOT NULL DEFAULT '',
	user_id text NOT NULL DEFAULT '',
	contract_id text NOT NULL,
	arrangement text NOT NULL,
	group_id text NOT NULL,
	ordered_product text NOT NULL,
	best_product text NOT NULL,
	-- [{uuid, product, payer, patient, org}], each suggestion with its own per-course figures
	suggestions jsonb NOT NULL,
	payer_saving double precision NOT NULL,
	patient_saving double precision NOT NULL,
	org_impact double precision NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE INDEX decisions_created ON decisions (created_at);

CREATE TABLE feedback (
	client text NOT NULL,
	service_id text NOT NULL,
	card_uuid text NOT NULL,
	order_key text NOT NULL DEFAULT '',
	fingerprint text NOT NULL DEFAULT '',
	outcome text NOT NULL,
	suggestion_uuid text NOT NULL,
	reason_code text NOT NULL,
	reason_system text NOT NULL,
	has_comment boolean NOT NULL,
	-- the client's outcomeTimestamp as sent (a repeat of an item is the same item) ...
	outcome_sent timestamptz NOT NULL,
	-- ... and clamped to [card time, receipt + skew]: the latest wins
	outcome_at timestamptz NOT NULL,
	received_at timestamptz NOT NULL,
	UNIQUE (card_uuid, outcome, suggestion_uuid, outcome_sent)
);
CREATE INDEX feedback_order ON feedback (client, order_key);
CREATE INDEX feedback_received ON feedback (received_at);

-- jti of every accepted client JWT until it expires: replay protection shared by every instance.
CREATE TABLE jti (
	key bytea PRIMARY KEY, -- issuer, NUL, jti: bytes, as text cannot hold the NUL
	expires_at timestamptz NOT NULL
);
CREATE INDEX jti_expiry ON jti (expires_at);

-- +goose Down
DROP TABLE jti;
DROP TABLE feedback;
DROP TABLE decisions;
