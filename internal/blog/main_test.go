package blog_test

import (
	"testing"

	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// TestMain stops the embedded NATS server the tests may have started.
func TestMain(m *testing.M) { testenv.Main(m) }
