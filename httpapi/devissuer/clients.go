package devissuer

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Paths of the OAuth2 endpoints, relative to the issuer URL.
const (
	// TokenPath is the OAuth2 token endpoint (client_credentials only).
	TokenPath = "/token"
	// UserinfoPath is the OpenID Connect userinfo endpoint.
	UserinfoPath = "/userinfo"
)

// maxForm bounds a token request body: a client_credentials form is a few hundred bytes.
const maxForm = 64 << 10

// Client is an OAuth2 client registered for the client_credentials grant: a machine identity
// such as platform-api's oCIS service account.
type Client struct {
	// ID and Secret authenticate the client (RFC 6749 §2.3.1).
	ID     string
	Secret string
	// Claims are put into every access token issued to the client and answered by /userinfo,
	// e.g. preferred_username, name, email and roles (oCIS reads its user and role from these).
	// "sub" defaults to ID. The registered claims iss, aud, exp, iat and jti are the issuer's
	// and are ignored here.
	Claims map[string]any
}

// registeredClaims are set by the issuer for every token; a client's Claims cannot override
// them, so a registration can never forge another issuer or a longer lifetime.
var registeredClaims = []string{"iss", "aud", "exp", "iat", "nbf", "jti", "azp"}

// RegisterClient adds a client, or replaces the one with the same ID.
func (i *Issuer) RegisterClient(c Client) error {
	if c.ID == "" || c.Secret == "" {
		return errors.New("devissuer: a client needs an ID and a Secret")
	}
	claims := maps.Clone(c.Claims)
	if claims == nil {
		claims = map[string]any{}
	}
	for _, k := range registeredClaims {
		delete(claims, k)
	}
	if _, ok := claims["sub"]; !ok {
		claims["sub"] = c.ID
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.clients == nil {
		i.clients = map[string]Client{}
	}
	i.clients[c.ID] = Client{ID: c.ID, Secret: c.Secret, Claims: claims}
	return nil
}

// TokensIssued counts the access tokens the token endpoint has issued.
func (i *Issuer) TokensIssued() int {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.issued
}

// tokenResponse is the RFC 6749 §5.1 success body.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// serveToken is the token endpoint: grant_type=client_credentials with the client
// authenticated by HTTP Basic (RFC 6749 §2.3.1, id and secret form-urlencoded first) or by
// client_id and client_secret in the body, never both (§2.3). It answers an RS256 JWT carrying
// the client's claims, aud = the client id.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	id, secret, basic, err := clientAuth(r)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	c, ok := i.authenticate(id, secret)
	if !ok {
		// §5.2: a client that tried Basic gets 401 with the scheme it must use.
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="devissuer"`)
		}
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type "+gt+" is not supported")
		return
	}

	scope := strings.Join(strings.Fields(r.PostForm.Get("scope")), " ")
	claims := maps.Clone(c.Claims)
	claims["aud"] = c.ID
	claims["azp"] = c.ID
	if scope != "" {
		claims["scope"] = scope
	}
	tok, err := i.Mint(claims)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "cannot sign the token")
		return
	}
	i.mu.Lock()
	i.issued++
	i.mu.Unlock()

	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(i.ttl / time.Second), Scope: scope})
}

// clientAuth extracts the client's id and secret from Basic or from the form.
func clientAuth(r *http.Request) (id, secret string, basic bool, err error) {
	hid, hsecret, hasBasic := r.BasicAuth()
	_, formSecret := r.PostForm["client_secret"]
	switch {
	case hasBasic && formSecret:
		return "", "", true, errors.New("more than one client authentication method")
	case hasBasic:
		// §2.3.1: both parts are form-urlencoded before they are joined with a colon.
		id, err1 := url.QueryUnescape(hid)
		secret, err2 := url.QueryUnescape(hsecret)
		if err1 != nil || err2 != nil {
			return "", "", true, errors.New("malformed client credentials")
		}
		return id, secret, true, nil
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), false, nil
}

func (i *Issuer) authenticate(id, secret string) (Client, bool) {
	i.mu.RLock()
	c, ok := i.clients[id]
	i.mu.RUnlock()
	// Compare the secret even for an unknown id, so timing says nothing about which ids exist.
	want := c.Secret
	if !ok {
		want = "\x00no-such-client"
	}
	match := subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
	return c, ok && match
}

// serveUserinfo answers the claims of a valid bearer token this issuer signed (OpenID Connect
// Core §5.3): the token's own claims without the ones that only describe the token. An
// invalid or missing token gets 401 with an RFC 6750 challenge.
func (i *Issuer) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "userinfo takes GET or POST")
		return
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="devissuer"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	claims, err := i.Verify(tok)
	if err != nil {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="devissuer", error="invalid_token", error_description=%q`, err.Error()))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	for _, k := range registeredClaims {
		delete(claims, k)
	}
	delete(claims, "scope")
	writeJSON(w, claims)
}

// verifyAlgs are the algorithms Verify accepts: what Mint signs with the published keys.
var verifyAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256}

// Verify checks a token against the keys currently published, this issuer's "iss" and the
// token's "exp" and "nbf", and returns its claims. It is what a relying party does with the
// JWKS, offered here so the userinfo endpoint and tests need no second implementation.
func (i *Issuer) Verify(token string) (map[string]any, error) {
	jws, err := jose.ParseSignedCompact(token, verifyAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("malformed token: one signature expected")
	}
	set := i.JWKS()
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) == 0 {
		return nil, errors.New("unknown signing key")
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		return nil, fmt.Errorf("bad signature: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("malformed claims: %w", err)
	}
	if iss, _ := claims["iss"].(string); iss != i.URL() {
		return nil, errors.New("token from another issuer")
	}
	now := i.now()
	exp, ok := claims["exp"].(float64)
	if !ok {
		return nil, errors.New("the token has no expiry")
	}
	if !now.Before(time.Unix(int64(exp), 0)) {
		return nil, errors.New("token expired")
	}
	if nbf, ok := claims["nbf"].(float64); ok && now.Before(time.Unix(int64(nbf), 0)) {
		return nil, errors.New("token not yet valid")
	}
	return claims, nil
}

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(oauthError{Error: code, ErrorDescription: desc})
}
