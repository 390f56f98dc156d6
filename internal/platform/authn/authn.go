// Package authn verifies the EdDSA-signed JWTs that the auth service issues.
// The gateway and every service verify tokens locally against the auth
// service's JWKS, so no request calls auth to check a token.
package authn

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// Token claims shared by issuer and verifiers.
const (
	Issuer       = "tungsten-auth"
	Audience     = "tungsten"
	ScopeUser    = "user"
	ScopeService = "service"
)

// Claims are the claims of a Tungsten token.
type Claims struct {
	Username string `json:"name,omitempty"`
	Scope    string `json:"scope"`
	// Version is the account's token version when the token was issued;
	// signing out, a password change or deleting the account raises it and
	// revokes every token of a lower version (ADR 0011).
	Version int64 `json:"ver,omitempty"`
	jwt.RegisteredClaims
}

// Principal is the verified caller of a request.
type Principal struct {
	UserID   int64  // 0 for service principals
	Username string // at the time the token was issued
	Service  string // set for service principals (e.g. "auth")
	Version  int64  // the account's token version at issue (Claims.Version)
	Token    string // the raw token, echoed by endpoints that return the user
}

// JWK is one Ed25519 public key in JWKS form (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS is a key set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// KeySource fetches the current key set (from the auth service).
type KeySource func(ctx context.Context) (JWKS, error)

// Verifier checks tokens against a cached key set, refreshing it when a token
// names an unknown key (at most once per MinRefresh, so forged key IDs cannot
// make it hammer the auth service).
type Verifier struct {
	source     KeySource
	minRefresh time.Duration
	now        func() time.Time

	mu          sync.RWMutex
	keys        map[string]ed25519.PublicKey
	verified    map[[sha256.Size]byte]verifiedToken // by the token's SHA-256
	lastRefresh time.Time
	refreshMu   sync.Mutex

	revoked *Revocations
}

// verifiedToken is a token that passed Verify, remembered until until.
type verifiedToken struct {
	p     Principal // without Token
	until time.Time
}

// Bounds of the verified-token cache: a token is checked again after
// verifiedTTL (and at once after a key set change), and at most
// maxVerified tokens are remembered, so any cost of a flood of distinct
// tokens stays bounded.
const (
	leeway      = 30 * time.Second // clock skew allowed on exp and iat
	verifiedTTL = time.Minute
	maxVerified = 10_000
)

// NewVerifier returns a verifier that loads keys from source on demand.
func NewVerifier(source KeySource) *Verifier {
	return &Verifier{source: source, minRefresh: 5 * time.Second, now: time.Now, keys: map[string]ed25519.PublicKey{},
		verified: map[[sha256.Size]byte]verifiedToken{}, revoked: NewRevocations()}
}

// Revocations returns the set of revoked tokens this verifier refuses; the
// process feeds it from the users service's events.
func (v *Verifier) Revocations() *Revocations { return v.revoked }

// SetKeys replaces the key set (used after a fetch, and by tests).
func (v *Verifier) SetKeys(set JWKS) error {
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return fmt.Errorf("key %q: bad Ed25519 public key", k.Kid)
		}
		keys[k.Kid] = ed25519.PublicKey(raw)
	}
	v.mu.Lock()
	if !maps.EqualFunc(v.keys, keys, func(a, b ed25519.PublicKey) bool { return a.Equal(b) }) {
		clear(v.verified) // a withdrawn key must stop admitting its tokens
	}
	v.keys = keys
	v.mu.Unlock()
	return nil
}

// Refresh fetches the key set now, unless keys are loaded and were fetched
// within minRefresh. With no keys at all (auth was unreachable so far) every
// call tries again: there is nothing to verify against otherwise.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.refreshMu.Lock()
	defer v.refreshMu.Unlock()
	if v.Ready() && v.now().Sub(v.lastRefresh) < v.minRefresh {
		return nil
	}
	v.lastRefresh = v.now()
	set, err := v.source(ctx)
	if err != nil {
		return fmt.Errorf("fetching signing keys: %w", err)
	}
	return v.SetKeys(set)
}

// Ready reports whether at least one key is loaded.
func (v *Verifier) Ready() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.keys) > 0
}

func (v *Verifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	v.mu.RLock()
	k, ok := v.keys[kid]
	v.mu.RUnlock()
	if ok {
		return k, nil
	}
	if err := v.Refresh(ctx); err != nil {
		return nil, errs.Unavailable("token keys", err)
	}
	v.mu.RLock()
	k, ok = v.keys[kid]
	v.mu.RUnlock()
	if !ok {
		return nil, errs.Unauthenticated("token is signed by an unknown key")
	}
	return k, nil
}

// Verify checks a token's signature (EdDSA only; "none" and every other
// algorithm are refused), key, issuer, audience, expiry and revocation. A
// token that passed is remembered (by its hash) for a minute at most and
// never past its expiry (with the leeway), so a client's next requests skip
// the signature check; the revocation check runs on every call, cached or
// not, so a revocation takes effect as soon as the set hears of it.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	sum := sha256.Sum256([]byte(raw))
	now := v.now()
	v.mu.RLock()
	hit, ok := v.verified[sum]
	v.mu.RUnlock()
	if ok && now.Before(hit.until) {
		if v.revoked.Revoked(hit.p) {
			return Principal{}, ErrRevoked
		}
		p := hit.p
		p.Token = raw
		return p, nil
	}
	p, exp, err := v.verify(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	if v.revoked.Revoked(p) {
		return Principal{}, ErrRevoked
	}
	until := now.Add(verifiedTTL)
	if exp = exp.Add(leeway); exp.Before(until) {
		until = exp // as long as verify would accept it, and no longer
	}
	v.mu.Lock()
	if len(v.verified) >= maxVerified {
		for k, t := range v.verified {
			if !now.Before(t.until) {
				delete(v.verified, k)
			}
		}
		if len(v.verified) >= maxVerified {
			clear(v.verified)
		}
	}
	cached := p
	cached.Token = ""
	v.verified[sum] = verifiedToken{p: cached, until: until}
	v.mu.Unlock()
	return p, nil
}

// verify is Verify without the cache; it also returns the expiry.
func (v *Verifier) verify(ctx context.Context, raw string) (Principal, time.Time, error) {
	var claims Claims
	var keyErr error
	_, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no key ID")
		}
		k, err := v.key(ctx, kid)
		keyErr = err
		return k, err
	},
		jwt.WithValidMethods([]string{"EdDSA"}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(v.now),
	)
	if keyErr != nil && errs.Is(keyErr, errs.KindUnavailable) {
		return Principal{}, time.Time{}, keyErr
	}
	if err != nil {
		return Principal{}, time.Time{}, errs.Unauthenticated("token is invalid or expired")
	}
	p := Principal{Username: claims.Username, Token: raw, Version: claims.Version}
	switch claims.Scope {
	case ScopeUser:
		id, err := strconv.ParseInt(claims.Subject, 10, 64)
		if err != nil || id <= 0 {
			return Principal{}, time.Time{}, errs.Unauthenticated("token is invalid or expired")
		}
		p.UserID = id
	case ScopeService:
		if claims.Subject == "" {
			return Principal{}, time.Time{}, errs.Unauthenticated("token is invalid or expired")
		}
		p.Service = claims.Subject
	default:
		return Principal{}, time.Time{}, errs.Unauthenticated("token is invalid or expired")
	}
	return p, claims.ExpiresAt.Time, nil
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, if it presented a valid token.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// RequireUser returns the calling user or a 401 error.
func RequireUser(ctx context.Context) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok || p.UserID == 0 {
		return Principal{}, errs.Unauthenticated("authentication required")
	}
	return p, nil
}

// RequireService returns the calling service or a 401/403 error.
func RequireService(ctx context.Context, allowed ...string) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, errs.Unauthenticated("service authentication required")
	}
	for _, a := range allowed {
		if p.Service == a {
			return p, nil
		}
	}
	return Principal{}, errs.Forbidden("caller may not use this endpoint")
}

// ViewerID returns the calling user's ID, or 0 for anonymous requests.
func ViewerID(ctx context.Context) int64 {
	p, _ := FromContext(ctx)
	return p.UserID
}

// TokenFromHeader extracts the token from "Authorization: Token <jwt>" (the
// RealWorld scheme); "Bearer" is accepted too.
func TokenFromHeader(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || (!strings.EqualFold(scheme, "Token") && !strings.EqualFold(scheme, "Bearer")) {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Middleware verifies the Authorization header when present: a valid token
// puts its Principal in the context, an invalid one is answered 401 at once,
// and no header leaves the request anonymous (handlers that need a user call
// RequireUser).
func Middleware(v *Verifier, writeError func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := TokenFromHeader(h)
		if !ok {
			writeError(w, r, errs.Unauthenticated(`Authorization header must be "Token <jwt>"`))
			return
		}
		p, err := v.Verify(r.Context(), tok)
		if err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}
