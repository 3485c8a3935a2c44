-- +goose Up
-- A replay answers with the ticket the first request created; how that
-- becomes an HTTP response (201, Location, ETag) is the HTTP layer's
-- business, so the table keeps the ticket only. Rows written before hold
-- the ticket's JSON in body already and stay valid.
ALTER TABLE idempotency_keys DROP COLUMN status_code, DROP COLUMN headers;
ALTER TABLE idempotency_keys RENAME COLUMN body TO ticket;

-- +goose Down
ALTER TABLE idempotency_keys RENAME COLUMN ticket TO body;
ALTER TABLE idempotency_keys ADD COLUMN status_code integer NOT NULL DEFAULT 201,
    ADD COLUMN headers jsonb NOT NULL DEFAULT '{}';
