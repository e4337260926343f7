-- Issue 16 items 1, 2 and 4: the full decision record.
-- * decisions carry the tenant, the hook's location, why no card was shown (no_card_reason; ''
--   for a card: orders of a tracked family that needed no card are recorded too), whether the
--   order is a new start (therapy: 'new-start' | 'continuing' | '' unknown), the price period and
--   catalog version, the year of therapy, the ordered product's FDA relationship, every scored
--   option with per-course and per-year figures (options, JSON), and the scoring request the
--   divergence job re-scores under the other contracts (score_request, JSON without patient
--   data). Suggestions gain per-year figures inside their JSON ("year").
-- * administrations and claims are imported from the EHR (FHIR Bulk Data NDJSON) and the
--   remittance file, joined to decisions by (client, order_key), keyed for idempotent imports by
--   a keyed hash of their own ids. No patient id, no MedicationRequest id.
-- * divergence holds, per decision, the advice under each contract of the registry.

-- +goose Up
ALTER TABLE decisions ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN location TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN no_card_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN therapy TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN price_period TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN catalog_version TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN admins_per_year INTEGER NOT NULL DEFAULT 0;
ALTER TABLE decisions ADD COLUMN ordered_rel TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN options TEXT NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN score_request TEXT NOT NULL DEFAULT '';

CREATE TABLE administrations (
	client TEXT NOT NULL,
	admin_key TEXT NOT NULL,
	order_key TEXT NOT NULL,
	product_id TEXT NOT NULL,
	status TEXT NOT NULL,
	at TEXT NOT NULL,
	imported_at TEXT NOT NULL,
	PRIMARY KEY (client, admin_key)
) WITHOUT ROWID;
CREATE INDEX administrations_order ON administrations(client, order_key);

CREATE TABLE claims (
	client TEXT NOT NULL,
	claim_key TEXT NOT NULL,
	order_key TEXT NOT NULL,
	service_date TEXT NOT NULL,
	hcpcs TEXT NOT NULL,
	product_id TEXT NOT NULL,
	units REAL NOT NULL,
	allowed_usd REAL NOT NULL,
	paid_usd REAL NOT NULL,
	patient_usd REAL NOT NULL,
	imported_at TEXT NOT NULL,
	PRIMARY KEY (client, claim_key)
) WITHOUT ROWID;
CREATE INDEX claims_order ON claims(client, order_key);

CREATE TABLE divergence (
	card_uuid TEXT PRIMARY KEY,
	catalog_version TEXT NOT NULL,
	answers TEXT NOT NULL,
	computed_at TEXT NOT NULL
) WITHOUT ROWID;

-- +goose Down
SELECT 'down migrations are not supported past version 3';
