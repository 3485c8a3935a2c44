-- +goose Up
-- One row per committed change, written in the same transaction as the
-- ticket. The relay publishes unsent rows in id order and marks them sent
-- only after JetStream's acknowledgement; sent rows are pruned later.
CREATE TABLE outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    ticket_id    uuid        NOT NULL,
    version      bigint      NOT NULL,
    headers      jsonb       NOT NULL,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    UNIQUE (ticket_id, version)
);

-- The relay's scan: "rows not yet sent", never "rows after the last sent id",
-- so a transaction that commits late with a lower id is still picked up.
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_sent_idx   ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wake the relay at commit. The payload is empty on purpose: a notification
-- only says "look", the row is the event (NOTIFY payloads are size-limited
-- and lost when no listener is connected, so the relay also polls).
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- +goose Down
DROP TABLE outbox;
DROP FUNCTION outbox_notify();
