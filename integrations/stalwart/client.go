package stalwart

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/dezky/platform-api/integrations"
)

// StepName is the step's key in status.steps.
const StepName = "stalwart"

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
