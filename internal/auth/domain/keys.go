// Package domain holds the auth service's rules: signing keys, their
// rotation, and the tokens they sign.
package domain

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
)

// SigningKey is an Ed25519 key that signs tokens.
type SigningKey struct {
	ID        string
	Private   ed25519.PrivateKey
	CreatedAt time.Time
}

// NewSigningKey generates a key with a random ID.
func NewSigningKey(now time.Time) (SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("generating Ed25519 key: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return SigningKey{}, fmt.Errorf("generating key ID: %w", err)
	}
	return SigningKey{ID: hex.EncodeToString(id[:]), Private: priv, CreatedAt: now.UTC()}, nil
}

// JWK returns the key's public half.
func (k SigningKey) JWK() authn.JWK {
	pub := k.Private.Public().(ed25519.PublicKey)
	return authn.JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: k.ID, Alg: "EdDSA", Use: "sig"}
}

// Policy decides when keys rotate and how long they stay published.
type Policy struct {
	RotateEvery time.Duration // a new key signs after this long
	TokenTTL    time.Duration // user tokens live this long
}

// KeyRing is the set of keys that are still published.
type KeyRing struct {
	keys []SigningKey // newest first
}

// NewKeyRing sorts keys newest first.
func NewKeyRing(keys []SigningKey) KeyRing {
	k := append([]SigningKey(nil), keys...)
	sort.Slice(k, func(i, j int) bool { return k[i].CreatedAt.After(k[j].CreatedAt) })
	return KeyRing{keys: k}
}

// NeedsRotation reports whether a new key should be generated: there is
// none, or the newest has signed for longer than the policy allows.
func (r KeyRing) NeedsRotation(p Policy, now time.Time) bool {
	return len(r.keys) == 0 || now.Sub(r.keys[0].CreatedAt) >= p.RotateEvery
}

// Active returns the key that signs new tokens.
func (r KeyRing) Active() (SigningKey, bool) {
	if len(r.keys) == 0 {
		return SigningKey{}, false
	}
	return r.keys[0], true
}

// Published returns the keys verifiers must still accept: the active one and
// every older key that may have signed a token not yet expired.
func (r KeyRing) Published(p Policy, now time.Time) []SigningKey {
	var out []SigningKey
	for i, k := range r.keys {
		// Key i stopped signing when key i-1 was created.
		if i == 0 || now.Sub(r.keys[i-1].CreatedAt) < p.TokenTTL {
			out = append(out, k)
		}
	}
	return out
}

// Expired returns keys that no token can need any more (safe to delete).
func (r KeyRing) Expired(p Policy, now time.Time) []SigningKey {
	pub := map[string]bool{}
	for _, k := range r.Published(p, now) {
		pub[k.ID] = true
	}
	var out []SigningKey
	for _, k := range r.keys {
		if !pub[k.ID] {
			out = append(out, k)
		}
	}
	return out
}

// JWKS returns the published public keys.
func (r KeyRing) JWKS(p Policy, now time.Time) authn.JWKS {
	set := authn.JWKS{Keys: []authn.JWK{}}
	for _, k := range r.Published(p, now) {
		set.Keys = append(set.Keys, k.JWK())
	}
	return set
}

// Sign issues a token with key for subject in scope, valid for ttl.
func Sign(key SigningKey, scope, subject, name string, version int64, now time.Time, ttl time.Duration) (string, error) {
	claims := authn.Claims{
		Username: name,
		Scope:    scope,
		Version:  version,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    authn.Issuer,
			Audience:  jwt.ClaimStrings{authn.Audience},
			Subject:   subject,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = key.ID
	s, err := tok.SignedString(key.Private)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return s, nil
}

// UserSubject is the token subject of a user.
func UserSubject(id int64) string { return strconv.FormatInt(id, 10) }
