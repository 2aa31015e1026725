package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dezky/platform-api/controller"
	"github.com/dezky/platform-api/httpapi"
	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/internal/config"
	"github.com/dezky/platform-api/store"
)

// ServiceName is the health identifier the portal and existing deployments check.
const ServiceName = "dezky-platform-api"

// shutdownTimeout bounds draining HTTP requests and in-flight reconciles on SIGTERM; Kubernetes'
// default grace period is 30s, so this leaves room for the store to close.
const shutdownTimeout = 20 * time.Second

// Options are what Run needs besides the config.
type Options struct {
	Config  config.Config
	Logger  *slog.Logger
	Version string
	// MaxPoolSize caps Mongo connections (the dev stack sets 1 for embedded FerretDB).
	MaxPoolSize uint64
	// Listener, when set, is used instead of listening on Config.HTTPAddr (tests, dev stack).
	Listener net.Listener
	// OnListening is called with the bound address once the HTTP server accepts connections.
	OnListening func(addr string)
}

// Run starts everything the mode asks for and blocks until ctx is cancelled, then shuts down
// cleanly: stop accepting, drain requests, drain the controller's in-flight reconciles, close
// the store. A start-up failure is returned at once with a message naming its cause.
func Run(ctx context.Context, o Options) error {
	cfg, log := o.Config, o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := store.Open(ctx, store.Options{URI: cfg.MongoURI, Database: cfg.MongoDB, MaxPoolSize: o.MaxPoolSize})
	if err != nil {
		return fmt.Errorf("store (MONGO_URI): %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = st.Close(cctx)
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var ctrl *controller.Controller
	if cfg.RunsController() {
		um, err := integrations.NewUpstreamMetrics(reg, integrations.StepNames())
		if err != nil {
			return fmt.Errorf("upstream metrics: %w", err)
		}
		steps, err := BuildSteps(cfg, log, um)
		if err != nil {
			return err
		}
		ctrl = controller.New(st, steps, controller.Options{
			Workers: cfg.Workers, PollInterval: cfg.PollInterval, ResyncInterval: cfg.ResyncInterval,
			StepTimeout: cfg.StepTimeout, LeaseDuration: cfg.LeaseDuration, LeaseRenew: cfg.LeaseRenew,
			ResyncMode: cfg.ResyncMode, Logger: log, Registerer: reg,
		})
	}

	handler, err := buildHandler(ctx, o, st, reg, ctrl)
	if err != nil {
		return err
	}

	ln := o.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen (HTTP_ADDR=%s): %w", cfg.HTTPAddr, err)
		}
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	if ctrl != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ctrl.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("controller: %w", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	log.Info("platform-api started", "addr", ln.Addr().String(), "mode", cfg.Mode, "version", o.Version, "db", cfg.MongoDB)
	if o.OnListening != nil {
		o.OnListening(ln.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("stopping after a fatal error", "err", runErr)
	}
	sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	cancel()
	wg.Wait()
	log.Info("stopped")
	return runErr
}

func buildHandler(ctx context.Context, o Options, st *store.Store, reg *prometheus.Registry, ctrl *controller.Controller) (http.Handler, error) {
	cfg := o.Config
	var readiness httpapi.Readiness
	if ctrl != nil {
		readiness = ctrl
	}
	if !cfg.RunsAPI() {
		probes, err := httpapi.New(ctx, httpapi.Config{
			Store: st, Version: o.Version, Logger: o.Logger.With("component", "http"),
			Registerer: reg, Gatherer: reg, Controller: readiness, ProbesOnly: true,
		})
		if err != nil {
			return nil, fmt.Errorf("http probes: %w", err)
		}
		return probes.Handler(), nil
	}
	oidcClient, err := integrations.NewHTTPClient(integrations.HTTPOptions{CAFile: cfg.CAFile})
	if err != nil {
		return nil, fmt.Errorf("CA_FILE: %w", err)
	}
	if cfg.AuthDisabled {
		o.Logger.Warn("AUTH_DISABLED=true: every request is served as a dev operator; never run this in production")
	}
	api, err := httpapi.New(ctx, httpapi.Config{
		Store: st, Version: o.Version, Logger: o.Logger.With("component", "http"),
		Registerer: reg, Gatherer: reg, Steps: integrations.StepNames(), Controller: readiness,
		Auth: httpapi.AuthConfig{
			IssuerURL: cfg.OIDCIssuerURL, Audiences: cfg.OIDCAudiences, OperatorAudiences: cfg.OIDCOperatorAudiences,
			OperatorGroup: cfg.OperatorGroup, Disabled: cfg.AuthDisabled, HTTPClient: oidcClient,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("http api: %w", err)
	}
	return api.Handler(), nil
}
