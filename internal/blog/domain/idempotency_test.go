package domain

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateIdempotencyKey(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "550e8400-e29b-41d4-a716-446655440000", strings.Repeat("~", MaxIdempotencyKey)} {
		require.NoError(t, ValidateIdempotencyKey(ok), ok)
	}
	for _, bad := range []string{"", " ", "a b", "\x00", "é", strings.Repeat("a", MaxIdempotencyKey+1), "line\n"} {
		require.Error(t, ValidateIdempotencyKey(bad), "%q", bad)
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	in := ArticleInput{Title: "t", Description: "d", Body: "b"}
	require.Equal(t, Fingerprint("op", in), Fingerprint("op", in))
	require.NotEqual(t, Fingerprint("op", in), Fingerprint("other", in))
	in2 := in
	in2.Body = "c"
	require.NotEqual(t, Fingerprint("op", in), Fingerprint("op", in2))
}
