// Package config binds flags to TUNGSTEN_* environment variables and prints
// help and effective configuration. Precedence: command line, then
// environment, then the flag's default.
package config

import (
	"flag"
	"fmt"
	"io"
	"net/url"
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

// Redact hides secrets: URL passwords, and whole values of flags whose name
// says they are secret.
func Redact(name, value string) string {
	lower := strings.ToLower(name)
	if value != "" && (strings.Contains(lower, "password") || strings.Contains(lower, "secret") || strings.HasSuffix(lower, "-key")) {
		return "REDACTED"
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			return u.String()
		}
	}
	return value
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
