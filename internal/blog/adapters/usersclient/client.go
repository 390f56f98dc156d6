// Package usersclient is the blog's typed client of the users service's
// internal profile lookup, GET /internal/users/profiles.
package usersclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// ProfilesPath is the users service's batch lookup endpoint.
const ProfilesPath = "/internal/users/profiles"

// Client looks profiles up in the users service.
type Client struct{ http *httpx.Client }

// New returns a client over c, which carries the base URL (or in-process
// transport), the deadline and the tracing.
func New(c *httpx.Client) *Client { return &Client{http: c} }

// Profile is one entry of the lookup answer, and also the payload of the
// users.user.registered and users.user.updated events.
type Profile struct {
	ID        int64   `json:"id"`
	Username  string  `json:"username"`
	Bio       *string `json:"bio"`
	Image     *string `json:"image"`
	UpdatedAt Millis  `json:"updatedAt"`
}

// Domain converts p for the read model; its version is updatedAt.
func (p Profile) Domain() domain.Profile {
	return domain.Profile{ID: p.ID, Username: p.Username, Bio: p.Bio, Image: p.Image, Version: int64(p.UpdatedAt)}
}

// Millis is a unix-millisecond timestamp that also decodes from an RFC 3339
// string, so the blog does not break if users chooses that form.
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

// maxPerCall bounds the IDs and usernames sent in one request (URL length).
const maxPerCall = 100

// Lookup returns the profiles of the given IDs and usernames that exist.
func (c *Client) Lookup(ctx context.Context, ids []int64, usernames []string) ([]domain.Profile, error) {
	var out []domain.Profile
	for len(ids) > 0 || len(usernames) > 0 {
		q := url.Values{}
		n := 0
		for ; len(ids) > 0 && n < maxPerCall; n++ {
			q.Add("id", strconv.FormatInt(ids[0], 10))
			ids = ids[1:]
		}
		for ; len(usernames) > 0 && n < maxPerCall; n++ {
			q.Add("username", usernames[0])
			usernames = usernames[1:]
		}
		var resp struct {
			Profiles []Profile `json:"profiles"`
		}
		if err := c.http.Do(ctx, http.MethodGet, ProfilesPath+"?"+q.Encode(), nil, nil, &resp); err != nil {
			return nil, fmt.Errorf("looking up profiles: %w", err)
		}
		for _, p := range resp.Profiles {
			out = append(out, p.Domain())
		}
	}
	return out, nil
}
