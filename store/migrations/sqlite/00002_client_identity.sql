-- Issue 11 item 1 and issue 10 item 7: every decision and feedback row names the verified client
-- (JWT iss, plus tenant); a decision carries a keyed hash of (patient, draft order) so the same
-- order seen at order-select and order-sign is one decision, a fingerprint of what was advised
-- (product, dose, contract), and each suggestion's own figures. Feedback keeps the client's
-- outcomeTimestamp as sent (for idempotency) next to the clamped one, and the time it arrived.
-- jti replay protection lives here so that it survives a restart and is shared by every instance
-- that shares the store.

-- +goose Up
ALTER TABLE decisions ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
CREATE INDEX decisions_order ON decisions(client, order_key);

CREATE TABLE decision_options (
	card_uuid TEXT NOT NULL,
	suggestion_uuid TEXT NOT NULL,
	product_id TEXT NOT NULL,
	payer_saving REAL NOT NULL,
	patient_saving REAL NOT NULL,
	org_impact REAL NOT NULL,
	PRIMARY KEY (card_uuid, suggestion_uuid)
);

-- v1 suggestions were a JSON array of uuids without figures: keep them, figureless. Accepting
-- one of them books the card's recommended figures, as v1 did.
INSERT OR IGNORE INTO decision_options (card_uuid, suggestion_uuid, product_id, payer_saving, patient_saving, org_impact)
	SELECT d.card_uuid, j.value, '', d.payer_saving, d.patient_saving, d.org_impact
	FROM decisions d, json_each(d.suggestions) j;

-- Feedback is rebuilt to change its uniqueness: the client's own outcomeTimestamp (as sent) makes
-- a repeat a repeat, while outcome_at is the clamped instant the summary orders by.
CREATE TABLE feedback_v2 (
	client TEXT NOT NULL,
	service_id TEXT NOT NULL,
	card_uuid TEXT NOT NULL,
	outcome TEXT NOT NULL,
	suggestion_uuid TEXT NOT NULL,
	reason_code TEXT NOT NULL,
	reason_system TEXT NOT NULL,
	has_comment INTEGER NOT NULL,
	outcome_sent TEXT NOT NULL,
	outcome_at TEXT NOT NULL,
	received_at TEXT NOT NULL,
	UNIQUE (card_uuid, outcome, suggestion_uuid, outcome_sent)
);
-- v1 kept feedback for cards it never issued; those rows are not carried over (issue 11: unknown
-- cards stay out of the analytics).
INSERT OR IGNORE INTO feedback_v2
	SELECT '', f.service_id, f.card_uuid, f.outcome, f.suggestion_uuid, f.reason_code, f.reason_system,
	       f.has_comment, f.outcome_at, f.outcome_at, f.received_at
	FROM feedback f WHERE f.card_uuid IN (SELECT card_uuid FROM decisions);
-- v1 stored any override code as sent, so a code could hold a name or an identifier: codes outside
-- v1's own list become 'other'.
UPDATE feedback_v2 SET reason_code = 'other'
	WHERE reason_code NOT IN ('', 'stable-mid-course', 'payer-requires-ordered', 'clinical-reason', 'patient-preference');
DROP TABLE feedback;
ALTER TABLE feedback_v2 RENAME TO feedback;
CREATE INDEX feedback_card ON feedback(card_uuid);

CREATE TABLE jti (
	key TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
CREATE INDEX jti_expiry ON jti(expires_at);

-- +goose Down
DROP TABLE jti;
DROP TABLE decision_options;
