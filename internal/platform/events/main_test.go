package events

import (
	"testing"

	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// TestMain stops the embedded NATS server the tests share and removes its store.
func TestMain(m *testing.M) { testenv.Main(m) }
