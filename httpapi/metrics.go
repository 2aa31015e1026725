package httpapi

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// routeUnmatched labels requests no route matched, so a scanner walking random URLs cannot
// blow up the metric's cardinality.
const routeUnmatched = "unmatched"

// httpMetrics are the HTTP request metrics (docs/ARCHITECTURE.md, "Probes and HTTP metrics").
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "platform_http_requests_total",
			Help: "HTTP requests served, by method, route (the route pattern, not the URL) and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "platform_http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "route"}),
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or reuses the collector already registered under the same name (two
// servers on one registry, as in tests, share their metrics instead of failing).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register metric: %w", err)
	}
	return c, nil
}

// routeOf is the matched route pattern, e.g. "/tenants/:slug".
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return routeUnmatched
}

// observe is the outermost middleware after the request id: it turns a handler's error into
// the response right here (so the status is known), then counts, times and logs the request.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		elapsed := time.Since(start)
		req := c.Request()
		route := routeOf(c)
		// A route echo did not match reports "" or the not-found pattern; either way the
		// status says 404/405, and the label stays bounded.
		if c.Response().Status == 404 && c.Get(ctxKeyMatched) == nil {
			route = routeUnmatched
		}
		code := c.Response().Status
		s.metrics.requests.WithLabelValues(req.Method, route, strconv.Itoa(code)).Inc()
		s.metrics.duration.WithLabelValues(req.Method, route).Observe(elapsed.Seconds())
		subject := ""
		if p := principalOf(c); p != nil {
			subject = p.Subject
		}
		s.log.InfoContext(req.Context(), "request",
			"method", req.Method, "route", route, "path", req.URL.Path, "status", code,
			"duration_ms", float64(elapsed.Microseconds())/1000, "request_id", requestIDOf(c),
			"subject", subject, "bytes", c.Response().Size)
		return nil
	}
}

// ctxKeyMatched is set by every registered route (see Server.route), so observe can tell a
// real route from echo's not-found and method-not-allowed handlers.
const ctxKeyMatched = "httpapi.matched"
