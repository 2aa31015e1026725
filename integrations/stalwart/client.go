package stalwart

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
	"strings"
	"sync"
	"time"

	"github.com/dezky/platform-api/integrations"
)

// StepName is the step's key in status.steps.
const StepName = integrations.StepStalwart

// Config configures a Client.
type Config struct {
	// BaseURL is the server's base URL (STALWART_API_URL), e.g. https://mail.example.com; the
	// client discovers the JMAP session at BaseURL/.well-known/jmap. Required.
	BaseURL string
	// Token is sent as "Authorization: Bearer <Token>" (an API key secret or OAuth access
	// token with the sysDomain* and sysAccount* permissions). Required; never logged.
	Token string
	// HTTP configures the HTTP client (CA file, per-call timeout, test transport).
	HTTP integrations.HTTPOptions
	// Logger receives one Debug record per upstream call. Nil discards.
	Logger *slog.Logger
}

// Client is the Stalwart step. It is safe for concurrent use: the cached JMAP session is guarded
// by a mutex and every call is otherwise independent.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	log   *slog.Logger

	mu   sync.Mutex
	sess *session
}

var _ integrations.Step = (*Client)(nil)

// New validates cfg and builds a Client. It makes no network call: the session is fetched on
// first use, so a Stalwart that is down at start-up only fails the step, not the process.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("stalwart: invalid base URL %q", cfg.BaseURL)
	}
	if cfg.Token == "" {
		return nil, errors.New("stalwart: token is required")
	}
	hc, err := integrations.NewHTTPClient(cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("stalwart: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Client{base: u, token: cfg.Token, http: hc, log: log}, nil
}

// Name implements integrations.Step.
func (c *Client) Name() string { return StepName }

// Transport: one HTTP exchange, logged without headers.

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

// The JMAP session: discovered once, cached until the server says it changed.

// Capability URNs every request names in "using" (docs/ARCHITECTURE.md, "Stalwart").
const (
	capCore     = "urn:ietf:params:jmap:core"
	capStalwart = "urn:stalwart:jmap"
)

// RFC 8620 §2's suggested minimums, used when a session omits a limit.
const (
	fallbackMaxCalls = 16
	fallbackMaxGet   = 500
	fallbackMaxSet   = 500
)

// session is what the client keeps of the JMAP session resource.
type session struct {
	apiURL string
	// accountID is the primary account for urn:stalwart:jmap; empty when the session names none
	// (then calls leave accountId out and Stalwart uses the token's own account).
	accountID string
	state     string
	maxCalls  int
	maxGet    int
	maxSet    int
}

// session returns the cached session, fetching it when there is none.
func (c *Client) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := c.fetchSession(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return s, nil
}

// dropSession forgets s (and only s: another worker may already have fetched a newer one), so
// the next call refetches it.
func (c *Client) dropSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == s {
		c.sess = nil
	}
}

// fetchSession reads /.well-known/jmap. Stalwart answers 307 with an empty body to
// /jmap/session; net/http follows it and keeps the Authorization header because the redirect
// stays on the same host (it would drop it for another host, which is what we want).
func (c *Client) fetchSession(ctx context.Context) (*session, error) {
	target := c.base.JoinPath(".well-known", "jmap").String()
	resp, body, err := c.send(ctx, errSession, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(errSession, resp, body)
	}
	var raw struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
		// primaryAccounts values are ids; decoded loosely so an odd entry does not fail the
		// whole session.
		PrimaryAccounts map[string]any `json:"primaryAccounts"`
		APIURL          string         `json:"apiUrl"`
		State           string         `json:"state"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &integrations.Error{Kind: integrations.Retryable, Op: errSession, Status: resp.StatusCode,
			Message: msgBadResponse, Err: err}
	}
	api, err := resp.Request.URL.Parse(raw.APIURL)
	if err != nil || raw.APIURL == "" || (api.Scheme != "http" && api.Scheme != "https") {
		return nil, integrations.PermanentError(errSession, "session has no usable apiUrl")
	}
	var core struct {
		MaxCallsInRequest int `json:"maxCallsInRequest"`
		MaxObjectsInGet   int `json:"maxObjectsInGet"`
		MaxObjectsInSet   int `json:"maxObjectsInSet"`
	}
	if c, ok := raw.Capabilities[capCore]; ok {
		_ = json.Unmarshal(c, &core)
	}
	s := &session{
		apiURL:   api.String(),
		state:    raw.State,
		maxCalls: orDefault(core.MaxCallsInRequest, fallbackMaxCalls),
		maxGet:   orDefault(core.MaxObjectsInGet, fallbackMaxGet),
		maxSet:   orDefault(core.MaxObjectsInSet, fallbackMaxSet),
	}
	if id, ok := raw.PrimaryAccounts[capStalwart].(string); ok {
		s.accountID = id
	}
	return s, nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
