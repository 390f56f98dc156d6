-- +goose Up
-- A rename rewrites the username stored with the author's comments
-- (ADR 0011); articles have articles_author already.
CREATE INDEX comments_author ON comments (author_id);

-- +goose Down
DROP INDEX comments_author;
