-- The divergence job made honest (issue 16, follow-up): a scoring request that cannot be scored
-- under what the gateway has loaded (its configuration, scoring.ConfigFingerprint, or its
-- catalog version replaced since; or its own contract no longer scoring it) is stored as not
-- scored, with the reason, instead of being scored under the wrong inputs or left pending; the
-- report counts such orders by reason. Every row also names the configuration fingerprint its
-- answers were computed under.
-- * divergence_answers.not_scored: '' when scored, else store.DivNotScored* (rows of before
--   without answers were the job's "own contract no longer scores the order").
-- * divergence_answers.config: the fingerprint of the configuration the answers were computed
--   under ('' for rows of before, and for rows not scored).
-- * rollup_cube: orders whose offering decision carries a scoring request, and the orders not
--   scored by reason (derived data: store.rollupVersion moves, the cubes are refilled).

-- +goose Up
ALTER TABLE divergence_answers ADD COLUMN not_scored text NOT NULL DEFAULT '';
ALTER TABLE divergence_answers ADD COLUMN config text NOT NULL DEFAULT '';
UPDATE divergence_answers SET not_scored = 'own-contract-no-longer-scores' WHERE answers = 'null'::jsonb;
ALTER TABLE rollup_cube ADD COLUMN div_requests bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_ns_config bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_ns_catalog bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_cube ADD COLUMN div_ns_failed bigint NOT NULL DEFAULT 0;

-- +goose Down
SELECT 'down migrations are not supported past version 3';
