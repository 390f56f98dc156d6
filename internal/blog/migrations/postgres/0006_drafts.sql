-- +goose Up
-- Drafts (ADR 0020): a draft is seen only by its author, and by whoever
-- holds its preview link (preview_token, NULL for published articles). It
-- is in no list, count or search index: list queries filter on draft, and
-- drafts have a NULL search vector.
ALTER TABLE articles ADD COLUMN draft boolean NOT NULL DEFAULT false;
ALTER TABLE articles ADD COLUMN preview_token text;
CREATE UNIQUE INDEX articles_preview_token ON articles (preview_token) WHERE preview_token IS NOT NULL;
CREATE INDEX articles_drafts ON articles (author_id, created_at DESC, id DESC) WHERE draft;

-- +goose Down
DROP INDEX articles_drafts;
DROP INDEX articles_preview_token;
ALTER TABLE articles DROP COLUMN preview_token;
ALTER TABLE articles DROP COLUMN draft;
