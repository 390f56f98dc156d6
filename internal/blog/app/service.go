package app

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// Cache keys. Every article, favorite and comment write, and every change
// to an author's profile or follows applied from the users events,
// increments GenKey. Cached values are stamped with the generation they
// were read at and served only while it is current, so a write makes all of
// them stale at once (they then expire). See ADR 0006.
const (
	GenKey           = "blog:gen"
	listKeyPrefix    = "blog:list:"
	articleKeyPrefix = "blog:article:"
	flagsKeyPrefix   = "blog:flags:" // + viewer ID + ":" + the entry's key
	tagsKey          = "blog:tags"
	categoriesKey    = "blog:categories"
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
	Encoder  Encoder // renders the JSON bodies of reads; required
	Kick     func()  // wakes the outbox relay after a commit
	Logger   *slog.Logger
	Now      func() time.Time
}

// Service implements the blog's use cases.
type Service struct {
	cfg       Config
	repo      Repository
	profiles  Profiles
	cache     cache.Cache
	enc       Encoder
	kick      func()
	log       *slog.Logger
	now       func() time.Time
	downUntil atomic.Int64 // unix ns; users lookups are skipped until then
	loads     singleflight.Group
}

// loaded is what one cache-miss load produced.
type loaded struct {
	r         Rendered
	cacheable bool
}

// New returns the use cases.
func New(cfg Config, deps Deps) *Service {
	s := &Service{cfg: cfg, repo: deps.Repo, profiles: deps.Profiles, cache: deps.Cache,
		enc: deps.Encoder, kick: deps.Kick, log: deps.Logger, now: deps.Now}
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

// listQuery turns the client's filters into a query; ok is false when
// nothing can match (unknown usernames, filters no stored text can equal).
func (s *Service) listQuery(ctx context.Context, p ListParams) (q domain.ListQuery, ok bool, err error) {
	if err := s.checkPage(p.Limit, p.Offset); err != nil {
		return q, false, err
	}
	if utf8.RuneCountInString(p.Query) > domain.MaxQueryRunes {
		return q, false, errs.Invalid(fmt.Sprintf("q is too long (maximum is %d characters)", domain.MaxQueryRunes))
	}
	q = domain.ListQuery{Tag: p.Tag, Category: p.Category, Limit: p.Limit, Offset: p.Offset}
	for _, f := range []string{p.Tag, p.Author, p.Favorited, p.Category} {
		if !matchable(f) {
			return q, false, nil // nothing stored can equal it
		}
	}
	if strings.TrimSpace(p.Query) != "" {
		if q.Terms = domain.SearchTerms(p.Query); len(q.Terms) == 0 {
			return q, false, nil // only punctuation: nothing to look for
		}
	}
	if p.Author != "" {
		if q.AuthorID, ok = s.resolveUsername(ctx, p.Author); !ok {
			return q, false, nil
		}
	}
	if p.Favorited != "" {
		if q.FavoritedBy, ok = s.resolveUsername(ctx, p.Favorited); !ok {
			return q, false, nil
		}
	}
	return q, true, nil
}

// ListArticles returns a page of articles, newest first, as the API's JSON
// body. Unknown usernames in author or favorited give an empty list.
func (s *Service) ListArticles(ctx context.Context, v Viewer, p ListParams) ([]byte, error) {
	q, ok, err := s.listQuery(ctx, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return s.enc.List(ArticleList{Articles: []ArticleView{}}).Bytes(nil, nil), nil
	}
	return s.renderedList(ctx, v, q)
}

// Feed returns articles by the authors the viewer follows, newest first, as
// the API's JSON body.
func (s *Service) Feed(ctx context.Context, v Viewer, limit, offset int) ([]byte, error) {
	if err := s.checkPage(limit, offset); err != nil {
		return nil, err
	}
	return s.renderedList(ctx, v, domain.ListQuery{FollowedBy: v.ID, Limit: limit, Offset: offset})
}

// matchable reports whether a filter value could equal stored text.
func matchable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// renderedList serves a page from its cached rendering (one cache round
// trip, no decode, no author query) and lays the viewer's flags over it. A
// page is rendered for an anonymous viewer, so one entry serves everyone;
// the feed's query names its viewer, so feed pages are cached per viewer.
func (s *Service) renderedList(ctx context.Context, v Viewer, q domain.ListQuery) ([]byte, error) {
	key := ""
	if s.cacheOn() {
		canon, _ := json.Marshal(q)
		sum := sha256.Sum256(canon)
		key = listKeyPrefix + hex.EncodeToString(sum[:16])
	}
	r, gen, flags, err := s.cachedRendered(ctx, key, flagsKey(v, key), func() (Rendered, bool, error) {
		page, err := s.repo.ListArticles(ctx, q)
		if err != nil {
			return Rendered{}, false, fmt.Errorf("listing articles: %w", err)
		}
		list, complete, err := s.sharedViews(ctx, v, page)
		if err != nil {
			return Rendered{}, false, err
		}
		return s.enc.List(list), complete, nil
	})
	if r == nil {
		return nil, err
	}
	return s.overlay(ctx, v, key, gen, flags, *r)
}

// sharedViews builds the views of a page for every viewer (no flags), and
// reports whether they may be shared: when an author is unknown to the read
// model and to users, the signed-in viewer's own name may stand in for it,
// so the page is rendered for them and must not be cached for others.
func (s *Service) sharedViews(ctx context.Context, v Viewer, page domain.Page) (ArticleList, bool, error) {
	list, complete, err := s.articleViews(ctx, Viewer{}, page)
	if err != nil || complete || v.ID == 0 {
		return list, complete, err
	}
	list, _, err = s.articleViews(ctx, v, page)
	return list, false, err
}

// cachedRendered returns the rendering cached under key or, on a miss, the
// one load makes, which it caches when load says it may, and the generation
// it belongs to ("" when it must not be cached). With a flagsKey it also
// returns, from the same round trip, the viewer's flags cached for a hit in
// its generation (nil when there are none).
func (s *Service) cachedRendered(ctx context.Context, key, flagsKey string, load func() (Rendered, bool, error)) (*Rendered, string, []byte, error) {
	payload, flags, gen, hit := s.lookupWith(ctx, key, flagsKey)
	if hit {
		if r, err := UnmarshalRendered(payload); err == nil {
			return &r, gen, flags, nil
		}
	}
	r, cacheable, err := s.load(ctx, key, flagsKey, gen, load)
	if err != nil {
		return nil, "", nil, err
	}
	if cacheable {
		s.store(ctx, key, gen, r.MarshalBinary())
	} else {
		gen = ""
	}
	return &r, gen, nil, nil
}

// load runs a cache-miss load once for all the requests of this process
// that miss the same entry in the same generation at the same time (an entry
// expiring under steady reads otherwise sent every connection to the
// database at once). A viewer's own requests share a load only with each
// other: a page may be rendered for the viewer when an author is unknown.
// A request whose shared load failed because the leader's request ended
// loads for itself.
func (s *Service) load(ctx context.Context, key, flagsKey, gen string, load func() (Rendered, bool, error)) (Rendered, bool, error) {
	if key == "" || gen == "" {
		return load()
	}
	v, err, shared := s.loads.Do(gen+"\x00"+key+"\x00"+flagsKey, func() (any, error) {
		r, cacheable, err := load()
		return loaded{r, cacheable}, err
	})
	if err != nil {
		if shared && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return load()
		}
		return Rendered{}, false, err
	}
	l := v.(loaded)
	return l.r, l.cacheable, nil
}

// flagsKey is where a signed-in viewer's flags for the entry under key are
// cached ("" for anonymous viewers and uncached entries).
func flagsKey(v Viewer, key string) string {
	if v.ID == 0 || key == "" {
		return ""
	}
	return flagsKeyPrefix + strconv.FormatInt(v.ID, 10) + ":" + key
}

// overlay writes the viewer's flags into a rendering: none for anonymous
// viewers; for a signed-in one, the flags cached for them and this entry
// (key) in this generation (cached, read with the entry), else two queries
// (favorites, follows) whose answer is cached so. Favorites are blog writes
// and follows reach the blog as events; both move the generation, so cached
// flags are never stale.
func (s *Service) overlay(ctx context.Context, v Viewer, key, gen string, cached []byte, r Rendered) ([]byte, error) {
	if v.ID == 0 || len(r.Slots) == 0 {
		return r.Bytes(nil, nil), nil
	}
	flagsKey := ""
	if key != "" && gen != "" {
		flagsKey = flagsKeyPrefix + strconv.FormatInt(v.ID, 10) + ":" + key
		if cached != nil && len(cached) == len(r.Slots) {
			flags := make([]bool, len(cached))
			for i, b := range cached {
				flags[i] = b == '1'
			}
			return r.BytesWith(flags), nil
		}
	}
	favorited, err := s.repo.FavoritedBy(ctx, v.ID, r.IDs(SlotFavorited))
	if err != nil {
		return nil, fmt.Errorf("loading favorites: %w", err)
	}
	following, err := s.repo.Following(ctx, v.ID, r.IDs(SlotFollowing))
	if err != nil {
		return nil, fmt.Errorf("loading follows: %w", err)
	}
	flags := r.Flags(favorited, following)
	if flagsKey != "" {
		enc := make([]byte, len(flags))
		for i, f := range flags {
			enc[i] = '0'
			if f {
				enc[i] = '1'
			}
		}
		s.store(ctx, flagsKey, gen, enc)
	}
	return r.BytesWith(flags), nil
}

func (s *Service) cacheOn() bool { return s.cache != nil && s.cfg.ListCacheTTL > 0 }

// lookup reads the generation counter and key in one round trip. A hit is
// an entry stamped with the current generation; gen is the generation a
// value loaded now may be stored under ("" when it must not be stored).
// When the counter is missing (evicted, or never written) it is started
// afresh: Incr starts missing counters from a clock value, never from a
// number an earlier counter had, so entries stamped before the eviction
// can never match again.
func (s *Service) lookup(ctx context.Context, key string) (payload []byte, gen string, hit bool) {
	payload, _, gen, hit = s.lookupWith(ctx, key, "")
	return payload, gen, hit
}

// lookupWith is lookup that also reads extra (when not "") in the same
// round trip; extraPayload is its payload when key hit and extra is stamped
// with the same generation.
func (s *Service) lookupWith(ctx context.Context, key, extra string) (payload, extraPayload []byte, gen string, hit bool) {
	if key == "" {
		return nil, nil, "", false
	}
	var vals [][]byte
	if extra == "" {
		vals = s.cache.GetMany(ctx, GenKey, key)
	} else {
		vals = s.cache.GetMany(ctx, GenKey, key, extra)
	}
	cur := vals[0]
	if cur == nil {
		n, err := s.cache.Incr(ctx, GenKey)
		if err != nil {
			return nil, nil, "", false
		}
		return nil, nil, strconv.FormatInt(n, 10), false
	}
	stamp, body, ok := splitEntry(vals[1])
	if !ok || string(stamp) != string(cur) {
		return nil, nil, string(cur), false
	}
	if extra != "" {
		if xstamp, xbody, ok := splitEntry(vals[2]); ok && string(xstamp) == string(cur) {
			extraPayload = xbody
		}
	}
	return body, extraPayload, string(cur), true
}

// store caches payload stamped with gen.
func (s *Service) store(ctx context.Context, key, gen string, payload []byte) {
	if key == "" || gen == "" {
		return
	}
	entry := binary.AppendUvarint(make([]byte, 0, len(gen)+len(payload)+2), uint64(len(gen)))
	entry = append(append(entry, gen...), payload...)
	s.cache.Set(ctx, key, entry, s.cfg.ListCacheTTL)
}

// splitEntry splits a cache entry into its generation stamp and payload.
func splitEntry(b []byte) (stamp, payload []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, false
	}
	return b[w : w+int(n)], b[w+int(n):], true
}

// changed runs after every committed write: it invalidates cached lists and
// wakes the outbox relay. A cache failure is logged; cached pages then live
// until their TTL (or until the blog-cache consumer's retry lands).
func (s *Service) changed(ctx context.Context) {
	if s.cache != nil {
		if _, err := s.cache.Incr(ctx, GenKey); err != nil {
			s.log.WarnContext(ctx, "invalidating cached lists", "error", err)
		}
	}
	s.kick()
}

// Article returns one article with its body, as the API's JSON body.
func (s *Service) Article(ctx context.Context, v Viewer, slug string) ([]byte, error) {
	if !matchable(slug) {
		return nil, errs.NotFound("article")
	}
	key := ""
	if s.cacheOn() {
		sum := sha256.Sum256([]byte(slug))
		key = articleKeyPrefix + hex.EncodeToString(sum[:16])
	}
	r, gen, flags, err := s.cachedRendered(ctx, key, flagsKey(v, key), func() (Rendered, bool, error) {
		a, err := s.repo.Article(ctx, slug)
		if err != nil {
			return Rendered{}, false, err
		}
		page := domain.Page{Articles: []domain.Article{a}, Total: 1}
		list, complete, err := s.sharedViews(ctx, v, page)
		if err != nil {
			return Rendered{}, false, err
		}
		return s.enc.Article(list.Articles[0]), complete, nil
	})
	if r == nil {
		return nil, err
	}
	return s.overlay(ctx, v, key, gen, flags, *r)
}

func (s *Service) articleView(ctx context.Context, v Viewer, a domain.Article) (ArticleView, error) {
	list, _, err := s.articleViews(ctx, v, domain.Page{Articles: []domain.Article{a}, Total: 1})
	if err != nil {
		return ArticleView{}, err
	}
	return list.Articles[0], nil
}

// articleViews lays authors and the viewer's flags over a page: one query
// each for authors, following and favorited, whatever the page size.
// complete is false when an author was found neither in the read model nor
// in the users service (the stored username stood in).
func (s *Service) articleViews(ctx context.Context, v Viewer, page domain.Page) (out ArticleList, complete bool, err error) {
	out = ArticleList{Articles: make([]ArticleView, len(page.Articles)), Total: page.Total}
	if len(page.Articles) == 0 {
		return out, true, nil
	}
	refs := make([]authorRef, len(page.Articles))
	ids := make([]int64, len(page.Articles))
	for i, a := range page.Articles {
		refs[i] = authorRef{id: a.AuthorID, username: a.AuthorUsername}
		ids[i] = a.ID
	}
	authors, complete, err := s.authorViews(ctx, v, refs)
	if err != nil {
		return ArticleList{}, false, err
	}
	favorited, err := s.repo.FavoritedBy(ctx, v.ID, ids)
	if err != nil {
		return ArticleList{}, false, fmt.Errorf("loading favorites: %w", err)
	}
	for i, a := range page.Articles {
		out.Articles[i] = ArticleView{Article: a, Author: authors[a.AuthorID], Favorited: favorited[a.ID]}
	}
	return out, complete, nil
}

// authorRef names an author and the username stored with their writing.
type authorRef struct {
	id       int64
	username string
}

// authorViews resolves authors from the read model, falling back to the
// users service for the ones it misses (and remembering what it returns).
// When both miss, the username stored with the article or comment stands in,
// so reads keep working while the users service is down; complete is then false.
func (s *Service) authorViews(ctx context.Context, v Viewer, refs []authorRef) (map[int64]AuthorView, bool, error) {
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
		return nil, false, fmt.Errorf("loading authors: %w", err)
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
		return nil, false, fmt.Errorf("loading follows: %w", err)
	}
	complete := true
	out := make(map[int64]AuthorView, len(ids))
	for _, r := range refs {
		if _, done := out[r.id]; done {
			continue
		}
		av := AuthorView{Username: r.username, Following: following[r.id]}
		if p, ok := profiles[r.id]; ok {
			av.Username, av.Bio, av.Image = p.Username, p.Bio, p.Image
		} else {
			complete = false
			if r.id == v.ID && v.Username != "" {
				av.Username = v.Username // the viewer's token is fresher than a stored name
			}
		}
		out[r.id] = av
	}
	return out, complete, nil
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
