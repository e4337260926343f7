-- Issue 10 item 7 and issue 11 item 6 (the hook path commits before it answers, so every page a
-- hook's write touches is paid for in its latency):
-- * feedback rows carry their card's order key and fingerprint, so "was this order overridden,
--   and for the same advice?" is one indexed lookup on feedback, not a walk over every decision
--   that shares the key; decisions then need no order index;
-- * each suggestion's figures move into the decision row itself (decisions.suggestions, a JSON
--   array of {uuid, product, payer, patient, org}): one row written per card instead of four;
-- * jti becomes a WITHOUT ROWID table with no second index: one B-tree per claim. Expired rows
--   are swept by a scan once a minute.

-- +goose Up
ALTER TABLE feedback ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
ALTER TABLE feedback ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
UPDATE feedback SET
	order_key = COALESCE((SELECT d.order_key FROM decisions d WHERE d.card_uuid = feedback.card_uuid), ''),
	fingerprint = COALESCE((SELECT d.fingerprint FROM decisions d WHERE d.card_uuid = feedback.card_uuid), '');
CREATE INDEX feedback_order ON feedback(client, order_key);
DROP INDEX decisions_order;

UPDATE decisions SET suggestions = COALESCE((
	SELECT json_group_array(json_object('uuid', o.suggestion_uuid, 'product', o.product_id,
		'payer', o.payer_saving, 'patient', o.patient_saving, 'org', o.org_impact))
	FROM (SELECT * FROM decision_options WHERE card_uuid = decisions.card_uuid ORDER BY rowid) o), '[]');
DROP TABLE decision_options;

DROP TABLE jti;
CREATE TABLE jti (
	key TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
SELECT 'down migrations are not supported past version 3';
