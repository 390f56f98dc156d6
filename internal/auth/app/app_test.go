package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
		LoginPerPair:    ratelimit.Rule{Name: "login-ip-account", Limit: 2, Window: time.Minute},
		LoginPerAccount: ratelimit.Rule{Name: "login-account", Limit: 3, Window: time.Minute},
		RegisterPerIP:   ratelimit.Rule{Name: "register-ip", Limit: 2, Window: time.Hour},
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

	// Per IP and account: two attempts, case-insensitive email.
	for range 2 {
		_, err := svc.Login(ctx, "10.0.0.1", "Jake@Example.com", "wrong")
		require.Equal(t, errs.KindUnauthenticated, errs.KindOf(err))
	}
	_, err = svc.Login(ctx, "10.0.0.1", "jake@example.com", "right-password")
	require.Equal(t, errs.KindTooManyRequests, errs.KindOf(err), "this IP is done guessing this account")

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

// Failing an account's login from elsewhere must not lock its owner out:
// past the account-wide limit every IP gets one attempt per window (so
// guessing crawls), and the owner on an IP that was not failing gets in.
func TestAbuse_Costs_FailedLoginsElsewhereDoNotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, nil)
	ctx := context.Background()
	for i := range 6 { // an attacker on many IPs, over the account limit (3)
		ip := "203.0.113." + string(rune('1'+i))
		_, err := svc.Login(ctx, ip, "jake@example.com", "guess")
		require.Equal(t, errs.KindUnauthenticated, errs.KindOf(err), "first attempt of a fresh IP is served")
		_, err = svc.Login(ctx, ip, "jake@example.com", "guess-again")
		if i >= 2 { // the account limit is spent: a second try from the same IP is refused
			require.Equal(t, errs.KindTooManyRequests, errs.KindOf(err), "attempt %d", i)
		}
	}
	u, err := svc.Login(ctx, "198.51.100.20", "jake@example.com", "right-password")
	require.NoError(t, err, "the owner signs in from their own IP while the account is under attack")
	require.Equal(t, "jake", u.Username)
}

func TestAbuse_Costs_RegistrationIsLimitedPerIPAndBounded(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, nil)
	ctx := context.Background()
	for i := range 2 {
		_, err := svc.Register(ctx, "192.0.2.1", app.NewAccount{Username: "u" + string(rune('a'+i)), Email: "u@x.y", Password: "password123"})
		require.NoError(t, err)
	}
	_, err := svc.Register(ctx, "192.0.2.1", app.NewAccount{Username: "uc", Email: "uc@x.y", Password: "password123"})
	var e *errs.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, errs.KindTooManyRequests, e.Kind)
	require.Positive(t, e.RetryAfter)
	_, err = svc.Register(ctx, "192.0.2.2", app.NewAccount{Username: "ud", Email: "ud@x.y", Password: "password123"})
	require.NoError(t, err, "another IP has its own budget")

	// Oversized fields are refused before they cost a limiter key or a hash.
	huge := strings.Repeat("a", 1<<20)
	_, err = svc.Register(ctx, "192.0.2.3", app.NewAccount{Username: "big", Email: huge + "@x.y", Password: huge})
	require.Equal(t, errs.KindInvalid, errs.KindOf(err))
	require.ErrorContains(t, err, "email is too long")
	require.ErrorContains(t, err, "password is too long")
	_, err = svc.Login(ctx, "192.0.2.3", huge+"@x.y", "password123")
	require.Equal(t, errs.KindInvalid, errs.KindOf(err))
}

// A service token issued while the clock ran ahead carries an iat from the
// future, which users refuses: once the clock is set right it is not
// reused (that refused every login and sign-up for minutes after a clock
// skew was corrected), while in the ordinary case it is, for half its
// lifetime.
func TestServiceTokenIsRenewedWhenTheClockWentBack(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	base := time.Now().Truncate(time.Second)
	now := base.Add(2 * time.Minute) // ahead
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(at time.Time) { mu.Lock(); now = at; mu.Unlock() }
	svc, _ := newService(t, clock)
	iat := func(tok string) time.Time {
		t.Helper()
		var c authn.Claims
		_, _, err := jwt.NewParser().ParseUnverified(tok, &c)
		require.NoError(t, err)
		return c.IssuedAt.Time
	}

	ahead, err := svc.ServiceToken()
	require.NoError(t, err)
	require.Equal(t, base.Add(2*time.Minute), iat(ahead))
	set(base.Add(2*time.Minute + time.Second))
	again, err := svc.ServiceToken()
	require.NoError(t, err)
	require.Equal(t, ahead, again, "reused within half its lifetime")

	set(base.Add(time.Second)) // the clock set right
	fixed, err := svc.ServiceToken()
	require.NoError(t, err)
	require.NotEqual(t, ahead, fixed)
	require.Equal(t, base.Add(time.Second), iat(fixed), "issued by the corrected clock")
}
