-- Issue 16 items 1, 2 and 4, as SQLite's version 5 (migrations/sqlite/00005_decision_record.sql):
-- the full decision record (tenant, location, why no card, therapy, price period and catalog
-- version, year of therapy, the ordered product's relationship, every scored option, the scoring
-- request for the divergence job), imported administrations and claim lines joined by
-- (client, order_key), and the divergence per decision. No patient id, no MedicationRequest id.
--
-- PostgreSQL types where SQLite has text: options and answers are jsonb, the opaque scoring
-- request is bytea (kept byte for byte), instants are timestamptz.

-- +goose Up
ALTER TABLE decisions ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN location text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN no_card_reason text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN therapy text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN price_period text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN catalog_version text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN admins_per_year integer NOT NULL DEFAULT 0;
ALTER TABLE decisions ADD COLUMN ordered_rel text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN options jsonb NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN score_request bytea NOT NULL DEFAULT '';

-- The divergence job's queue: decisions with a scoring request, oldest first.
CREATE INDEX decisions_pending_divergence ON decisions (created_at, card_uuid) WHERE length(score_request) > 0;

CREATE TABLE administrations (
	client text NOT NULL,
	admin_key text NOT NULL,
	order_key text NOT NULL,
	product_id text NOT NULL,
	status text NOT NULL,
	at timestamptz NOT NULL,
	imported_at timestamptz NOT NULL,
	PRIMARY KEY (client, admin_key)
);
CREATE INDEX administrations_order ON administrations (client, order_key);

CREATE TABLE claims (
	client text NOT NULL,
	claim_key text NOT NULL,
	order_key text NOT NULL,
	service_date timestamptz NOT NULL,
	hcpcs text NOT NULL,
	product_id text NOT NULL,
	units double precision NOT NULL,
	allowed_usd double precision NOT NULL,
	paid_usd double precision NOT NULL,
	patient_usd double precision NOT NULL,
	imported_at timestamptz NOT NULL,
	PRIMARY KEY (client, claim_key)
);
CREATE INDEX claims_order ON claims (client, order_key);

CREATE TABLE divergence (
	card_uuid text PRIMARY KEY,
	catalog_version text NOT NULL,
	answers jsonb NOT NULL,
	computed_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE divergence;
DROP TABLE claims;
DROP TABLE administrations;
DROP INDEX decisions_pending_divergence;
ALTER TABLE decisions DROP COLUMN score_request, DROP COLUMN options, DROP COLUMN ordered_rel,
	DROP COLUMN admins_per_year, DROP COLUMN catalog_version, DROP COLUMN price_period, DROP COLUMN therapy,
	DROP COLUMN no_card_reason, DROP COLUMN location, DROP COLUMN tenant;
