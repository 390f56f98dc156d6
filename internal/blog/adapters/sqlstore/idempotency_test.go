package sqlstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// manualClock moves only when told to.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func once(user int64, key, fp string) domain.Once[domain.Article] {
	return domain.Once[domain.Article]{
		IdempotencyKey: domain.IdempotencyKey{UserID: user, Key: key, Fingerprint: fp}, Status: 201,
		Render: func(a domain.Article) ([]byte, error) { return []byte(fmt.Sprintf(`{"slug":%q}`, a.Slug)), nil },
	}
}

func articleCount(t *testing.T, s *sqlstore.Store, author int64) int64 {
	t.Helper()
	p, err := s.ListArticles(t.Context(), domain.ListQuery{AuthorID: author, Limit: 100})
	require.NoError(t, err)
	return p.Total
}

// TestIdempotencyKeys: a keyed write stores its response in its own
// transaction; the same user's key again writes nothing; keys are per user;
// an expired key is forgotten; of concurrent writes with one key exactly one
// commits (the PostgreSQL insert waits for the other transaction).
func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := testenv.OpenDB(t, d, "blog", blog.Migrations)
			c := &manualClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
			s := sqlstore.New(db, nil, c.now)
			ctx := t.Context()
			in := domain.ArticleInput{Title: "Once only", Description: "d", Body: "b"}.Normalize()

			a, err := s.CreateArticleOnce(ctx, in, 1, "user1", once(1, "k1", "fp"))
			require.NoError(t, err)
			r, ok, err := s.StoredResponse(ctx, 1, "k1")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, domain.StoredResponse{Fingerprint: "fp", Status: 201, Body: []byte(`{"slug":"` + a.Slug + `"}`)}, r)

			_, err = s.CreateArticleOnce(ctx, in, 1, "user1", once(1, "k1", "fp"))
			require.ErrorIs(t, err, domain.ErrIdempotencyKeyUsed)
			require.EqualValues(t, 1, articleCount(t, s, 1), "the second write with the key must roll back")

			_, ok, err = s.StoredResponse(ctx, 2, "k1")
			require.NoError(t, err)
			require.False(t, ok, "keys are per user")
			_, err = s.CreateArticleOnce(ctx, in, 2, "user2", once(2, "k1", "fp"))
			require.NoError(t, err)

			// A comment under a key: the same.
			co := domain.Once[domain.Comment]{IdempotencyKey: domain.IdempotencyKey{UserID: 3, Key: "c1", Fingerprint: "cfp"}, Status: 200,
				Render: func(cm domain.Comment) ([]byte, error) { return []byte(fmt.Sprint(cm.ID)), nil }}
			cm, err := s.AddCommentOnce(ctx, a.Slug, 3, "user3", "hi", co)
			require.NoError(t, err)
			_, err = s.AddCommentOnce(ctx, a.Slug, 3, "user3", "hi", co)
			require.ErrorIs(t, err, domain.ErrIdempotencyKeyUsed)
			cs, err := s.Comments(ctx, a.Slug, 0)
			require.NoError(t, err)
			require.Len(t, cs, 1)
			r, _, err = s.StoredResponse(ctx, 3, "c1")
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(cm.ID), string(r.Body))

			// After the TTL the key is forgotten, and the next keyed write
			// of the user deletes it.
			c.advance(domain.IdempotencyTTL + time.Minute)
			_, ok, err = s.StoredResponse(ctx, 1, "k1")
			require.NoError(t, err)
			require.False(t, ok)
			_, err = s.CreateArticleOnce(ctx, in, 1, "user1", once(1, "k1", "fp2"))
			require.NoError(t, err)
			r, _, err = s.StoredResponse(ctx, 1, "k1")
			require.NoError(t, err)
			require.Equal(t, "fp2", r.Fingerprint)

			// Concurrent retries with one key: exactly one commits.
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.CreateArticleOnce(ctx, in, 9, "user9", once(9, "race", "fp"))
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else if !errors.Is(err, domain.ErrIdempotencyKeyUsed) {
					// SQLite may answer "database is locked" to a writer
					// that waited too long; it wrote nothing either.
					t.Logf("concurrent keyed write: %v", err)
				}
			}
			require.Equal(t, 1, won)
			require.EqualValues(t, 1, articleCount(t, s, 9))
		})
	}
}
