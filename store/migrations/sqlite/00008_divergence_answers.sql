-- Issue 15 and issue 16 item 4: the divergence is stored once per distinct scoring request and
-- catalog version (store/divergence.go), no longer once per decision. The answers under every
-- contract depend only on the request (no patient data) and the catalog, so decisions with the
-- same request share one row, keyed by store.DivergenceKey (SHA-256 of the catalog version and
-- the request, computed in Go); a decision refers to it through its own score_request and
-- catalog_version. The trigger that queued an order for the rollup on every divergence row goes:
-- a divergence row changes no order.
--
-- The per-decision table is renamed, not dropped: store.convertLegacySQLite moves its rows here
-- under each decision's key at open (the first computed stay) and then drops it.

-- +goose Up
DROP TRIGGER rollup_divergence_in;
ALTER TABLE divergence RENAME TO divergence_legacy;
CREATE TABLE divergence_answers (
	req_key TEXT PRIMARY KEY,
	catalog_version TEXT NOT NULL, -- the catalog the answers were computed on
	answers TEXT NOT NULL,         -- JSON []store.Answer; null when the request no longer scored
	computed_at TEXT NOT NULL
) WITHOUT ROWID;

-- +goose Down
SELECT 'down migrations are not supported past version 3';
