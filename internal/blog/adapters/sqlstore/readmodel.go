package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// Authors returns the read model's profiles of ids (missing ones are absent).
func (s *Store) Authors(ctx context.Context, ids []int64) (map[int64]domain.Profile, error) {
	out := make(map[int64]domain.Profile, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, username, bio, image, version FROM authors WHERE id IN (`+
		inList(1, len(ids))+`)`, int64Args(ids)...)
	if err != nil {
		return nil, fmt.Errorf("loading authors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("scanning authors: %w", err)
		}
		out[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading authors: %w", err)
	}
	return out, nil
}

// AuthorByUsername looks a username up (case-insensitively) in the read model.
func (s *Store) AuthorByUsername(ctx context.Context, username string) (domain.Profile, bool, error) {
	p, err := scanProfile(s.db.QueryRowContext(ctx,
		`SELECT id, username, bio, image, version FROM authors WHERE username_key = $1`, domain.UsernameKey(username)))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Profile{}, false, nil
	}
	if err != nil {
		return domain.Profile{}, false, fmt.Errorf("looking up author %q: %w", username, err)
	}
	return p, true, nil
}

func scanProfile(row scanner) (domain.Profile, error) {
	var p domain.Profile
	var bio, image sql.NullString
	if err := row.Scan(&p.ID, &p.Username, &bio, &image, &p.Version); err != nil {
		return domain.Profile{}, err
	}
	if bio.Valid {
		p.Bio = &bio.String
	}
	if image.Valid {
		p.Image = &image.String
	}
	return p, nil
}

// UpsertAuthor applies a profile in its own transaction (see UpsertAuthorTx).
func (s *Store) UpsertAuthor(ctx context.Context, p domain.Profile) (applied bool, err error) {
	err = s.db.Transact(ctx, func(tx *database.Tx) error {
		applied, err = s.UpsertAuthorTx(ctx, tx, p)
		return err
	})
	return applied, err
}

// UpsertAuthorTx stores p unless the read model already holds the same or a
// newer version of that user. A username can only belong to one user: a row
// still holding p's username is stale (its user has since been renamed, or
// the event saying so has not arrived) and is dropped; a miss on it later
// falls back to the users service.
//
// When the username differs from the one held (or none was held), the
// username stored with the author's articles and comments is rewritten too:
// it is what readers see when neither the read model nor the users service
// can name the author, and an old name may belong to someone else later.
func (s *Store) UpsertAuthorTx(ctx context.Context, q database.Querier, p domain.Profile) (bool, error) {
	var version int64
	var username string
	err := q.QueryRowContext(ctx, `SELECT version, username FROM authors WHERE id = $1`, p.ID).Scan(&version, &username)
	switch {
	case err == nil && version >= p.Version:
		return false, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("reading author %d: %w", p.ID, err)
	}
	if username != p.Username {
		for _, table := range []string{"articles", "comments"} {
			if _, err := q.ExecContext(ctx, `UPDATE `+table+` SET author_username = $1 WHERE author_id = $2 AND author_username <> $1`,
				p.Username, p.ID); err != nil {
				return false, fmt.Errorf("renaming author %d in %s: %w", p.ID, table, err)
			}
		}
	}
	key := domain.UsernameKey(p.Username)
	if _, err := q.ExecContext(ctx, `DELETE FROM authors WHERE username_key = $1 AND id <> $2`, key, p.ID); err != nil {
		return false, fmt.Errorf("releasing username of author %d: %w", p.ID, err)
	}
	res, err := q.ExecContext(ctx, `INSERT INTO authors (id, username, username_key, bio, image, version)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET username = excluded.username, username_key = excluded.username_key,
			bio = excluded.bio, image = excluded.image, version = excluded.version
		WHERE authors.version < excluded.version`,
		p.ID, p.Username, key, p.Bio, p.Image, p.Version)
	if err != nil {
		return false, fmt.Errorf("saving author %d: %w", p.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("saving author %d: %w", p.ID, err)
	}
	return n > 0, nil
}

// DeleteAuthorTx forgets a deleted account and every follow from or to it.
// Its articles and comments keep the username stored with them.
func (s *Store) DeleteAuthorTx(ctx context.Context, q database.Querier, id int64) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM authors WHERE id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("deleting author %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("deleting author %d: %w", id, err)
	}
	res, err = q.ExecContext(ctx, `DELETE FROM author_follows WHERE follower_id = $1 OR followee_id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("deleting follows of author %d: %w", id, err)
	}
	m, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("deleting follows of author %d: %w", id, err)
	}
	return n+m > 0, nil
}

// ApplyFollowTx records a follow or unfollow unless a later one (by At) is
// already known: the last write wins, and replays change nothing.
func (s *Store) ApplyFollowTx(ctx context.Context, q database.Querier, f domain.Follow) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO author_follows (follower_id, followee_id, following, at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (follower_id, followee_id) DO UPDATE SET following = excluded.following, at = excluded.at
		WHERE author_follows.at <= excluded.at`,
		f.FollowerID, f.FolloweeID, f.Following, f.At)
	if err != nil {
		return false, fmt.Errorf("saving follow %d->%d: %w", f.FollowerID, f.FolloweeID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("saving follow %d->%d: %w", f.FollowerID, f.FolloweeID, err)
	}
	return n > 0, nil
}

// Following returns which of ids follower follows. Nobody follows
// themselves (the users service refuses it), so the viewer's own ID needs no
// query: a comment or article the viewer just wrote costs none.
func (s *Store) Following(ctx context.Context, followerID int64, ids []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if followerID == 0 {
		return out, nil
	}
	if slices.Contains(ids, followerID) {
		ids = slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return id == followerID })
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT followee_id FROM author_follows
		WHERE follower_id = $1 AND following = $2 AND followee_id IN (`+inList(3, len(ids))+`)`,
		append([]any{followerID, true}, int64Args(ids)...)...)
	if err != nil {
		return nil, fmt.Errorf("loading follows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scanning follows: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading follows: %w", err)
	}
	return out, nil
}
