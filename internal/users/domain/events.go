package domain

import "github.com/tungsten-blog/tungsten/internal/users/userevents"

// Event types the users service publishes; the contract is userevents.
const (
	EventUserRegistered = userevents.UserRegistered
	EventUserUpdated    = userevents.UserUpdated
	EventFollowCreated  = userevents.FollowCreated
	EventFollowDeleted  = userevents.FollowDeleted
	EventUserDeleted    = userevents.UserDeleted
	EventTokensRevoked  = userevents.TokensRevoked
)

// EventTypes lists every event type the users service publishes.
func EventTypes() []string { return userevents.Types() }

// The payloads, declared once in the contract package.
type (
	UserEvent        = userevents.User
	FollowEvent      = userevents.Follow
	UserDeletedEvent = userevents.Deleted
	Millis           = userevents.Millis // unix ms
)

// NewUserEvent describes u's public profile.
func NewUserEvent(u User) UserEvent { return ProfileEvent(u.Profile()) }

// ProfileEvent is p in the contract's form: an event's payload, and an entry
// of the internal profile lookup and snapshot.
func ProfileEvent(p Profile) UserEvent {
	return UserEvent{ID: p.ID, Username: p.Username, Bio: p.Bio, Image: p.Image,
		UpdatedAt: userevents.Millis(p.UpdatedAt.UnixMilli())}
}
