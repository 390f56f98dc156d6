// Package usersclient is the blog's typed client of the users service's
// internal profile lookup, GET /internal/users/profiles.
package usersclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/users/userevents"
)

// ProfilesPath is the users service's batch lookup endpoint.
const ProfilesPath = "/internal/users/profiles"

// Client looks profiles up in the users service.
type Client struct{ http *httpx.Client }

// New returns a client over c, which carries the base URL (or in-process
// transport), the deadline and the tracing.
func New(c *httpx.Client) *Client { return &Client{http: c} }

// Profile is one entry of the lookup answer: the users contract's profile,
// also the payload of users.user.registered and users.user.updated.
type Profile = userevents.User

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
			out = append(out, domain.ProfileOf(p))
		}
	}
	return out, nil
}

// SnapshotPath is the users service's paged snapshot of every account and
// its follows, for rebuilding the read model (ADR 0011).
const SnapshotPath = "/internal/users/snapshot"

// SnapshotPage is one page of the snapshot.
type SnapshotPage struct {
	Profiles []Profile           `json:"profiles"`
	Follows  []userevents.Follow `json:"follows"`
	Next     int64               `json:"next"` // 0 after the last page
}

// Snapshot returns the page of accounts with IDs above after.
func (c *Client) Snapshot(ctx context.Context, after int64) (SnapshotPage, error) {
	var out SnapshotPage
	err := c.http.Do(ctx, http.MethodGet, SnapshotPath+"?after="+strconv.FormatInt(after, 10), nil, nil, &out)
	if err != nil {
		return SnapshotPage{}, fmt.Errorf("reading the users snapshot after %d: %w", after, err)
	}
	return out, nil
}
