// Package sqlstore keeps the auth service's signing keys in its database,
// so every auth replica signs with and publishes the same keys.
package sqlstore

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/tungsten-blog/tungsten/internal/auth/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// Store persists signing keys.
type Store struct{ db *database.DB }

// New returns a store over db.
func New(db *database.DB) *Store { return &Store{db: db} }

// Keys returns every stored key.
func (s *Store) Keys(ctx context.Context) ([]domain.SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kid, private_key, created_at FROM signing_keys`)
	if err != nil {
		return nil, fmt.Errorf("listing signing keys: %w", err)
	}
	defer rows.Close()
	var out []domain.SigningKey
	for rows.Next() {
		var k domain.SigningKey
		var seed []byte
		var created int64
		if err := rows.Scan(&k.ID, &seed, &created); err != nil {
			return nil, fmt.Errorf("scanning signing key: %w", err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("signing key %s: stored seed has %d bytes", k.ID, len(seed))
		}
		k.Private = ed25519.NewKeyFromSeed(seed)
		k.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing signing keys: %w", err)
	}
	return out, nil
}

// Add stores a new key.
func (s *Store) Add(ctx context.Context, k domain.SigningKey) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO signing_keys (kid, private_key, created_at) VALUES ($1, $2, $3)`,
		k.ID, []byte(k.Private.Seed()), k.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("storing signing key: %w", err)
	}
	return nil
}

// Delete removes keys no token can need any more.
func (s *Store) Delete(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM signing_keys WHERE kid = $1`, id); err != nil {
			return fmt.Errorf("deleting signing key %s: %w", id, err)
		}
	}
	return nil
}
