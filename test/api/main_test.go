// Package api_test checks Tungsten's public API from the outside, over HTTP,
// for everything the RealWorld Postman collection never checks: error
// paths, authorization, ordering, counts, pagination bounds, CORS, bad and
// oversized bodies and forged tokens.
//
// By default it starts the embedded default in process (SQLite, embedded
// NATS). With TUNGSTEN_API_URL set it targets a running Tungsten instead;
// scripts/test.sh points it at the distributed deployment.
package api_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/tungsten-blog/tungsten/internal/app/apptest"
)

// baseURL is the gateway, e.g. http://127.0.0.1:8080.
var baseURL string

func TestMain(m *testing.M) {
	flag.Parse()
	if u := os.Getenv("TUNGSTEN_API_URL"); u != "" {
		baseURL = u
		os.Exit(m.Run())
	}
	inst, err := apptest.StartEmbedded()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	baseURL = inst.BaseURL
	code := m.Run()
	inst.Stop()
	os.Exit(code)
}
