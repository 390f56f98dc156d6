// Package domain holds the users service's types and rules: accounts,
// public profiles, follow relations, input validation, password hashing and
// the events the service publishes. It does no I/O.
package domain

import (
	"strings"
	"time"
)

// User is an account.
type User struct {
	ID           int64
	Username     string // as the user typed it; unique case-insensitively
	Email        string // lower-cased
	PasswordHash string // PHC string, see HashPassword
	Bio          *string
	Image        *string
	CreatedAt    time.Time
	UpdatedAt    time.Time // the account's version: strictly increases with every change
	TokenVersion int64     // tokens issued at a lower version are revoked (ADR 0011)
}

// Profile is the public part of a user, as seen by a viewer.
type Profile struct {
	ID        int64
	Username  string
	Bio       *string
	Image     *string
	UpdatedAt time.Time
	Following bool // whether the viewer follows this user; false for anonymous viewers
}

// Profile returns u's public profile (Following unset).
func (u User) Profile() Profile {
	return Profile{ID: u.ID, Username: u.Username, Bio: u.Bio, Image: u.Image, UpdatedAt: u.UpdatedAt}
}

// UsernameKey is the form usernames are unique and looked up by.
func UsernameKey(username string) string { return strings.ToLower(username) }

// NormalizeEmail is the form emails are stored and looked up by.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// NextVersion returns the UpdatedAt of a change made at now to a user last
// changed at prev: now at millisecond precision, but always after prev, so
// consumers that keep only newer versions never drop a change made within
// the same millisecond.
func NextVersion(prev, now time.Time) time.Time {
	v := now.UTC().Truncate(time.Millisecond)
	if floor := prev.UTC().Truncate(time.Millisecond).Add(time.Millisecond); v.Before(floor) {
		return floor
	}
	return v
}
