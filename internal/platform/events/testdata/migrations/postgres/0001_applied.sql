-- +goose Up
CREATE TABLE outbox (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   TEXT   NOT NULL UNIQUE,
    event_type TEXT   NOT NULL,
    payload    BYTEA  NOT NULL,
    headers    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE processed_events (
    consumer     TEXT   NOT NULL,
    event_id     TEXT   NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE TABLE applied (event_id TEXT NOT NULL, body TEXT NOT NULL);
