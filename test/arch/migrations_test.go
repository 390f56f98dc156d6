package arch

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

// dialects are the subdirectories every migrations directory has, one tree
// of goose files per engine.
var dialects = []string{"postgres", "sqlite"}

// migrationName is a goose file as we name them: NNNN_what.sql.
var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// checkNumbering lists what is wrong with one migrations directory: an
// entry that is not a dialect's tree, a file not named NNNN_what.sql, a
// number used twice, a gap (numbers run 1, 2, 3 ... in each dialect), or
// dialects that do not have the same numbers. goose itself refuses only
// the duplicates, and only of the dialect it runs.
func checkNumbering(fsys fs.FS) []string {
	var problems []string
	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return []string{err.Error()}
	}
	for _, e := range top {
		if !e.IsDir() || !slices.Contains(dialects, e.Name()) {
			problems = append(problems, fmt.Sprintf("%s: not a dialect's directory (want %v)", e.Name(), dialects))
		}
	}
	numbers := map[string][]int{}
	for _, d := range dialects {
		entries, err := fs.ReadDir(fsys, d)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		seen := map[int]string{}
		for _, e := range entries {
			m := migrationName.FindStringSubmatch(e.Name())
			if e.IsDir() || m == nil {
				problems = append(problems, fmt.Sprintf("%s/%s: not a migration named NNNN_what.sql", d, e.Name()))
				continue
			}
			n, _ := strconv.Atoi(m[1])
			if other, dup := seen[n]; dup {
				problems = append(problems, fmt.Sprintf("%s: %s and %s have the same number", d, other, e.Name()))
				continue
			}
			seen[n] = e.Name()
			numbers[d] = append(numbers[d], n)
		}
		slices.Sort(numbers[d])
		for i, n := range numbers[d] {
			if n != i+1 {
				problems = append(problems, fmt.Sprintf("%s: %04d follows %04d (numbers run from 0001 without gaps)", d, n, i))
				break
			}
		}
		if len(entries) == 0 {
			problems = append(problems, d+": no migrations")
		}
	}
	for _, d := range dialects[1:] {
		if !slices.Equal(numbers[d], numbers[dialects[0]]) {
			problems = append(problems, fmt.Sprintf("%s has migrations %v, %s %v: each dialect needs the same numbers",
				dialects[0], numbers[dialects[0]], d, numbers[d]))
		}
	}
	return problems
}

// migrationDirs returns every directory named migrations in the tree
// (relative, with slashes), test data left out.
func migrationDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && d.Name() != ".." {
			return filepath.SkipDir
		}
		if d.Name() == "migrations" {
			rel, _ := filepath.Rel("../..", path)
			dirs = append(dirs, filepath.ToSlash(rel))
			return filepath.SkipDir
		}
		return nil
	})
	require.NoError(t, err)
	return dirs
}

// conventionalMigrations is where a database's migrations live: a service
// embeds internal/<service>/migrations; the outbox tables are the events
// package's own set (ADR 0019).
var conventionalMigrations = regexp.MustCompile(`^internal/([a-z]+|platform/events)/migrations$`)

// TestMigrationsAreNumberedContiguously guards every migrations directory of
// the tree: one conventional place per service, numbers unique and without
// gaps, the same numbers on both dialects (two engineers adding 0005 at
// once, or a migration written for one engine only, fail here).
func TestMigrationsAreNumberedContiguously(t *testing.T) {
	t.Parallel()
	dirs := migrationDirs(t)
	for _, want := range []string{"internal/auth/migrations", "internal/users/migrations", "internal/blog/migrations", "internal/platform/events/migrations"} {
		require.Contains(t, dirs, want, "a database's migrations moved: update this guard")
	}
	for _, dir := range dirs {
		require.Regexp(t, conventionalMigrations, dir, "migrations belong in internal/<service>/migrations")
		require.Empty(t, checkNumbering(os.DirFS(filepath.Join("../..", dir))), dir)
	}
}

func TestCheckNumbering(t *testing.T) {
	t.Parallel()
	file := &fstest.MapFile{Data: []byte("-- +goose Up\n")}
	tree := func(names ...string) fstest.MapFS {
		m := fstest.MapFS{}
		for _, n := range names {
			m[n] = file
		}
		return m
	}
	for name, tc := range map[string]struct {
		fsys fstest.MapFS
		want string // a part of a problem; "" for none
	}{
		"contiguous": {tree("postgres/0001_a.sql", "postgres/0002_b.sql", "sqlite/0001_a.sql", "sqlite/0002_b.sql"), ""},
		"gap": {tree("postgres/0001_a.sql", "postgres/0003_c.sql", "sqlite/0001_a.sql", "sqlite/0003_c.sql"),
			"0003 follows 0001"},
		"not from one": {tree("postgres/0002_a.sql", "sqlite/0002_a.sql"), "0002 follows 0000"},
		"duplicate": {tree("postgres/0001_a.sql", "postgres/0002_b.sql", "postgres/0002_c.sql", "sqlite/0001_a.sql", "sqlite/0002_b.sql"),
			"0002_b.sql and 0002_c.sql have the same number"},
		"one dialect only": {tree("postgres/0001_a.sql", "postgres/0002_b.sql", "sqlite/0001_a.sql"),
			"each dialect needs the same numbers"},
		"badly named":   {tree("postgres/0001_a.sql", "postgres/2_b.sql", "sqlite/0001_a.sql"), "2_b.sql: not a migration"},
		"other dialect": {tree("postgres/0001_a.sql", "sqlite/0001_a.sql", "mysql/0001_a.sql"), "mysql: not a dialect's directory"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := checkNumbering(tc.fsys)
			if tc.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, strings.Join(got, "\n"), tc.want)
		})
	}
}

// createsEventTables matches DDL of the tables internal/platform/events
// reads and writes.
var createsEventTables = regexp.MustCompile(`(?i)create\s+table\s+(if\s+not\s+exists\s+)?(outbox|processed_events)\b`)

// TestOutboxTablesHaveOneDefinition guards ADR 0019: only the events
// package's migrations create outbox and processed_events; a service lists
// events.Migrations before its own instead of copying them.
func TestOutboxTablesHaveOneDefinition(t *testing.T) {
	t.Parallel()
	var found []string
	for _, dir := range migrationDirs(t) {
		err := fs.WalkDir(os.DirFS(filepath.Join("../..", dir)), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(filepath.Join("../..", dir, p))
			if err != nil {
				return err
			}
			if createsEventTables.Match(b) {
				found = append(found, dir+"/"+p)
			}
			return nil
		})
		require.NoError(t, err)
	}
	want := []string{"internal/platform/events/migrations/postgres/0001_outbox.sql", "internal/platform/events/migrations/sqlite/0001_outbox.sql"}
	require.ElementsMatch(t, want, found, "only the events package's migrations create outbox and processed_events")
}
