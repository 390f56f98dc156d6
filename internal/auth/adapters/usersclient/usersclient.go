// Package usersclient calls the users service's internal account endpoints
// on behalf of the auth service.
package usersclient

import (
	"context"
	"net/http"

	"github.com/tungsten-blog/tungsten/internal/auth/app"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// Client implements app.Accounts over HTTP.
type Client struct {
	http  *httpx.Client
	token func() (string, error) // the auth service's own token
}

// New returns a client; token supplies the service token for each call.
func New(c *httpx.Client, token func() (string, error)) *Client {
	return &Client{http: c, token: token}
}

type accountEnvelope struct {
	User app.Account `json:"user"`
}

// Create implements app.Accounts.
func (c *Client) Create(ctx context.Context, in app.NewAccount) (app.Account, error) {
	var out accountEnvelope
	err := c.call(ctx, "/internal/users/accounts", in, &out)
	return out.User, err
}

// CheckCredentials implements app.Accounts.
func (c *Client) CheckCredentials(ctx context.Context, email, password string) (app.Account, error) {
	var out accountEnvelope
	in := struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}{email, password}
	err := c.call(ctx, "/internal/users/credentials", in, &out)
	return out.User, err
}

func (c *Client) call(ctx context.Context, path string, in, out any) error {
	tok, err := c.token()
	if err != nil {
		return err
	}
	h := http.Header{"Authorization": {"Token " + tok}}
	return c.http.Do(ctx, http.MethodPost, path, h, in, out)
}
