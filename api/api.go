// Package api carries the public API's contract, openapi.yml, into the
// binary: the gateway serves it at GET /api/openapi.yml and the API suite
// (test/api) validates every response against it.
package api

import _ "embed"

// OpenAPI is api/openapi.yml.
//
//go:embed openapi.yml
var OpenAPI []byte
