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

-- The outbox and processed_events tables are the events package's own set
-- (internal/platform/events/migrations, ADR 0019). Databases created before
-- it got them here; that set leaves them as they are.

-- +goose Down
DROP TABLE follows;
DROP TABLE users;
