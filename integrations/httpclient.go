package integrations

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"golang.org/x/time/rate"
)

// DefaultCallTimeout bounds one upstream HTTP call when a client's options leave it zero. A step
// makes several calls; the controller's STEP_TIMEOUT bounds the whole step.
const DefaultCallTimeout = 10 * time.Second

// HTTPOptions configures the HTTP client every upstream client is built on.
type HTTPOptions struct {
	// CAFile is a PEM file whose certificates are trusted in addition to the system roots
	// (CA_FILE; the dev stack and compose use a mkcert CA). Empty: system roots only.
	CAFile string
	// Timeout bounds one HTTP exchange. Zero means DefaultCallTimeout.
	Timeout time.Duration
	// Transport, when set, replaces the default transport (tests inject faults here). CAFile is
	// ignored when Transport is set.
	Transport http.RoundTripper
	// Limiter, when set, paces every request of this client (token requests included), shared
	// by the live calls of every worker and the resync's listings: the per-upstream request
	// limit (AUTHENTIK_MAX_RPS, ...). A request waits for its turn within its own context.
	Limiter *rate.Limiter
	// Upstream names the upstream in metrics (integrations.StepAuthentik, ...).
	Upstream string
	// Metrics records every request by upstream and outcome; nil records nothing.
	Metrics *UpstreamMetrics
}

// NewLimiter is the request limit for rps requests per second. The burst is one request: the
// limit holds in every one-second window, which is what an upstream's operator measures.
func NewLimiter(rps float64) *rate.Limiter {
	if rps <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(rps), 1)
}

// NewHTTPClient builds an *http.Client with the options' CA and timeout. It never follows a
// redirect to another host with the Authorization header (net/http strips it already).
func NewHTTPClient(o HTTPOptions) (*http.Client, error) {
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultCallTimeout
	}
	rt := o.Transport
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		if o.CAFile != "" {
			pool, err := certPool(o.CAFile)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		rt = tr
	}
	if o.Limiter != nil || o.Metrics != nil {
		rt = &meteredTransport{next: rt, limiter: o.Limiter, metrics: o.Metrics, upstream: o.Upstream}
	}
	return &http.Client{Transport: rt, Timeout: timeout}, nil
}

// meteredTransport waits for the upstream's request limit, then records the request's
// outcome and duration.
type meteredTransport struct {
	next     http.RoundTripper
	limiter  *rate.Limiter
	metrics  *UpstreamMetrics
	upstream string
}

func (t *meteredTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.limiter != nil {
		if err := t.limiter.Wait(req.Context()); err != nil {
			// The context ended (or would end) before our turn: nothing was sent.
			return nil, fmt.Errorf("request limit: %w", err)
		}
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if t.metrics != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		t.metrics.observe(t.upstream, status, time.Since(start))
	}
	return resp, err
}

func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA_FILE %s: no PEM certificate found", file)
	}
	return pool, nil
}
