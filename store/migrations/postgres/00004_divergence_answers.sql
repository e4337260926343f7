-- Issue 15 and issue 16 item 4, as SQLite's version 8 (migrations/sqlite/00008_divergence_answers.sql):
-- the divergence once per distinct scoring request and catalog version, keyed by
-- store.DivergenceKey, instead of once per decision; no trigger (a divergence row changes no
-- order). store.convertLegacyPostgres moves the per-decision rows here at open and drops them.

-- +goose Up
DROP TRIGGER rollup_divergence ON divergence;
ALTER TABLE divergence RENAME TO divergence_legacy;
CREATE TABLE divergence_answers (
	req_key text PRIMARY KEY,
	catalog_version text NOT NULL,
	answers jsonb NOT NULL,
	computed_at timestamptz NOT NULL
);

-- +goose Down
-- The per-decision answers are not rebuilt: the sweep computes them again.
DROP TABLE IF EXISTS divergence_legacy;
DROP TABLE divergence_answers;
CREATE TABLE divergence (
	card_uuid text PRIMARY KEY,
	catalog_version text NOT NULL,
	answers jsonb NOT NULL,
	computed_at timestamptz NOT NULL
);
CREATE TRIGGER rollup_divergence AFTER INSERT ON divergence FOR EACH ROW EXECUTE FUNCTION rollup_queue();
