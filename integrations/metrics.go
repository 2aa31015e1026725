package integrations

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Request outcomes, the values of platform_upstream_requests_total{outcome}.
const (
	OutcomeOK          = "ok"           // 1xx-3xx
	OutcomeClientError = "client_error" // 4xx but 429
	OutcomeRateLimited = "rate_limited" // 429
	OutcomeServerError = "server_error" // 5xx
	OutcomeNoResponse  = "no_response"  // transport failure or timeout: nothing came back
)

// UpstreamMetrics counts and times every upstream request.
type UpstreamMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewUpstreamMetrics builds the upstream request metrics, with every upstream × outcome series
// present from the start (so rates and alerts see them before the first failure), and
// registers them on r when r is not nil.
func NewUpstreamMetrics(r prometheus.Registerer, upstreams []string) (*UpstreamMetrics, error) {
	m := &UpstreamMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "platform_upstream_requests_total",
			Help: "Requests to an upstream (authentik, stalwart, ocis), by outcome: ok, client_error, rate_limited, server_error, no_response.",
		}, []string{"upstream", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "platform_upstream_request_duration_seconds",
			Help:    "Duration of one upstream request (after waiting for the request limit).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10), // 5ms .. ~19s
		}, []string{"upstream"}),
	}
	for _, u := range upstreams {
		for _, o := range []string{OutcomeOK, OutcomeClientError, OutcomeRateLimited, OutcomeServerError, OutcomeNoResponse} {
			m.requests.WithLabelValues(u, o)
		}
		m.duration.WithLabelValues(u)
	}
	if r != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration} {
			if err := r.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *UpstreamMetrics) observe(upstream string, status int, took time.Duration) {
	outcome := OutcomeOK
	switch {
	case status == 0:
		outcome = OutcomeNoResponse
	case status == http.StatusTooManyRequests:
		outcome = OutcomeRateLimited
	case status >= 500:
		outcome = OutcomeServerError
	case status >= 400:
		outcome = OutcomeClientError
	}
	m.requests.WithLabelValues(upstream, outcome).Inc()
	m.duration.WithLabelValues(upstream).Observe(took.Seconds())
}
