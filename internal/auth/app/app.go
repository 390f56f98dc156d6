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
	// TokenVersion goes into the token; older versions are revoked.
	TokenVersion int64 `json:"tokenVersion"`
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
	LoginPerIP      ratelimit.Rule // every attempt of one client IP
	LoginPerPair    ratelimit.Rule // attempts of one client IP on one account
	// LoginPerAccount counts attempts on one account from everywhere. Past
	// it the account is under attack: an IP gets only its first attempt per
	// LoginPerPair window, so guessing stays slow while the owner, signing in
	// from an IP that has not been failing, is never locked out.
	LoginPerAccount ratelimit.Rule
	RegisterPerIP   ratelimit.Rule // sign-ups of one client IP
}

// Bounds checked before anything is counted or hashed: an oversized field is
// a 422, never a limiter key or an argon2 input.
const (
	MaxEmailBytes    = 254
	MaxPasswordBytes = 1024 // 128 characters of up to 4 bytes, with room
	MaxUsernameBytes = 256  // 64 characters of up to 4 bytes
)

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
	svcIssued  time.Time
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

// Register creates an account and signs the user in, throttled per client IP.
func (s *Service) Register(ctx context.Context, clientIP string, in NewAccount) (User, error) {
	var msgs []string
	if len(in.Username) > MaxUsernameBytes {
		msgs = append(msgs, "username is too long (maximum is 64 characters)")
	}
	if len(in.Email) > MaxEmailBytes {
		msgs = append(msgs, fmt.Sprintf("email is too long (maximum is %d characters)", MaxEmailBytes))
	}
	if len(in.Password) > MaxPasswordBytes {
		msgs = append(msgs, "password is too long (maximum is 128 characters)")
	}
	if len(msgs) > 0 {
		return User{}, errs.Invalid(msgs...)
	}
	if d := s.limiter.Allow(ctx, s.cfg.RegisterPerIP, clientIP); !d.Allowed {
		return User{}, errs.TooManyRequests(d.RetryAfter)
	}
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
	if len(email) > MaxEmailBytes {
		msgs = append(msgs, fmt.Sprintf("email is too long (maximum is %d characters)", MaxEmailBytes))
	}
	if len(password) > MaxPasswordBytes {
		msgs = append(msgs, "password is too long (maximum is 128 characters)")
	}
	if len(msgs) > 0 {
		return User{}, errs.Invalid(msgs...)
	}
	if d := s.limiter.Allow(ctx, s.cfg.LoginPerIP, clientIP); !d.Allowed {
		return User{}, errs.TooManyRequests(d.RetryAfter)
	}
	account := strings.ToLower(strings.TrimSpace(email))
	pair := s.limiter.Allow(ctx, s.cfg.LoginPerPair, clientIP+"\x00"+account)
	if !pair.Allowed {
		return User{}, errs.TooManyRequests(pair.RetryAfter)
	}
	firstFromHere := pair.Remaining == s.cfg.LoginPerPair.Limit-1
	if d := s.limiter.Allow(ctx, s.cfg.LoginPerAccount, account); !d.Allowed && !firstFromHere {
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
	tok, err := domain.Sign(key, authn.ScopeUser, domain.UserSubject(acc.ID), acc.Username, acc.TokenVersion, s.now(), s.cfg.Keys.TokenTTL)
	if err != nil {
		return User{}, err
	}
	return User{Email: acc.Email, Token: tok, Username: acc.Username, Bio: acc.Bio, Image: acc.Image}, nil
}

// ServiceToken returns a short-lived token naming the auth service, for its
// calls to the users service's internal endpoints. It is reused until half
// its lifetime has passed, and never once the clock reads before its issue
// time: a token issued while the clock ran ahead carries an iat from the
// future that users refuses, and reusing it after the clock was set right
// would refuse every login and sign-up for minutes (the fault suite's
// clock-skew scenario found it).
func (s *Service) ServiceToken() (string, error) {
	s.svcMu.Lock()
	defer s.svcMu.Unlock()
	now := s.now()
	if s.svcToken != "" && now.Before(s.svcExpires) && !now.Before(s.svcIssued) {
		return s.svcToken, nil
	}
	key, err := s.activeKey()
	if err != nil {
		return "", err
	}
	tok, err := domain.Sign(key, authn.ScopeService, "auth", "", 0, now, s.cfg.ServiceTokenTTL)
	if err != nil {
		return "", err
	}
	s.svcToken, s.svcIssued, s.svcExpires = tok, now, now.Add(s.cfg.ServiceTokenTTL/2)
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
