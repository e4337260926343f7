-- An administration imported again with the same key and another status, product or time (a
-- dose recorded "completed", then corrected to "entered-in-error") replaces the stored one: it
-- was ignored, and a voided dose went on realising savings. The rollup queues the order.

-- +goose Up
CREATE TRIGGER rollup_administrations_update AFTER UPDATE ON administrations FOR EACH ROW EXECUTE FUNCTION rollup_queue();

-- +goose Down
DROP TRIGGER rollup_administrations_update ON administrations;
