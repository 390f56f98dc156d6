package authn

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// ErrRevoked is the answer to a revoked token, wherever it is noticed.
var ErrRevoked = errs.Unauthenticated("token has been revoked: sign in again")

// Revocation says which tokens of one user are no longer valid: every token
// below MinVersion, or all of them once the account is deleted. It is the
// payload of the users service's users.tokens.revoked event (ADR 0011).
type Revocation struct {
	UserID     int64 `json:"id"`
	MinVersion int64 `json:"tokenVersion"`
	Deleted    bool  `json:"deleted,omitempty"`
	At         int64 `json:"at"` // unix ms
}

// Revocations is the set of revocations a process has heard of, by user.
// An entry can be forgotten once every token it revokes has expired: the
// revoked tokens were all issued before At, so they expire before At plus
// the longest token lifetime (SetRetention).
type Revocations struct {
	mu        sync.RWMutex
	users     map[int64]Revocation
	retention time.Duration // 0: keep every entry
	pruneAt   int
	current   atomic.Bool
}

// NewRevocations returns an empty set.
func NewRevocations() *Revocations {
	return &Revocations{users: map[int64]Revocation{}, pruneAt: 1024}
}

// SetRetention sets how long an entry is kept after its revocation: the
// longest lifetime of a user token plus the clock leeway.
func (r *Revocations) SetRetention(d time.Duration) {
	r.mu.Lock()
	r.retention = d
	r.mu.Unlock()
}

// Add records rv. Revocations only tighten: the highest MinVersion is kept
// and a deletion is final, so replays and out-of-order delivery are safe.
func (r *Revocations) Add(rv Revocation) {
	if rv.UserID <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.users[rv.UserID]
	if ok {
		rv.MinVersion = max(rv.MinVersion, old.MinVersion)
		rv.Deleted = rv.Deleted || old.Deleted
		rv.At = max(rv.At, old.At)
	}
	r.users[rv.UserID] = rv
	if len(r.users) >= r.pruneAt {
		r.pruneLocked(time.Now())
		r.pruneAt = 2*len(r.users) + 1024
	}
}

func (r *Revocations) pruneLocked(now time.Time) {
	if r.retention <= 0 {
		return
	}
	cutoff := now.Add(-r.retention).UnixMilli()
	for id, rv := range r.users {
		if rv.At < cutoff {
			delete(r.users, id)
		}
	}
}

// Revoked reports whether p's token is revoked. Service principals are
// never revoked here (their tokens live minutes).
func (r *Revocations) Revoked(p Principal) bool {
	if p.UserID == 0 {
		return false
	}
	r.mu.RLock()
	rv, ok := r.users[p.UserID]
	r.mu.RUnlock()
	return ok && (rv.Deleted || p.Version < rv.MinVersion)
}

// Len returns the number of users with a revocation on record.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.users)
}

// SetCurrent records whether the set has caught up with every revocation
// published so far (a process is not ready before: it would accept tokens
// revoked while it was down).
func (r *Revocations) SetCurrent(ok bool) { r.current.Store(ok) }

// Current reports what SetCurrent last recorded.
func (r *Revocations) Current() bool { return r.current.Load() }
