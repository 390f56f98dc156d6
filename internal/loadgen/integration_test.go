package loadgen_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/app/apptest"
	"github.com/tungsten-blog/tungsten/internal/loadgen"
)

// Seeds a real embedded Tungsten through its public API and runs a short,
// low-rate mix of every scenario against it: every request must succeed.
func TestSeedAndRunAgainstTheEmbeddedDefault(t *testing.T) {
	inst, err := apptest.StartEmbedded("--auth.login-account-limit=1000", "--auth.login-ip-account-limit=1000")
	require.NoError(t, err)
	t.Cleanup(inst.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := loadgen.DefaultSeedConfig()
	cfg.Users, cfg.Articles, cfg.Comments, cfg.FollowsPerUser, cfg.FavoritesPerUser = 4, 12, 20, 2, 3
	c := loadgen.NewClient(inst.BaseURL, nil)
	ds, err := loadgen.Seed(ctx, c, cfg, nil)
	require.NoError(t, err)
	require.Len(t, ds.Users, 4)
	require.Len(t, ds.Slugs, 12)
	require.NotEmpty(t, ds.Categories)

	var page struct {
		ArticlesCount int `json:"articlesCount"`
	}
	require.NoError(t, c.Do(ctx, http.MethodGet, "/api/articles", "", nil, &page))
	require.Equal(t, 12, page.ArticlesCount, "every seeded article is listed")
	// Follows reach the blog's read model by event, so the feed fills shortly after.
	require.Eventually(t, func() bool {
		return c.Do(ctx, http.MethodGet, "/api/articles/feed", ds.Users[0].Token, nil, &page) == nil && page.ArticlesCount > 0
	}, 10*time.Second, 50*time.Millisecond, "seeded follows fill the feed")

	spec := ""
	for _, name := range loadgen.ScenarioNames() {
		spec += name + "=1,"
	}
	rep, err := loadgen.Run(ctx, loadgen.RunConfig{BaseURL: inst.BaseURL, Rate: 40, Duration: 3 * time.Second, Mix: loadgen.MustMix(spec)}, ds)
	require.NoError(t, err)
	require.Positive(t, rep.Total.Requests)
	require.Zero(t, rep.Total.Errors, "every scenario succeeds: %+v", rep.Scenarios)
	require.True(t, loadgen.Thresholds{MaxErrorRatio: 0}.Check(rep))

	closed, err := loadgen.Run(ctx, loadgen.RunConfig{BaseURL: inst.BaseURL, Workers: 2, Duration: time.Second, Mix: loadgen.MustMix("list")}, ds)
	require.NoError(t, err)
	require.Equal(t, "closed", closed.Mode)
	require.Positive(t, closed.Total.Requests)
	require.Zero(t, closed.Total.Errors)
}
