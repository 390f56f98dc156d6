package domain

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters of new password hashes.
// Stored hashes carry their own parameters, so these can be raised later and
// old hashes still verify (and are upgraded at the next sign-in).
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
}

// DefaultArgon2Params are OWASP's recommended argon2id settings
// (19 MiB, 2 iterations, 1 lane).
var DefaultArgon2Params = Argon2Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1}

// Bounds on parameters, for configuration and for parsing stored hashes:
// a tampered hash must not make verification allocate without limit.
const (
	MaxArgon2Memory     = 1 << 20 // KiB (1 GiB)
	MaxArgon2Iterations = 64
	saltLen             = 16
	keyLen              = 32
	minSaltLen          = 8
	maxSaltLen          = 64
	minKeyLen           = 16
	maxKeyLen           = 64
)

// Validate checks the parameters against argon2's rules and our bounds.
func (p Argon2Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return errors.New("argon2 parallelism must be at least 1")
	case p.Iterations < 1 || p.Iterations > MaxArgon2Iterations:
		return fmt.Errorf("argon2 iterations must be between 1 and %d", MaxArgon2Iterations)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > MaxArgon2Memory:
		return fmt.Errorf("argon2 memory must be between 8×parallelism and %d KiB", MaxArgon2Memory)
	}
	return nil
}

// PasswordHash is a parsed argon2id PHC string:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<key> (unpadded standard base64).
type PasswordHash struct {
	Params Argon2Params
	Salt   []byte
	Key    []byte
}

// ErrMalformedHash reports a stored password hash that cannot be parsed.
var ErrMalformedHash = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding

// String encodes h as a PHC string.
func (h PasswordHash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.Params.Memory, h.Params.Iterations, h.Params.Parallelism, b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

// HashPassword derives a new hash of password with a fresh 16-byte salt read
// from random (crypto/rand.Reader in production).
func HashPassword(password string, p Argon2Params, random io.Reader) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, keyLen)
	return PasswordHash{Params: p, Salt: salt, Key: key}.String(), nil
}

// VerifyPassword reports whether password matches the PHC string encoded,
// comparing in constant time. An unparsable hash is an error, never a match.
func VerifyPassword(password, encoded string) (bool, error) {
	h, err := ParseHash(encoded)
	if err != nil {
		return false, err
	}
	p := h.Params
	key := argon2.IDKey([]byte(password), h.Salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(key, h.Key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p
// (or cannot be parsed), so it should be replaced at the next sign-in.
func NeedsRehash(encoded string, p Argon2Params) bool {
	h, err := ParseHash(encoded)
	return err != nil || h.Params != p || len(h.Salt) != saltLen || len(h.Key) != keyLen
}

// ParseHash parses an argon2id PHC string. It accepts only the exact form
// String writes, with parameters within bounds.
func ParseHash(encoded string) (PasswordHash, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return PasswordHash{}, fmt.Errorf("%w: want $argon2id$v=..$m=..,t=..,p=..$salt$key", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return PasswordHash{}, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return PasswordHash{}, fmt.Errorf("%w: want m, t and p parameters", ErrMalformedHash)
	}
	var h PasswordHash
	m, err := param(params[0], "m", MaxArgon2Memory)
	if err != nil {
		return PasswordHash{}, err
	}
	t, err := param(params[1], "t", MaxArgon2Iterations)
	if err != nil {
		return PasswordHash{}, err
	}
	p, err := param(params[2], "p", 255)
	if err != nil {
		return PasswordHash{}, err
	}
	h.Params = Argon2Params{Memory: m, Iterations: t, Parallelism: uint8(p)}
	if err := h.Params.Validate(); err != nil {
		return PasswordHash{}, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	if h.Salt, err = decodeB64(parts[4]); err != nil || len(h.Salt) < minSaltLen || len(h.Salt) > maxSaltLen {
		return PasswordHash{}, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	if h.Key, err = decodeB64(parts[5]); err != nil || len(h.Key) < minKeyLen || len(h.Key) > maxKeyLen {
		return PasswordHash{}, fmt.Errorf("%w: bad key", ErrMalformedHash)
	}
	return h, nil
}

// decodeB64 decodes canonical unpadded base64. The decoder itself skips CR
// and LF, so other characters are refused first: one hash, one spelling.
func decodeB64(s string) ([]byte, error) {
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, errors.New("not base64")
		}
	}
	return b64.Strict().DecodeString(s)
}

// param parses "name=<decimal>" with 1 <= value <= max.
func param(s, name string, max uint32) (uint32, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok || v == "" || (len(v) > 1 && v[0] == '0') || strings.ContainsAny(v, "+-") {
		return 0, fmt.Errorf("%w: bad parameter %q", ErrMalformedHash, s)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > uint64(max) {
		return 0, fmt.Errorf("%w: parameter %s out of range", ErrMalformedHash, name)
	}
	return uint32(n), nil
}
