// Package config binds flags to TUNGSTEN_* environment variables and prints
// help and effective configuration. Precedence: command line, then
// environment, then the flag's default.
package config

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// EnvPrefix prefixes every environment variable.
const EnvPrefix = "TUNGSTEN_"

// EnvName is the environment variable for a flag: "blog.list-cache-ttl" →
// TUNGSTEN_BLOG_LIST_CACHE_TTL.
func EnvName(flagName string) string {
	r := strings.NewReplacer("-", "_", ".", "_")
	return EnvPrefix + strings.ToUpper(r.Replace(flagName))
}

// ApplyEnv sets every flag not given on the command line from its
// environment variable, if present. It must run after fs.Parse.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, e)
			}
		}
	})
	return err
}

// PrintUsage writes every flag with its environment variable, default and
// help, sorted by name.
func PrintUsage(w io.Writer, fs *flag.FlagSet) { printFlags(w, fs, true) }

// PrintFlags is PrintUsage for commands whose flags have no environment
// variables (tungsten loadtest).
func PrintFlags(w io.Writer, fs *flag.FlagSet) { printFlags(w, fs, false) }

func printFlags(w io.Writer, fs *flag.FlagSet, withEnv bool) {
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	for _, f := range flags {
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		var notes []string
		if withEnv {
			notes = append(notes, "env "+EnvName(f.Name))
		}
		if f.DefValue != "" {
			notes = append(notes, fmt.Sprintf("default %q", f.DefValue))
		}
		fmt.Fprintf(w, "  --%s%s\n        %s", f.Name, name, usage)
		if len(notes) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(notes, ", "))
		}
		fmt.Fprintln(w)
	}
}

// PrintValues writes the effective value of every flag as name=value, with
// passwords in URLs and secret-looking values redacted.
func PrintValues(w io.Writer, fs *flag.FlagSet) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		lines = append(lines, fmt.Sprintf("%s=%s", f.Name, Redact(f.Name, f.Value.String())))
	})
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// Redact hides secrets in a flag's value: the whole value of a flag whose
// name says it is secret (password, secret, token, key, credential), and in
// any other value every URL (or comma-separated list of URLs) user info —
// a bare user name may be a token (nats://TOKEN@host) — every query
// parameter whose name says it is secret (?password=, ?sslkey=, ?token=),
// and libpq-style "password=..." keywords.
func Redact(name, value string) string {
	if value == "" {
		return value
	}
	if secretName(name) {
		return Redacted
	}
	if parts := urlList.FindAllStringIndex(value, -1); len(parts) > 1 && parts[0][0] == 0 {
		// A list of URLs (nats://a:p@h1,nats://b:p@h2): split only before a
		// scheme, since a comma may be part of a password.
		var b strings.Builder
		for i, p := range parts {
			start, end := p[0], len(value)
			if i > 0 {
				b.WriteByte(',')
				start++ // the match begins with the comma
			}
			if i+1 < len(parts) {
				end = parts[i+1][0] // the comma before the next scheme
			}
			b.WriteString(redactValue(value[start:end]))
		}
		return b.String()
	}
	return redactValue(value)
}

// urlList finds where each URL of a comma-separated list begins.
var urlList = regexp.MustCompile(`(?:^|,)[a-zA-Z][a-zA-Z0-9+.-]*://`)

// Redacted replaces every secret Redact hides.
const Redacted = "REDACTED"

func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "passwd", "pwd", "secret", "token", "credential", "apikey", "api-key", "private", "sslkey", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return n == "key" || n == "pass" || strings.HasSuffix(n, "-key") || strings.HasSuffix(n, "_key") || strings.HasSuffix(n, ".key") ||
		strings.HasSuffix(n, "-auth") || n == "auth" || n == "sig"
}

// libpqSecret matches password=value in a key/value connection string.
var libpqSecret = regexp.MustCompile(`(?i)\b(password|passwd|sslpassword|sslkey|token|secret)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

func redactValue(value string) string {
	if u, err := url.Parse(value); err == nil && u.Scheme != "" && (u.Host != "" || u.User != nil || u.RawQuery != "") {
		changed := false
		if u.User != nil {
			if pw, has := u.User.Password(); has && pw != "" {
				u.User = url.UserPassword(u.User.Username(), Redacted)
			} else {
				// A bare user (nats://TOKEN@host) or one with an empty
				// password (a token holding a colon) is the secret itself.
				u.User = url.User(Redacted)
			}
			changed = true
		}
		if u.RawQuery != "" {
			q, err := url.ParseQuery(u.RawQuery)
			if err != nil {
				u.RawQuery = Redacted // unparsable: do not guess which part is secret
			} else {
				for k := range q {
					if secretName(k) {
						q[k] = []string{Redacted}
					}
				}
				u.RawQuery = q.Encode()
			}
			changed = true
		}
		if u.Fragment != "" {
			u.Fragment, u.RawFragment = "", ""
			changed = true
		}
		if changed {
			return u.String()
		}
		return value
	}
	return libpqSecret.ReplaceAllString(value, "${1}="+Redacted)
}

// StringList is a comma-separated flag value.
type StringList []string

func (l *StringList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *StringList) Set(s string) error {
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
