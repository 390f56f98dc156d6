// Package userevents is the users service's event contract: the event types
// it publishes and their payloads. The users service encodes these types and
// every consumer (the blog) decodes them, so the wire form is written once.
// A change that breaks decoding by an older consumer needs a new event type,
// not an edit here (the compatibility test pins the wire form).
package userevents

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event types the users service publishes (subjects "<namespace>.<type>").
const (
	UserRegistered = "users.user.registered"
	UserUpdated    = "users.user.updated"
	FollowCreated  = "users.follow.created"
	FollowDeleted  = "users.follow.deleted"
	UserDeleted    = "users.user.deleted"
	// TokensRevoked carries an authn.Revocation: every process that
	// verifies tokens follows it (ADR 0011).
	TokensRevoked = "users.tokens.revoked"
)

// Types lists every event type the users service publishes.
func Types() []string {
	return []string{UserRegistered, UserUpdated, FollowCreated, FollowDeleted, UserDeleted, TokensRevoked}
}

// User is the payload of users.user.registered and users.user.updated: the
// public profile at version UpdatedAt (unix ms). Consumers apply an event
// only when it is newer than what they hold. It is also one entry of the
// users service's internal profile lookup and snapshot.
type User struct {
	ID        int64   `json:"id"`
	Username  string  `json:"username"`
	Bio       *string `json:"bio"`
	Image     *string `json:"image"`
	UpdatedAt Millis  `json:"updatedAt"`
}

// Follow is the payload of users.follow.created and users.follow.deleted.
// At (unix ms) orders changes to one relation; the last write wins.
type Follow struct {
	FollowerID int64  `json:"followerId"`
	FolloweeID int64  `json:"followeeId"`
	At         Millis `json:"at"`
}

// Deleted is the payload of users.user.deleted. The account's follows, both
// ways, went with it.
type Deleted struct {
	ID int64  `json:"id"`
	At Millis `json:"at"`
}

// Millis is a unix-millisecond timestamp, encoded as a number. It also
// decodes from an RFC 3339 string, so a consumer does not break if a
// producer chooses that form.
type Millis int64

// UnmarshalJSON implements json.Unmarshaler.
func (m *Millis) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decoding timestamp: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("decoding timestamp %q: %w", s, err)
		}
		*m = Millis(t.UnixMilli())
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("decoding timestamp: %w", err)
	}
	*m = Millis(n)
	return nil
}
