package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Scenario is one kind of user action; each hit of it is one request.
type Scenario struct {
	Name  string
	Write bool   // changes data (counts towards the write share of a mix)
	Doc   string // what a user does, for --help
	fill  func(s *state, t *vegeta.Target)
}

// state is what the scenarios draw from while a run goes on.
type state struct {
	base string
	ds   *Dataset
	n    atomic.Uint64 // hits so far, for alternation and unique titles
}

func (s *state) user() User   { return s.ds.Users[rand.IntN(len(s.ds.Users))] }
func (s *state) slug() string { return s.ds.Slugs[rand.IntN(len(s.ds.Slugs))] }
func (s *state) get(t *vegeta.Target, path, token string) {
	t.Method, t.URL = http.MethodGet, s.base+path
	t.Header = header(token, false)
}

func (s *state) post(t *vegeta.Target, method, path, token string, body any) {
	t.Method, t.URL = method, s.base+path
	t.Header = header(token, body != nil)
	if body != nil {
		t.Body, _ = json.Marshal(body) // maps and strings: cannot fail
	}
}

func header(token string, hasBody bool) http.Header {
	h := make(http.Header, 4)
	setHeaders(h, token, hasBody)
	return h
}

// Scenarios lists every scenario, reads first.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "list", Doc: "anonymous first page of GET /api/articles (the cached front page)", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/articles", "")
		}},
		{Name: "browse", Doc: "anonymous list pages: a later page, a tag or a category", fill: func(s *state, t *vegeta.Target) {
			switch rand.IntN(3) {
			case 0:
				s.get(t, "/api/articles?limit=20&offset="+strconv.Itoa(20*rand.IntN(max(1, len(s.ds.Slugs)/20))), "")
			case 1:
				s.get(t, "/api/articles?tag="+url.QueryEscape(pick(s.ds.Tags, "go")), "")
			default:
				s.get(t, "/api/articles?category="+url.QueryEscape(pick(s.ds.Categories, "technology")), "")
			}
		}},
		{Name: "list-auth", Doc: "signed-in first page of GET /api/articles", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/articles", s.user().Token)
		}},
		{Name: "feed", Doc: "GET /api/articles/feed of a signed-in user who follows others", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/articles/feed", s.user().Token)
		}},
		{Name: "read", Doc: "read an article, then its comments (alternately)", fill: func(s *state, t *vegeta.Target) {
			slug := s.slug()
			if s.n.Add(1)%2 == 0 {
				s.get(t, "/api/articles/"+slug+"/comments", "")
			} else {
				s.get(t, "/api/articles/"+slug, "")
			}
		}},
		{Name: "article", Doc: "GET /api/articles/:slug", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/articles/"+s.slug(), "")
		}},
		{Name: "comments", Doc: "GET /api/articles/:slug/comments", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/articles/"+s.slug()+"/comments", "")
		}},
		{Name: "tags", Doc: "GET /api/tags", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/tags", "")
		}},
		{Name: "categories", Doc: "GET /api/categories", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/categories", "")
		}},
		{Name: "search", Doc: "full-text search, Korean or English word (GET /api/articles?q=)", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/articles?q="+url.QueryEscape(pick(s.ds.SearchWords, "cache")), "")
		}},
		{Name: "profile", Doc: "GET /api/profiles/:username", fill: func(s *state, t *vegeta.Target) {
			s.get(t, "/api/profiles/"+url.PathEscape(s.user().Username), "")
		}},
		{Name: "login", Write: true, Doc: "POST /api/users/login (argon2id: the most CPU per request)", fill: func(s *state, t *vegeta.Target) {
			u := s.user()
			s.post(t, http.MethodPost, "/api/users/login", "", map[string]any{"user": map[string]string{"email": u.Email, "password": u.Password}})
		}},
		{Name: "publish", Write: true, Doc: "POST /api/articles (invalidates the cached lists)", fill: func(s *state, t *vegeta.Target) {
			n := s.n.Add(1)
			tx := NewTexts(n)
			ko := tx.Korean()
			s.post(t, http.MethodPost, "/api/articles", s.user().Token, map[string]any{"article": NewArticle{
				Title: fmt.Sprintf("%s (load %d-%d)", tx.Title(ko), rand.Uint32(), n), Description: tx.Description(ko),
				Body: tx.Body(ko), TagList: tx.Tags(),
			}})
		}},
		{Name: "comment", Write: true, Doc: "POST /api/articles/:slug/comments", fill: func(s *state, t *vegeta.Target) {
			tx := NewTexts(s.n.Add(1))
			s.post(t, http.MethodPost, "/api/articles/"+s.slug()+"/comments", s.user().Token,
				map[string]any{"comment": map[string]string{"body": tx.Comment(tx.Korean())}})
		}},
		{Name: "favorite", Write: true, Doc: "favorite an article, or take the favorite back (alternately)", fill: func(s *state, t *vegeta.Target) {
			method := http.MethodPost
			if s.n.Add(1)%2 == 0 {
				method = http.MethodDelete
			}
			s.post(t, method, "/api/articles/"+s.slug()+"/favorite", s.user().Token, nil)
		}},
	}
}

func pick(s []string, fallback string) string {
	if len(s) == 0 {
		return fallback
	}
	return s[rand.IntN(len(s))]
}

// ScenarioNames lists the names, in the order of Scenarios.
func ScenarioNames() []string {
	var out []string
	for _, s := range Scenarios() {
		out = append(out, s.Name)
	}
	return out
}

// DefaultMix is a 90/10 read/write mix of a blog's traffic.
const DefaultMix = "list=25,browse=10,list-auth=5,feed=5,read=30,tags=5,categories=3,search=5,profile=2,publish=2,comment=4,favorite=3,login=1"

// Mix is a weighted choice of scenarios.
type Mix struct {
	entries []mixEntry
	total   int
}

type mixEntry struct {
	Scenario
	weight int
	upTo   int // cumulative weight, exclusive upper bound
}

// ParseMix reads "name=weight,name=weight"; a bare name has weight 1.
func ParseMix(spec string) (Mix, error) {
	byName := map[string]Scenario{}
	for _, s := range Scenarios() {
		byName[s.Name] = s
	}
	var m Mix
	seen := map[string]bool{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		weight := 1
		if hasW {
			var err error
			if weight, err = strconv.Atoi(strings.TrimSpace(w)); err != nil || weight < 0 {
				return Mix{}, fmt.Errorf("scenario %q: weight %q is not a whole number >= 0", name, w)
			}
		}
		s, ok := byName[name]
		if !ok {
			return Mix{}, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(ScenarioNames(), ", "))
		}
		if seen[name] {
			return Mix{}, fmt.Errorf("scenario %q named twice", name)
		}
		seen[name] = true
		if weight == 0 {
			continue
		}
		m.total += weight
		m.entries = append(m.entries, mixEntry{Scenario: s, weight: weight, upTo: m.total})
	}
	if m.total == 0 {
		return Mix{}, errors.New("the scenario mix is empty: give at least one scenario a weight above 0")
	}
	return m, nil
}

// MustMix is ParseMix for specs fixed in code.
func MustMix(spec string) Mix {
	m, err := ParseMix(spec)
	if err != nil {
		panic(err)
	}
	return m
}

// pick maps r in [0, total) to a scenario, proportionally to the weights.
func (m Mix) pick(r int) Scenario {
	i := sort.Search(len(m.entries), func(i int) bool { return m.entries[i].upTo > r })
	return m.entries[i].Scenario
}

// Share returns each scenario's share of the hits (0..1), by name.
func (m Mix) Share() map[string]float64 {
	out := make(map[string]float64, len(m.entries))
	for _, e := range m.entries {
		out[e.Name] = float64(e.weight) / float64(m.total)
	}
	return out
}

// WriteShare is the share of hits that change data.
func (m Mix) WriteShare() float64 {
	w := 0
	for _, e := range m.entries {
		if e.Write {
			w += e.weight
		}
	}
	return float64(w) / float64(m.total)
}

// String gives the mix back in ParseMix's syntax.
func (m Mix) String() string {
	parts := make([]string, len(m.entries))
	for i, e := range m.entries {
		parts[i] = e.Name + "=" + strconv.Itoa(e.weight)
	}
	return strings.Join(parts, ",")
}

// Names lists the scenarios of the mix.
func (m Mix) Names() []string {
	out := make([]string, len(m.entries))
	for i, e := range m.entries {
		out[i] = e.Name
	}
	return out
}

// Sample builds one request of the named scenario, as a run would send it
// (the benchmark captures the answers to serve them from its ceiling).
func Sample(baseURL string, ds *Dataset, name string) (*http.Request, error) {
	for _, sc := range Scenarios() {
		if sc.Name == name {
			var t vegeta.Target
			sc.fill(&state{base: strings.TrimRight(baseURL, "/"), ds: ds}, &t)
			req, err := t.Request()
			if err != nil {
				return nil, fmt.Errorf("building a %s request: %w", name, err)
			}
			return req, nil
		}
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}
