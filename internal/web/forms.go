package web

import (
	"errors"
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
// name, wrong credentials) into formErrors; any other error is returned as
// is for the error page. aliases maps API field names to form field names.
func userErrors(err error, aliases map[string]string, fields ...string) (formErrors, error) {
	var e *errs.Error
	if !errors.As(err, &e) {
		return formErrors{}, err
	}
	switch e.Kind {
	case errs.KindInvalid, errs.KindConflict, errs.KindTooLarge:
	case errs.KindUnauthenticated:
		if len(e.Messages) > 0 && strings.Contains(e.Messages[0], "password") {
			return formErrors{General: e.Messages}, nil // wrong credentials, not a lost session
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
	for _, m := range msgs {
		first, _, _ := strings.Cut(m, " ")
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
