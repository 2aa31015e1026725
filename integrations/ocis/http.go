package ocis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/dezky/platform-api/integrations"
)

// maxResponse bounds a response body read into memory; the drives list is not paginated, so it
// must hold every project space of a large installation.
const maxResponse = 32 << 20

// request is one libre-graph call.
type request struct {
	// op names the attempt in errors ("create ocis space").
	op     string
	method string
	// path is below /graph, e.g. "/v1.0/drives".
	path   string
	query  url.Values
	header http.Header
	// body is marshalled as JSON when non-nil.
	body any
	// out receives the decoded 2xx response when non-nil.
	out any
}

// graphError is the libre-graph error body.
type graphError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends r with a bearer token. A 401 on a cached token means the IdP or oCIS no longer
// accepts it (restart, key rotation): the token is dropped and the call is made once more with a
// fresh one. Every failure comes back classified as an *integrations.Error.
func (c *Client) do(ctx context.Context, r request) error {
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return &integrations.Error{Kind: integrations.Permanent, Op: r.op, Err: err}
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		tok, fresh, err := c.tokens.token(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", r.op, err)
		}
		status, err := c.send(ctx, r, body, tok)
		if status == http.StatusUnauthorized && !fresh && attempt == 0 {
			c.tokens.invalidate(tok)
			continue
		}
		return err
	}
}

// send makes one HTTP exchange and returns its status (0 when none was received).
func (c *Client) send(ctx context.Context, r request, body []byte, tok string) (int, error) {
	u := c.graph + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return 0, &integrations.Error{Kind: integrations.Permanent, Op: r.op, Err: err}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.logCall(ctx, r, 0, start)
		return 0, integrations.TransportError(r.op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	c.logCall(ctx, r, resp.StatusCode, start)
	if err != nil {
		return resp.StatusCode, integrations.TransportError(r.op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, integrations.StatusError(r.op, resp.StatusCode, resp.Header, errorMessage(resp.StatusCode, raw))
	}
	if r.out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, r.out); err != nil {
			// A 2xx we cannot read is the server's fault, or a proxy's: retry later.
			return resp.StatusCode, &integrations.Error{Kind: integrations.Retryable, Op: r.op, Status: resp.StatusCode,
				Message: "malformed response body", Err: err}
		}
	}
	return resp.StatusCode, nil
}

// errorMessage extracts "code: message" from a libre-graph error body, falling back to the
// status text (oCIS answers some failures with no body at all).
func errorMessage(status int, raw []byte) string {
	var ge graphError
	if err := json.Unmarshal(raw, &ge); err == nil && (ge.Error.Code != "" || ge.Error.Message != "") {
		switch {
		case ge.Error.Code == "":
			return ge.Error.Message
		case ge.Error.Message == "":
			return ge.Error.Code
		}
		return ge.Error.Code + ": " + ge.Error.Message
	}
	return http.StatusText(status)
}

// logCall records one call at Debug: never a header, so never the token.
func (c *Client) logCall(ctx context.Context, r request, status int, start time.Time) {
	c.log.LogAttrs(ctx, slog.LevelDebug, "ocis request",
		slog.String("method", r.method),
		slog.String("path", "/graph"+r.path),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)))
}

// isStatus reports whether err is an upstream answer with the given status.
func isStatus(err error, status int) bool {
	var e *integrations.Error
	return errors.As(err, &e) && e.Status == status
}
