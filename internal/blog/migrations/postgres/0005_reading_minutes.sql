-- +goose Up
-- Reading time for lists, which never load bodies: written with each
-- article (readingtime.Minutes of its body). NULL means not measured yet:
-- the blog measures those rows when it starts, with the search index.
ALTER TABLE articles ADD COLUMN reading_minutes integer;
CREATE INDEX articles_unmeasured ON articles (id) WHERE reading_minutes IS NULL;

-- +goose Down
DROP INDEX articles_unmeasured;
ALTER TABLE articles DROP COLUMN reading_minutes;
