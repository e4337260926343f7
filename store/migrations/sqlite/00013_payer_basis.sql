-- From 3 December 2026 a decision books as the payer's saving the change in the payer's own
-- payment (scoring.Saved: cost sharing and sequestration out; nothing under capitation). Before,
-- it booked the change in the allowed amount, which holds the patient's cost sharing (booked
-- again as the patient's saving) and gave a capitated plan a saving it never makes. The rows
-- already recorded keep what they booked; this keeps when the last of them was recorded, so that
-- the reports can say which orders are on the earlier basis.

-- +goose Up
CREATE TABLE payer_basis (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	-- created_at of the last decision booked on the allowed amount; '' when there was none
	allowed_until TEXT NOT NULL
);
INSERT INTO payer_basis (id, allowed_until) SELECT 1, COALESCE(MAX(created_at), '') FROM decisions;

-- +goose Down
DROP TABLE payer_basis;
