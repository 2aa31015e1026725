// Package devstack assembles the one-command local stack: an embedded FerretDB whose data
// survives restarts, the three upstream simulators, a dev OIDC issuer and platform-api itself
// (the production wiring of internal/app). cmd/devstack runs it for `make run`; end-to-end tests
// run it with temporary directories and random ports.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/dezky/platform-api/httpapi/devissuer"
	"github.com/dezky/platform-api/integrations/sim/authentik"
	"github.com/dezky/platform-api/integrations/sim/ocis"
	"github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/internal/app"
	"github.com/dezky/platform-api/internal/config"
	"github.com/dezky/platform-api/internal/embedmongo"
)

// Dev identities and secrets. They protect nothing: every server listens on loopback only.
const (
	AuthentikToken   = "dev-authentik-token"
	StalwartToken    = "dev-stalwart-token"
	OCISClientID     = "platform-api"
	OCISClientSecret = "dev-ocis-secret"
	UserSub          = "dev-user"
	UserEmail        = "dev@dezky.test"
	OperatorSub      = "dev-operator"
	PortalAudience   = "portal"
	OperatorAudience = "operator-console"
	PartnerAudience  = "partner-api"
)

// Options configures Start. Zero values mean the documented defaults.
type Options struct {
	// DataDir keeps FerretDB's SQLite files. Defaults to .devdata.
	DataDir string
	// MongoAddr is where FerretDB listens. Defaults to 127.0.0.1:27018 (not 27017, so a real
	// mongod on the machine is left alone).
	MongoAddr string
	// HTTPAddr is platform-api's address. Defaults to HTTP_ADDR or :3001.
	HTTPAddr string
	// Getenv overrides platform-api settings (LOG_LEVEL, RESYNC_INTERVAL, ...) on top of the
	// dev defaults. Nil means no overrides.
	Getenv func(string) string
	// Logger receives platform-api's and the stack's logs.
	Logger *slog.Logger
	// Version is reported by /health.
	Version string
}

// Stack is a running dev stack.
type Stack struct {
	MongoURI string
	APIURL   string
	Issuer   *devissuer.Issuer

	Authentik *authentiksim.Server
	Stalwart  *stalwartsim.Server
	OCIS      *ocissim.Server

	AuthentikURL, StalwartURL, OCISURL string

	done    chan error
	cleanup []func()
}

// Start brings everything up and returns once platform-api listens. Cancel ctx to stop it, then
// Wait.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.DataDir == "" {
		o.DataDir = ".devdata"
	}
	if o.MongoAddr == "" {
		o.MongoAddr = "127.0.0.1:27018"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stack{done: make(chan error, 1)}
	fail := func(err error) (*Stack, error) { s.stop(); return nil, err }

	mongo, err := embedmongo.Start(ctx, filepath.Join(o.DataDir, "ferretdb"), o.MongoAddr, nil)
	if err != nil {
		return fail(fmt.Errorf("embedded FerretDB on %s: %w", o.MongoAddr, err))
	}
	s.cleanup = append(s.cleanup, mongo.Stop)
	s.MongoURI = mongo.URI

	s.Authentik = authentiksim.New(authentiksim.Options{Token: AuthentikToken})
	s.Authentik.AddUser("dev", UserEmail)
	s.Stalwart = stalwartsim.New(stalwartsim.Options{Token: StalwartToken})
	s.OCIS = ocissim.New(ocissim.Options{ClientID: OCISClientID, ClientSecret: OCISClientSecret, TokenTTL: 10 * time.Minute})
	if s.AuthentikURL, err = s.serve(s.Authentik); err != nil {
		return fail(err)
	}
	if s.StalwartURL, err = s.serve(s.Stalwart); err != nil {
		return fail(err)
	}
	if s.OCISURL, err = s.serve(s.OCIS); err != nil {
		return fail(err)
	}
	if s.Issuer, err = devissuer.New(devissuer.Options{TokenTTL: 12 * time.Hour}); err != nil {
		return fail(err)
	}
	issuerURL, err := s.serve(s.Issuer)
	if err != nil {
		return fail(err)
	}
	s.Issuer.SetURL(issuerURL)

	defaults := map[string]string{
		"MONGO_URI": mongo.URI, "MONGO_DB": "dezky", "HTTP_ADDR": ":3001", "LOG_FORMAT": "text",
		"POLL_INTERVAL": "500ms", "RESYNC_INTERVAL": "1m", "STEP_TIMEOUT": "10s",
		"OIDC_ISSUER_URL": issuerURL, "OIDC_AUDIENCES": strings.Join([]string{PortalAudience, OperatorAudience, PartnerAudience}, ","),
		"OIDC_OPERATOR_AUDIENCES": OperatorAudience,
		"AUTHENTIK_API_URL":       s.AuthentikURL + "/api/v3", "AUTHENTIK_API_TOKEN": AuthentikToken,
		"STALWART_API_URL": s.StalwartURL, "STALWART_API_TOKEN": StalwartToken,
		"OCIS_API_URL": s.OCISURL, "OCIS_TOKEN_URL": ocissim.TokenURL(s.OCISURL),
		"OCIS_CLIENT_ID": OCISClientID, "OCIS_CLIENT_SECRET": OCISClientSecret,
	}
	if o.HTTPAddr != "" {
		defaults["HTTP_ADDR"] = o.HTTPAddr
	}
	getenv := func(k string) string {
		if o.Getenv != nil {
			if v := o.Getenv(k); v != "" {
				return v
			}
		}
		return defaults[k]
	}
	cfg, err := config.Load(getenv, nil)
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fail(fmt.Errorf("platform-api on %s: %w", cfg.HTTPAddr, err))
	}
	s.APIURL = "http://" + loopbackAddr(ln.Addr())
	runCtx, cancel := context.WithCancel(ctx)
	s.cleanup = append([]func(){cancel}, s.cleanup...)
	go func() {
		// One Mongo connection: FerretDB's updates are read-modify-write, and one connection
		// serialises this process's writes (docs/ARCHITECTURE.md, "FerretDB limits").
		s.done <- app.Run(runCtx, app.Options{Config: cfg, Logger: o.Logger, Version: o.Version, MaxPoolSize: 1, Listener: ln})
	}()
	if err := waitHealthy(ctx, s.APIURL, s.done); err != nil {
		return fail(err)
	}
	return s, nil
}

// serve runs h on a loopback port and returns its base URL.
func (s *Stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.cleanup = append(s.cleanup, func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), nil
}

// Wait blocks until platform-api has stopped (after ctx is cancelled), then stops the rest.
func (s *Stack) Wait() error {
	err := <-s.done
	s.stop()
	return err
}

func (s *Stack) stop() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}

// UserToken mints a portal token for the dev user.
func (s *Stack) UserToken() (string, error) {
	return s.Issuer.Mint(map[string]any{
		"sub": UserSub, "email": UserEmail, "name": "Dev User", "groups": []string{}, "aud": PortalAudience,
	})
}

// OperatorToken mints an operator-console token for a member of the operator group.
func (s *Stack) OperatorToken() (string, error) {
	return s.Issuer.Mint(map[string]any{
		"sub": OperatorSub, "email": "ops@dezky.test", "name": "Dev Operator",
		"groups": []string{"dezky-operators"}, "aud": OperatorAudience,
	})
}

func loopbackAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return a.String()
}

// waitHealthy polls /health until platform-api answers, or it exits, or 30s pass.
func waitHealthy(ctx context.Context, base string, done chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("platform-api stopped during start-up: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := http.Get(base + "/health"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond) // polling a server that is starting
	}
	return errors.New("platform-api did not answer /health within 30s")
}
