// Package authntest issues real EdDSA tokens for tests, with a verifier that
// trusts them: tests exercise the same verification code production runs.
package authntest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
)

// Issuer signs test tokens with one Ed25519 key.
type Issuer struct {
	KID     string
	Private ed25519.PrivateKey
}

// NewIssuer generates a key.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	return &Issuer{KID: "test-key", Private: priv}
}

// JWKS returns the issuer's public key set.
func (i *Issuer) JWKS() authn.JWKS {
	pub := i.Private.Public().(ed25519.PublicKey)
	return authn.JWKS{Keys: []authn.JWK{{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: i.KID, Alg: "EdDSA", Use: "sig"}}}
}

// Verifier returns a verifier that trusts this issuer.
func (i *Issuer) Verifier() *authn.Verifier {
	return authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return i.JWKS(), nil })
}

// Sign signs arbitrary claims with the issuer's key and kid.
func (i *Issuer) Sign(t testing.TB, claims authn.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = i.KID
	s, err := tok.SignedString(i.Private)
	if err != nil {
		t.Fatalf("signing token: %v", err)
	}
	return s
}

// Claims returns valid claims for scope and subject, expiring in an hour.
func Claims(scope, subject, name string) authn.Claims {
	now := time.Now()
	return authn.Claims{
		Username: name,
		Scope:    scope,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: authn.Issuer, Audience: jwt.ClaimStrings{authn.Audience}, Subject: subject,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
	}
}

// User returns a valid user token.
func (i *Issuer) User(t testing.TB, id int64, username string) string {
	return i.Sign(t, Claims(authn.ScopeUser, strconv.FormatInt(id, 10), username))
}

// Service returns a valid service token for the named caller.
func (i *Issuer) Service(t testing.TB, name string) string {
	return i.Sign(t, Claims(authn.ScopeService, name, ""))
}
