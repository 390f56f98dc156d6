// Package fetch reads the answers of the doctor's HTTP evidence sources
// (Prometheus, VictoriaLogs, Jaeger, admin listeners) with one rule: an answer
// is read to a size limit, and one over it is an error rather than a silently
// cut body a decoder would misread.
package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
)

// Read sends req with c and returns the answer's status and body, at most max
// bytes of it. source names the server in errors ("prometheus").
func Read(c *http.Client, req *http.Request, source string, max int) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("querying %s: %w", source, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading %s response: %w", source, err)
	}
	if len(body) > max {
		return resp.StatusCode, nil, fmt.Errorf("%s response over %d bytes", source, max)
	}
	return resp.StatusCode, body, nil
}

// Body sends req and returns the body of an answer that is 200 OK or has one
// of the statuses in also: the ones a source answers a bad query with, whose
// JSON error the caller's decoder reports. Any other status is an error.
func Body(c *http.Client, req *http.Request, source string, max int, also ...int) ([]byte, error) {
	status, body, err := Read(c, req, source, max)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK && !slices.Contains(also, status) {
		return nil, fmt.Errorf("%s: HTTP %d", source, status)
	}
	return body, nil
}

// Get is Body for a GET of u.
func Get(ctx context.Context, c *http.Client, u, source string, max int, also ...int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	return Body(c, req, source, max, also...)
}
