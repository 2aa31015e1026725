package platformclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
)

// What sits between platformctl and platform-api is not always platform-api: a proxy's HTML
// error page, a problem document whose detail repeats its field errors, a closed port. Each
// still becomes one readable line.
func TestErrorLines(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tenants/proxy":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>\n<hr>nginx\n"))
		case "/tenants/invalid":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"type":"urn:dezky:problem:validation","title":"Validation failed","status":422,` +
				`"detail":"slug: is taken","errors":[{"field":"slug","message":"is taken"},{"field":"mail.domain","message":"must be a DNS name"}]}`))
		case "/tenants/empty":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		slug   string
		want   string
		status int
	}{
		"proxy page":       {slug: "proxy", status: 502, want: "<html><body>502 Bad Gateway</body></html> [HTTP 502]"},
		"fields said once": {slug: "invalid", status: 422, want: "slug: is taken (mail.domain: must be a DNS name) [HTTP 422]"},
		"empty body":       {slug: "empty", status: 503, want: "Service Unavailable [HTTP 503]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.GetTenant(context.Background(), tc.slug)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
			if StatusCode(err) != tc.status {
				t.Errorf("StatusCode = %d, want %d", StatusCode(err), tc.status)
			}
		})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	c, err = New(Options{BaseURL: closed})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	var te *TransportError
	if !errors.As(err, &te) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error = %#v, want a TransportError wrapping ECONNREFUSED", err)
	}
	if want := "cannot reach platform-api at " + closed + ": connection refused"; err.Error() != want {
		t.Errorf("error = %q, want %q", err.Error(), want)
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "localhost:3001", "ftp://host", "http://"} {
		if _, err := New(Options{BaseURL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}
