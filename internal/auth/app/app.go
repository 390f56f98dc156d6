// Package app holds the auth service's use cases: registration and login
// (which delegate account storage to the users service), token issuing, and
// signing-key rotation.
package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tungsten-blog/tungsten/internal/auth/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
)

// Account is a user account as the users service reports it.
type Account struct {
	ID       int64   `json:"id"`
	Username string  `json:"username"`
	Email    string  `json:"email"`
	Bio      *string `json:"bio"`
	Image    *string `json:"image"`
}

// NewAccount is a registration request.
type NewAccount struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Accounts is the users service as auth needs it.
type Accounts interface {
	Create(ctx context.Context, in NewAccount) (Account, error)
	CheckCredentials(ctx context.Context, email, password string) (Account, error)
}

// KeyStore persists signing keys.
type KeyStore interface {
	Keys(ctx context.Context) ([]domain.SigningKey, error)
	Add(ctx context.Context, k domain.SigningKey) error
	Delete(ctx context.Context, ids ...string) error
}

// Config holds the token and throttling policy.
type Config struct {
	Keys            domain.Policy
	ServiceTokenTTL time.Duration
	LoginPerIP      ratelimit.Rule
	LoginPerAccount ratelimit.Rule
}

// Service implements the use cases.
type Service struct {
	cfg      Config
	store    KeyStore
	accounts Accounts
	limiter  ratelimit.Limiter
	now      func() time.Time

	mu   sync.RWMutex
	ring domain.KeyRing

	svcMu      sync.Mutex
	svcToken   string
	svcExpires time.Time
}

// New returns the service. Accounts may be set later with SetAccounts
// (the users client needs the service's own tokens).
func New(cfg Config, store KeyStore, limiter ratelimit.Limiter, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{cfg: cfg, store: store, limiter: limiter, now: now}
}

// SetAccounts wires the users service client.
func (s *Service) SetAccounts(a Accounts) { s.accounts = a }

// User is the RealWorld user object: an account with its token.
type User struct {
	Email    string  `json:"email"`
	Token    string  `json:"token"`
	Username string  `json:"username"`
	Bio      *string `json:"bio"`
	Image    *string `json:"image"`
}

// Register creates an account and signs the user in.
func (s *Service) Register(ctx context.Context, in NewAccount) (User, error) {
	acc, err := s.accounts.Create(ctx, in)
	if err != nil {
		return User{}, err
	}
	return s.userWithToken(acc)
}

// Login checks credentials, throttled per client IP and per account.
func (s *Service) Login(ctx context.Context, clientIP, email, password string) (User, error) {
	var msgs []string
	if strings.TrimSpace(email) == "" {
		msgs = append(msgs, "email can't be blank")
	}
	if password == "" {
		msgs = append(msgs, "password can't be blank")
	}
	if len(msgs) > 0 {
		return User{}, errs.Invalid(msgs...)
	}
	if d := s.limiter.Allow(ctx, s.cfg.LoginPerIP, clientIP); !d.Allowed {
		return User{}, errs.TooManyRequests(d.RetryAfter)
	}
	if d := s.limiter.Allow(ctx, s.cfg.LoginPerAccount, strings.ToLower(strings.TrimSpace(email))); !d.Allowed {
		return User{}, errs.TooManyRequests(d.RetryAfter)
	}
	acc, err := s.accounts.CheckCredentials(ctx, email, password)
	if err != nil {
		return User{}, err
	}
	return s.userWithToken(acc)
}

func (s *Service) userWithToken(acc Account) (User, error) {
	key, err := s.activeKey()
	if err != nil {
		return User{}, err
	}
	tok, err := domain.Sign(key, authn.ScopeUser, domain.UserSubject(acc.ID), acc.Username, s.now(), s.cfg.Keys.TokenTTL)
	if err != nil {
		return User{}, err
	}
	return User{Email: acc.Email, Token: tok, Username: acc.Username, Bio: acc.Bio, Image: acc.Image}, nil
}

// ServiceToken returns a short-lived token naming the auth service, for its
// calls to the users service's internal endpoints. It is reused until half
// its lifetime has passed.
func (s *Service) ServiceToken() (string, error) {
	s.svcMu.Lock()
	defer s.svcMu.Unlock()
	now := s.now()
	if s.svcToken != "" && now.Before(s.svcExpires) {
		return s.svcToken, nil
	}
	key, err := s.activeKey()
	if err != nil {
		return "", err
	}
	tok, err := domain.Sign(key, authn.ScopeService, "auth", "", now, s.cfg.ServiceTokenTTL)
	if err != nil {
		return "", err
	}
	s.svcToken, s.svcExpires = tok, now.Add(s.cfg.ServiceTokenTTL/2)
	return tok, nil
}

// JWKS returns the published public keys.
func (s *Service) JWKS() authn.JWKS {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ring.JWKS(s.cfg.Keys, s.now())
}

func (s *Service) activeKey() (domain.SigningKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.ring.Active()
	if !ok {
		return domain.SigningKey{}, errs.Unavailable("token signing", fmt.Errorf("no signing key loaded"))
	}
	return k, nil
}

// SyncKeys loads the stored keys, adds a new one when rotation is due and
// deletes keys no token can need. Replicas run it on a timer; two replicas
// rotating at once merely publish one extra key.
func (s *Service) SyncKeys(ctx context.Context) error {
	keys, err := s.store.Keys(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	ring := domain.NewKeyRing(keys)
	if ring.NeedsRotation(s.cfg.Keys, now) {
		k, err := domain.NewSigningKey(now)
		if err != nil {
			return err
		}
		if err := s.store.Add(ctx, k); err != nil {
			return err
		}
		ring = domain.NewKeyRing(append(keys, k))
	}
	if old := ring.Expired(s.cfg.Keys, now); len(old) > 0 {
		ids := make([]string, len(old))
		for i, k := range old {
			ids[i] = k.ID
		}
		if err := s.store.Delete(ctx, ids...); err != nil {
			return err
		}
		ring = domain.NewKeyRing(ring.Published(s.cfg.Keys, now))
	}
	s.mu.Lock()
	s.ring = ring
	s.mu.Unlock()
	return nil
}
