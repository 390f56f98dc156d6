-- +goose Up
-- AUTOINCREMENT: an ID is never reused, so read models fed by events can
-- never mistake a new account for an old one.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE, -- lower(username)
    email         TEXT    NOT NULL UNIQUE, -- stored lower-cased
    password_hash TEXT    NOT NULL,
    bio           TEXT,
    image         TEXT,
    created_at    INTEGER NOT NULL, -- unix ms
    updated_at    INTEGER NOT NULL  -- unix ms; the account's version
);

CREATE TABLE follows (
    follower_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
) WITHOUT ROWID;
CREATE INDEX follows_followee ON follows (followee_id);

-- The outbox and processed_events tables are the events package's own set
-- (internal/platform/events/migrations, ADR 0019). Databases created before
-- it got them here; that set leaves them as they are.

-- +goose Down
DROP TABLE follows;
DROP TABLE users;
