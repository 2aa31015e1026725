package ocissim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tokenError is an RFC 6749 §5.2 error response.
type tokenError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// token is the IdP's token endpoint: client_credentials only, client authentication by HTTP
// Basic (RFC 6749 §2.3.1, form-urlencoded id and secret) or by client_id/client_secret in the
// form body, never both. It issues opaque random bearer tokens.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeTokenError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	form := r.PostForm

	id, secret, basic, err := clientCredentials(r, form)
	if err != nil {
		writeTokenError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if !s.validClient(id, secret) {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="ocis-sim-idp"`)
		}
		writeTokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		writeTokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	case "client_credentials":
	default:
		writeTokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type "+gt+" is not supported")
		return
	}

	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	ttl := s.opts.TokenTTL
	scopes := strings.Fields(form.Get("scope"))

	s.mu.Lock()
	now := time.Now()
	s.tokens[tok] = &accessToken{issued: now, expires: now.Add(ttl)}
	s.issued++
	s.lastScopes = scopes
	s.mu.Unlock()

	expiresIn := int64(ttl / time.Second)
	if expiresIn < 1 {
		expiresIn = 1
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: tok, TokenType: "Bearer", ExpiresIn: expiresIn, Scope: strings.Join(scopes, " "),
	})
}

// clientCredentials extracts the client's id and secret; using both methods at once is an
// invalid_request (RFC 6749 §2.3).
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool, err error) {
	hid, hsecret, hasBasic := r.BasicAuth()
	_, formHasSecret := form["client_secret"]
	if hasBasic && formHasSecret {
		return "", "", true, errString("more than one client authentication method")
	}
	if hasBasic {
		return formDecode(hid), formDecode(hsecret), true, nil
	}
	return form.Get("client_id"), form.Get("client_secret"), false, nil
}

// formDecode undoes the form-urlencoding RFC 6749 §2.3.1 applies inside Basic credentials.
func formDecode(v string) string {
	if d, err := url.QueryUnescape(v); err == nil {
		return d
	}
	return v
}

func (s *Server) validClient(id, secret string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	return id != "" && idOK && secretOK
}

type errString string

func (e errString) Error() string { return string(e) }

func writeTokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, tokenError{Error: code, ErrorDescription: desc})
}

// TokensIssued counts the access tokens the token endpoint has issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// LastTokenScopes returns the scopes asked for by the last successful token request.
func (s *Server) LastTokenScopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lastScopes...)
}

// ExpireTokens makes every issued token expired now, as an IdP restart or key rotation would
// leave a client holding a token the API no longer accepts.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.tokens {
		t.expires = past
	}
}

// accessToken is one issued token.
type accessToken struct {
	issued  time.Time
	expires time.Time
	// used is set once oCIS accepted the token: its proxy caches the claims of a verified token
	// (by the token's hash, until it expires) and does not verify it again.
	used bool
}

// RotateIssuerKeys imitates the IdP rotating its signing key as oCIS sees it: oCIS fetches the
// IdP's keys again at most once per jwksLag (PROXY_OIDC_JWKS_REFRESH_RATE_LIMIT, 60 s by
// default), so tokens issued from now on are refused (401) until jwksLag has passed. Tokens
// oCIS already accepted keep working from its claims cache; issued ones never used are refused
// for good, their key being gone.
func (s *Server) RotateIssuerKeys(jwksLag time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keysRotated, s.jwksLag = time.Now(), jwksLag
}

// accept decides whether the API takes t at now, and marks it used; the caller holds s.mu.
func (s *Server) accept(t *accessToken, now time.Time) bool {
	switch {
	case t == nil || !now.Before(t.expires):
		return false
	case t.used:
		return true
	case t.issued.Before(s.keysRotated):
		// Signed by the retired key, and never verified while that key was published.
		return false
	case now.Before(s.keysRotated.Add(s.jwksLag)):
		// Signed by the new key, which oCIS has not fetched yet.
		return false
	}
	t.used = true
	return true
}
