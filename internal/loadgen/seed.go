package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// SeedConfig sizes the data set. The zero value is not useful; start from
// DefaultSeedConfig.
type SeedConfig struct {
	Users            int
	Articles         int
	Comments         int
	FollowsPerUser   int
	FavoritesPerUser int
	// Concurrency bounds the requests in flight while seeding.
	Concurrency int
	// Seed makes the generated text and choices reproducible.
	Seed uint64
	// RunTag goes into every username and email, so seeding the same server
	// twice does not collide; empty means a random tag.
	RunTag string
	// Password of every seeded account.
	Password string
}

// DefaultSeedConfig is the data set of the benchmark: 50 users, 500
// articles, 5,000 comments, follows and favorites.
func DefaultSeedConfig() SeedConfig {
	return SeedConfig{Users: 50, Articles: 500, Comments: 5000, FollowsPerUser: 5, FavoritesPerUser: 10,
		Concurrency: 8, Seed: 1, Password: "loadgen-password-1"}
}

// Validate reports sizes that cannot produce a data set.
func (c SeedConfig) Validate() error {
	var errs []error
	if c.Users < 2 {
		errs = append(errs, errors.New("seed users must be at least 2 (follows need two)"))
	}
	if c.Articles < 1 {
		errs = append(errs, errors.New("seed articles must be at least 1"))
	}
	if c.Comments < 0 || c.FollowsPerUser < 0 || c.FavoritesPerUser < 0 {
		errs = append(errs, errors.New("seed comments, follows and favorites must not be negative"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("seed concurrency must be at least 1"))
	}
	if len(c.Password) < 8 {
		errs = append(errs, errors.New("seed password must have at least 8 characters"))
	}
	return errors.Join(errs...)
}

// User is a seeded account.
type User struct {
	Username, Email, Password, Token string
}

// Dataset is what the scenarios draw from: accounts with tokens and the
// slugs, tags, categories and search words that exist on the server.
type Dataset struct {
	Users       []User
	Slugs       []string
	Tags        []string
	Categories  []string
	SearchWords []string
	Password    string
}

// Plan is every write the seed makes, chosen up front from the seed so that
// the same config always describes the same data set (the run tag aside).
type Plan struct {
	Usernames []string
	Articles  []PlannedArticle
	Comments  []PlannedComment
	Follows   [][2]int // follower, followee (user indexes)
	Favorites [][2]int // user index, article index
}

// PlannedArticle is an article and the index of its author.
type PlannedArticle struct {
	Author int
	NewArticle
}

// PlannedComment is a comment by a user on an article (indexes).
type PlannedComment struct {
	User, Article int
	Body          string
}

// NewPlan draws the data set for cfg; categories are the server's category
// slugs (about one article in five gets none).
func NewPlan(cfg SeedConfig, tag string, categories []string) Plan {
	t := NewTexts(cfg.Seed)
	p := Plan{}
	for i := range cfg.Users {
		p.Usernames = append(p.Usernames, fmt.Sprintf("lg-%s-%03d", tag, i))
	}
	for i := range cfg.Articles {
		ko := t.Korean()
		a := PlannedArticle{Author: t.IntN(cfg.Users), NewArticle: NewArticle{
			// The number keeps titles, and so slugs, unique.
			Title:       fmt.Sprintf("%s #%d", t.Title(ko), i+1),
			Description: t.Description(ko),
			Body:        t.Body(ko),
			TagList:     t.Tags(),
		}}
		if len(categories) > 0 && t.IntN(5) > 0 {
			c := categories[t.IntN(len(categories))]
			a.Category = &c
		}
		p.Articles = append(p.Articles, a)
	}
	for range cfg.Comments {
		p.Comments = append(p.Comments, PlannedComment{User: t.IntN(cfg.Users), Article: t.IntN(cfg.Articles), Body: t.Comment(t.Korean())})
	}
	for u := range cfg.Users {
		for _, off := range distinct(t, cfg.Users-1, min(cfg.FollowsPerUser, cfg.Users-1)) {
			p.Follows = append(p.Follows, [2]int{u, (u + 1 + off) % cfg.Users})
		}
		for _, a := range distinct(t, cfg.Articles, min(cfg.FavoritesPerUser, cfg.Articles)) {
			p.Favorites = append(p.Favorites, [2]int{u, a})
		}
	}
	return p
}

// distinct draws k distinct numbers below n.
func distinct(t *Texts, n, k int) []int {
	seen := make(map[int]bool, k)
	out := make([]int, 0, k)
	for len(out) < k {
		v := t.IntN(n)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// SeedProgress is called after each seeding phase with its name and size.
type SeedProgress func(phase string, done int)

// Seed builds the data set through the public API: users, then articles,
// then comments, follows and favorites, at most cfg.Concurrency requests at
// a time. Rate-limited answers are retried (see Client), but a server with
// its default limits seeds slowly: relax --gateway.rate-limit (and, for the
// login scenario, --auth.login-ip-limit, --auth.login-ip-account-limit, --auth.login-account-limit,
// --auth.register-ip-limit for the sign-ups, --blog.write-limit for the writes,
// --blog.favorite-limit for the favorites and --users.follow-limit for the follows).
func Seed(ctx context.Context, c *Client, cfg SeedConfig, progress SeedProgress) (*Dataset, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string, int) {}
	}
	tag := cfg.RunTag
	if tag == "" {
		tag = fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	}
	cats, err := c.Categories(ctx)
	if err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	plan := NewPlan(cfg, tag, cats)
	ds := &Dataset{Categories: cats, SearchWords: SearchWords(), Password: cfg.Password,
		Users: make([]User, cfg.Users), Slugs: make([]string, cfg.Articles)}

	if err := parallel(ctx, cfg.Concurrency, len(plan.Usernames), func(ctx context.Context, i int) error {
		u := User{Username: plan.Usernames[i], Email: plan.Usernames[i] + "@loadgen.example", Password: cfg.Password}
		tok, err := c.Register(ctx, u.Username, u.Email, u.Password)
		u.Token = tok
		ds.Users[i] = u
		return err
	}); err != nil {
		return nil, fmt.Errorf("seeding users: %w", err)
	}
	progress("users", cfg.Users)

	if err := parallel(ctx, cfg.Concurrency, len(plan.Articles), func(ctx context.Context, i int) error {
		a := plan.Articles[i]
		slug, err := c.CreateArticle(ctx, ds.Users[a.Author].Token, a.NewArticle)
		ds.Slugs[i] = slug
		return err
	}); err != nil {
		return nil, fmt.Errorf("seeding articles: %w", err)
	}
	progress("articles", cfg.Articles)

	if err := parallel(ctx, cfg.Concurrency, len(plan.Comments), func(ctx context.Context, i int) error {
		cm := plan.Comments[i]
		return c.Comment(ctx, ds.Users[cm.User].Token, ds.Slugs[cm.Article], cm.Body)
	}); err != nil {
		return nil, fmt.Errorf("seeding comments: %w", err)
	}
	progress("comments", cfg.Comments)

	if err := parallel(ctx, cfg.Concurrency, len(plan.Follows), func(ctx context.Context, i int) error {
		f := plan.Follows[i]
		return c.Follow(ctx, ds.Users[f[0]].Token, ds.Users[f[1]].Username)
	}); err != nil {
		return nil, fmt.Errorf("seeding follows: %w", err)
	}
	progress("follows", len(plan.Follows))

	if err := parallel(ctx, cfg.Concurrency, len(plan.Favorites), func(ctx context.Context, i int) error {
		f := plan.Favorites[i]
		return c.Favorite(ctx, ds.Users[f[0]].Token, ds.Slugs[f[1]])
	}); err != nil {
		return nil, fmt.Errorf("seeding favorites: %w", err)
	}
	progress("favorites", len(plan.Favorites))

	seenTag := map[string]bool{}
	for _, a := range plan.Articles {
		for _, t := range a.TagList {
			if !seenTag[t] {
				seenTag[t] = true
				ds.Tags = append(ds.Tags, t)
			}
		}
	}
	return ds, nil
}

// Discover builds a Dataset from what a server already holds (for a run
// without seeding, e.g. against production): the newest articles' slugs and
// tags, the categories, and `accounts` fresh accounts for the authenticated
// scenarios, which each follow a few of the authors found.
func Discover(ctx context.Context, c *Client, accounts int, password string) (*Dataset, error) {
	ds := &Dataset{SearchWords: SearchWords(), Password: password}
	cats, err := c.Categories(ctx)
	if err != nil {
		return nil, fmt.Errorf("discovering: %w", err)
	}
	ds.Categories = cats
	var tags tagsBody
	if err := c.Do(ctx, http.MethodGet, "/api/tags", "", nil, &tags); err != nil {
		return nil, fmt.Errorf("discovering tags: %w", err)
	}
	ds.Tags = tags.Tags
	authors := map[string]bool{}
	for off := 0; off < 500; off += 100 {
		var page articlesBody
		if err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/articles?limit=100&offset=%d", off), "", nil, &page); err != nil {
			return nil, fmt.Errorf("discovering articles: %w", err)
		}
		for _, a := range page.Articles {
			ds.Slugs = append(ds.Slugs, a.Slug)
			authors[a.Author.Username] = true
		}
		if len(page.Articles) < 100 {
			break
		}
	}
	if len(ds.Slugs) == 0 {
		return nil, errors.New("discovering: the server has no articles; seed it first (drop --no-seed)")
	}
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	for i := range accounts {
		u := User{Username: fmt.Sprintf("lg-%s-%03d", tag, i), Password: password}
		u.Email = u.Username + "@loadgen.example"
		if u.Token, err = c.Register(ctx, u.Username, u.Email, u.Password); err != nil {
			return nil, fmt.Errorf("discovering: %w", err)
		}
		n := 0
		for a := range authors {
			if n == 5 {
				break
			}
			if err := c.Follow(ctx, u.Token, a); err != nil {
				return nil, fmt.Errorf("discovering: %w", err)
			}
			n++
		}
		ds.Users = append(ds.Users, u)
	}
	return ds, nil
}

// parallel runs fn for 0..n-1 with at most limit calls at once and stops at
// the first error.
func parallel(ctx context.Context, limit, n int, fn func(context.Context, int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(limit, n) {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(ctx, i); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}
