package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/auth/app"
	"github.com/tungsten-blog/tungsten/internal/auth/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
)

// memKeys is an in-memory KeyStore; the SQL store has its own contract test.
type memKeys struct {
	mu   sync.Mutex
	keys []domain.SigningKey
}

func (m *memKeys) Keys(context.Context) ([]domain.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]domain.SigningKey(nil), m.keys...), nil
}

func (m *memKeys) Add(_ context.Context, k domain.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, k)
	return nil
}

func (m *memKeys) Delete(_ context.Context, ids ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var kept []domain.SigningKey
	for _, k := range m.keys {
		drop := false
		for _, id := range ids {
			drop = drop || k.ID == id
		}
		if !drop {
			kept = append(kept, k)
		}
	}
	m.keys = kept
	return nil
}

// accounts stands in for the users service (whose HTTP contract is tested
// end to end by the API suites).
type accounts struct{}

func (accounts) Create(_ context.Context, in app.NewAccount) (app.Account, error) {
	return app.Account{ID: 5, Username: in.Username, Email: in.Email}, nil
}

func (accounts) CheckCredentials(_ context.Context, email, password string) (app.Account, error) {
	if email == "jake@example.com" && password == "right-password" {
		return app.Account{ID: 5, Username: "jake", Email: email}, nil
	}
	return app.Account{}, errs.Unauthenticated("email or password is invalid")
}

func newService(t *testing.T, now func() time.Time) (*app.Service, *memKeys) {
	t.Helper()
	keys := &memKeys{}
	svc := app.New(app.Config{
		Keys:            domain.Policy{RotateEvery: 24 * time.Hour, TokenTTL: time.Hour},
		ServiceTokenTTL: time.Minute,
		LoginPerIP:      ratelimit.Rule{Name: "login-ip", Limit: 5, Window: time.Minute},
		LoginPerAccount: ratelimit.Rule{Name: "login-account", Limit: 3, Window: time.Minute},
	}, keys, ratelimit.NewMemory(nil), now)
	svc.SetAccounts(accounts{})
	require.NoError(t, svc.SyncKeys(context.Background()))
	return svc, keys
}

func TestLoginIssuesVerifiableTokens(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, nil)
	u, err := svc.Login(context.Background(), "198.51.100.1", "jake@example.com", "right-password")
	require.NoError(t, err)
	require.Equal(t, "jake", u.Username)

	v := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return svc.JWKS(), nil })
	p, err := v.Verify(context.Background(), u.Token)
	require.NoError(t, err)
	require.Equal(t, int64(5), p.UserID)
}

func TestLoginValidationAndThrottling(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, nil)
	ctx := context.Background()
	_, err := svc.Login(ctx, "ip", "", "")
	require.Equal(t, errs.KindInvalid, errs.KindOf(err))
	require.ErrorContains(t, err, "email can't be blank")
	require.ErrorContains(t, err, "password can't be blank")

	// Per account: three attempts, whatever the IP (case-insensitive email).
	for i := range 3 {
		_, err := svc.Login(ctx, "10.0.0."+string(rune('1'+i)), "Jake@Example.com", "wrong")
		require.Equal(t, errs.KindUnauthenticated, errs.KindOf(err))
	}
	_, err = svc.Login(ctx, "10.0.0.9", "jake@example.com", "right-password")
	require.Equal(t, errs.KindTooManyRequests, errs.KindOf(err), "the account is throttled even with the right password")

	// Per IP: five attempts across accounts.
	for i := range 5 {
		_, _ = svc.Login(ctx, "192.0.2.7", strings.Repeat("x", i+1)+"@example.com", "wrong")
	}
	_, err = svc.Login(ctx, "192.0.2.7", "new@example.com", "wrong")
	var e *errs.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, errs.KindTooManyRequests, e.Kind)
	require.Positive(t, e.RetryAfter)
}

func TestSyncKeysRotatesAndPrunes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	svc, keys := newService(t, clock)
	ctx := context.Background()
	require.Len(t, svc.JWKS().Keys, 1)
	first := svc.JWKS().Keys[0].Kid

	advance(25 * time.Hour)
	require.NoError(t, svc.SyncKeys(ctx))
	set := svc.JWKS()
	require.Len(t, set.Keys, 2, "old key stays published while its tokens live")

	advance(2 * time.Hour)
	require.NoError(t, svc.SyncKeys(ctx))
	set = svc.JWKS()
	require.Len(t, set.Keys, 1)
	require.NotEqual(t, first, set.Keys[0].Kid)
	stored, _ := keys.Keys(ctx)
	require.Len(t, stored, 1, "expired keys are deleted")
}
