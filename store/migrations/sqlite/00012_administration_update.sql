-- An administration imported again with the same key and another status, product or time (a
-- dose recorded "completed", then corrected to "entered-in-error") replaces the stored one: it
-- was ignored, and a voided dose went on realising savings. The rollup queues the order.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER rollup_admin_update AFTER UPDATE ON administrations BEGIN
	INSERT INTO rollup_dirty (client, order_key) VALUES (NEW.client, NEW.order_key);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER rollup_admin_update;
