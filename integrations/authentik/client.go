package authentik

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
	"sort"
	"strings"
	"time"

	"github.com/dezky/platform-api/integrations"
)

// DefaultGroupPrefix is prepended to a tenant's slug to name its group (AUTHENTIK_GROUP_PREFIX).
const DefaultGroupPrefix = "tenant-"

// apiPath is the API root every Authentik install serves.
const apiPath = "/api/v3"

// StepName is the step's key in status.steps.
const StepName = integrations.StepAuthentik

const (
	errBaseURL = "invalid authentik base URL"
	errToken   = "authentik API token is empty"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API base ending in /api/v3 (AUTHENTIK_API_URL). A URL whose path does not
	// end in /api/v3, such as a bare host, gets /api/v3 appended.
	BaseURL string
	// Token is the API token sent as "Authorization: Bearer <Token>" (AUTHENTIK_API_TOKEN). It
	// needs an intent=api token or a goauthentik.io/api-scoped access token. Required.
	Token string
	// GroupPrefix is prepended to the slug to name the tenant's group. Empty means
	// DefaultGroupPrefix ("tenant-").
	GroupPrefix string
	// HTTP configures the underlying HTTP client (CA file, per-call timeout, test transport).
	HTTP integrations.HTTPOptions
	// Logger receives one Debug record per upstream call. Nil discards.
	Logger *slog.Logger
}

// Client talks to one Authentik install. It implements integrations.Step and is safe for
// concurrent use.
type Client struct {
	base   string // scheme://host[/path]/api/v3, no trailing slash
	token  string
	prefix string
	http   *http.Client
	log    *slog.Logger
}

var _ integrations.Step = (*Client)(nil)

// New builds a Client from cfg. It fails on a malformed base URL, an empty token or an
// unreadable CA file; it does not contact Authentik.
func New(cfg Config) (*Client, error) {
	base, err := apiBase(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", errBaseURL, err)
	}
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New(errToken)
	}
	hc, err := integrations.NewHTTPClient(cfg.HTTP)
	if err != nil {
		return nil, err
	}
	prefix := cfg.GroupPrefix
	if prefix == "" {
		prefix = DefaultGroupPrefix
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Client{base: base, token: cfg.Token, prefix: prefix, http: hc, log: log}, nil
}

// Name implements integrations.Step.
func (c *Client) Name() string { return StepName }

// GroupName is the name of the tenant group for slug.
func (c *Client) GroupName(slug string) string { return c.prefix + slug }

// apiBase normalises the configured URL to the API root: http(s) with a host, no query, and a
// path ending in /api/v3 (appended when missing, so "https://ak.example.com" works).
func apiBase(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	if u.User != nil {
		return "", errors.New("credentials in the URL are not supported; use the token")
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, apiPath) {
		p += apiPath
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = p, "", "", ""
	return u.String(), nil
}

// Transport: one API call, every failure classified.

// maxResponse bounds how much of a response is read: a page of 100 groups with their members
// fits easily, a runaway body does not exhaust memory.
const maxResponse = 8 << 20

// maxMessage bounds an upstream error text copied into a status message.
const maxMessage = 300

const msgMalformedResponse = "malformed response"

// request is one API call. path is relative to the API root ("/core/groups/").
type request struct {
	op     string
	method string
	path   string
	query  url.Values
	body   any
}

// do performs one call and decodes a 2xx JSON answer into out (nil: ignore the body). Every
// failure comes back classified: transport problems and timeouts are retryable, HTTP errors
// are classified by integrations.StatusError with Authentik's own message. The token is sent
// only in the Authorization header and never logged.
func (c *Client) do(ctx context.Context, r request, out any) error {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return integrations.PermanentError(r.op, err.Error())
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return integrations.PermanentError(r.op, err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.DebugContext(ctx, "authentik call", "method", r.method, "path", r.path,
			"duration", time.Since(start), "error", err)
		return integrations.TransportError(r.op, err)
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	c.log.DebugContext(ctx, "authentik call", "method", r.method, "path", r.path,
		"status", resp.StatusCode, "duration", time.Since(start))
	if readErr != nil {
		return integrations.TransportError(r.op, readErr)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return integrations.StatusError(r.op, resp.StatusCode, resp.Header, errorMessage(raw))
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A 2xx we cannot read (a proxy's HTML page, a truncated body) says nothing about the
		// request's validity: back off and look again.
		return &integrations.Error{Kind: integrations.Retryable, Op: r.op, Status: resp.StatusCode,
			Message: msgMalformedResponse, Err: err}
	}
	return nil
}

// errorMessage extracts Authentik's explanation from an error body: GenericError's detail, or a
// ValidationError's messages as "field: message" pairs (non_field_errors without a prefix),
// sorted for stable status messages. A non-JSON body contributes its text when it is short
// plain text, nothing when it is an HTML error page.
func errorMessage(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		if raw[0] == '<' {
			return ""
		}
		return truncate(strings.Join(strings.Fields(string(raw)), " "))
	}
	switch t := v.(type) {
	case map[string]any:
		if d, ok := t["detail"].(string); ok {
			return truncate(d)
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			if k != "code" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			msg := flatten(t[k])
			if k != "non_field_errors" {
				msg = k + ": " + msg
			}
			parts = append(parts, msg)
		}
		return truncate(strings.Join(parts, "; "))
	default:
		return truncate(flatten(t))
	}
}

// flatten renders a DRF error value (a string, a list of strings, or nested objects).
func flatten(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		parts := make([]string, 0, len(t))
		for _, x := range t {
			parts = append(parts, flatten(x))
		}
		return strings.Join(parts, " ")
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+flatten(t[k]))
		}
		return strings.Join(parts, "; ")
	default:
		return fmt.Sprint(t)
	}
}

// truncate shortens s to at most maxMessage bytes without splitting a character.
func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := 0
	for i := range s {
		if i > maxMessage {
			break
		}
		cut = i
	}
	return s[:cut] + "…"
}
