package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dezky/platform-api/store"
)

// ServiceName is the health identifier the portal and deployments already know.
const ServiceName = "dezky-platform-api"

// Config configures New. The zero value of each optional field means the documented default.
type Config struct {
	// Store is required.
	Store *store.Store
	// Version is reported by /health. Defaults to "dev".
	Version string
	// Logger receives access, write and error logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Registerer gets the request metrics; Gatherer is what /metrics serves. When both are nil
	// a private registry serves both; when only one is set and it is a *prometheus.Registry it
	// serves as the other too. No global registry is touched.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Auth configures token verification; required unless Auth.Disabled.
	Auth AuthConfig
	// Steps are the integration step names (the wiring passes integrations.StepNames(); this
	// package does not import integrations), shown as "pending" on a tenant the controller has
	// not reported on yet. Empty shows no steps until the controller reports.
	Steps []string
	// Controller is this process's controller, asked by /ready; nil when the process runs no
	// controller (MODE=api).
	Controller Readiness
	// ProbesOnly serves just /health, /ready, /metrics and /openapi.json, with the same request
	// ids, problem errors and metrics, and needs no auth (MODE=controller runs no API).
	ProbesOnly bool
	// RequestTimeout bounds one request. Defaults to 30s: far above a healthy request (a few
	// store round trips), low enough that a stuck database frees the handler.
	RequestTimeout time.Duration
	// MaxWait caps ?wait on POST /tenants/:slug/reconcile. Defaults to 60s: long enough for a
	// reconcile against slow upstreams, short enough for proxies' idle timeouts.
	MaxWait time.Duration
}

// AuthConfig configures bearer-token verification (docs/ARCHITECTURE.md, "Authentication and authorization").
type AuthConfig struct {
	// IssuerURL is OIDC_ISSUER_URL: discovery and JWKS come from it.
	IssuerURL string
	// Audiences is OIDC_AUDIENCES: a token must carry at least one of these (or of
	// OperatorAudiences) in "aud".
	Audiences []string
	// OperatorAudiences is OIDC_OPERATOR_AUDIENCES: operator routes need one of these in "aud"
	// and OperatorGroup in "groups". They are accepted audiences too.
	OperatorAudiences []string
	// OperatorGroup is OPERATOR_GROUP. Defaults to DefaultOperatorGroup.
	OperatorGroup string
	// Disabled is AUTH_DISABLED: every request acts as a dev operator. Only for a dev machine;
	// New logs a loud warning.
	Disabled bool
	// HTTPClient fetches discovery and the JWKS (e.g. one trusting a custom CA). Defaults to
	// http.DefaultClient.
	HTTPClient *http.Client
	// KeyRefetchInterval is the least time between two JWKS fetches caused by tokens whose
	// key id is unknown; tokens that find the interval running get 401 at once. Defaults to
	// 10s: made-up key ids cannot make the API hammer the IdP, and a key the IdP rotates to
	// is picked up within 10s.
	KeyRefetchInterval time.Duration
	// Now is the clock of that interval. Defaults to time.Now.
	Now func() time.Time
}

// Readiness is what /ready asks the controller. The controller is ready when it runs as leader
// or as a healthy standby; details (e.g. "controller": "standby") are shown as they are.
type Readiness interface {
	Readiness() (ready bool, details map[string]string)
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	echo    *echo.Echo
	auth    *authenticator
	metrics *httpMetrics
	gather  prometheus.Gatherer

	// pollInterval is how often ?wait reads the status document. 100ms: a tenth of a
	// reconcile's typical latency, a handful of cheap _id reads per second per waiter.
	pollInterval time.Duration
	// waiting counts requests blocked in ?wait; tests watch it drop when a client goes away.
	waiting atomic.Int64
	// mongoDown is what /ready last found: the reachability it logs once per change.
	mongoDown atomic.Bool
}

// New builds the server. It fails when auth is neither configured nor explicitly disabled.
// OIDC discovery is tried once here; if the issuer cannot be reached New still succeeds, logs
// a warning, and retries on demand (authenticated requests get 503 until it works), so an IdP
// that is briefly down does not keep the API — and its health checks — from starting.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("httpapi: Config.Store is required")
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 60 * time.Second
	}
	reg, gather := cfg.Registerer, cfg.Gatherer
	if reg == nil && gather == nil {
		r := prometheus.NewRegistry()
		reg, gather = r, r
	}
	if r, ok := reg.(*prometheus.Registry); ok && gather == nil {
		gather = r
	}
	if g, ok := gather.(*prometheus.Registry); ok && reg == nil {
		reg = g
	}
	if reg == nil || gather == nil {
		return nil, errors.New("httpapi: set both Registerer and Gatherer, or a *prometheus.Registry as either")
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, gather: gather, pollInterval: 100 * time.Millisecond}
	var err error
	if s.metrics, err = newHTTPMetrics(reg); err != nil {
		return nil, err
	}
	if !cfg.ProbesOnly {
		if s.auth, err = newAuthenticator(ctx, cfg.Auth, cfg.Logger); err != nil {
			return nil, err
		}
	}
	s.echo = s.newEcho()
	return s, nil
}

// Handler returns the echo instance serving the API.
func (s *Server) Handler() http.Handler { return s.echo }

// Route patterns referred to by middleware.
const routeReconcile = "/tenants/:slug/reconcile"

func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard) // we log through slog; echo's logger would only duplicate
	e.HTTPErrorHandler = s.handleError
	// Order matters: the request id first (everything after logs it), observe next (it writes
	// the error response and then logs and counts it), then panics, the deadline and the body cap.
	e.Use(requestID, s.observe, s.recoverPanics, s.withTimeout, limitBody)

	open := func(method, path string, h echo.HandlerFunc) { e.Add(method, path, h, markMatched) }
	user := func(method, path string, h echo.HandlerFunc) {
		e.Add(method, path, h, markMatched, s.requireAuth, s.requireStore)
	}
	operator := func(method, path string, h echo.HandlerFunc) {
		e.Add(method, path, h, markMatched, s.requireAuth, s.requireOperator, s.requireStore)
	}

	open(http.MethodGet, "/health", s.health)
	open(http.MethodGet, "/ready", s.ready)
	open(http.MethodGet, "/metrics", echo.WrapHandler(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})))
	open(http.MethodGet, "/openapi.json", s.openapi)
	if s.cfg.ProbesOnly {
		return e
	}

	user(http.MethodGet, "/me", s.me)

	user(http.MethodPost, "/tenants", s.createTenant)
	user(http.MethodGet, "/tenants", s.listTenants)
	user(http.MethodGet, "/tenants/:slug", s.getTenant)
	user(http.MethodPatch, "/tenants/:slug", s.patchTenant)
	user(http.MethodDelete, "/tenants/:slug", s.deleteTenant)
	user(http.MethodPost, routeReconcile, s.reconcileTenant)
	user(http.MethodPost, "/tenants/:slug/drift-check", s.driftCheckTenant)
	user(http.MethodGet, "/tenants/:slug/events", s.listEvents)
	user(http.MethodPost, "/tenants/:slug/suspend", s.suspendTenant)
	user(http.MethodPost, "/tenants/:slug/resume", s.resumeTenant)

	operator(http.MethodGet, "/partners", s.listPartners)
	operator(http.MethodPost, "/partners", s.createPartner)
	operator(http.MethodGet, "/partners/:slug", s.getPartner)
	operator(http.MethodPatch, "/partners/:slug", s.patchPartner)
	operator(http.MethodDelete, "/partners/:slug", s.deletePartner)
	user(http.MethodGet, "/partners/:slug/tenants", s.listPartnerTenants)
	user(http.MethodPost, "/partners/:slug/tenants", s.createPartnerTenant)

	operator(http.MethodPost, "/operator/tenants/:slug/pause", s.pauseTenant)
	operator(http.MethodPost, "/operator/tenants/:slug/unpause", s.unpauseTenant)
	operator(http.MethodPost, "/operator/resync", s.resync)
	return e
}

// health is liveness: the process answers. It checks nothing else on purpose, so a database
// outage makes the pod unready, not restarted.
func (s *Server) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "service": ServiceName, "version": s.cfg.Version})
}

// readyTimeout bounds the database ping of /ready; probes usually time out after 1–5s.
const readyTimeout = 2 * time.Second

// ready is readiness: the database answers and, if this process runs a controller, the
// controller runs (as leader or standby). Details are flat members of the body so a probe or
// a human sees "controller": "standby" at a glance.
func (s *Server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	body := map[string]any{"service": ServiceName, "version": s.cfg.Version}
	if s.auth != nil {
		body["auth"] = s.auth.ready()
	}
	ok := true
	err := s.store.Ping(ctx)
	if err != nil {
		ok = false
		// The driver's text names hosts, ports and replica-set members: it goes to the log,
		// not to whoever can reach an unauthenticated probe.
		body["mongo"] = "unreachable"
	} else {
		body["mongo"] = "ok"
	}
	if c.Request().Context().Err() == nil {
		s.noteMongo(ctx, err)
	}
	if s.cfg.Controller == nil {
		body["controller"] = "disabled"
	} else {
		cready, details := s.cfg.Controller.Readiness()
		for k, v := range details {
			if _, taken := body[k]; !taken || k == "controller" {
				body[k] = v
			}
		}
		if _, said := details["controller"]; !said {
			body["controller"] = map[bool]string{true: "running", false: "not running"}[cready]
		}
		ok = ok && cready
	}
	if !ok {
		return newProblem(http.StatusServiceUnavailable, problemBlank, "not ready").withExtra(body)
	}
	body["status"] = "ok"
	return c.JSON(http.StatusOK, body)
}

// noteMongo logs the database's reachability as /ready finds it, once per change: probes ask
// every few seconds, and a line for each would bury the one that says when it went away.
func (s *Server) noteMongo(ctx context.Context, err error) {
	switch {
	case err != nil && s.mongoDown.CompareAndSwap(false, true):
		s.log.WarnContext(ctx, "readiness: mongo unreachable", "error", err)
	case err == nil && s.mongoDown.CompareAndSwap(true, false):
		s.log.InfoContext(ctx, "readiness: mongo reachable again")
	}
}
