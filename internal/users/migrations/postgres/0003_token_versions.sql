-- +goose Up
-- Tokens carry the account's token version; signing out, changing the
-- password or deleting the account raises it (ADR 0011).
ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;

-- A username given up (by a rename or a deleted account) stays reserved for
-- its last holder for --users.username-reservation, so nobody else can be
-- mistaken for them while old links, tokens and stored names still say it.
CREATE TABLE username_reservations (
    username_key TEXT   NOT NULL PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    released_at  BIGINT NOT NULL -- unix ms
);

-- +goose Down
DROP TABLE username_reservations;
ALTER TABLE users DROP COLUMN token_version;
