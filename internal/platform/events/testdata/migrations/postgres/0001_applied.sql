-- +goose Up
-- What the test consumer applied; the outbox tables come from events.Migrations.
CREATE TABLE applied (event_id TEXT NOT NULL, body TEXT NOT NULL);
