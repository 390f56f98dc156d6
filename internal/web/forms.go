package web

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// formErrors are the API's validation messages sorted by the form field they
// name ("title can't be blank" goes next to the title); the rest are shown
// above the form.
type formErrors struct {
	Fields  map[string][]string
	General []string
}

// Field returns the messages for one field, for templates.
func (f formErrors) Field(name string) []string { return f.Fields[name] }

// Any reports whether there is anything to show.
func (f formErrors) Any() bool { return len(f.Fields) > 0 || len(f.General) > 0 }

// userErrors turns an API error the user can fix (invalid input, a taken
// name, wrong credentials) into formErrors in the page's language; any other
// error is returned as is for the error page. aliases maps API field names
// to form field names.
func userErrors(l *locale, err error, aliases map[string]string, fields ...string) (formErrors, error) {
	var e *errs.Error
	if !errors.As(err, &e) {
		return formErrors{}, err
	}
	switch e.Kind {
	case errs.KindInvalid, errs.KindConflict, errs.KindTooLarge:
	case errs.KindUnauthenticated:
		if len(e.Messages) > 0 && strings.Contains(e.Messages[0], "password") {
			return formErrors{General: l.apiMessages(e.Messages)}, nil // wrong credentials, not a lost session
		}
		return formErrors{}, err
	default:
		return formErrors{}, err
	}
	fe := formErrors{Fields: map[string][]string{}}
	msgs := e.Messages
	if len(msgs) == 0 {
		msgs = []string{"please check your input"}
	}
	for _, raw := range msgs {
		m := l.apiMessage(raw)
		first, _, _ := strings.Cut(raw, " ")
		if a, ok := aliases[first]; ok {
			first = a
		}
		matched := false
		for _, f := range fields {
			if first == f {
				fe.Fields[f] = append(fe.Fields[f], m)
				matched = true
				break
			}
		}
		if !matched {
			fe.General = append(fe.General, m)
		}
	}
	return fe, nil
}

// apiFields are the fields the API's messages name, translated.
var apiFields = map[string]string{
	"title": "apifield.title", "description": "apifield.description", "body": "apifield.body",
	"tagList": "apifield.tags", "tag": "apifield.tag", "category": "apifield.category", "comment": "apifield.comment",
	"username": "apifield.username", "email": "apifield.email", "password": "apifield.password",
	"bio": "apifield.bio", "image": "apifield.image",
}

var (
	apiLimit   = regexp.MustCompile(`^(\S+) is too (long|short) \((maximum|minimum) is (\d+) characters\)$`)
	apiInvalid = regexp.MustCompile(`^(\S+) is invalid(?: \((.+)\))?$`)
)

// apiMessage translates one of the API's validation messages, which all
// have the shape "<field> can't be blank", "<field> is too long (maximum is
// N characters)", "<field> has already been taken", "<field> is invalid
// (why)"; a message of another shape is shown as the API wrote it.
func (l *locale) apiMessage(m string) string {
	if m == "email or password is invalid" {
		return l.T("apierr.credentials")
	}
	if m == "please check your input" {
		return l.T("apierr.check_input")
	}
	field := func(name string) (string, bool) {
		fieldKey, ok := apiFields[name]
		if !ok {
			return "", false
		}
		return l.T(fieldKey), true
	}
	suffixed := func(suffix string) (string, bool) {
		name, ok := strings.CutSuffix(m, suffix)
		if !ok {
			return "", false
		}
		return field(name)
	}
	if g := apiLimit.FindStringSubmatch(m); g != nil {
		f, ok := field(g[1])
		n, err := strconv.ParseInt(g[4], 10, 64)
		if !ok || err != nil {
			return m
		}
		if g[2] == "long" {
			return l.T("apierr.too_long", f, l.Count(n))
		}
		return l.T("apierr.too_short", f, l.Count(n))
	}
	if g := apiInvalid.FindStringSubmatch(m); g != nil {
		f, ok := field(g[1])
		switch {
		case !ok:
			return m
		case g[2] == "":
			return l.T("apierr.invalid", f)
		default:
			return l.T("apierr.invalid_why", f, g[2])
		}
	}
	if f, ok := suffixed(" can't be blank"); ok {
		return l.T("apierr.blank", f)
	}
	if f, ok := suffixed(" has already been taken"); ok {
		return l.T("apierr.taken", f)
	}
	if f, ok := suffixed(" is unknown"); ok {
		return l.T("apierr.unknown", f)
	}
	return m
}

func (l *locale) apiMessages(msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = l.apiMessage(m)
	}
	return out
}

// splitTags reads the editor's tag field: tags separated by commas (or
// spaces when there is no comma), blanks dropped, duplicates removed.
func splitTags(s string) []string {
	sep := func(r rune) bool { return r == ',' }
	if !strings.Contains(s, ",") {
		sep = func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.FieldsFunc(s, sep) {
		t = strings.TrimSpace(t)
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
