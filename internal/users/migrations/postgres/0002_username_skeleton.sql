-- +goose Up
-- The confusable skeleton of the username (domain.UsernameSkeleton): names that render
-- alike share it, so it is unique. Rows created before this migration get theirs from
-- the users service at start (sqlstore.BackfillSkeletons); NULLs do not collide.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton_unique ON users (username_skeleton);

-- +goose Down
DROP INDEX users_username_skeleton_unique;
ALTER TABLE users DROP COLUMN username_skeleton;
