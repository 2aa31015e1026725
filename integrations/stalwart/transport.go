package stalwart

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/dezky/platform-api/integrations"
)

// maxResponseBytes bounds how much of a response the client reads: the largest answer it asks
// for is one page of maxObjectsInGet small objects.
const maxResponseBytes = 16 << 20

// send performs one HTTP exchange and logs it at Debug (method, path, status, duration; never a
// header). A transport failure is returned already classified as retryable.
func (c *Client) send(ctx context.Context, op, method, target string, body []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, integrations.PermanentError(op, err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.DebugContext(ctx, "stalwart call", "method", method, "path", req.URL.Path,
			"duration", time.Since(start), "error", err.Error())
		return nil, nil, integrations.TransportError(op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	c.log.DebugContext(ctx, "stalwart call", "method", method, "path", resp.Request.URL.Path,
		"status", resp.StatusCode, "duration", time.Since(start))
	if err != nil {
		return nil, nil, integrations.TransportError(op, err)
	}
	return resp, data, nil
}

// problemMessage extracts the explanation from a request-level error body, an RFC 7807 problem
// (Stalwart's RequestError: type, status, title, detail and, for limits, limit).
func problemMessage(status int, body []byte) string {
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Limit  string `json:"limit"`
	}
	_ = json.Unmarshal(body, &p)
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if p.Type != "" && p.Type != "about:blank" {
		msg = p.Type + ": " + msg
	}
	if p.Limit != "" {
		msg += " (" + p.Limit + ")"
	}
	return msg
}

// statusError classifies a non-2xx answer. A 404 from the JMAP endpoints means the server (or
// the URL configured for it) is wrong, never that one of our objects is gone, so it is
// Permanent rather than NotFound (a Delete must not read it as "already deleted").
func statusError(op string, resp *http.Response, body []byte) error {
	msg := problemMessage(resp.StatusCode, body)
	if resp.StatusCode == http.StatusNotFound {
		return &integrations.Error{Kind: integrations.Permanent, Op: op, Status: resp.StatusCode, Message: msg}
	}
	return integrations.StatusError(op, resp.StatusCode, resp.Header, msg)
}
