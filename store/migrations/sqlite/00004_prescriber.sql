-- Issue 16 item 1: the decision names the prescriber (the hook's context.userId, a Practitioner or
-- PractitionerRole reference: staff, not patient data) so the programme report can show
-- acceptance and savings per prescriber. Decisions recorded before this version have none ('').

-- +goose Up
ALTER TABLE decisions ADD COLUMN user_id TEXT NOT NULL DEFAULT '';

-- +goose Down
SELECT 'down migrations are not supported past version 3';
