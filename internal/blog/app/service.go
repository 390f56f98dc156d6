package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// Cache keys. Every article, favorite and comment write increments GenKey;
// cached values are stored under keys holding the generation they were read
// at, so a write makes all of them unreachable at once (they then expire).
const (
	GenKey            = "blog:gen"
	listKeyPrefix     = "blog:list:"
	tagsKeyPrefix     = "blog:tags:"
	categoryKeyPrefix = "blog:categories:"
)

// Config tunes the use cases.
type Config struct {
	DefaultLimit  int
	MaxLimit      int
	TagsLimit     int
	ListCacheTTL  time.Duration // 0 disables the list cache
	UsersCooldown time.Duration // after the users service failed, how long not to call it
}

// Deps are the use cases' collaborators. Cache, Profiles and Kick may be nil.
type Deps struct {
	Repo     Repository
	Profiles Profiles
	Cache    cache.Cache
	Kick     func() // wakes the outbox relay after a commit
	Logger   *slog.Logger
	Now      func() time.Time
}

// Service implements the blog's use cases.
type Service struct {
	cfg       Config
	repo      Repository
	profiles  Profiles
	cache     cache.Cache
	kick      func()
	log       *slog.Logger
	now       func() time.Time
	downUntil atomic.Int64 // unix ns; users lookups are skipped until then
}

// New returns the use cases.
func New(cfg Config, deps Deps) *Service {
	s := &Service{cfg: cfg, repo: deps.Repo, profiles: deps.Profiles, cache: deps.Cache,
		kick: deps.Kick, log: deps.Logger, now: deps.Now}
	if s.kick == nil {
		s.kick = func() {}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// ParsePage parses the limit and offset query parameters; empty means the
// default. Anything else than an integer in range is a 422 with a clear message.
func (s *Service) ParsePage(limit, offset string) (int, int, error) {
	var msgs []string
	l, o := s.cfg.DefaultLimit, 0
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > s.cfg.MaxLimit {
			msgs = append(msgs, fmt.Sprintf("limit must be an integer from 1 to %d", s.cfg.MaxLimit))
		}
		l = n
	}
	if offset != "" {
		n, err := strconv.Atoi(offset)
		if err != nil || n < 0 {
			msgs = append(msgs, "offset must be a non-negative integer")
		}
		o = n
	}
	if len(msgs) > 0 {
		return 0, 0, errs.Invalid(msgs...)
	}
	return l, o, nil
}

func (s *Service) checkPage(limit, offset int) error {
	if limit < 1 || limit > s.cfg.MaxLimit || offset < 0 {
		return errs.Invalid(fmt.Sprintf("limit must be an integer from 1 to %d", s.cfg.MaxLimit),
			"offset must be a non-negative integer")
	}
	return nil
}

// ListArticles returns a page of articles, newest first. Unknown usernames
// in author or favorited give an empty list. The viewer-independent part
// (rows and count) is cached; authors and the viewer's flags are laid over it.
func (s *Service) ListArticles(ctx context.Context, v Viewer, p ListParams) (ArticleList, error) {
	if err := s.checkPage(p.Limit, p.Offset); err != nil {
		return ArticleList{}, err
	}
	if utf8.RuneCountInString(p.Query) > domain.MaxQueryRunes {
		return ArticleList{}, errs.Invalid(fmt.Sprintf("q is too long (maximum is %d characters)", domain.MaxQueryRunes))
	}
	empty := ArticleList{Articles: []ArticleView{}}
	q := domain.ListQuery{Tag: p.Tag, Category: p.Category, Limit: p.Limit, Offset: p.Offset}
	for _, f := range []string{p.Tag, p.Author, p.Favorited, p.Category} {
		if !matchable(f) {
			return empty, nil // nothing stored can equal it
		}
	}
	if strings.TrimSpace(p.Query) != "" {
		if q.Terms = domain.SearchTerms(p.Query); len(q.Terms) == 0 {
			return empty, nil // only punctuation: nothing to look for
		}
	}
	var ok bool
	if p.Author != "" {
		if q.AuthorID, ok = s.resolveUsername(ctx, p.Author); !ok {
			return empty, nil
		}
	}
	if p.Favorited != "" {
		if q.FavoritedBy, ok = s.resolveUsername(ctx, p.Favorited); !ok {
			return empty, nil
		}
	}
	page, err := s.cachedList(ctx, q)
	if err != nil {
		return ArticleList{}, err
	}
	return s.articleViews(ctx, v, page)
}

// Feed returns articles by the authors the viewer follows, newest first.
func (s *Service) Feed(ctx context.Context, v Viewer, limit, offset int) (ArticleList, error) {
	if err := s.checkPage(limit, offset); err != nil {
		return ArticleList{}, err
	}
	page, err := s.repo.ListArticles(ctx, domain.ListQuery{FollowedBy: v.ID, Limit: limit, Offset: offset})
	if err != nil {
		return ArticleList{}, fmt.Errorf("reading feed: %w", err)
	}
	return s.articleViews(ctx, v, page)
}

// matchable reports whether a filter value could equal stored text.
func matchable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

type cachedPage struct {
	Articles []domain.Article `json:"a"`
	Total    int64            `json:"t"`
}

func (s *Service) cachedList(ctx context.Context, q domain.ListQuery) (domain.Page, error) {
	key := ""
	if s.cache != nil && s.cfg.ListCacheTTL > 0 {
		canon, _ := json.Marshal(q)
		sum := sha256.Sum256(canon)
		key = listKeyPrefix + s.generation(ctx) + ":" + hex.EncodeToString(sum[:16])
		if b, ok := s.cache.Get(ctx, key); ok {
			var c cachedPage
			if err := json.Unmarshal(b, &c); err == nil {
				return domain.Page{Articles: c.Articles, Total: c.Total}, nil
			}
		}
	}
	page, err := s.repo.ListArticles(ctx, q)
	if err != nil {
		return domain.Page{}, fmt.Errorf("listing articles: %w", err)
	}
	if key != "" {
		if b, err := json.Marshal(cachedPage{Articles: page.Articles, Total: page.Total}); err == nil {
			s.cache.Set(ctx, key, b, s.cfg.ListCacheTTL)
		}
	}
	return page, nil
}

// generation returns the current cache generation ("0" before any write).
func (s *Service) generation(ctx context.Context) string {
	if b, ok := s.cache.Get(ctx, GenKey); ok {
		return string(b)
	}
	return "0"
}

// changed runs after every committed write: it invalidates cached lists and
// wakes the outbox relay. A cache failure is logged; cached pages then live
// until their TTL.
func (s *Service) changed(ctx context.Context) {
	if s.cache != nil {
		if _, err := s.cache.Incr(ctx, GenKey); err != nil {
			s.log.WarnContext(ctx, "invalidating cached lists", "error", err)
		}
	}
	s.kick()
}

// Article returns one article with its body.
func (s *Service) Article(ctx context.Context, v Viewer, slug string) (ArticleView, error) {
	if !matchable(slug) {
		return ArticleView{}, errs.NotFound("article")
	}
	a, err := s.repo.Article(ctx, slug)
	if err != nil {
		return ArticleView{}, err
	}
	return s.articleView(ctx, v, a)
}

func (s *Service) articleView(ctx context.Context, v Viewer, a domain.Article) (ArticleView, error) {
	list, err := s.articleViews(ctx, v, domain.Page{Articles: []domain.Article{a}, Total: 1})
	if err != nil {
		return ArticleView{}, err
	}
	return list.Articles[0], nil
}

// articleViews lays authors and the viewer's flags over a page: one query
// each for authors, following and favorited, whatever the page size.
func (s *Service) articleViews(ctx context.Context, v Viewer, page domain.Page) (ArticleList, error) {
	out := ArticleList{Articles: make([]ArticleView, len(page.Articles)), Total: page.Total}
	if len(page.Articles) == 0 {
		return out, nil
	}
	refs := make([]authorRef, len(page.Articles))
	ids := make([]int64, len(page.Articles))
	for i, a := range page.Articles {
		refs[i] = authorRef{id: a.AuthorID, username: a.AuthorUsername}
		ids[i] = a.ID
	}
	authors, err := s.authorViews(ctx, v, refs)
	if err != nil {
		return ArticleList{}, err
	}
	favorited, err := s.repo.FavoritedBy(ctx, v.ID, ids)
	if err != nil {
		return ArticleList{}, fmt.Errorf("loading favorites: %w", err)
	}
	for i, a := range page.Articles {
		out.Articles[i] = ArticleView{Article: a, Author: authors[a.AuthorID], Favorited: favorited[a.ID]}
	}
	return out, nil
}

// authorRef names an author and the username stored with their writing.
type authorRef struct {
	id       int64
	username string
}

// authorViews resolves authors from the read model, falling back to the
// users service for the ones it misses (and remembering what it returns).
// When both miss, the username stored with the article or comment stands in,
// so reads keep working while the users service is down.
func (s *Service) authorViews(ctx context.Context, v Viewer, refs []authorRef) (map[int64]AuthorView, error) {
	ids := make([]int64, 0, len(refs))
	seen := map[int64]bool{}
	for _, r := range refs {
		if !seen[r.id] {
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	profiles, err := s.repo.Authors(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("loading authors: %w", err)
	}
	var missing []int64
	for _, id := range ids {
		if _, ok := profiles[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		for _, p := range s.fetchProfiles(ctx, missing, nil) {
			profiles[p.ID] = p
		}
	}
	following, err := s.repo.Following(ctx, v.ID, ids)
	if err != nil {
		return nil, fmt.Errorf("loading follows: %w", err)
	}
	out := make(map[int64]AuthorView, len(ids))
	for _, r := range refs {
		if _, done := out[r.id]; done {
			continue
		}
		av := AuthorView{Username: r.username, Following: following[r.id]}
		if p, ok := profiles[r.id]; ok {
			av.Username, av.Bio, av.Image = p.Username, p.Bio, p.Image
		} else if r.id == v.ID && v.Username != "" {
			av.Username = v.Username // the viewer's token is fresher than a stored name
		}
		out[r.id] = av
	}
	return out, nil
}

// fetchProfiles asks the users service and saves what it returns in the read
// model. Failures are logged and yield nothing; after the service was
// unavailable it is left alone for UsersCooldown, so an outage does not slow
// every read down.
func (s *Service) fetchProfiles(ctx context.Context, ids []int64, usernames []string) []domain.Profile {
	if s.profiles == nil || s.now().UnixNano() < s.downUntil.Load() {
		return nil
	}
	ps, err := s.profiles.Lookup(ctx, ids, usernames)
	if err != nil {
		if errs.Is(err, errs.KindUnavailable) {
			s.downUntil.Store(s.now().Add(s.cfg.UsersCooldown).UnixNano())
		}
		s.log.WarnContext(ctx, "users service lookup failed; serving without it", "error", err)
		return nil
	}
	for _, p := range ps {
		if _, err := s.repo.UpsertAuthor(ctx, p); err != nil {
			s.log.WarnContext(ctx, "saving author to read model", "author_id", p.ID, "error", err)
		}
	}
	return ps
}

// resolveUsername returns the user ID of a username, from the read model or
// else the users service.
func (s *Service) resolveUsername(ctx context.Context, username string) (int64, bool) {
	p, ok, err := s.repo.AuthorByUsername(ctx, username)
	if err != nil {
		s.log.WarnContext(ctx, "looking up username in read model", "error", err)
	}
	if ok {
		return p.ID, true
	}
	key := domain.UsernameKey(username)
	for _, p := range s.fetchProfiles(ctx, nil, []string{username}) {
		if domain.UsernameKey(p.Username) == key {
			return p.ID, true
		}
	}
	return 0, false
}
