package telemetry

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorAttrsListsTheCauseChain(t *testing.T) {
	t.Parallel()
	root := errors.New("connection refused")
	err := fmt.Errorf("loading article: %w", fmt.Errorf("querying articles: %w", root))
	attrs := ErrorAttrs(err)
	if len(attrs) != 2 || attrs[0].Key != "error" || attrs[1].Key != "error_chain" {
		t.Fatalf("attrs = %v", attrs)
	}
	chain, ok := attrs[1].Value.Any().([]string)
	if !ok || len(chain) != 3 || chain[2] != "connection refused" {
		t.Fatalf("error_chain = %#v, want 3 causes ending with the root", attrs[1].Value.Any())
	}
	joined := ErrorAttrs(errors.Join(errors.New("a"), fmt.Errorf("b: %w", root)))
	if got := len(joined[1].Value.Any().([]string)); got != 4 {
		t.Fatalf("joined chain has %d entries, want 4", got)
	}
	if ErrorAttrs(nil) != nil {
		t.Fatal("nil error gave attributes")
	}
}
