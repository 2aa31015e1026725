package httpapi

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	cases := map[string]struct {
		sent string
		keep bool
	}{
		"sane":          {"abc-123_X.y", true},
		"max length":    {strings.Repeat("a", 128), true},
		"too long":      {strings.Repeat("a", 129), false},
		"bad character": {"abc def", false},
		"injection":     {`x"}{"admin":true`, false},
		"none":          {"", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/health", "/nope", "/tenants"} { // ok, 404, 401
				h := map[string]string{}
				if tc.sent != "" {
					h[HeaderRequestID] = tc.sent
				}
				r := e.do(req{method: http.MethodGet, path: path, header: h})
				got := r.header.Get(HeaderRequestID)
				if tc.keep && got != tc.sent || !tc.keep && !generated.MatchString(got) {
					t.Fatalf("%s: sent %q, got %q", path, tc.sent, got)
				}
				if r.code >= 400 && r.obj(t)["requestId"] != got {
					t.Fatalf("%s: problem requestId %v, header %q", path, r.obj(t)["requestId"], got)
				}
			}
		})
	}
}

func TestEchoErrorsAreProblems(t *testing.T) {
	e := newEnv(t)
	p := requireProblem(t, e.get("/no/such/route", ""), http.StatusNotFound)
	if p["instance"] != "/no/such/route" {
		t.Errorf("instance %v", p["instance"])
	}
	r := e.do(req{method: http.MethodPut, path: "/tenants/acme", token: e.user("u")})
	requireProblem(t, r, http.StatusMethodNotAllowed)
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "PATCH") || !strings.Contains(allow, "GET") {
		t.Errorf("Allow %q", allow)
	}
}

func TestPanicIsRecoveredAndLogged(t *testing.T) {
	e := newEnvHook(t, func(s *Server) {
		s.echo.GET("/boom", func(echo.Context) error { panic("kaboom") })
	})
	r := e.do(req{method: http.MethodGet, path: "/boom", header: map[string]string{HeaderRequestID: "boom-1"}})
	p := requireProblem(t, r, http.StatusInternalServerError)
	if strings.Contains(string(r.body), "kaboom") {
		t.Errorf("the panic value leaked to the client: %s", r.body)
	}
	if p["requestId"] != "boom-1" {
		t.Errorf("requestId %v", p["requestId"])
	}
	logs := e.logs.lines("panic in handler")
	if len(logs) != 1 || logs[0]["request_id"] != "boom-1" || logs[0]["panic"] != "kaboom" || logs[0]["stack"] == "" {
		t.Fatalf("panic log: %v", logs)
	}
	// The server lives on.
	if r := e.get("/health", ""); r.code != http.StatusOK {
		t.Fatalf("after a panic: %d", r.code)
	}
}

func TestWritesAndRequestsAreLogged(t *testing.T) {
	e := newEnv(t)
	r := e.do(req{method: http.MethodPost, path: "/tenants", token: e.user("alice"), body: `{"slug":"logged","name":"L"}`,
		header: map[string]string{HeaderRequestID: "req-123"}})
	if r.code != http.StatusCreated {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var write map[string]any
	for _, l := range e.logs.lines("write") {
		if l["action"] == "tenant.create" {
			write = l
		}
	}
	if write == nil || write["tenant"] != "logged" || write["subject"] != "alice" || write["request_id"] != "req-123" {
		t.Fatalf("write log: %v", write)
	}
	var access map[string]any
	for _, l := range e.logs.lines("request") {
		if l["request_id"] == "req-123" {
			access = l
		}
	}
	if access == nil || access["method"] != "POST" || access["route"] != "/tenants" || access["status"] != 201.0 ||
		access["subject"] != "alice" || access["duration_ms"] == nil {
		t.Fatalf("access log: %v", access)
	}
}

func TestMetricsUseRoutePatterns(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	e.createTenant(u, "metered")
	e.get("/tenants/metered", u)
	e.get("/tenants/ghost", u)
	e.get("/random/scan/path", "")
	body := string(e.get("/metrics", "").body)
	for _, want := range []string{
		`platform_http_requests_total{code="200",method="GET",route="/tenants/:slug"} 1`,
		`platform_http_requests_total{code="404",method="GET",route="/tenants/:slug"} 1`,
		`platform_http_requests_total{code="201",method="POST",route="/tenants"} 1`,
		`platform_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`platform_http_request_duration_seconds_bucket{method="GET",route="/tenants/:slug",le="+Inf"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "ghost") || strings.Contains(body, "/random") {
		t.Errorf("raw URLs leaked into labels")
	}
}

func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequestTimeout = time.Nanosecond })
	p := requireProblem(t, e.get("/tenants", e.user("alice")), http.StatusServiceUnavailable)
	if p["type"] != problemTimeout {
		t.Fatalf("type %v", p["type"])
	}
}
