-- +goose Up
-- Retention deletes an order's administrations and claims with its last decision (attacker
-- review finding 7), which needs the decisions of one (client, order key) found by index;
-- SQLite has had decisions_order since its migration 2.
CREATE INDEX decisions_order ON decisions (client, order_key);

-- +goose Down
DROP INDEX decisions_order;
