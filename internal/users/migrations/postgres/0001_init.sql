-- +goose Up
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT   NOT NULL,
    username_key  TEXT   NOT NULL CONSTRAINT users_username_key_unique UNIQUE, -- lower(username)
    email         TEXT   NOT NULL CONSTRAINT users_email_unique UNIQUE,        -- stored lower-cased
    password_hash TEXT   NOT NULL,
    bio           TEXT,
    image         TEXT,
    created_at    BIGINT NOT NULL, -- unix ms
    updated_at    BIGINT NOT NULL  -- unix ms; the account's version
);

CREATE TABLE follows (
    follower_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id);

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

-- +goose Down
DROP TABLE processed_events;
DROP TABLE outbox;
DROP TABLE follows;
DROP TABLE users;
