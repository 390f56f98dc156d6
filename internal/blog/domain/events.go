package domain

import "github.com/tungsten-blog/tungsten/internal/users/userevents"

// The events the blog publishes are declared in its contract package,
// internal/blog/blogevents.

// ProfileOf converts a users profile (an event's or a lookup's) for the read
// model; its version is updatedAt.
func ProfileOf(p userevents.User) Profile {
	return Profile{ID: p.ID, Username: p.Username, Bio: p.Bio, Image: p.Image, Version: int64(p.UpdatedAt)}
}
