package ocis

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/dezky/platform-api/integrations"
)

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
