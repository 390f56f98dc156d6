package domain

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestAbuse_IdentityConfusion_UsernamesThatRenderAlike(t *testing.T) {
	t.Parallel()
	// Accepted, and stored as shown.
	for in, want := range map[string]string{
		"jake":         "jake",
		"홍길동":          "홍길동",
		"김jake99":      "김jake99",
		"이_수진.dev":     "이_수진.dev",
		"ｊａｋｅ":         "jake", // fullwidth folds to ASCII
		"𝐣𝐚𝐤𝐞":         "jake", // mathematical bold too
		"\u1100\u1161": "가",    // conjoining jamo compose to the syllable
		"田中さん":         "田中さん",
		"Ελένη":        "Ελένη",
		"иван":         "иван",
	} {
		reg, err := ValidateRegistration(in, "a@b.c", "password123")
		require.NoError(t, err, "%q", in)
		require.Equal(t, want, reg.Username, "%q", in)
	}
	// Refused: invisible, filler, mixed-script.
	for _, in := range []string{
		"\u3164",     // HANGUL FILLER alone
		"jake\u3164", // ... appended
		"\u115Fjake", // CHOSEONG FILLER
		"ja\u1160ke", // JUNGSEONG FILLER
		"jake\uFFA0", // HALFWIDTH HANGUL FILLER
		"ja\u200Bke", // zero-width space
		"ja\u200Dke", // zero-width joiner
		"ja\u2060ke", // word joiner
		"\u034Fjake", // combining grapheme joiner (default ignorable)
		"pаypal",     // Cyrillic а among Latin
		"jake\u0399", // Greek Iota after Latin
		"홍길동ива",     // Hangul with Cyrillic
		"jake\u0967", // a Devanagari digit in a Latin name
	} {
		_, err := ValidateRegistration(in, "a@b.c", "password123")
		require.Error(t, err, "%q must be refused", in)
	}
	// Names that render alike share one skeleton, so only the first exists.
	for _, pair := range [][2]string{
		{"jake", "JAKE"},
		{"paypal", "раураl"}, // all-Cyrillic look-alike (one script, so valid alone)
		{"corn", "com"},      // rn vs m
		{"l33t", "133t"},     // l vs 1
		{"jake", "ｊａｋｅ"},
		{"홍길동", "\u1112\u1169\u11BC\u1100\u1175\u11AF\u1103\u1169\u11BC"}, // syllables vs jamo
	} {
		require.Equal(t, UsernameSkeleton(NormalizeUsername(pair[0])), UsernameSkeleton(NormalizeUsername(pair[1])), "%q vs %q", pair[0], pair[1])
	}
	// ... and distinct names stay distinct (Hangul users are first class).
	for _, pair := range [][2]string{{"jake", "jane"}, {"홍길동", "홍길순"}, {"김", "감"}, {"이", "리"}} {
		require.NotEqual(t, UsernameSkeleton(pair[0]), UsernameSkeleton(pair[1]), "%q vs %q", pair[0], pair[1])
	}
}

// FuzzValidateUsername checks the validator's promises on any input: no
// panic; an accepted name is NFKC, within the length limit, has no invisible
// or format characters, validates again to itself (idempotent), and its
// skeleton is stable under re-normalization.
func FuzzValidateUsername(f *testing.F) {
	for _, s := range []string{"jake", "홍길동", "ｊａｋｅ", "ja\u200Bke", "\u3164", "pаypal", "e\u0301", "..", "김jake99", "𝐣𝐚𝐤𝐞"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		reg, err := ValidateRegistration(in, "a@b.c", "password123")
		if err != nil {
			return
		}
		u := reg.Username
		require.True(t, utf8.ValidString(u))
		require.NotEmpty(t, u)
		require.LessOrEqual(t, utf8.RuneCountInString(u), MaxUsernameLen)
		require.Equal(t, NormalizeUsername(u), u, "stored form is normalized")
		require.Empty(t, identityProblem(u))
		require.False(t, strings.ContainsFunc(u, func(r rune) bool { return invisibleLetters[r] }))
		again, err := ValidateRegistration(u, "a@b.c", "password123")
		require.NoError(t, err, "an accepted name validates again")
		require.Equal(t, u, again.Username)
		require.Equal(t, UsernameSkeleton(u), UsernameSkeleton(NormalizeUsername(u)))
	})
}
