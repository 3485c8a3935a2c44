-- +goose Up
-- Least privilege: group roles (NOLOGIN) that deployments grant to their login
-- users. The writer can change tickets but never drop or truncate them; the
-- reader (query service, read replica) can only select.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tickets_writer') THEN
        CREATE ROLE tickets_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tickets_reader') THEN
        CREATE ROLE tickets_reader NOLOGIN;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT SELECT, INSERT, UPDATE ON tickets TO tickets_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox, idempotency_keys TO tickets_writer;
GRANT SELECT ON tickets TO tickets_reader;

-- +goose Down
REVOKE ALL ON tickets, outbox, idempotency_keys FROM tickets_writer;
REVOKE ALL ON tickets FROM tickets_reader;
