-- +goose Up
CREATE TABLE categories (
    slug     TEXT    PRIMARY KEY,
    name     TEXT    NOT NULL,
    color    TEXT    NOT NULL,
    position INTEGER NOT NULL
);

-- Colours are dark enough for white text (WCAG AA, contrast >= 4.5:1).
INSERT INTO categories (slug, name, color, position) VALUES
    ('technology', 'Technology', '#1d4ed8', 1),
    ('science',    'Science',    '#6d28d9', 2),
    ('culture',    'Culture',    '#be185d', 3),
    ('travel',     'Travel',     '#0f766e', 4),
    ('food',       'Food',       '#b45309', 5),
    ('lifestyle',  'Lifestyle',  '#4d7c0f', 6),
    ('business',   'Business',   '#334155', 7),
    ('health',     'Health',     '#b91c1c', 8);

CREATE TABLE articles (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    slug            TEXT   NOT NULL UNIQUE,
    title           TEXT   NOT NULL,
    description     TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    author_id       BIGINT NOT NULL,
    author_username TEXT   NOT NULL,
    category        TEXT   REFERENCES categories (slug),
    favorites_count BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX articles_recent ON articles (created_at DESC, id DESC);
CREATE INDEX articles_author ON articles (author_id, created_at DESC, id DESC);
CREATE INDEX articles_category ON articles (category, created_at DESC, id DESC);

-- Full-text index over articles (external content: the text lives once, in
-- articles). Triggers keep it in step; favorites_count updates do not touch it.
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

CREATE TABLE article_tags (
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag        TEXT   NOT NULL,
    PRIMARY KEY (article_id, tag)
);
CREATE INDEX article_tags_tag ON article_tags (tag, article_id);

CREATE TABLE favorites (
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (article_id, user_id)
);
CREATE INDEX favorites_user ON favorites (user_id, article_id);

CREATE TABLE comments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id      BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    author_id       BIGINT NOT NULL,
    author_username TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX comments_article ON comments (article_id, created_at DESC, id DESC);

-- Read model of the users service, fed by its events.
CREATE TABLE authors (
    id           BIGINT PRIMARY KEY,
    username     TEXT   NOT NULL,
    username_key TEXT   NOT NULL UNIQUE,
    bio          TEXT,
    image        TEXT,
    version      BIGINT NOT NULL
);

CREATE TABLE author_follows (
    follower_id BIGINT  NOT NULL,
    followee_id BIGINT  NOT NULL,
    following   INTEGER NOT NULL,
    at          BIGINT  NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);

-- The outbox and processed_events tables are the events package's own set
-- (internal/platform/events/migrations, ADR 0019). Databases created before
-- it got them here; that set leaves them as they are.

-- +goose Down
DROP TABLE author_follows;
DROP TABLE authors;
DROP TABLE comments;
DROP TABLE favorites;
DROP TABLE article_tags;
DROP TRIGGER articles_fts_update;
DROP TRIGGER articles_fts_delete;
DROP TRIGGER articles_fts_insert;
DROP TABLE articles_fts;
DROP TABLE articles;
DROP TABLE categories;
