// Package app holds the users service's use cases: registration and
// credential checks (for the auth service), the current user, profiles and
// follows. Every write and the events it causes are stored in one
// transaction (the outbox); the relay is nudged after the commit.
package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
	"github.com/tungsten-blog/tungsten/internal/users/domain"
)

// MaxLookup bounds the IDs and usernames of one batch profile lookup.
const MaxLookup = 100

// Repository is the users store. Lookups by username are case-insensitive;
// a missing user is an errs.KindNotFound error.
type Repository interface {
	UserByID(ctx context.Context, id int64) (domain.User, error)
	UserByEmail(ctx context.Context, email string) (domain.User, error)
	// ProfileByUsername returns the profile with Following set for viewerID
	// (0 for an anonymous viewer).
	ProfileByUsername(ctx context.Context, username string, viewerID int64) (domain.Profile, error)
	// Profiles returns the users matching any of ids or usernames, ordered by ID.
	Profiles(ctx context.Context, ids []int64, usernames []string) ([]domain.Profile, error)
	// Taken reports which of username (case-insensitively) and email belong
	// to an account other than exceptID.
	Taken(ctx context.Context, username, email string, exceptID int64) (Taken, error)
	// Reserved reports whether username (case-insensitively) was given up
	// by an account other than exceptID after since.
	Reserved(ctx context.Context, username string, exceptID int64, since time.Time) (bool, error)
	// SnapshotPage returns up to limit profiles with IDs above afterID, in
	// ID order, and the follows those users make.
	SnapshotPage(ctx context.Context, afterID int64, limit int) ([]domain.Profile, []domain.FollowEvent, error)
	// SetPasswordHash replaces the hash of user id if it still is old
	// (compare-and-set, so a rehash never undoes a concurrent password change).
	SetPasswordHash(ctx context.Context, id int64, old, hash string) error
	// Transact runs fn in one transaction; fn may run more than once.
	Transact(ctx context.Context, fn func(tx Tx) error) error
}

// Tx is the store inside a transaction.
type Tx interface {
	UserByID(ctx context.Context, id int64) (domain.User, error)
	UserByUsername(ctx context.Context, username string) (domain.User, error)
	// LockUser reads a user and locks the row until the transaction ends.
	LockUser(ctx context.Context, id int64) (domain.User, error)
	Taken(ctx context.Context, username, email string, exceptID int64) (Taken, error)
	Reserved(ctx context.Context, username string, exceptID int64, since time.Time) (bool, error)
	// ReserveUsername records that userID gave username up at at.
	ReserveUsername(ctx context.Context, username string, userID int64, at time.Time) error
	// DeleteUser removes the account and its follows, both ways.
	DeleteUser(ctx context.Context, id int64) error
	// CreateUser inserts u and returns it with its new ID. A username or
	// email already in use is an errs.KindConflict error.
	CreateUser(ctx context.Context, u domain.User) (domain.User, error)
	// UpdateUser writes every field of u (by ID).
	UpdateUser(ctx context.Context, u domain.User) error
	// Follow records the relation; created is false if it already existed.
	Follow(ctx context.Context, followerID, followeeID int64, at time.Time) (created bool, err error)
	// Unfollow removes the relation; deleted is false if there was none.
	Unfollow(ctx context.Context, followerID, followeeID int64) (deleted bool, err error)
	// Enqueue writes an event to the outbox, committed with the transaction.
	Enqueue(ctx context.Context, eventType string, payload any) error
}

// Taken says which unique fields are in use.
type Taken struct{ Username, Email bool }

// Config holds the password policy.
type Config struct {
	Argon2 domain.Argon2Params
	// HashConcurrency bounds concurrent argon2 computations (each holds
	// Argon2.Memory KiB); 0 means GOMAXPROCS.
	HashConcurrency int
	// UsernameReservation is how long a username given up by a rename or a
	// deleted account stays reserved for its last holder.
	UsernameReservation time.Duration
	// FollowsPerUser bounds the follows and unfollows one user makes (each
	// is a write and an outbox event); a zero Limit turns it off.
	FollowsPerUser ratelimit.Rule
}

// Deps are the use cases' collaborators.
type Deps struct {
	Repo        Repository
	AfterCommit func()            // called after a transaction that wrote events (the relay's Kick)
	Logger      *slog.Logger      // nil: discard
	Now         func() time.Time  // nil: time.Now
	Random      io.Reader         // salts; nil: crypto/rand
	Limiter     ratelimit.Limiter // the per-user follow limit; nil: in-process
}

// Service implements the use cases.
type Service struct {
	cfg         Config
	repo        Repository
	afterCommit func()
	log         *slog.Logger
	now         func() time.Time
	random      io.Reader
	limiter     ratelimit.Limiter
	slots       chan struct{} // argon2 concurrency
	signups     chan struct{} // the share of slots registrations may hold
	dummyHash   string        // verified against for unknown emails, so timing does not reveal accounts
}

// New returns the service. It computes one password hash up front.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Repo == nil {
		return nil, errors.New("users app: a repository is required")
	}
	if err := cfg.Argon2.Validate(); err != nil {
		return nil, fmt.Errorf("users app: %w", err)
	}
	s := &Service{cfg: cfg, repo: deps.Repo, afterCommit: deps.AfterCommit, log: deps.Logger, now: deps.Now, random: deps.Random,
		limiter: deps.Limiter}
	if s.limiter == nil {
		s.limiter = ratelimit.NewMemory(nil)
	}
	if s.afterCommit == nil {
		s.afterCommit = func() {}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	clock := s.now
	s.now = func() time.Time { return clock().UTC() } // stored and returned times are UTC
	if s.random == nil {
		s.random = rand.Reader
	}
	n := cfg.HashConcurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s.slots = make(chan struct{}, n)
	// Sign-ups may hold at most half the slots, so a flood of them (each an
	// argon2 hash an anonymous client triggers) cannot starve sign-ins.
	s.signups = make(chan struct{}, max(1, n/2))
	dummy := make([]byte, 16)
	if _, err := io.ReadFull(s.random, dummy); err != nil {
		return nil, fmt.Errorf("users app: reading random bytes: %w", err)
	}
	h, err := domain.HashPassword(string(dummy), cfg.Argon2, s.random)
	if err != nil {
		return nil, fmt.Errorf("users app: computing the dummy password hash: %w", err)
	}
	s.dummyHash = h
	return s, nil
}

// Register creates an account. The username and email must be free.
func (s *Service) Register(ctx context.Context, username, email, password string) (domain.User, error) {
	reg, err := domain.ValidateRegistration(username, email, password)
	if err != nil {
		return domain.User{}, err
	}
	// A cheap check first, so a duplicate does not cost a password hash.
	if err := s.checkTaken(ctx, s.repo, reg.Username, reg.Email, 0); err != nil {
		return domain.User{}, err
	}
	hash, err := s.signupHash(ctx, reg.Password)
	if err != nil {
		return domain.User{}, err
	}
	now := s.now().Truncate(time.Millisecond)
	var created domain.User
	err = s.repo.Transact(ctx, func(tx Tx) error {
		if err := s.checkTaken(ctx, tx, reg.Username, reg.Email, 0); err != nil {
			return err
		}
		u, err := tx.CreateUser(ctx, domain.User{
			Username: reg.Username, Email: reg.Email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			return err
		}
		created = u
		return tx.Enqueue(ctx, domain.EventUserRegistered, domain.NewUserEvent(u))
	})
	if err != nil {
		return domain.User{}, fmt.Errorf("registering %q: %w", reg.Username, err)
	}
	s.afterCommit()
	return created, nil
}

// CheckCredentials returns the account with email if password is right.
// Wrong email and wrong password are the same 401, and cost the same time.
func (s *Service) CheckCredentials(ctx context.Context, email, password string) (domain.User, error) {
	email = domain.NormalizeEmail(email)
	var msgs []string
	if email == "" {
		msgs = append(msgs, "email can't be blank")
	}
	if password == "" {
		msgs = append(msgs, "password can't be blank")
	}
	if len(msgs) > 0 {
		return domain.User{}, errs.Invalid(msgs...)
	}
	invalid := errs.Unauthenticated("email or password is invalid")
	u, err := domain.User{}, errs.NotFound("account")
	if storable(email) {
		u, err = s.repo.UserByEmail(ctx, email)
	}
	if errs.Is(err, errs.KindNotFound) {
		if _, err := s.verifyPassword(ctx, password, s.dummyHash); err != nil {
			return domain.User{}, err
		}
		return domain.User{}, invalid
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("looking up account by email: %w", err)
	}
	ok, err := s.verifyPassword(ctx, password, u.PasswordHash)
	if err != nil {
		return domain.User{}, fmt.Errorf("verifying the password of user %d: %w", u.ID, err)
	}
	if !ok {
		return domain.User{}, invalid
	}
	if domain.NeedsRehash(u.PasswordHash, s.cfg.Argon2) {
		s.rehash(ctx, u, password)
	}
	return u, nil
}

// rehash upgrades a hash made with old parameters. It is best effort: the
// sign-in succeeds either way.
func (s *Service) rehash(ctx context.Context, u domain.User, password string) {
	hash, err := s.hashPassword(ctx, password)
	if err == nil {
		err = s.repo.SetPasswordHash(ctx, u.ID, u.PasswordHash, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "upgrading password hash", "user_id", u.ID, "error", err)
	}
}

var (
	errNoAccount = errs.Unauthenticated("the account of this token no longer exists")
	errRevoked   = authn.ErrRevoked
)

// CurrentUser returns the account of the caller's token (issued at
// tokenVersion). The users service holds the token versions, so it refuses
// a revoked token at once, before any event reaches the other services.
func (s *Service) CurrentUser(ctx context.Context, id, tokenVersion int64) (domain.User, error) {
	u, err := s.repo.UserByID(ctx, id)
	if errs.Is(err, errs.KindNotFound) {
		return domain.User{}, errNoAccount
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("loading user %d: %w", id, err)
	}
	if tokenVersion < u.TokenVersion {
		return domain.User{}, errRevoked
	}
	return u, nil
}

// SignOut revokes every token of the account issued so far (all its
// sessions: tokens carry no session of their own).
func (s *Service) SignOut(ctx context.Context, id, tokenVersion int64) error {
	err := s.repo.Transact(ctx, func(tx Tx) error {
		u, err := s.lockCaller(ctx, tx, id, tokenVersion)
		if err != nil {
			return err
		}
		u.TokenVersion++
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return tx.Enqueue(ctx, domain.EventTokensRevoked, revocation(u, false, s.now()))
	})
	if err != nil {
		return fmt.Errorf("signing user %d out: %w", id, err)
	}
	s.afterCommit()
	return nil
}

// DeleteAccount deletes the caller's account and its follows, revokes its
// tokens and keeps its username reserved (it may not be taken over by
// someone else for UsernameReservation).
func (s *Service) DeleteAccount(ctx context.Context, id, tokenVersion int64) error {
	err := s.repo.Transact(ctx, func(tx Tx) error {
		u, err := s.lockCaller(ctx, tx, id, tokenVersion)
		if err != nil {
			return err
		}
		now := s.now()
		if err := tx.DeleteUser(ctx, id); err != nil {
			return err
		}
		if err := tx.ReserveUsername(ctx, u.Username, id, now); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, domain.EventUserDeleted, domain.UserDeletedEvent{ID: id, At: domain.Millis(now.UnixMilli())}); err != nil {
			return err
		}
		return tx.Enqueue(ctx, domain.EventTokensRevoked, revocation(u, true, now))
	})
	if err != nil {
		return fmt.Errorf("deleting user %d: %w", id, err)
	}
	s.afterCommit()
	return nil
}

// lockCaller locks the caller's account, refusing a revoked token.
func (s *Service) lockCaller(ctx context.Context, tx Tx, id, tokenVersion int64) (domain.User, error) {
	u, err := tx.LockUser(ctx, id)
	if errs.Is(err, errs.KindNotFound) {
		return domain.User{}, errNoAccount
	}
	if err != nil {
		return domain.User{}, err
	}
	if tokenVersion < u.TokenVersion {
		return domain.User{}, errRevoked
	}
	return u, nil
}

// revocation revokes the tokens of u below its (new) token version, or all
// of them when deleted.
func revocation(u domain.User, deleted bool, now time.Time) authn.Revocation {
	v := u.TokenVersion
	if deleted {
		v++
	}
	return authn.Revocation{UserID: u.ID, MinVersion: v, Deleted: deleted, At: now.UnixMilli()}
}

// MaxSnapshotPage bounds the users of one snapshot page.
const MaxSnapshotPage = 500

// Snapshot returns a page of every account's public profile and follows,
// for read models rebuilt from scratch (ADR 0011).
func (s *Service) Snapshot(ctx context.Context, afterID int64, limit int) ([]domain.Profile, []domain.FollowEvent, error) {
	if afterID < 0 {
		return nil, nil, errs.Invalid("after must not be negative")
	}
	if limit <= 0 || limit > MaxSnapshotPage {
		limit = MaxSnapshotPage
	}
	return s.repo.SnapshotPage(ctx, afterID, limit)
}

// UpdateUser applies changes to the caller's account. Changing nothing
// writes nothing; a change to the public profile publishes users.user.updated.
// A new password revokes every token issued before (the caller signs in
// again with it); a new username keeps the old one reserved.
func (s *Service) UpdateUser(ctx context.Context, id, tokenVersion int64, changes domain.Changes) (domain.User, error) {
	c, err := domain.ValidateChanges(changes)
	if err != nil {
		return domain.User{}, err
	}
	var hash string
	if c.Password != nil {
		if hash, err = s.hashPassword(ctx, *c.Password); err != nil {
			return domain.User{}, err
		}
	}
	var out domain.User
	var published bool
	err = s.repo.Transact(ctx, func(tx Tx) error {
		published = false
		u, err := s.lockCaller(ctx, tx, id, tokenVersion)
		if err != nil {
			return err
		}
		next, changed, public := u.Apply(c)
		if hash != "" {
			next.PasswordHash, changed = hash, true
		}
		if !changed {
			out = u
			return nil
		}
		if next.Username != u.Username || next.Email != u.Email {
			if err := s.checkTaken(ctx, tx, next.Username, next.Email, id); err != nil {
				return err
			}
		}
		now := s.now()
		next.UpdatedAt = domain.NextVersion(u.UpdatedAt, now)
		if hash != "" {
			next.TokenVersion++
		}
		if err := tx.UpdateUser(ctx, next); err != nil {
			return err
		}
		if domain.UsernameKey(next.Username) != domain.UsernameKey(u.Username) {
			if err := tx.ReserveUsername(ctx, u.Username, id, now); err != nil {
				return err
			}
		}
		if hash != "" {
			published = true
			if err := tx.Enqueue(ctx, domain.EventTokensRevoked, revocation(next, false, now)); err != nil {
				return err
			}
		}
		out = next
		if public {
			published = true
			return tx.Enqueue(ctx, domain.EventUserUpdated, domain.NewUserEvent(next))
		}
		return nil
	})
	if err != nil {
		return domain.User{}, fmt.Errorf("updating user %d: %w", id, err)
	}
	if published {
		s.afterCommit()
	}
	return out, nil
}

// Profile returns the profile of username as viewerID (0: anonymous) sees it.
func (s *Service) Profile(ctx context.Context, username string, viewerID int64) (domain.Profile, error) {
	if !storable(username) {
		return domain.Profile{}, errs.NotFound("profile")
	}
	p, err := s.repo.ProfileByUsername(ctx, username, viewerID)
	if err != nil {
		return domain.Profile{}, fmt.Errorf("loading profile %q: %w", username, err)
	}
	return p, nil
}

// Follow makes followerID follow username. Following twice is not an error.
func (s *Service) Follow(ctx context.Context, followerID int64, username string) (domain.Profile, error) {
	return s.setFollow(ctx, followerID, username, true)
}

// Unfollow makes followerID stop following username. Unfollowing twice (or
// unfollowing oneself) is not an error.
func (s *Service) Unfollow(ctx context.Context, followerID int64, username string) (domain.Profile, error) {
	return s.setFollow(ctx, followerID, username, false)
}

func (s *Service) setFollow(ctx context.Context, followerID int64, username string, follow bool) (domain.Profile, error) {
	if !storable(username) {
		return domain.Profile{}, errs.NotFound("profile")
	}
	if r := s.cfg.FollowsPerUser; r.Limit > 0 {
		if d := s.limiter.Allow(ctx, r, strconv.FormatInt(followerID, 10)); !d.Allowed {
			return domain.Profile{}, errs.TooManyRequests(d.RetryAfter)
		}
	}
	var p domain.Profile
	var changed bool
	err := s.repo.Transact(ctx, func(tx Tx) error {
		changed = false
		followee, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return err
		}
		if followee.ID == followerID && follow {
			return errs.Invalid("you cannot follow yourself")
		}
		if _, err := tx.UserByID(ctx, followerID); errs.Is(err, errs.KindNotFound) {
			return errs.Unauthenticated("the account of this token no longer exists")
		} else if err != nil {
			return err
		}
		now := s.now()
		eventType := domain.EventFollowCreated
		if follow {
			changed, err = tx.Follow(ctx, followerID, followee.ID, now)
		} else {
			eventType = domain.EventFollowDeleted
			changed, err = tx.Unfollow(ctx, followerID, followee.ID)
		}
		if err != nil {
			return err
		}
		p = followee.Profile()
		p.Following = follow
		if !changed {
			return nil
		}
		return tx.Enqueue(ctx, eventType, domain.FollowEvent{FollowerID: followerID, FolloweeID: followee.ID, At: domain.Millis(now.UnixMilli())})
	})
	if err != nil {
		verb := "following"
		if !follow {
			verb = "unfollowing"
		}
		return domain.Profile{}, fmt.Errorf("%s %q: %w", verb, username, err)
	}
	if changed {
		s.afterCommit()
	}
	return p, nil
}

// Profiles looks up to MaxLookup users by ID and username, for services
// that show authors. Unknown ones are left out.
func (s *Service) Profiles(ctx context.Context, ids []int64, usernames []string) ([]domain.Profile, error) {
	if len(ids)+len(usernames) > MaxLookup {
		return nil, errs.Invalid(fmt.Sprintf("at most %d ids and usernames per lookup", MaxLookup))
	}
	for _, id := range ids {
		if id <= 0 {
			return nil, errs.Invalid("id must be a positive integer")
		}
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	keys := make([]string, 0, len(usernames))
	for _, u := range usernames {
		if u != "" && storable(u) {
			keys = append(keys, domain.UsernameKey(u))
		}
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	if len(ids) == 0 && len(keys) == 0 {
		return []domain.Profile{}, nil
	}
	ps, err := s.repo.Profiles(ctx, ids, keys)
	if err != nil {
		return nil, fmt.Errorf("looking up %d profiles: %w", len(ids)+len(keys), err)
	}
	slices.SortFunc(ps, func(a, b domain.Profile) int { return cmp.Compare(a.ID, b.ID) })
	return ps, nil
}

type takenChecker interface {
	Taken(ctx context.Context, username, email string, exceptID int64) (Taken, error)
	Reserved(ctx context.Context, username string, exceptID int64, since time.Time) (bool, error)
}

// checkTaken turns used fields into one conflict error naming each. A
// username another account gave up within UsernameReservation is taken.
func (s *Service) checkTaken(ctx context.Context, q takenChecker, username, email string, exceptID int64) error {
	t, err := q.Taken(ctx, username, email, exceptID)
	if err != nil {
		return fmt.Errorf("checking username and email: %w", err)
	}
	if !t.Username && s.cfg.UsernameReservation > 0 {
		if t.Username, err = q.Reserved(ctx, username, exceptID, s.now().Add(-s.cfg.UsernameReservation)); err != nil {
			return fmt.Errorf("checking username and email: %w", err)
		}
	}
	return ConflictError(t)
}

// ConflictError describes the taken fields, or is nil when none are.
func ConflictError(t Taken) error {
	var msgs []string
	if t.Username {
		msgs = append(msgs, "username has already been taken")
	}
	if t.Email {
		msgs = append(msgs, "email has already been taken")
	}
	if len(msgs) == 0 {
		return nil
	}
	return &errs.Error{Kind: errs.KindConflict, Messages: msgs}
}

// hashPassword and verifyPassword hold one of the argon2 slots, so a burst
// of sign-ins cannot allocate Argon2.Memory each without bound.
// storable reports whether s could be stored at all: PostgreSQL holds no NUL
// and no invalid UTF-8 (SQLite would), so a lookup by such a name or email
// matches nothing on either engine, instead of failing on one.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	var h string
	err := s.withSlot(ctx, func() (err error) {
		h, err = domain.HashPassword(password, s.cfg.Argon2, s.random)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return h, nil
}

func (s *Service) verifyPassword(ctx context.Context, password, encoded string) (bool, error) {
	var ok bool
	err := s.withSlot(ctx, func() (err error) {
		ok, err = domain.VerifyPassword(password, encoded)
		return err
	})
	return ok, err
}

// SlotWait is the longest a request waits for an argon2 slot. Past it the
// answer is 503 with Retry-After: the queue is bounded by time, so a burst
// turns into quick refusals instead of every request's deadline.
const SlotWait = time.Second

// errBusy is the answer when every slot stayed taken for SlotWait.
var errBusy = &errs.Error{Kind: errs.KindUnavailable, Messages: []string{"the server is busy, try again shortly"}, RetryAfter: time.Second}

func (s *Service) signupHash(ctx context.Context, password string) (string, error) {
	release, err := acquire(ctx, s.signups)
	if err != nil {
		return "", err
	}
	defer release()
	return s.hashPassword(ctx, password)
}

func (s *Service) withSlot(ctx context.Context, fn func() error) error {
	release, err := acquire(ctx, s.slots)
	if err != nil {
		return err
	}
	defer release()
	return fn()
}

func acquire(ctx context.Context, sem chan struct{}) (release func(), err error) {
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	default:
	}
	t := time.NewTimer(SlotWait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, errs.Unavailable("password hashing", ctx.Err())
	}
}
