-- +goose Up
-- IF NOT EXISTS: databases migrated before this set existed (ADR 0019) got
-- both tables from their service's 0001 migration; they are kept as they are.
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT    NOT NULL UNIQUE,
    event_type TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    headers    TEXT    NOT NULL, -- JSON: the trace context of the producing request
    created_at INTEGER NOT NULL  -- unix ms
);

CREATE TABLE IF NOT EXISTS processed_events (
    consumer     TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    processed_at INTEGER NOT NULL, -- unix ms; rows past the consumer's retention are pruned
    PRIMARY KEY (consumer, event_id)
);

-- +goose Down
DROP TABLE IF EXISTS processed_events;
DROP TABLE IF EXISTS outbox;
