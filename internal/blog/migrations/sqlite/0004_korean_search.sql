-- +goose Up
-- Search that understands Korean (ADR 0013): the index holds text the blog
-- normalizes in Go (Hangul as character bigrams, other words whole), written
-- with each article, so the unicode61 index and its triggers go. The new
-- table is contentless (the text lives in articles) and tokenized by ascii,
-- which splits on the spaces of the normalized text and nothing else. The
-- blog indexes the rows it lacks when it starts: every old article, once.
DROP TRIGGER articles_fts_update;
DROP TRIGGER articles_fts_delete;
DROP TRIGGER articles_fts_insert;
DROP TABLE articles_fts;

CREATE VIRTUAL TABLE articles_search USING fts5(
    title, description, body,
    content = '', contentless_delete = 1,
    tokenize = 'ascii', prefix = '2 3'
);

-- +goose StatementBegin
CREATE TRIGGER articles_search_delete AFTER DELETE ON articles BEGIN
    DELETE FROM articles_search WHERE rowid = old.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER articles_search_delete;
DROP TABLE articles_search;

CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, description, body,
    content = 'articles', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);

-- +goose StatementBegin
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, description, body)
    VALUES (new.id, new.title, new.description, new.body);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, description, body)
    VALUES ('delete', old.id, old.title, old.description, old.body);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, description, body ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, description, body)
    VALUES ('delete', old.id, old.title, old.description, old.body);
    INSERT INTO articles_fts (rowid, title, description, body)
    VALUES (new.id, new.title, new.description, new.body);
END;
-- +goose StatementEnd

INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');
