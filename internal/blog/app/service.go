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
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
)

// Cache keys. Every article and favorite write, and every change to an
// author's profile or follows applied from the users events, increments
// GenKey (comments do not: no cached rendering shows them). Cached values
// are stamped with the generation they were read at and with the time they
// were read; one whose generation is no longer current is served only while
// it is younger than Config.Staleness, and never to a viewer whose WroteKey
// is set (they wrote within that bound). See ADR 0006 and ADR 0012.
const (
	GenKey           = "blog:gen"
	wroteKeyPrefix   = "blog:wrote:" // + viewer ID: set by the viewer's writes for a little over Staleness
	listKeyPrefix    = "blog:list:"
	articleKeyPrefix = "blog:article:"
	flagsKeyPrefix   = "blog:flags:" // + viewer ID + ":" + the entry's key
	tagsKey          = "blog:tags"
	categoriesKey    = "blog:categories"
)

// wroteMargin is how much longer than the staleness bound a writer's marker
// lives: it covers the clock skew between the replica that stamped an entry
// and the one that serves it, and the time between commit and marker.
const wroteMargin = time.Second

// WroteKey is the key of the marker a blog write by userID sets: while it
// lives, the user's reads are strict (only entries of the current generation).
func WroteKey(userID int64) string { return wroteKeyPrefix + strconv.FormatInt(userID, 10) }

// Config tunes the use cases.
type Config struct {
	DefaultLimit int
	MaxLimit     int
	TagsLimit    int
	ListCacheTTL time.Duration // 0 disables the list cache
	// Staleness is how long after it was read a cached entry may still be
	// served once a write has moved the generation past it (0: never).
	Staleness     time.Duration
	UsersCooldown time.Duration // after the users service failed, how long not to call it
	// WritesPerUser bounds the articles and comments one user writes; a zero
	// Limit turns it off.
	WritesPerUser ratelimit.Rule
	// FavoritesPerUser bounds the favorites one user adds or takes back
	// (each is a write and an outbox event); a zero Limit turns it off.
	FavoritesPerUser ratelimit.Rule
}

// Deps are the use cases' collaborators. Cache, Profiles and Kick may be nil.
type Deps struct {
	Repo     Repository
	Profiles Profiles
	Cache    cache.Cache
	Limiter  ratelimit.Limiter // nil: in-process
	Encoder  Encoder           // renders the JSON bodies of reads; required
	Kick     func()            // wakes the outbox relay after a commit
	Logger   *slog.Logger
	Now      func() time.Time
}

// Service implements the blog's use cases.
type Service struct {
	limiter   ratelimit.Limiter
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

// loaded is what one cache-miss load produced, and when it began reading
// (the entry's age counts from there: it holds every write committed before).
type loaded struct {
	r         Rendered
	cacheable bool
	asOf      time.Time
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
	s.limiter = deps.Limiter
	if s.limiter == nil {
		s.limiter = ratelimit.NewMemory(nil)
	}
	return s
}

// allowWrite spends one of the viewer's writes.
func (s *Service) allowWrite(ctx context.Context, v Viewer) error {
	return s.allow(ctx, s.cfg.WritesPerUser, v)
}

// allow spends one of the viewer's requests under rule (a 429 with
// Retry-After when none is left); a zero Limit allows everything.
func (s *Service) allow(ctx context.Context, rule ratelimit.Rule, v Viewer) error {
	if rule.Limit <= 0 {
		return nil
	}
	if d := s.limiter.Allow(ctx, rule, strconv.FormatInt(v.ID, 10)); !d.Allowed {
		return errs.TooManyRequests(d.RetryAfter)
	}
	return nil
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
func (s *Service) listQuery(ctx context.Context, v Viewer, p ListParams) (q domain.ListQuery, ok bool, err error) {
	if err := s.checkPage(p.Limit, p.Offset); err != nil {
		return q, false, err
	}
	if utf8.RuneCountInString(p.Query) > domain.MaxQueryRunes {
		return q, false, errs.Invalid(fmt.Sprintf("q is too long (maximum is %d characters)", domain.MaxQueryRunes))
	}
	q = domain.ListQuery{Tag: p.Tag, Category: p.Category, Limit: p.Limit, Offset: p.Offset}
	if p.Drafts {
		if v.ID == 0 {
			return q, false, errs.Unauthenticated("sign in to list your drafts")
		}
		q.DraftsOf = v.ID // drafts are only ever their author's
	}
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
		if q.AuthorID, ok, err = s.resolveUsername(ctx, p.Author); err != nil || !ok {
			return q, false, err
		}
	}
	if p.Favorited != "" {
		if q.FavoritedBy, ok, err = s.resolveUsername(ctx, p.Favorited); err != nil || !ok {
			return q, false, err
		}
	}
	return q, true, nil
}

// ListArticles returns a page of published articles, newest first, as the
// API's JSON body, or with Drafts the viewer's drafts. Unknown usernames in
// author or favorited give an empty list.
func (s *Service) ListArticles(ctx context.Context, v Viewer, p ListParams) ([]byte, error) {
	q, ok, err := s.listQuery(ctx, v, p)
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
	r, gen, flags, err := s.cachedRendered(ctx, v, key, flagsKey(v, key), func() (Rendered, bool, error) {
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
// stamp it belongs to ("" when it must not be cached): the current
// generation, or on a stale hit the older one the entry was stamped with.
// With a flagsKey it also returns, from the same round trip, the viewer's
// flags cached for that entry's stamp (nil when there are none).
func (s *Service) cachedRendered(ctx context.Context, v Viewer, key, flagsKey string, load func() (Rendered, bool, error)) (*Rendered, string, []byte, error) {
	f := s.lookupWith(ctx, v, key, flagsKey)
	if f.hit {
		if r, err := UnmarshalRendered(f.payload); err == nil {
			return &r, f.stamp, f.extra, nil
		}
	}
	l, err := s.load(ctx, key, flagsKey, f.gen, load)
	if err != nil {
		return nil, "", nil, err
	}
	gen := f.gen
	if l.cacheable {
		s.store(ctx, key, gen, l.asOf, l.r.MarshalBinary())
	} else {
		gen = ""
	}
	return &l.r, gen, nil, nil
}

// load runs a cache-miss load once for all the requests of this process
// that miss the same entry in the same generation at the same time (an entry
// expiring under steady reads otherwise sent every connection to the
// database at once). A viewer's own requests share a load only with each
// other: a page may be rendered for the viewer when an author is unknown.
// A request whose shared load failed because the leader's request ended
// loads for itself.
func (s *Service) load(ctx context.Context, key, flagsKey, gen string, load func() (Rendered, bool, error)) (loaded, error) {
	run := func() (loaded, error) {
		asOf := s.now()
		r, cacheable, err := load()
		return loaded{r, cacheable, asOf}, err
	}
	if key == "" || gen == "" {
		return run()
	}
	v, err, shared := s.loads.Do(gen+"\x00"+key+"\x00"+flagsKey, func() (any, error) { return run() })
	if err != nil {
		if shared && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return run()
		}
		return loaded{}, err
	}
	return v.(loaded), nil
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
// (key) with the entry's stamp gen (cached, read with the entry), else two
// queries (favorites, follows) whose answer is cached so. Favorites are blog
// writes and follows reach the blog as events; both move the generation, so
// cached flags are never older than their entry. A stale entry is served
// only to a viewer who has not written for longer than it has lived, so the
// favorites read now are the ones of the entry's time: its counts and the
// viewer's flags agree.
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
		s.store(ctx, flagsKey, gen, s.now(), enc)
	}
	return r.BytesWith(flags), nil
}

func (s *Service) cacheOn() bool { return s.cache != nil && s.cfg.ListCacheTTL > 0 }

// found is what a lookup read in its one round trip.
type found struct {
	payload []byte // the entry's, on a hit
	extra   []byte // the extra key's payload, on a hit, when stamped like the entry
	stamp   string // on a hit, the entry's stamp: gen, or an older one within the staleness bound
	gen     string // the generation a value loaded now may be stored under ("" when it must not be stored)
	hit     bool
}

// lookup reads the generation counter and key in one round trip. A hit is
// an entry stamped with the current generation or, for a viewer who has not
// written lately, one read less than Staleness ago. When the counter is
// missing (evicted, or never written) it is started afresh: Incr starts
// missing counters from a clock value, never from a number an earlier
// counter had, so entries stamped before the eviction can never be current
// again.
func (s *Service) lookup(ctx context.Context, v Viewer, key string) found {
	return s.lookupWith(ctx, v, key, "")
}

// lookupWith is lookup that also reads extra (when not "") in the same
// round trip, and for a signed-in viewer their write marker.
func (s *Service) lookupWith(ctx context.Context, v Viewer, key, extra string) found {
	if key == "" {
		return found{}
	}
	keys := make([]string, 2, 4)
	keys[0], keys[1] = GenKey, key
	xi, wi := -1, -1
	if extra != "" {
		xi, keys = len(keys), append(keys, extra)
	}
	if v.ID != 0 && s.cfg.Staleness > 0 {
		wi, keys = len(keys), append(keys, WroteKey(v.ID))
	}
	vals := s.cache.GetMany(ctx, keys...)
	cur := vals[0]
	if cur == nil {
		n, err := s.cache.Incr(ctx, GenKey)
		if err != nil {
			return found{}
		}
		return found{gen: strconv.FormatInt(n, 10)}
	}
	asOf, stamp, body, ok := splitEntry(vals[1])
	if !ok || (string(stamp) != string(cur) && !s.servesStale(asOf, wi >= 0 && vals[wi] != nil)) {
		return found{gen: string(cur)}
	}
	f := found{payload: body, stamp: string(stamp), gen: string(cur), hit: true}
	if xi >= 0 {
		if _, xstamp, xbody, ok := splitEntry(vals[xi]); ok && string(xstamp) == f.stamp {
			f.extra = xbody
		}
	}
	return f
}

// servesStale reports whether an entry read at asOf may be served although
// a write has moved the generation since: only while it is younger than the
// staleness bound, and not to a viewer who wrote within it. An entry dated
// in the future (another replica's clock) is not.
func (s *Service) servesStale(asOf time.Time, wrote bool) bool {
	if s.cfg.Staleness <= 0 || wrote {
		return false
	}
	age := s.now().Sub(asOf)
	return age >= 0 && age < s.cfg.Staleness
}

// store caches payload stamped with gen, read at asOf.
func (s *Service) store(ctx context.Context, key, gen string, asOf time.Time, payload []byte) {
	if key == "" || gen == "" {
		return
	}
	s.cache.Set(ctx, key, appendEntry(nil, asOf, gen, payload), s.cfg.ListCacheTTL)
}

// entryFormat leads every cache entry. Entries written before bounded
// staleness began with the stamp's length (a small number), so they are
// misses, never misread; readers of that format see this byte start a
// length past the entry's end or a stamp of non-digits, never a match.
const entryFormat byte = 0xB1

// appendEntry appends a cache entry: entryFormat, the time it was read
// (Unix microseconds, 8 bytes big-endian), the generation stamp
// (length-prefixed) and the payload.
func appendEntry(dst []byte, asOf time.Time, stamp string, payload []byte) []byte {
	dst = slices.Grow(dst, 1+8+binary.MaxVarintLen64+len(stamp)+len(payload))
	dst = append(dst, entryFormat)
	dst = binary.BigEndian.AppendUint64(dst, uint64(asOf.UnixMicro()))
	dst = binary.AppendUvarint(dst, uint64(len(stamp)))
	dst = append(dst, stamp...)
	return append(dst, payload...)
}

// splitEntry splits what appendEntry wrote; ok is false for anything else
// (an entry of the earlier format, a truncated or foreign value).
func splitEntry(b []byte) (asOf time.Time, stamp, payload []byte, ok bool) {
	if len(b) < 1+8 || b[0] != entryFormat {
		return time.Time{}, nil, nil, false
	}
	micros := int64(binary.BigEndian.Uint64(b[1:9]))
	b = b[9:]
	n, w := binary.Uvarint(b)
	var canon [binary.MaxVarintLen64]byte
	// A length in more bytes than it needs (0xB8 0x00 for 56) is not
	// what appendEntry writes: refuse it, so one value has one entry.
	if w <= 0 || w != binary.PutUvarint(canon[:], n) || n == 0 || n > uint64(len(b)-w) {
		return time.Time{}, nil, nil, false
	}
	return time.UnixMicro(micros), b[w : w+int(n)], b[w+int(n):], true
}

// changed runs after every committed write that cached reads show: it
// marks the writer (their reads are strict for a little over the staleness
// bound, so they see their write at once), invalidates cached reads, and
// wakes the outbox relay. The marker is set first: a read that sees the new
// generation sees the marker too. A cache failure is logged; cached pages
// then live until their TTL (or until the blog-cache consumer's retry lands).
func (s *Service) changed(ctx context.Context, v Viewer) {
	if err := s.Invalidate(ctx, v.ID); err != nil {
		s.log.WarnContext(ctx, "invalidating cached reads", "error", err)
	}
	s.kick()
}

// Invalidate makes every cached read stale and, for a user (not 0), sets
// the marker that keeps their own reads strict for a little over the
// staleness bound. Without a cache it does nothing.
func (s *Service) Invalidate(ctx context.Context, userID int64) error {
	if s.cache == nil {
		return nil
	}
	if userID != 0 && s.cfg.Staleness > 0 {
		s.cache.Set(ctx, WroteKey(userID), []byte{'1'}, s.cfg.Staleness+wroteMargin)
	}
	if _, err := s.cache.Incr(ctx, GenKey); err != nil {
		return fmt.Errorf("moving the cache generation: %w", err)
	}
	return nil
}

// Article returns one article with its body, as the API's JSON body;
// another user's draft is not found.
func (s *Service) Article(ctx context.Context, v Viewer, slug string) ([]byte, error) {
	if !matchable(slug) {
		return nil, errs.NotFound("article")
	}
	key := ""
	if s.cacheOn() {
		key = articleKey(slug)
	}
	r, gen, flags, err := s.cachedRendered(ctx, v, key, flagsKey(v, key), func() (Rendered, bool, error) {
		a, err := s.repo.Article(ctx, slug)
		if err != nil {
			return Rendered{}, false, err
		}
		if !a.VisibleTo(v.ID) {
			return Rendered{}, false, errs.NotFound("article")
		}
		page := domain.Page{Articles: []domain.Article{a}, Total: 1}
		list, complete, err := s.sharedViews(ctx, v, page)
		if err != nil {
			return Rendered{}, false, err
		}
		// A draft is its author's alone: never cached where others look.
		return s.enc.Article(list.Articles[0]), complete && !a.Draft, nil
	})
	if r == nil {
		return nil, err
	}
	return s.overlay(ctx, v, key, gen, flags, *r)
}

// Preview returns the draft whose preview link holds token, to anyone with
// the link, as the API's JSON body; the token itself is shown to its author
// only. Never cached: the link may be renewed or the draft published at
// any time.
func (s *Service) Preview(ctx context.Context, v Viewer, token string) ([]byte, error) {
	if !domain.IsPreviewToken(token) {
		return nil, errs.NotFound("article")
	}
	a, err := s.repo.ArticleByPreviewToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if a.AuthorID != v.ID {
		a.PreviewToken = ""
	}
	list, _, err := s.sharedViews(ctx, v, domain.Page{Articles: []domain.Article{a}, Total: 1})
	if err != nil {
		return nil, err
	}
	return s.overlay(ctx, v, "", "", nil, s.enc.Article(list.Articles[0]))
}

// articleKey is where the article under slug is cached.
func articleKey(slug string) string {
	sum := sha256.Sum256([]byte(slug))
	return articleKeyPrefix + hex.EncodeToString(sum[:16])
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
	ps, _ := s.fetch(ctx, ids, usernames)
	return ps
}

// lookupProfiles is fetchProfiles by ID that also says whether the users
// service answered (so a missing ID is an account it does not know).
func (s *Service) lookupProfiles(ctx context.Context, ids []int64) ([]domain.Profile, bool) {
	return s.fetch(ctx, ids, nil)
}

func (s *Service) fetch(ctx context.Context, ids []int64, usernames []string) ([]domain.Profile, bool) {
	if s.profiles == nil || s.now().UnixNano() < s.downUntil.Load() {
		return nil, false
	}
	ps, err := s.profiles.Lookup(ctx, ids, usernames)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false // our caller hung up: users did nothing wrong
		}
		if errs.Is(err, errs.KindUnavailable) {
			s.downUntil.Store(s.now().Add(s.cfg.UsersCooldown).UnixNano())
		}
		s.log.WarnContext(ctx, "users service lookup failed; serving without it", "error", err)
		return nil, false
	}
	// A newer profile of an author the read model holds (a rename seen here
	// before its event) changes pages cached with the old one, and its event
	// will then find nothing to apply and invalidate nothing: invalidate here.
	// Pages with an author the read model lacks are never cached.
	var held map[int64]domain.Profile
	if len(ps) > 0 && s.cache != nil {
		ids := make([]int64, len(ps))
		for i, p := range ps {
			ids[i] = p.ID
		}
		if held, err = s.repo.Authors(ctx, ids); err != nil {
			s.log.WarnContext(ctx, "reading authors before saving them", "error", err)
		}
	}
	replaced := false
	for _, p := range ps {
		ok, err := s.repo.UpsertAuthor(ctx, p)
		if err != nil {
			s.log.WarnContext(ctx, "saving author to read model", "author_id", p.ID, "error", err)
		}
		_, was := held[p.ID]
		replaced = replaced || (ok && was)
	}
	if replaced {
		if _, err := s.cache.Incr(ctx, GenKey); err != nil {
			s.log.WarnContext(ctx, "invalidating cached pages after a profile change", "error", err)
		}
	}
	return ps, true
}

// resolveUsername returns the user ID of a username, from the read model or
// else the users service. A database error is an error, not "no such
// user": an empty page would claim the author has no articles.
func (s *Service) resolveUsername(ctx context.Context, username string) (int64, bool, error) {
	p, ok, err := s.repo.AuthorByUsername(ctx, username)
	if err != nil {
		return 0, false, fmt.Errorf("looking up username in read model: %w", err)
	}
	if ok {
		return p.ID, true, nil
	}
	key := domain.UsernameKey(username)
	for _, p := range s.fetchProfiles(ctx, nil, []string{username}) {
		if domain.UsernameKey(p.Username) == key {
			return p.ID, true, nil
		}
	}
	return 0, false, nil
}
