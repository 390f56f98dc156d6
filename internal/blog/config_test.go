package blog_test

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	var c blog.Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	require.NoError(t, c.Validate(), "defaults invalid")
	require.Equal(t, 30*time.Second, c.ListCacheTTL, "defaults %+v", c)
	require.Equal(t, time.Second, c.CacheStaleness, "defaults %+v", c)
	require.Equal(t, 100, c.MaxLimit, "defaults %+v", c)
	require.Equal(t, 20, c.DefaultLimit, "defaults %+v", c)
	fs.VisitAll(func(f *flag.Flag) {
		assert.True(t, strings.HasPrefix(f.Name, "blog."), "flag %q is not named blog.<option>", f.Name)
	})
	require.NoError(t, fs.Parse([]string{"-blog.max-limit=10", "-blog.default-limit=50", "-blog.list-cache-ttl=-1s"}))
	err := c.Validate()
	require.ErrorContains(t, err, "blog.default-limit")
	require.ErrorContains(t, err, "blog.list-cache-ttl")
	for args, want := range map[string]string{
		"-blog.cache-staleness=-1s":                          "blog.cache-staleness must not be negative",
		"-blog.cache-staleness=1m":                           "blog.cache-staleness must not exceed blog.list-cache-ttl",
		"-blog.cache-staleness=1m -blog.list-cache-ttl=0":    "",
		"-blog.cache-staleness=0 -blog.list-cache-ttl=1s":    "",
		"-blog.cache-staleness=30s -blog.list-cache-ttl=30s": "",
	} {
		c := blog.DefaultConfig()
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c.RegisterFlags(fs)
		require.NoError(t, fs.Parse(strings.Fields(args)))
		if want == "" {
			assert.NoError(t, c.Validate(), args)
		} else {
			assert.ErrorContains(t, c.Validate(), want, args)
		}
	}
	_, err = blog.New(c, blog.Deps{})
	require.Error(t, err, "New accepted an invalid config")
	_, err = blog.New(blog.DefaultConfig(), blog.Deps{})
	require.Error(t, err, "New accepted no database")
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "blog", blog.Migrations)
	svc, err := blog.New(blog.DefaultConfig(), blog.Deps{DB: db})
	require.NoError(t, err)
	for _, p := range svc.Patterns() {
		assert.Regexp(t, `^(GET|POST|PUT|DELETE) /api/`, p, "unexpected pattern")
	}
	require.Len(t, svc.Patterns(), 15, "patterns %q", svc.Patterns())
	require.Error(t, svc.Start(t.Context()), "Start without JetStream succeeded")
	require.NoError(t, svc.Stop(t.Context()), "Stop of an unstarted service")
}
