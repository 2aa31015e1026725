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
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/dezky/platform-api/integrations"
)

// StepName is the key of this step in status.steps.
const StepName = integrations.StepOCIS

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

// Transport: one libre-graph call with a bearer token, every failure classified.

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
// fresh one. A fresh token refused too is retried with backoff, not recorded as a lasting
// credentials problem: oCIS fetches the IdP's keys again at most once a minute
// (PROXY_OIDC_JWKS_REFRESH_RATE_LIMIT), so right after the IdP rotated its signing key every new
// token is refused for up to a minute (measured on oCIS 7.1). Every failure comes back
// classified as an *integrations.Error.
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
		if status == http.StatusUnauthorized {
			var e *integrations.Error
			if errors.As(err, &e) {
				e.Kind = integrations.Retryable
			}
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

// errMessage is the upstream's message of a classified error, "" for any other error.
func errMessage(err error) string {
	var e *integrations.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// codeItemNotFound is the libre-graph error code of an unknown object.
const codeItemNotFound = "itemNotFound"

// Auth: OAuth2 client_credentials tokens at the IdP, cached.

const errToken = "cannot get ocis access token"

// tokenCache holds the current client_credentials token. It is the oauth2 ReuseTokenSource
// policy (a token counts as expired 10 s early, oauth2.Token.Valid) with two differences a
// controller needs: each fetch runs under the caller's context, so a step timeout also bounds
// the token request, and a token the API refused can be dropped.
type tokenCache struct {
	cfg  *clientcredentials.Config
	http *http.Client
	log  *slog.Logger

	// mu is held across a fetch on purpose: concurrent workers then share one token request
	// instead of stampeding the IdP when the token expires.
	mu  sync.Mutex
	tok *oauth2.Token
}

// token returns a valid access token, fetching one when none is cached or the cached one is
// about to expire. fresh reports whether it was fetched by this call.
func (t *tokenCache) token(ctx context.Context) (tok string, fresh bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok.Valid() {
		return t.tok.AccessToken, false, nil
	}
	// The oauth2.HTTPClient key makes the library use our client: the CA_FILE roots and the
	// per-call timeout apply to the IdP as to oCIS.
	start := time.Now()
	got, err := t.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.http))
	status := 0
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
		status = http.StatusOK
	case errors.As(err, &re) && re.Response != nil:
		status = re.Response.StatusCode
	}
	t.log.LogAttrs(ctx, slog.LevelDebug, "ocis token request",
		slog.String("url", t.cfg.TokenURL),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)))
	if err != nil {
		return "", false, classifyTokenError(err)
	}
	t.tok = got
	return got.AccessToken, true, nil
}

// invalidate drops tok if it is still the cached token (another worker may have replaced it).
func (t *tokenCache) invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == tok {
		t.tok = nil
	}
}

// classifyTokenError turns a failed token request into a typed error. The library's own error
// text embeds the IdP's raw response body, so only the RFC 6749 error code and description are
// kept: neither can hold our client secret.
func classifyTokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := re.ErrorCode
		if re.ErrorDescription != "" {
			if msg != "" {
				msg += ": "
			}
			msg += re.ErrorDescription
		}
		if msg == "" {
			msg = http.StatusText(re.Response.StatusCode)
		}
		status := re.Response.StatusCode
		if status == http.StatusNotFound {
			// A missing token endpoint is a configuration error, not an absent object.
			return &integrations.Error{Kind: integrations.Permanent, Op: errToken, Status: status, Message: msg}
		}
		return integrations.StatusError(errToken, status, re.Response.Header, msg)
	}
	// Network failures and malformed answers alike: nothing says the IdP refused us, so retry.
	return integrations.TransportError(errToken, err)
}
