package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/api"
)

// The contract every response of this suite is checked against: the
// embedded api/openapi.yml, the document the gateway serves.
var (
	contractOnce   sync.Once
	contractRouter routers.Router
	contractErr    error
)

func contract() (routers.Router, error) {
	contractOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(api.OpenAPI)
		if err != nil {
			contractErr = err
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			contractErr = err
			return
		}
		// Requests go to whatever Tungsten this suite targets.
		doc.Servers = openapi3.Servers{{URL: baseURL + "/api"}}
		contractRouter, contractErr = legacy.NewRouter(doc)
	})
	return contractRouter, contractErr
}

// checkContract validates one response against the contract: its status
// must be documented for the operation, and its body must match the
// documented schema. A request to a route the contract does not describe
// must be answered 404 or 405 (or be a CORS preflight).
func checkContract(t *testing.T, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	router, err := contract()
	require.NoError(t, err, "loading api/openapi.yml")
	route, params, err := router.FindRoute(req)
	var routeErr *routers.RouteError
	if errors.As(err, &routeErr) && (routeErr.Reason == routers.ErrPathNotFound.Error() ||
		routeErr.Reason == routers.ErrMethodNotAllowed.Error()) {
		if req.Method == http.MethodOptions {
			return
		}
		require.Contains(t, []int{404, 405}, status, "%s %s is not in api/openapi.yml but answered %d: %s",
			req.Method, req.URL.Path, status, body)
		return
	}
	require.NoError(t, err, "routing %s %s in api/openapi.yml", req.Method, req.URL.Path)
	require.NoError(t, validateResponse(req, route, params, status, header, body),
		"%s %s answered %d, which api/openapi.yml does not allow: %s", req.Method, req.URL.Path, status, body)
}

// validateResponse checks a status (it must be documented) and a body (it
// must match the documented schema) against the operation of route.
func validateResponse(req *http.Request, route *routers.Route, params map[string]string, status int, header http.Header, body []byte) error {
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// TestContractCatchesDisagreements makes sure the check above can fail: a
// body of the wrong shape and an undocumented status are refused.
func TestContractCatchesDisagreements(t *testing.T) {
	t.Parallel()
	router, err := contract()
	require.NoError(t, err)
	req, err := http.NewRequest("GET", baseURL+"/api/profiles/jake", nil)
	require.NoError(t, err)
	route, params, err := router.FindRoute(req)
	require.NoError(t, err)
	h := http.Header{"Content-Type": {"application/json"}}
	ok := `{"profile":{"username":"jake","bio":null,"image":null,"following":false}}`
	require.NoError(t, validateResponse(req, route, params, 200, h, []byte(ok)))
	require.Error(t, validateResponse(req, route, params, 200, h, []byte(`{"profile":{"username":5}}`)), "wrong shape")
	require.Error(t, validateResponse(req, route, params, 200, h, []byte(`{"user":{}}`)), "wrong envelope")
	require.Error(t, validateResponse(req, route, params, 418, h, []byte(`{"errors":{"body":["x"]}}`)), "undocumented status")
	require.Error(t, validateResponse(req, route, params, 404, h, []byte(`{"error":"x"}`)), "not the error shape")
}

// TestServesItsContract fetches the contract through the gateway; the
// answer is checked against the contract itself, like every other.
func TestServesItsContract(t *testing.T) {
	t.Parallel()
	r := call(t, "GET", "/api/openapi.yml", "", nil).expect(t, 200)
	require.Equal(t, "application/yaml", r.Header.Get("Content-Type"))
	require.Equal(t, string(api.OpenAPI), string(r.Raw))
}
