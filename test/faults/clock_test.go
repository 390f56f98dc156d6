package faults

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// verifierLeeway is the clock skew every verifier allows on a token's iat
// and exp (internal/platform/authn: leeway; README "Tokens", ADR 0021).
const verifierLeeway = 30 * time.Second

// clockSkew moves the auth process's clock (the one it issues tokens by)
// offset ahead, or behind, through its admin fault switch: the operator's
// documented clock fault (ADR 0016, 0021), not a test hook. A static Go
// binary reads the time through the vDSO, not libc, so faketime cannot
// skew it; moving the machine's clock would skew every process at once.
func clockSkew(offset time.Duration) func(*testing.T, *suite) func() {
	return func(t *testing.T, s *suite) func() {
		s.c.adminFaults(t, "auth", http.MethodPut, fmt.Sprintf(`{"clock":{"offset":%q},"duration":"2m"}`, offset.String()))
		return func() { s.c.adminFaults(t, "auth", http.MethodDelete, "") }
	}
}

// adminFaults sends one request to target's /admin/faults with the
// operator token and requires a 200.
func (c *cluster) adminFaults(t *testing.T, target, method, body string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d/admin/faults", c.admin[target]), strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.adminToken)
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s /admin/faults %s on %s: %s", method, body, target, b)
}

// login signs w in again: the token is issued now, by auth's clock.
func login(api string, w writer) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return do(ctx, http.MethodPost, api+"/api/users/login", "", "",
		map[string]any{"user": map[string]string{"email": w.username + "@example.com", "password": "password123"}})
}

// issuedAt reads a token's iat (unverified: the verifiers judge it).
func issuedAt(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, fmt.Errorf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, err
	}
	var c struct {
		IssuedAt int64 `json:"iat"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return time.Time{}, err
	}
	return time.Unix(c.IssuedAt, 0), nil
}

// skewed checks that the token was issued offset away from this clock
// (within 5 s): the fault really moved the issuer's clock.
func skewed(token string, offset time.Duration) string {
	iat, err := issuedAt(token)
	if err != nil {
		return "reading the token's iat: " + err.Error()
	}
	if d := time.Until(iat) - offset; d.Abs() > 5*time.Second {
		return fmt.Sprintf("the token's iat is %s from now, not %s: the clock fault did not take", time.Until(iat).Round(time.Second), offset)
	}
	return ""
}

// tokenUses are the calls a fresh token is tried on: the gateway and users
// (GET /api/user), the gateway and the blog (POST /api/articles, the feed).
func tokenUses(api, token string) []struct {
	name   string
	status func() (int, []byte, error)
} {
	ctx := context.Background()
	call := func(method, path string, body any) func() (int, []byte, error) {
		return func() (int, []byte, error) {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return do(cctx, method, api+path, token, randomHex(16), body)
		}
	}
	return []struct {
		name   string
		status func() (int, []byte, error)
	}{
		{"GET /api/user", call(http.MethodGet, "/api/user", nil)},
		{"POST /api/articles", call(http.MethodPost, "/api/articles", map[string]any{"article": map[string]any{
			"title": "clock skew " + randomHex(4), "description": "clock skew", "body": "issued by a skewed clock"}})},
		{"GET /api/articles/feed", call(http.MethodGet, "/api/articles/feed?limit=1", nil)},
	}
}

// tokensAccepted: with auth's clock offset within what the verifiers allow
// (ahead by less than the leeway, or behind by less than the token's
// lifetime), a token issued now works everywhere.
func tokensAccepted(offset time.Duration) func(*testing.T, *suite, stack, writer) string {
	return func(_ *testing.T, _ *suite, st stack, w writer) string {
		if offset >= verifierLeeway {
			return fmt.Sprintf("misconfigured: %s ahead is beyond the leeway (%s)", offset, verifierLeeway)
		}
		stt, b, err := login(st.apiURL(), w)
		if err != nil || stt != http.StatusOK {
			return fmt.Sprintf("login answered %s %s", statusKey(stt, err), bytes.TrimSpace(b))
		}
		token, msg := skewedToken(b, offset)
		if msg != "" {
			return msg
		}
		var bad []string
		for _, u := range tokenUses(st.apiURL(), token) {
			stt, b, err := u.status()
			if err != nil || stt >= 300 {
				bad = append(bad, fmt.Sprintf("%s answered %s %s", u.name, statusKey(stt, err), bytes.TrimSpace(b)))
			}
		}
		if len(bad) > 0 {
			return strings.Join(bad, "; ")
		}
		return "ok"
	}
}

// tokensRefused: with auth's clock ahead by more than the leeway, a token
// it issues now is from the future for every verifier: each refuses it
// with 401 and the RealWorld error shape, never a 5xx. The login itself may
// already be refused (auth's own service token, issued by the same clock,
// is refused by users): then with a 4xx in the error shape, never a 5xx.
func tokensRefused(offset time.Duration) func(*testing.T, *suite, stack, writer) string {
	return func(_ *testing.T, _ *suite, st stack, w writer) string {
		if offset <= verifierLeeway {
			return fmt.Sprintf("misconfigured: %s ahead is within the leeway (%s)", offset, verifierLeeway)
		}
		stt, b, err := login(st.apiURL(), w)
		switch {
		case err != nil || stt >= 500:
			return fmt.Sprintf("login answered %s %s", statusKey(stt, err), bytes.TrimSpace(b))
		case stt != http.StatusOK:
			if !errorShape(b) {
				return fmt.Sprintf("login refused with %d without the error shape: %s", stt, bytes.TrimSpace(b))
			}
			// auth's cached service token had to be renewed, by the
			// skewed clock, and users refused it: the login is refused too.
			return fmt.Sprintf("ok: login refused with %d %s (users refused auth's service token, issued by the same clock)", stt, bytes.TrimSpace(b))
		}
		token, msg := skewedToken(b, offset)
		if msg != "" {
			return msg
		}
		var bad []string
		for _, u := range tokenUses(st.apiURL(), token) {
			stt, b, err := u.status()
			if err != nil || stt != http.StatusUnauthorized || !errorShape(b) {
				bad = append(bad, fmt.Sprintf("%s answered %s %s (want 401 in the error shape)", u.name, statusKey(stt, err), bytes.TrimSpace(b)))
			}
		}
		if len(bad) > 0 {
			return strings.Join(bad, "; ")
		}
		return "ok"
	}
}

// skewedToken decodes a login's token and checks it was issued offset
// ahead (skewed); a non-empty message says what is wrong.
func skewedToken(login []byte, offset time.Duration) (string, string) {
	var out struct {
		User struct {
			Token string `json:"token"`
		} `json:"user"`
	}
	if err := json.Unmarshal(login, &out); err != nil {
		return "", "decoding the login: " + err.Error()
	}
	return out.User.Token, skewed(out.User.Token, offset)
}
