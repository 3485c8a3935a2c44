-- +goose Up
CREATE TABLE tickets (
    id          uuid PRIMARY KEY,
    title       text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    status      text        NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    priority    text        NOT NULL DEFAULT 'medium'
                CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    -- Sorting by priority means urgent > high > medium > low, not text order.
    priority_rank smallint GENERATED ALWAYS AS (
        CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 4 END
    ) STORED,
    assignee    text        NOT NULL DEFAULT '' CHECK (char_length(assignee) <= 100),
    reporter    text        NOT NULL DEFAULT '' CHECK (char_length(reporter) <= 100),
    tags        text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    version     bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- A delete is a change with a version of its own; the row stays as a
    -- tombstone so that nothing older can bring the ticket back.
    deleted_at  timestamptz
);

-- Keyset pagination: every list is (optional status, optional assignee)
-- filtered, ordered by one sort key with id as the tie-breaker. One index per
-- filter shape and sort key serves both directions (Postgres scans backwards).
CREATE INDEX tickets_created_idx          ON tickets (created_at, id)                     WHERE deleted_at IS NULL;
CREATE INDEX tickets_updated_idx          ON tickets (updated_at, id)                     WHERE deleted_at IS NULL;
CREATE INDEX tickets_priority_idx         ON tickets (priority_rank, id)                  WHERE deleted_at IS NULL;
CREATE INDEX tickets_title_idx            ON tickets (title, id)                          WHERE deleted_at IS NULL;
CREATE INDEX tickets_status_created_idx   ON tickets (status, created_at, id)             WHERE deleted_at IS NULL;
CREATE INDEX tickets_status_updated_idx   ON tickets (status, updated_at, id)             WHERE deleted_at IS NULL;
CREATE INDEX tickets_status_priority_idx  ON tickets (status, priority_rank, id)          WHERE deleted_at IS NULL;
CREATE INDEX tickets_status_title_idx     ON tickets (status, title, id)                  WHERE deleted_at IS NULL;
CREATE INDEX tickets_assignee_created_idx ON tickets (assignee, created_at, id)           WHERE deleted_at IS NULL;
CREATE INDEX tickets_assignee_updated_idx ON tickets (assignee, updated_at, id)           WHERE deleted_at IS NULL;
CREATE INDEX tickets_assignee_priority_idx ON tickets (assignee, priority_rank, id)       WHERE deleted_at IS NULL;
CREATE INDEX tickets_assignee_title_idx   ON tickets (assignee, title, id)                WHERE deleted_at IS NULL;
CREATE INDEX tickets_sa_created_idx       ON tickets (status, assignee, created_at, id)   WHERE deleted_at IS NULL;
CREATE INDEX tickets_sa_updated_idx       ON tickets (status, assignee, updated_at, id)   WHERE deleted_at IS NULL;
CREATE INDEX tickets_sa_priority_idx      ON tickets (status, assignee, priority_rank, id) WHERE deleted_at IS NULL;
CREATE INDEX tickets_sa_title_idx         ON tickets (status, assignee, title, id)        WHERE deleted_at IS NULL;

-- +goose Down
DROP TABLE tickets;
