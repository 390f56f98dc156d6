package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// IdempotencyTTL is how long the response of a write sent with an
// Idempotency-Key is kept for replay (ADR 0013).
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey bounds the length of an Idempotency-Key.
const MaxIdempotencyKey = 128

// ErrIdempotencyKeyUsed is returned by a write whose key another write of
// the same user already committed: the caller replays that one's response.
var ErrIdempotencyKeyUsed = errors.New("idempotency key already used")

// ValidateIdempotencyKey accepts 1 to MaxIdempotencyKey visible ASCII
// characters (a UUID, a random token): anything else is refused, so the
// keys stored stay small and printable.
func ValidateIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKey {
		return errs.Invalid("Idempotency-Key must be 1 to 128 visible ASCII characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return errs.Invalid("Idempotency-Key must be 1 to 128 visible ASCII characters")
		}
	}
	return nil
}

// Fingerprint identifies a request's meaning (its operation and normalized
// input), so that a key reused for another request is refused rather than
// answered with the first one's response.
func Fingerprint(op string, input any) string {
	h := sha256.New()
	h.Write([]byte(op))
	h.Write([]byte{0})
	b, _ := json.Marshal(input) // the inputs are plain structs and strings
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// IdempotencyKey is a user's key for one logical write.
type IdempotencyKey struct {
	UserID      int64
	Key         string
	Fingerprint string
}

// Once records a write's key and response in the write's own transaction:
// either both are stored or neither. Render builds the response body from
// what the write stored (IDs, slug, times).
type Once[T any] struct {
	IdempotencyKey
	Status int
	Render func(T) ([]byte, error)
}

// StoredResponse is the response first sent for a key.
type StoredResponse struct {
	Fingerprint string
	Status      int
	Body        []byte
}
