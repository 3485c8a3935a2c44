-- +goose NO TRANSACTION
-- +goose Up
-- The relay publishes only the oldest unsent row of each ticket. When one
-- busy ticket fills the front of the outbox, it finds the other tickets'
-- oldest rows by skipping from ticket to ticket on this index instead of
-- reading the busy ticket's whole backlog. CONCURRENTLY: the outbox takes
-- every write, and a plain CREATE INDEX would block them while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_unsent_ticket_idx
    ON outbox (ticket_id, id) WHERE published_at IS NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS outbox_unsent_ticket_idx;
