package authentik

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// DefaultGroupPrefix is prepended to a tenant's slug to name its group (AUTHENTIK_GROUP_PREFIX).
const DefaultGroupPrefix = "tenant-"

// apiPath is the API root every Authentik install serves.
const apiPath = "/api/v3"

// StepName is the step's key in status.steps.
const StepName = "authentik"

const (
	errBaseURL = "invalid authentik base URL"
	errToken   = "authentik API token is empty"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API base ending in /api/v3 (AUTHENTIK_API_URL). A URL whose path does not
	// end in /api/v3, such as a bare host, gets /api/v3 appended (DESIGN §10).
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
