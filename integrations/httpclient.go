package integrations

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
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
	return &http.Client{Transport: rt, Timeout: timeout}, nil
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
