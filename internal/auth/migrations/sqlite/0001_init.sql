-- +goose Up
CREATE TABLE signing_keys (
    kid         TEXT    PRIMARY KEY,
    private_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- +goose Down
DROP TABLE signing_keys;
