package ocis

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/dezky/platform-api/integrations"
)

// StepName is the key of this step in status.steps.
const StepName = "ocis"

// DefaultGroupPrefix starts the tenant group's display name (AUTHENTIK_GROUP_PREFIX's default,
// so both upstreams name the tenant's group alike).
const DefaultGroupPrefix = "tenant-"

// DefaultScopes are the scopes asked for at the IdP when Config leaves them empty
// (OCIS_TOKEN_SCOPES default "openid profile").
var DefaultScopes = []string{"openid", "profile"}

// Config configures a Client.
type Config struct {
	// BaseURL is the oCIS server's base URL (OCIS_API_URL), e.g. https://cloud.example.com. The
	// client appends /graph/v1.0/... and /graph/v1beta1/...; a trailing /graph is tolerated.
	BaseURL string
	// TokenURL is the IdP's token endpoint (OCIS_TOKEN_URL).
	TokenURL string
	// ClientID and ClientSecret authenticate the client_credentials grant (OCIS_CLIENT_ID/SECRET).
	ClientID     string
	ClientSecret string
	// Scopes are requested with each token. Empty means DefaultScopes.
	Scopes []string
	// GroupPrefix starts the tenant group's name. Empty means DefaultGroupPrefix.
	GroupPrefix string
	// HTTP configures the CA, timeout and transport of every call, token requests included.
	HTTP integrations.HTTPOptions
	// Logger receives one Debug line per upstream call. Nil discards.
	Logger *slog.Logger
}

// Client talks to one oCIS server. It implements integrations.Step and is safe for concurrent
// use.
type Client struct {
	graph       string
	http        *http.Client
	tokens      *tokenCache
	groupPrefix string
	log         *slog.Logger
}

var _ integrations.Step = (*Client)(nil)

const (
	errConfig     = "invalid ocis configuration"
	errHTTPClient = "cannot build ocis http client"
)

// New validates the configuration and builds a Client. It makes no network call.
func New(c Config) (*Client, error) {
	base, err := parseBase(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("%s: BaseURL: %w", errConfig, err)
	}
	if _, err := parseBase(c.TokenURL); err != nil {
		return nil, fmt.Errorf("%s: TokenURL: %w", errConfig, err)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return nil, fmt.Errorf("%s: ClientID and ClientSecret are required", errConfig)
	}
	hc, err := integrations.NewHTTPClient(c.HTTP)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", errHTTPClient, err)
	}
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	prefix := c.GroupPrefix
	if prefix == "" {
		prefix = DefaultGroupPrefix
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		graph: strings.TrimSuffix(base.String(), "/graph") + "/graph",
		http:  hc,
		tokens: &tokenCache{
			cfg: &clientcredentials.Config{
				ClientID:     c.ClientID,
				ClientSecret: c.ClientSecret,
				TokenURL:     c.TokenURL,
				Scopes:       append([]string(nil), scopes...),
				// RFC 6749 §2.3.1: every server must accept HTTP Basic; sending one style avoids
				// the library's auto-detection, which retries a refused secret a second time.
				AuthStyle: oauth2.AuthStyleInHeader,
			},
			http: hc,
			log:  log,
		},
		groupPrefix: prefix,
		log:         log,
	}, nil
}

// Name implements integrations.Step.
func (c *Client) Name() string { return StepName }

// parseBase checks an absolute http(s) URL. Its errors never repeat the URL: a mistyped value
// might carry credentials.
func parseBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("empty")
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	switch {
	case err != nil:
		return nil, errors.New("not a valid URL")
	case u.User != nil:
		return nil, errors.New("credentials in the URL are not allowed")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, errors.New("not an absolute http(s) URL")
	}
	return u, nil
}
