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
func NewUserEvent(u User) UserEvent {
	return UserEvent{ID: u.ID, Username: u.Username, Bio: u.Bio, Image: u.Image,
		UpdatedAt: userevents.Millis(u.UpdatedAt.UnixMilli())}
}
