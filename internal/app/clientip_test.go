package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// clientIPArgs let the test name its clients: the gateway believes the
// X-Forwarded-For of its loopback peer (as it would a load balancer's), and
// auth allows three sign-ins per client IP.
var clientIPArgs = []string{"--gateway.trusted-proxies=127.0.0.0/8", "--auth.login-ip-limit=3"}

// A password change signs in again through auth (users' call, and web's
// call to users), which must count it against the client's IP, as any
// sign-in: counted against the calling service's address, every client's
// password change spent one shared budget, and a client whose own budget
// was spent could still sign in this way. Checked in one process and with
// auth, users and the rest in three processes.
func TestAbuse_ClientIdentity_PasswordChangeSignInUsesClientIP(t *testing.T) {
	t.Run("all-in-one", func(t *testing.T) {
		base, _ := shape{dir: t.TempDir()}.start(t, clientIPArgs...)
		passwordChangeSignInsCountTheClient(t, base)
	})
	t.Run("distributed", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts three processes on NATS")
		}
		passwordChangeSignInsCountTheClient(t, startDistributed(t))
	})
}

// startDistributed runs auth, users, and the gateway with blog and web as
// three App instances that call each other over HTTP on one NATS, and
// returns the gateway's base URL.
func startDistributed(t *testing.T) string {
	t.Helper()
	natsURL, ns := testenv.URL(t, testenv.EnvNATS), testenv.Name("cip")
	t.Cleanup(func() { deleteStreams(natsURL, ns) })
	common := append([]string{"--nats-url=" + natsURL, "--nats-namespace=" + ns}, clientIPArgs...)
	// Auth and users call each other: auth gets users' address through a
	// proxy that learns it once users listens.
	var usersURL atomic.Pointer[url.URL]
	usersProxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(usersURL.Load())
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}})
	t.Cleanup(usersProxy.Close)
	auth, _ := shape{dir: t.TempDir()}.start(t, append(common, "--target=auth", "--users-url="+usersProxy.URL)...)
	users, _ := shape{dir: t.TempDir()}.start(t, append(common, "--target=users", "--auth-url="+auth)...)
	u, err := url.Parse(users)
	require.NoError(t, err)
	usersURL.Store(u)
	base, _ := shape{dir: t.TempDir()}.start(t, append(common, "--target=gateway,blog,web",
		"--auth-url="+auth, "--users-url="+users)...)
	return base
}

func passwordChangeSignInsCountTheClient(t *testing.T, base string) {
	t.Helper()
	u := register(t, base, testenv.Name("cip"))
	changePassword := func(clientIP, token, password string) apiResponse {
		return callFrom(t, base, clientIP, "PUT", "/api/user", token, map[string]any{"user": map[string]string{"password": password}})
	}
	spend := func(clientIP string) { // the client's three sign-ins, failed
		for range 3 {
			r := callFrom(t, base, clientIP, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.email, "password": "wrong"}})
			require.Equal(t, 401, r.status, r.raw)
		}
		r := callFrom(t, base, clientIP, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.email, "password": u.password}})
		require.Equal(t, 429, r.status, "%s's sign-ins are spent: %s", clientIP, r.raw)
	}

	// Each client has its own budget: four clients change the password
	// once each, more than one IP's three sign-ins.
	token := u.token
	for i, ip := range []string{"203.0.113.11", "203.0.113.12", "203.0.113.13", "203.0.113.14"} {
		u.password = "new password " + string(rune('a'+i))
		token = changePassword(ip, token, u.password).want(t, 200).token(t)
	}

	// A client whose sign-ins are spent cannot sign in by changing the
	// password either; another client can.
	spend("203.0.113.20")
	r := changePassword("203.0.113.20", token, "spent client's password")
	require.Equal(t, 429, r.status, "the sign-in after the change counts against the client: %s", r.raw)
	u.password = "another client's password"
	// The refused sign-in came after the change, which revoked token: sign
	// in from a fresh client to go on.
	signIn := func(clientIP, password string) string {
		r := callFrom(t, base, clientIP, "POST", "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.email, "password": password}})
		return r.want(t, 200).token(t)
	}
	token = signIn("203.0.113.22", "spent client's password")
	token = changePassword("203.0.113.21", token, u.password).want(t, 200).token(t)

	// The same through the web UI's settings form (web → users → auth).
	spend("203.0.113.30")
	require.NotEqual(t, http.StatusSeeOther, webChangePassword(t, base, "203.0.113.30", token, u, "spent browser's password"),
		"the browser's spent budget applies to its password change")
	token = signIn("203.0.113.32", "spent browser's password")
	require.Equal(t, http.StatusSeeOther, webChangePassword(t, base, "203.0.113.31", token, u, "a browser's password"),
		"another browser's password change signs in")
	signIn("203.0.113.33", "a browser's password")
}

// callFrom is call by a client at clientIP (named in X-Forwarded-For, which
// the gateway believes from loopback in these tests).
func callFrom(t *testing.T, base, clientIP, method, path, token string, body any) apiResponse {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, base+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", clientIP)
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	r := apiResponse{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// webChangePassword submits the settings form with a new password as a
// browser at clientIP signed in with token, and returns the answer's status.
func webChangePassword(t *testing.T, base, clientIP, token string, u account, password string) int {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	bu, err := url.Parse(base)
	require.NoError(t, err)
	jar.SetCookies(bu, []*http.Cookie{{Name: "tungsten_session", Value: token}})
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request) (int, string) {
		req.Header.Set("X-Forwarded-For", clientIP)
		res, err := c.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	req, err := http.NewRequest("GET", base+"/settings", nil)
	require.NoError(t, err)
	status, page := do(req)
	require.Equal(t, 200, status, page)
	m := csrfMeta.FindStringSubmatch(page)
	require.NotNil(t, m, "the settings page names its CSRF token")
	form := url.Values{"csrf": {m[1]}, "username": {u.username}, "email": {u.email}, "bio": {""}, "image": {""}, "password": {password}}
	req, err = http.NewRequest("POST", base+"/settings", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, _ = do(req)
	return status
}
