package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"

	"github.com/dezky/platform-api/store"
)

// DefaultOperatorGroup is the groups-claim value that, with an operator audience, makes a
// caller an operator.
const DefaultOperatorGroup = "dezky-operators"

// signingAlgs are the only algorithms a token may use: asymmetric ones, so a verifier never
// treats a public key as an HMAC secret, and never "none".
func signingAlgs() []string {
	return []string{
		oidc.RS256, oidc.RS384, oidc.RS512,
		oidc.ES256, oidc.ES384, oidc.ES512,
		oidc.PS256, oidc.PS384, oidc.PS512,
	}
}

const (
	// discoveryRetry is the least time between two discovery attempts while the issuer is
	// unreachable: requests meanwhile get 503 at once instead of each waiting on the network.
	discoveryRetry = 5 * time.Second
	// discoveryTimeout bounds one discovery attempt made on demand.
	discoveryTimeout = 10 * time.Second
	// discoveryAtStart bounds the attempt in New, so start-up is delayed little by a dead IdP.
	discoveryAtStart = 5 * time.Second
	// devSubject is who every request is when auth is disabled.
	devSubject = "dev-operator"
)

// principal is the authenticated caller.
type principal struct {
	Subject string
	Email   string
	Name    string
	Groups  []string
	// Audiences the token was issued for.
	Audiences []string
	// Operator: an operator audience and the operator group.
	Operator bool
	// PartnerAdminOf lists the partners whose admin the caller is (partner:<slug>:admin).
	PartnerAdminOf []string
}

func (p *principal) isPartnerAdmin(slug string) bool {
	return slug != "" && slices.Contains(p.PartnerAdminOf, slug)
}

const ctxKeyPrincipal = "httpapi.principal"

func principalOf(c echo.Context) *principal {
	p, _ := c.Get(ctxKeyPrincipal).(*principal)
	return p
}

// authenticator verifies bearer tokens. Discovery is lazy: New tries it once, and while the
// issuer cannot be reached every request retries it (at most once per discoveryRetry) and
// gets 503, so a briefly unavailable IdP does not stop the process from starting. Keys come
// from a keySet, which re-reads the JWKS when a token names a kid it does not know, at most
// once per KeyRefetchInterval: a rotation at the issuer needs no restart, and made-up kids
// cannot turn the API against the IdP.
type authenticator struct {
	cfg         AuthConfig
	accepted    []string
	log         *slog.Logger
	clientCtx   context.Context
	verifierCfg *oidc.Config
	// retryEvery is discoveryRetry; tests shorten it.
	retryEvery time.Duration

	mu          sync.Mutex
	verifier    *oidc.IDTokenVerifier
	lastAttempt time.Time
	lastErr     error
}

func newAuthenticator(ctx context.Context, cfg AuthConfig, log *slog.Logger) (*authenticator, error) {
	if cfg.OperatorGroup == "" {
		cfg.OperatorGroup = DefaultOperatorGroup
	}
	if cfg.KeyRefetchInterval <= 0 {
		cfg.KeyRefetchInterval = defaultKeyRefetch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	a := &authenticator{cfg: cfg, log: log, retryEvery: discoveryRetry}
	if cfg.Disabled {
		log.Warn("AUTHENTICATION IS DISABLED: every request acts as an operator; never run this way outside a dev machine",
			"subject", devSubject)
		return a, nil
	}
	a.accepted = dedupe(append(slices.Clone(cfg.Audiences), cfg.OperatorAudiences...))
	switch {
	case cfg.IssuerURL == "":
		return nil, errors.New("auth not configured: OIDC_ISSUER_URL is empty (set AUTH_DISABLED=true only for local development)")
	case len(a.accepted) == 0:
		return nil, errors.New("auth not configured: OIDC_AUDIENCES is empty (set AUTH_DISABLED=true only for local development)")
	}
	// Discovery on demand outlives the start-up context.
	a.clientCtx = context.WithoutCancel(ctx)
	// The audience is checked by us against a list, so go-oidc's single-client check is off.
	a.verifierCfg = &oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: signingAlgs()}
	startCtx, cancel := context.WithTimeout(ctx, discoveryAtStart)
	defer cancel()
	if _, err := a.getVerifier(startCtx); err != nil {
		log.Warn("OIDC discovery failed at start; retrying on demand (authenticated requests get 503 until it succeeds)",
			"issuer", cfg.IssuerURL, "error", err)
	}
	return a, nil
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// getVerifier returns the verifier, running discovery first if it has not succeeded yet. ctx
// bounds that discovery; requests pass a context detached from themselves (see authenticate),
// so one impatient client cannot record a failure that makes everyone wait discoveryRetry.
func (a *authenticator) getVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		return a.verifier, nil
	}
	if !a.lastAttempt.IsZero() && time.Since(a.lastAttempt) < a.retryEvery {
		return nil, a.lastErr
	}
	a.lastAttempt = time.Now()
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, a.cfg.HTTPClient), a.cfg.IssuerURL)
	if err != nil {
		a.lastErr = fmt.Errorf("oidc discovery at %s: %w", a.cfg.IssuerURL, err)
		return nil, a.lastErr
	}
	// go-oidc checked that the document's issuer is the one configured.
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURL string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURL == "" {
		a.lastErr = fmt.Errorf("oidc discovery at %s: no jwks_uri (%v)", a.cfg.IssuerURL, err)
		return nil, a.lastErr
	}
	keys := newKeySet(meta.JWKSURL, a.cfg.HTTPClient, a.cfg.KeyRefetchInterval, a.cfg.Now, signingAlgs(), a.log)
	a.verifier = oidc.NewVerifier(meta.Issuer, keys, a.verifierCfg)
	a.lastErr = nil
	a.log.Info("OIDC discovery done", "issuer", a.cfg.IssuerURL, "audiences", a.accepted)
	return a.verifier, nil
}

// ready reports the discovery state for /ready's details.
func (a *authenticator) ready() string {
	if a.cfg.Disabled {
		return "disabled"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		return "ok"
	}
	return "discovery pending"
}

// tokenClaims are the claims we read beyond the registered ones.
type tokenClaims struct {
	Subject           string      `json:"sub"`
	Email             string      `json:"email"`
	Name              string      `json:"name"`
	PreferredUsername string      `json:"preferred_username"`
	Groups            stringOrSet `json:"groups"`
}

// stringOrSet accepts a claim given as one string or an array of strings, as IdPs differ.
type stringOrSet []string

// UnmarshalJSON accepts "g" and ["g1", "g2"].
func (s *stringOrSet) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("groups must be a string or an array of strings: %w", err)
	}
	*s = many
	return nil
}

// unauthorized is a 401 with the RFC 6750 challenge; error="invalid_token" when a token was
// presented but is no good.
func unauthorized(detail string, invalidToken bool) *Problem {
	p := newProblem(http.StatusUnauthorized, problemUnauthorized, detail)
	challenge := `Bearer realm="dezky-platform-api"`
	if invalidToken {
		challenge += `, error="invalid_token", error_description="` + strings.ReplaceAll(detail, `"`, `'`) + `"`
	}
	return p.withHeader("WWW-Authenticate", challenge)
}

// authenticate reads and verifies the bearer token of a request.
func (a *authenticator) authenticate(ctx context.Context, header string) (*principal, error) {
	if a.cfg.Disabled {
		return &principal{
			Subject: devSubject, Email: devSubject + "@localhost", Name: "Dev Operator",
			Groups: []string{a.cfg.OperatorGroup}, Operator: true,
		}, nil
	}
	if header == "" {
		return nil, unauthorized("a bearer token is required", false)
	}
	scheme, raw, ok := strings.Cut(header, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || strings.ContainsAny(raw, " \t") {
		return nil, unauthorized("the Authorization header must be 'Bearer <token>'", true)
	}
	dctx, cancel := context.WithTimeout(a.clientCtx, discoveryTimeout)
	defer cancel()
	verifier, err := a.getVerifier(dctx)
	if err != nil {
		return nil, newProblem(http.StatusServiceUnavailable, problemBlank, "the identity provider cannot be reached; try again shortly").
			withHeader("Retry-After", "5").withCause(err)
	}
	tok, err := verifier.Verify(ctx, raw)
	if err != nil && ctx.Err() != nil {
		// The request ran out of time (or the client left) while keys were being fetched:
		// that says nothing about the token, so it is not a 401.
		return nil, fmt.Errorf("verify token: %w", ctx.Err())
	}
	if err != nil && strings.Contains(err.Error(), errKeysUnavailable) {
		// No key was ever loaded: that says nothing about the token either.
		return nil, newProblem(http.StatusServiceUnavailable, problemBlank, "the identity provider cannot be reached; try again shortly").
			withHeader("Retry-After", "5").withCause(err)
	}
	if err != nil {
		// go-oidc's message says what was wrong (expired, issuer, signature); it names no
		// secret, and a client debugging its token needs it.
		return nil, unauthorized(tokenErrorDetail(err), true).withCause(err)
	}
	if !intersects(tok.Audience, a.accepted) {
		return nil, unauthorized("the token's audience is not accepted here", true)
	}
	var cl tokenClaims
	if err := tok.Claims(&cl); err != nil {
		return nil, unauthorized("the token's claims are malformed", true).withCause(err)
	}
	if cl.Subject == "" {
		return nil, unauthorized("the token has no subject", true)
	}
	if len(cl.Subject) > store.MaxSubjectLen {
		// An identity no tenant could hold as its owner: refused here, or a create would
		// answer 422 about owner.sub, a field the caller never sent.
		return nil, unauthorized("the token's subject is too long", true)
	}
	p := &principal{
		Subject: cl.Subject, Email: cl.Email, Name: cl.Name, Groups: []string(cl.Groups),
		Audiences: tok.Audience,
	}
	if p.Name == "" {
		p.Name = cl.PreferredUsername
	}
	p.Operator = intersects(tok.Audience, a.cfg.OperatorAudiences) && slices.Contains(p.Groups, a.cfg.OperatorGroup)
	for _, g := range p.Groups {
		if slug, ok := partnerAdminGroup(g); ok {
			p.PartnerAdminOf = append(p.PartnerAdminOf, slug)
		}
	}
	return p, nil
}

// partnerAdminGroup parses "partner:<slug>:admin".
func partnerAdminGroup(g string) (string, bool) {
	rest, ok := strings.CutPrefix(g, "partner:")
	if !ok {
		return "", false
	}
	slug, ok := strings.CutSuffix(rest, ":admin")
	if !ok || slug == "" || strings.Contains(slug, ":") {
		return "", false
	}
	return slug, true
}

func tokenErrorDetail(err error) string {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp) && exp.Expiry.IsZero():
		// go-oidc reads a missing exp as the zero time, long expired.
		return "the token has no expiry"
	case errors.As(err, &exp):
		return "the token has expired"
	case strings.Contains(msg, "nbf"):
		return "the token is not valid yet"
	case strings.Contains(msg, "different provider"):
		return "the token was issued by another issuer"
	case strings.Contains(msg, "malformed jwt"):
		return "the token is malformed or uses an algorithm not accepted here"
	case strings.Contains(msg, errUnknownKeyID):
		return "the token's key id is not one the issuer publishes"
	case strings.Contains(msg, "verify signature"):
		return "the token's signature does not verify"
	}
	return "the token is not valid"
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// requireAuth authenticates the caller of a route.
func (s *Server) requireAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.auth.authenticate(c.Request().Context(), c.Request().Header.Get(echo.HeaderAuthorization))
		if err != nil {
			return err
		}
		c.Set(ctxKeyPrincipal, p)
		return next(c)
	}
}

// requireOperator guards /operator/* and partner management: an operator audience and the
// operator group, both. An operator's portal token is an ordinary user here.
func (s *Server) requireOperator(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := principalOf(c); p == nil || !p.Operator {
			return forbidden("this route needs an operator token (an operator audience and the operator group)")
		}
		return next(c)
	}
}
