-- +goose Up
-- The responses of writes sent with an Idempotency-Key, stored in the write's
-- own transaction and replayed to a client that retries (ADR 0013). Rows
-- older than the TTL are ignored and deleted by the user's next keyed write.
CREATE TABLE idempotency_keys (
    user_id     BIGINT  NOT NULL,
    idem_key    TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);

-- +goose Down
DROP TABLE idempotency_keys;
