package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// recordOnce stores a write's Idempotency-Key and response inside the
// write's transaction. The user's expired keys go first (so storage stays
// bounded by the write rate limit over the TTL, and an expired key can be
// used again). On PostgreSQL a concurrent insert of the same key waits for
// the other transaction and then does nothing if it committed, so of two
// racing retries exactly one write commits; the other gets
// domain.ErrIdempotencyKeyUsed and replays.
func (s *Store) recordOnce(ctx context.Context, tx *database.Tx, k domain.IdempotencyKey, status int,
	render func() ([]byte, error)) error {
	body, err := render()
	if err != nil {
		return fmt.Errorf("rendering the response to keep: %w", err)
	}
	now := s.now()
	if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND created_at < $2`,
		k.UserID, now.Add(-domain.IdempotencyTTL).UnixMilli()); err != nil {
		return fmt.Errorf("deleting expired idempotency keys: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, status, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, idem_key) DO NOTHING`,
		k.UserID, k.Key, k.Fingerprint, status, string(body), now.UnixMilli())
	if err != nil {
		return fmt.Errorf("storing idempotency key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("storing idempotency key: %w", err)
	}
	if n == 0 {
		return domain.ErrIdempotencyKeyUsed
	}
	return nil
}

// StoredResponse returns the response kept for the user's key, unless it is
// older than the TTL.
func (s *Store) StoredResponse(ctx context.Context, userID int64, key string) (domain.StoredResponse, bool, error) {
	var r domain.StoredResponse
	var body string
	notBefore := s.now().Add(-domain.IdempotencyTTL)
	err := s.db.QueryRowContext(ctx, `SELECT fingerprint, status, body FROM idempotency_keys
		WHERE user_id = $1 AND idem_key = $2 AND created_at >= $3`, userID, key, notBefore.UnixMilli()).
		Scan(&r.Fingerprint, &r.Status, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.StoredResponse{}, false, nil
	}
	if err != nil {
		return domain.StoredResponse{}, false, fmt.Errorf("loading idempotency key: %w", err)
	}
	r.Body = []byte(body)
	return r, true, nil
}
