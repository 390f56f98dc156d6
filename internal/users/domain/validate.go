package domain

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// Limits on account fields.
const (
	MaxUsernameLen = 64   // characters
	MaxEmailLen    = 254  // bytes, the SMTP path limit
	MinPasswordLen = 8    // characters
	MaxPasswordLen = 128  // characters
	MaxImageLen    = 2048 // characters
	MaxBioLen      = 4000 // characters
)

// Registration is a validated, normalized request for a new account.
type Registration struct {
	Username string
	Email    string
	Password string
}

// ValidateRegistration checks a new account's fields and returns them
// normalized (username trimmed, email trimmed and lower-cased). All problems
// are reported together in one errs.Invalid.
func ValidateRegistration(username, email, password string) (Registration, error) {
	r := Registration{Username: NormalizeUsername(username), Email: NormalizeEmail(email), Password: password}
	var msgs []string
	msgs = append(msgs, usernameProblems(r.Username)...)
	msgs = append(msgs, emailProblems(r.Email)...)
	msgs = append(msgs, passwordProblems(r.Password)...)
	if len(msgs) > 0 {
		return Registration{}, errs.Invalid(msgs...)
	}
	return r, nil
}

// Changes is a requested update of an account. A nil field is left alone.
// A Bio or Image pointing to "" clears it.
type Changes struct {
	Username *string
	Email    *string
	Password *string
	Bio      *string
	Image    *string
}

// ValidateChanges checks the fields present in c and returns them
// normalized. An empty password means "unchanged": the RealWorld settings
// forms send the whole form, with an empty password unless the user typed a
// new one. All problems are reported together in one errs.Invalid.
func ValidateChanges(c Changes) (Changes, error) {
	var msgs []string
	var out Changes
	if c.Username != nil {
		s := NormalizeUsername(*c.Username)
		msgs = append(msgs, usernameProblems(s)...)
		out.Username = &s
	}
	if c.Email != nil {
		s := NormalizeEmail(*c.Email)
		msgs = append(msgs, emailProblems(s)...)
		out.Email = &s
	}
	if c.Password != nil && *c.Password != "" {
		s := *c.Password
		msgs = append(msgs, passwordProblems(s)...)
		out.Password = &s
	}
	if c.Bio != nil {
		s := *c.Bio
		msgs = append(msgs, bioProblems(s)...)
		out.Bio = &s
	}
	if c.Image != nil {
		s := strings.TrimSpace(*c.Image)
		msgs = append(msgs, imageProblems(s)...)
		out.Image = &s
	}
	if len(msgs) > 0 {
		return Changes{}, errs.Invalid(msgs...)
	}
	return out, nil
}

// Apply returns u with the validated changes c made, except the password,
// which the caller hashes. changed reports whether anything differs, public
// whether the public profile does.
func (u User) Apply(c Changes) (next User, changed, public bool) {
	next = u
	if c.Username != nil && *c.Username != u.Username {
		next.Username, changed, public = *c.Username, true, true
	}
	if c.Email != nil && *c.Email != u.Email {
		next.Email, changed = *c.Email, true
	}
	if c.Bio != nil {
		if v := optional(*c.Bio); !sameOptional(v, u.Bio) {
			next.Bio, changed, public = v, true, true
		}
	}
	if c.Image != nil {
		if v := optional(*c.Image); !sameOptional(v, u.Image) {
			next.Image, changed, public = v, true, true
		}
	}
	return next, changed, public
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func sameOptional(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func tooLong(field string, limit int) string {
	return fmt.Sprintf("%s is too long (maximum is %d characters)", field, limit)
}

func usernameProblems(s string) []string {
	switch {
	case s == "":
		return []string{"username can't be blank"}
	case utf8.RuneCountInString(s) > MaxUsernameLen:
		return []string{tooLong("username", MaxUsernameLen)}
	case !validUsername(s):
		return []string{"username is invalid (use letters, digits, '_', '-' and '.')"}
	}
	if p := identityProblem(s); p != "" {
		return []string{p}
	}
	return nil
}

// validUsername allows letters, digits, '_', '-' and '.'. Combining marks are
// not letters, so a name cannot be spelt twice (precomposed and decomposed)
// to impersonate someone. "." and ".." are refused: as path segments they
// would be cleaned away from /api/profiles/{username}.
func validUsername(s string) bool {
	if s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' && r != '.' {
			return false
		}
	}
	return true
}

func emailProblems(s string) []string {
	switch {
	case s == "":
		return []string{"email can't be blank"}
	case len(s) > MaxEmailLen:
		return []string{tooLong("email", MaxEmailLen)}
	case !validEmail(s):
		return []string{"email is invalid"}
	}
	return nil
}

// validEmail accepts a bare address (no display name, no angle brackets)
// that net/mail can parse.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.Contains(s, "@")
}

func passwordProblems(s string) []string {
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return []string{"password can't be blank"}
	case n < MinPasswordLen:
		return []string{fmt.Sprintf("password is too short (minimum is %d characters)", MinPasswordLen)}
	case n > MaxPasswordLen:
		return []string{tooLong("password", MaxPasswordLen)}
	}
	return nil
}

func bioProblems(s string) []string {
	switch {
	case utf8.RuneCountInString(s) > MaxBioLen:
		return []string{tooLong("bio", MaxBioLen)}
	case strings.ContainsRune(s, 0):
		// PostgreSQL text cannot hold NUL; refuse it rather than fail later.
		return []string{"bio is invalid (it contains a NUL character)"}
	}
	return nil
}

func imageProblems(s string) []string {
	switch {
	case s == "":
		return nil
	case utf8.RuneCountInString(s) > MaxImageLen:
		return []string{tooLong("image", MaxImageLen)}
	case !validImageURL(s):
		return []string{"image is invalid (use an http or https URL)"}
	}
	return nil
}

// validImageURL accepts absolute http(s) URLs with a host and no user info
// (credentials in an image URL are a leak or a phishing trick).
func validImageURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return false
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsSpace)
}
