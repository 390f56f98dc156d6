package domain

import (
	"strings"
	"unicode"

	"github.com/mtibben/confusables"
	"golang.org/x/text/unicode/norm"
)

// Usernames are compared as people read them, not as code points:
//
//   - A username is stored in NFKC form, so fullwidth (ｊａｋｅ), mathematical
//     (𝐣𝐚𝐤𝐞) and other compatibility spellings become the plain one, and a
//     Hangul name typed as conjoining jamo becomes its syllables.
//   - Letters must come from one script, or from one of the combinations
//     a language writes together (UTS #39 "highly restrictive": Latin with
//     Han and Hangul for Korean, with Han, Hiragana and Katakana for
//     Japanese, with Han and Bopomofo for Chinese); a digit of a script
//     counts as that script. So "pаypal" with a Cyrillic а is refused, and
//     "김jake" or "홍길동99" are welcome.
//   - Fillers that render as nothing (U+3164 ㅤ, U+115F, U+1160, U+FFA0)
//     and every default-ignorable or format character are refused.
//   - Uniqueness is by UsernameSkeleton, the UTS #39 confusable skeleton of
//     the case-folded name: "jake", "JAKE", "јаке" (all Cyrillic), "rn"
//     and "m", "l" and "1" share one, so the second to register is told
//     the name is taken.

// NormalizeUsername is the form a username is validated and stored in.
func NormalizeUsername(s string) string { return norm.NFKC.String(strings.TrimSpace(s)) }

// UsernameSkeleton is the form usernames are unique by: two names with the
// same skeleton render alike, so only the first may exist.
func UsernameSkeleton(username string) string {
	return strings.ToLower(confusables.Skeleton(strings.ToLower(norm.NFKC.String(username))))
}

// invisibleLetters are letters (category Lo) that render as blank space.
var invisibleLetters = map[rune]bool{
	0x115F: true, // HANGUL CHOSEONG FILLER
	0x1160: true, // HANGUL JUNGSEONG FILLER
	0x3164: true, // HANGUL FILLER
	0xFFA0: true, // HALFWIDTH HANGUL FILLER
}

// scriptSets are the letter scripts a username may combine (UTS #39
// highly restrictive); a single script is always allowed.
var scriptSets = [][]string{
	{"Latin", "Han", "Hangul"},
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
}

// scriptNames are the scripts checked, by name; a letter in none of them is
// put in a script of its own ("other:<rune range>") by scriptOf.
var scriptNames = func() []string {
	names := make([]string, 0, len(unicode.Scripts))
	for n := range unicode.Scripts {
		if n != "Common" && n != "Inherited" {
			names = append(names, n)
		}
	}
	return names
}()

func scriptOf(r rune) string {
	// The common cases first: most names are Latin or Hangul.
	for _, n := range []string{"Latin", "Hangul", "Han"} {
		if unicode.Is(unicode.Scripts[n], r) {
			return n
		}
	}
	for _, n := range scriptNames {
		if unicode.Is(unicode.Scripts[n], r) {
			return n
		}
	}
	return "Common"
}

// identityProblem says why a normalized username would be confusable, or "".
func identityProblem(s string) string {
	if !norm.NFKC.IsNormalString(s) {
		return "username is invalid (it is not in Unicode NFKC form)"
	}
	scripts := map[string]bool{}
	for _, r := range s {
		if invisibleLetters[r] || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Cf, r) {
			return "username is invalid (it contains an invisible character)"
		}
		// Digits count too: ASCII digits are Common, but a Devanagari or
		// Arabic-Indic digit brings its script.
		if sc := scriptOf(r); sc != "Common" {
			scripts[sc] = true
		}
	}
	if len(scripts) <= 1 {
		return ""
	}
	for _, set := range scriptSets {
		if subset(scripts, set) {
			return ""
		}
	}
	return "username is invalid (it mixes letters of different scripts)"
}

func subset(scripts map[string]bool, allowed []string) bool {
	for s := range scripts {
		ok := false
		for _, a := range allowed {
			if s == a {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
