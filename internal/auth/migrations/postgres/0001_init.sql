-- +goose Up
CREATE TABLE signing_keys (
    kid         TEXT   PRIMARY KEY,
    private_key BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE signing_keys;
