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
	if c.ListCacheTTL != 30*time.Second || c.MaxLimit != 100 || c.DefaultLimit != 20 {
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
