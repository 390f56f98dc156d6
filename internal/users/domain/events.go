package domain

// Event types the users service publishes (subjects "<namespace>.<type>").
const (
	EventUserRegistered = "users.user.registered"
	EventUserUpdated    = "users.user.updated"
	EventFollowCreated  = "users.follow.created"
	EventFollowDeleted  = "users.follow.deleted"
)

// EventTypes lists every event type the users service publishes.
func EventTypes() []string {
	return []string{EventUserRegistered, EventUserUpdated, EventFollowCreated, EventFollowDeleted}
}

// UserEvent is the payload of users.user.registered and users.user.updated:
// the public profile at version UpdatedAt (unix ms). Consumers apply an
// event only when it is newer than what they hold.
type UserEvent struct {
	ID        int64   `json:"id"`
	Username  string  `json:"username"`
	Bio       *string `json:"bio"`
	Image     *string `json:"image"`
	UpdatedAt int64   `json:"updatedAt"`
}

// NewUserEvent describes u's public profile.
func NewUserEvent(u User) UserEvent {
	return UserEvent{ID: u.ID, Username: u.Username, Bio: u.Bio, Image: u.Image, UpdatedAt: u.UpdatedAt.UnixMilli()}
}

// FollowEvent is the payload of users.follow.created and users.follow.deleted.
// At (unix ms) orders changes to one relation; the last write wins.
type FollowEvent struct {
	FollowerID int64 `json:"followerId"`
	FolloweeID int64 `json:"followeeId"`
	At         int64 `json:"at"`
}
