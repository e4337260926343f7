-- The v1 schema, exactly as valuerx created it before migrations were versioned. IF NOT EXISTS
-- lets goose adopt a v1 file (tables present, no goose_db_version) as version 1.

-- +goose Up
CREATE TABLE IF NOT EXISTS decisions (
	card_uuid TEXT PRIMARY KEY,
	hook_instance TEXT NOT NULL,
	service_id TEXT NOT NULL,
	hook TEXT NOT NULL,
	contract_id TEXT NOT NULL,
	arrangement TEXT NOT NULL,
	group_id TEXT NOT NULL,
	ordered_product TEXT NOT NULL,
	best_product TEXT NOT NULL,
	suggestions TEXT NOT NULL,
	payer_saving REAL NOT NULL,
	patient_saving REAL NOT NULL,
	org_impact REAL NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
	service_id TEXT NOT NULL,
	card_uuid TEXT NOT NULL,
	outcome TEXT NOT NULL,
	suggestion_uuid TEXT NOT NULL,
	reason_code TEXT NOT NULL,
	reason_system TEXT NOT NULL,
	has_comment INTEGER NOT NULL,
	outcome_at TEXT NOT NULL,
	received_at TEXT NOT NULL,
	UNIQUE (card_uuid, outcome, suggestion_uuid, outcome_at)
);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback(card_uuid);

-- +goose Down
DROP TABLE feedback;
DROP TABLE decisions;
