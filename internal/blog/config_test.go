package blog_test

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	var c blog.Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if c.ListCacheTTL != 30*time.Second || c.CacheStaleness != time.Second || c.MaxLimit != 100 || c.DefaultLimit != 20 {
		t.Fatalf("defaults %+v", c)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "blog.") {
			t.Errorf("flag %q is not named blog.<option>", f.Name)
		}
	})
	if err := fs.Parse([]string{"-blog.max-limit=10", "-blog.default-limit=50", "-blog.list-cache-ttl=-1s"}); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "blog.default-limit") || !strings.Contains(err.Error(), "blog.list-cache-ttl") {
		t.Fatalf("Validate() = %v", err)
	}
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
		if err := fs.Parse(strings.Fields(args)); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); (err == nil) != (want == "") || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: Validate() = %v, want %q", args, err, want)
		}
	}
	if _, err := blog.New(c, blog.Deps{}); err == nil {
		t.Fatal("New accepted an invalid config")
	}
	if _, err := blog.New(blog.DefaultConfig(), blog.Deps{}); err == nil {
		t.Fatal("New accepted no database")
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	db := testenv.OpenDB(t, database.SQLite, "blog", blog.Migrations)
	svc, err := blog.New(blog.DefaultConfig(), blog.Deps{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range svc.Patterns() {
		if !strings.HasPrefix(p, "GET /api/") && !strings.HasPrefix(p, "POST /api/") &&
			!strings.HasPrefix(p, "PUT /api/") && !strings.HasPrefix(p, "DELETE /api/") {
			t.Errorf("unexpected pattern %q", p)
		}
	}
	if len(svc.Patterns()) != 13 {
		t.Fatalf("patterns %q", svc.Patterns())
	}
	if err := svc.Start(t.Context()); err == nil {
		t.Fatal("Start without JetStream succeeded")
	}
	if err := svc.Stop(t.Context()); err != nil {
		t.Fatalf("Stop of an unstarted service: %v", err)
	}
}
