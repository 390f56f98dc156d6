package telemetry

import (
	"errors"
	"log/slog"
)

// maxChain bounds how many causes ErrorAttrs lists, so a pathological error
// tree cannot blow up a log line.
const maxChain = 16

// ErrorAttrs returns the log attributes of err: "error" (its full message) and
// "error_chain", the messages of its causes outermost first (every error
// errors.Unwrap or a Join reaches, depth first). Operators searching logs can
// then match the root cause without parsing the joined message.
func ErrorAttrs(err error) []slog.Attr {
	if err == nil {
		return nil
	}
	var chain []string
	var walk func(error)
	walk = func(e error) {
		if e == nil || len(chain) >= maxChain {
			return
		}
		chain = append(chain, e.Error())
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		default:
			walk(errors.Unwrap(e))
		}
	}
	walk(err)
	return []slog.Attr{slog.String("error", err.Error()), slog.Any("error_chain", chain)}
}
