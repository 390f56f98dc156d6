// Package sqlstore implements the users repository over *database.DB. The
// same statements run on PostgreSQL and SQLite ($N placeholders, RETURNING,
// ON CONFLICT); the one difference is row locking (SQLite transactions take
// the write lock up front, so it needs no FOR UPDATE).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/users/app"
	"github.com/tungsten-blog/tungsten/internal/users/domain"
)

// Store implements app.Repository.
type Store struct {
	db   *database.DB
	prop propagation.TextMapPropagator // trace context stored with outbox events
}

var (
	_ app.Repository = (*Store)(nil)
	_ app.Tx         = (*tx)(nil)
)

// New returns a store over db. prop is used to store the trace context with
// each outbox event.
func New(db *database.DB, prop propagation.TextMapPropagator) *Store {
	return &Store{db: db, prop: prop}
}

const userColumns = `id, username, email, password_hash, bio, image, created_at, updated_at, token_version`

func scanUser(row interface{ Scan(...any) error }) (domain.User, error) {
	var u domain.User
	var bio, image sql.NullString
	var created, updated int64
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &bio, &image, &created, &updated, &u.TokenVersion); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return domain.User{}, errs.NotFound("user")
		}
		return domain.User{}, fmt.Errorf("reading user: %w", err)
	}
	u.Bio, u.Image = nullable(bio), nullable(image)
	u.CreatedAt, u.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return u, nil
}

func nullable(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func nullString(s *string) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *s, Valid: true}
}

func userBy(ctx context.Context, q database.Querier, where string, arg any, suffix string) (domain.User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where+` = $1`+suffix, arg))
}

// UserByID implements app.Repository.
func (s *Store) UserByID(ctx context.Context, id int64) (domain.User, error) {
	return userBy(ctx, s.db, "id", id, "")
}

// UserByEmail implements app.Repository; email must be normalized.
func (s *Store) UserByEmail(ctx context.Context, email string) (domain.User, error) {
	return userBy(ctx, s.db, "email", email, "")
}

// ProfileByUsername implements app.Repository in one query.
func (s *Store) ProfileByUsername(ctx context.Context, username string, viewerID int64) (domain.Profile, error) {
	var p domain.Profile
	var bio, image sql.NullString
	var updated int64
	var following int64
	err := s.db.QueryRowContext(ctx, `
		SELECT u.id, u.username, u.bio, u.image, u.updated_at,
		       (SELECT COUNT(*) FROM follows f WHERE f.follower_id = $2 AND f.followee_id = u.id)
		FROM users u WHERE u.username_key = $1`, domain.UsernameKey(username), viewerID).
		Scan(&p.ID, &p.Username, &bio, &image, &updated, &following)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Profile{}, errs.NotFound("profile")
	}
	if err != nil {
		return domain.Profile{}, fmt.Errorf("reading profile: %w", err)
	}
	p.Bio, p.Image = nullable(bio), nullable(image)
	p.UpdatedAt = time.UnixMilli(updated).UTC()
	p.Following = following > 0
	return p, nil
}

// Profiles implements app.Repository; usernames must be username keys.
func (s *Store) Profiles(ctx context.Context, ids []int64, usernames []string) ([]domain.Profile, error) {
	args := make([]any, 0, len(ids)+len(usernames))
	var conds []string
	if len(ids) > 0 {
		conds = append(conds, "id IN ("+placeholders(len(args)+1, len(ids))+")")
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if len(usernames) > 0 {
		conds = append(conds, "username_key IN ("+placeholders(len(args)+1, len(usernames))+")")
		for _, u := range usernames {
			args = append(args, u)
		}
	}
	if len(conds) == 0 {
		return []domain.Profile{}, nil
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, username, bio, image, updated_at FROM users WHERE `+strings.Join(conds, " OR ")+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("querying profiles: %w", err)
	}
	defer rows.Close()
	out := []domain.Profile{}
	for rows.Next() {
		var p domain.Profile
		var bio, image sql.NullString
		var updated int64
		if err := rows.Scan(&p.ID, &p.Username, &bio, &image, &updated); err != nil {
			return nil, fmt.Errorf("reading profile: %w", err)
		}
		p.Bio, p.Image = nullable(bio), nullable(image)
		p.UpdatedAt = time.UnixMilli(updated).UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading profiles: %w", err)
	}
	return out, nil
}

// placeholders returns "$from, $from+1, ..." (n of them).
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// Taken implements app.Repository.
func (s *Store) Taken(ctx context.Context, username, email string, exceptID int64) (app.Taken, error) {
	return taken(ctx, s.db, username, email, exceptID)
}

func taken(ctx context.Context, q database.Querier, username, email string, exceptID int64) (app.Taken, error) {
	key, skel := domain.UsernameKey(username), domain.UsernameSkeleton(username)
	rows, err := q.QueryContext(ctx,
		`SELECT username_key, COALESCE(username_skeleton, ''), email FROM users
		WHERE (username_key = $1 OR username_skeleton = $2 OR email = $3) AND id <> $4`, key, skel, email, exceptID)
	if err != nil {
		return app.Taken{}, fmt.Errorf("checking for taken username or email: %w", err)
	}
	defer rows.Close()
	var t app.Taken
	for rows.Next() {
		var k, sk, e string
		if err := rows.Scan(&k, &sk, &e); err != nil {
			return app.Taken{}, fmt.Errorf("reading taken username or email: %w", err)
		}
		t.Username = t.Username || k == key || sk == skel
		t.Email = t.Email || e == email
	}
	if err := rows.Err(); err != nil {
		return app.Taken{}, fmt.Errorf("reading taken username or email: %w", err)
	}
	return t, nil
}

// BackfillSkeletons gives rows created before skeletons existed theirs, in
// batches. A row whose skeleton another account already holds (two look-alike
// names registered before the rule) keeps none and is reported in skipped;
// later look-alikes of the first are refused all the same.
func (s *Store) BackfillSkeletons(ctx context.Context) (filled, skipped int, err error) {
	seen := int64(0)
	for {
		rows, err := s.db.QueryContext(ctx,
			`SELECT id, username FROM users WHERE username_skeleton IS NULL AND id > $1 ORDER BY id LIMIT 500`, seen)
		if err != nil {
			return filled, skipped, fmt.Errorf("listing users without a username skeleton: %w", err)
		}
		type row struct {
			id   int64
			name string
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.name); err != nil {
				rows.Close()
				return filled, skipped, fmt.Errorf("reading users without a username skeleton: %w", err)
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return filled, skipped, fmt.Errorf("reading users without a username skeleton: %w", err)
		}
		if len(batch) == 0 {
			return filled, skipped, nil
		}
		for _, r := range batch {
			seen = r.id
			_, err := s.db.ExecContext(ctx, `UPDATE users SET username_skeleton = $1 WHERE id = $2 AND username_skeleton IS NULL`,
				domain.UsernameSkeleton(r.name), r.id)
			switch {
			case database.IsUniqueViolation(err):
				skipped++
			case err != nil:
				return filled, skipped, fmt.Errorf("setting the username skeleton of user %d: %w", r.id, err)
			default:
				filled++
			}
		}
	}
}

// Reserved implements app.Repository.
func (s *Store) Reserved(ctx context.Context, username string, exceptID int64, since time.Time) (bool, error) {
	return reserved(ctx, s.db, username, exceptID, since)
}

func reserved(ctx context.Context, q database.Querier, username string, exceptID int64, since time.Time) (bool, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM username_reservations
		WHERE username_key = $1 AND user_id <> $2 AND released_at > $3`,
		domain.UsernameKey(username), exceptID, since.UnixMilli()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("checking username reservations: %w", err)
	}
	return n > 0, nil
}

// SetPasswordHash implements app.Repository.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, old, hash string) error {
	if _, err := s.db.ExecContext(ctx,
		`UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`, hash, id, old); err != nil {
		return fmt.Errorf("replacing password hash of user %d: %w", id, err)
	}
	return nil
}

// Transact implements app.Repository.
func (s *Store) Transact(ctx context.Context, fn func(tx app.Tx) error) error {
	return s.db.Transact(ctx, func(t *database.Tx) error {
		return fn(&tx{tx: t, prop: s.prop})
	})
}

type tx struct {
	tx   *database.Tx
	prop propagation.TextMapPropagator
}

func (t *tx) UserByID(ctx context.Context, id int64) (domain.User, error) {
	return userBy(ctx, t.tx, "id", id, "")
}

func (t *tx) UserByUsername(ctx context.Context, username string) (domain.User, error) {
	u, err := userBy(ctx, t.tx, "username_key", domain.UsernameKey(username), "")
	if errs.Is(err, errs.KindNotFound) {
		return domain.User{}, errs.NotFound("profile")
	}
	return u, err
}

func (t *tx) LockUser(ctx context.Context, id int64) (domain.User, error) {
	suffix := ""
	if t.tx.Dialect() == database.Postgres {
		suffix = " FOR UPDATE"
	}
	return userBy(ctx, t.tx, "id", id, suffix)
}

func (t *tx) Taken(ctx context.Context, username, email string, exceptID int64) (app.Taken, error) {
	return taken(ctx, t.tx, username, email, exceptID)
}

func (t *tx) Reserved(ctx context.Context, username string, exceptID int64, since time.Time) (bool, error) {
	return reserved(ctx, t.tx, username, exceptID, since)
}

func (t *tx) ReserveUsername(ctx context.Context, username string, userID int64, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO username_reservations (username_key, user_id, released_at) VALUES ($1, $2, $3)
		ON CONFLICT (username_key) DO UPDATE SET user_id = excluded.user_id, released_at = excluded.released_at`,
		domain.UsernameKey(username), userID, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("reserving username of user %d: %w", userID, err)
	}
	return nil
}

func (t *tx) DeleteUser(ctx context.Context, id int64) error {
	// Follows go explicitly: SQLite enforces ON DELETE CASCADE only with
	// its foreign_keys pragma on.
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1`, id); err != nil {
		return fmt.Errorf("deleting follows of user %d: %w", id, err)
	}
	res, err := t.tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("deleting user %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errs.NotFound("user")
	}
	return nil
}

func (t *tx) CreateUser(ctx context.Context, u domain.User) (domain.User, error) {
	err := t.tx.QueryRowContext(ctx, `
		INSERT INTO users (username, username_key, username_skeleton, email, password_hash, bio, image, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		u.Username, domain.UsernameKey(u.Username), domain.UsernameSkeleton(u.Username), u.Email, u.PasswordHash, nullString(u.Bio), nullString(u.Image),
		u.CreatedAt.UnixMilli(), u.UpdatedAt.UnixMilli()).Scan(&u.ID)
	if err != nil {
		if database.IsUniqueViolation(err) {
			return domain.User{}, uniqueConflict(err)
		}
		return domain.User{}, fmt.Errorf("inserting user: %w", err)
	}
	return u, nil
}

func (t *tx) UpdateUser(ctx context.Context, u domain.User) error {
	res, err := t.tx.ExecContext(ctx, `
		UPDATE users SET username = $1, username_key = $2, username_skeleton = $3, email = $4, password_hash = $5, bio = $6, image = $7, updated_at = $8,
			token_version = $9
		WHERE id = $10`,
		u.Username, domain.UsernameKey(u.Username), domain.UsernameSkeleton(u.Username), u.Email, u.PasswordHash, nullString(u.Bio), nullString(u.Image),
		u.UpdatedAt.UnixMilli(), u.TokenVersion, u.ID)
	if err != nil {
		if database.IsUniqueViolation(err) {
			return uniqueConflict(err)
		}
		return fmt.Errorf("updating user %d: %w", u.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errs.NotFound("user")
	}
	return nil
}

// uniqueConflict names the field of a unique violation that slipped past the
// Taken check (two requests racing for the same name). Both engines name the
// column or constraint in the message; the cause is kept for logs.
func uniqueConflict(err error) error {
	t := app.Taken{Email: strings.Contains(err.Error(), "email")}
	t.Username = !t.Email
	return &errs.Error{Kind: errs.KindConflict, Messages: app.ConflictError(t).(*errs.Error).Messages, Err: err}
}

func (t *tx) Follow(ctx context.Context, followerID, followeeID int64, at time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `
		INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (follower_id, followee_id) DO NOTHING`, followerID, followeeID, at.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("inserting follow %d→%d: %w", followerID, followeeID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("inserting follow %d→%d: %w", followerID, followeeID, err)
	}
	return n > 0, nil
}

func (t *tx) Unfollow(ctx context.Context, followerID, followeeID int64) (bool, error) {
	res, err := t.tx.ExecContext(ctx,
		`DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, followerID, followeeID)
	if err != nil {
		return false, fmt.Errorf("deleting follow %d→%d: %w", followerID, followeeID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("deleting follow %d→%d: %w", followerID, followeeID, err)
	}
	return n > 0, nil
}

// SnapshotPage implements app.Repository: up to limit users with IDs above
// afterID, in ID order, with the follows they make.
func (s *Store) SnapshotPage(ctx context.Context, afterID int64, limit int) ([]domain.Profile, []domain.FollowEvent, error) {
	var users []domain.Profile
	var follows []domain.FollowEvent
	err := s.db.Transact(ctx, func(t *database.Tx) error { // one consistent view of both tables
		users, follows = nil, nil
		rows, err := t.QueryContext(ctx, `SELECT id, username, bio, image, updated_at FROM users WHERE id > $1 ORDER BY id LIMIT $2`,
			afterID, limit)
		if err != nil {
			return fmt.Errorf("reading users: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p domain.Profile
			var bio, image sql.NullString
			var updated int64
			if err := rows.Scan(&p.ID, &p.Username, &bio, &image, &updated); err != nil {
				return fmt.Errorf("reading users: %w", err)
			}
			p.Bio, p.Image, p.UpdatedAt = nullable(bio), nullable(image), time.UnixMilli(updated).UTC()
			users = append(users, p)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading users: %w", err)
		}
		if len(users) == 0 {
			return nil
		}
		frows, err := t.QueryContext(ctx, `SELECT follower_id, followee_id, created_at FROM follows
			WHERE follower_id >= $1 AND follower_id <= $2 ORDER BY follower_id, followee_id`, users[0].ID, users[len(users)-1].ID)
		if err != nil {
			return fmt.Errorf("reading follows: %w", err)
		}
		defer frows.Close()
		for frows.Next() {
			var f domain.FollowEvent
			if err := frows.Scan(&f.FollowerID, &f.FolloweeID, &f.At); err != nil {
				return fmt.Errorf("reading follows: %w", err)
			}
			follows = append(follows, f)
		}
		return frows.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading snapshot after user %d: %w", afterID, err)
	}
	return users, follows, nil
}

func (t *tx) Enqueue(ctx context.Context, eventType string, payload any) error {
	return events.Enqueue(ctx, t.tx, t.prop, eventType, payload)
}
