package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dezky/platform-api/internal/devstack"
	"github.com/dezky/platform-api/internal/platformclient"
)

// update rewrites testdata/*.golden from the current output: go test ./cmd/platformctl -update.
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// stack is the one dev stack every test of this binary talks to: embedded FerretDB, the three
// upstream simulators, the dev OIDC issuer and a real platform-api on a loopback port. One per
// binary because starting it is the slow part; tests keep apart by using tenants of their own.
var stack *devstack.Stack

// serverVersion is what the stack's /health reports, for the version test.
const serverVersion = "v0.0.0-stack"

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "platformctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// RESYNC_INTERVAL is an hour so that nothing but the tests' own requests reconciles a
	// tenant: drift made in a simulator stays until a test asks for a reconcile, and a golden
	// tenant's status does not move under the golden files.
	settings := map[string]string{
		"HTTP_ADDR": "127.0.0.1:0", "POLL_INTERVAL": "200ms", "RESYNC_INTERVAL": "1h", "STEP_TIMEOUT": "10s",
		"LEASE_DURATION": "3s", "LEASE_RENEW": "1s",
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := devstack.Start(ctx, devstack.Options{
		DataDir: dir, MongoAddr: "127.0.0.1:0", Getenv: func(k string) string { return settings[k] }, Version: serverVersion,
	})
	if err != nil {
		cancel()
		fmt.Fprintf(os.Stderr, "dev stack: %v\n", err)
		return 1
	}
	stack = st
	code := m.Run()
	cancel()
	if err := st.Wait(); err != nil {
		fmt.Fprintf(os.Stderr, "dev stack stopped with %v\n", err)
		code = max(code, 1)
	}
	return code
}

// result is one platformctl run.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// invocation describes how platformctl is run: which server and token its environment names,
// and the clock it renders ages against.
type invocation struct {
	server string
	token  string
	now    func() time.Time
	// terminal pretends stdout is a terminal; vars adds to the environment.
	terminal bool
	vars     map[string]string
}

// ctl runs platformctl in-process, as the binary's main would, with PLATFORM_URL and
// PLATFORM_TOKEN set and (unless terminal) stdout not a terminal.
func (in invocation) ctl(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	server := in.server
	if server == "" {
		server = stack.APIURL
	}
	vars := map[string]string{envServer: server, envToken: in.token}
	for k, v := range in.vars {
		vars[k] = v
	}
	now := in.now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }, now: now, terminal: in.terminal})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustCtl runs platformctl and fails the test unless it exits with want.
func (in invocation) mustCtl(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := in.ctl(t, args...)
	if r.code != want {
		t.Fatalf("platformctl %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	return r
}

// Identities. Each mints a fresh token from the stack's dev issuer.
func userToken(t *testing.T) string {
	t.Helper()
	tok, err := stack.UserToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func operatorToken(t *testing.T) string {
	t.Helper()
	tok, err := stack.OperatorToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// subjectToken is a portal token of a user of its own: it sees only the tenants it created,
// whatever other tests create. It shares the dev user's e-mail, which the Authentik simulator
// knows, so the owner can be made a member of the tenant's group.
func subjectToken(t *testing.T, sub string) string {
	t.Helper()
	tok, err := stack.Issuer.Mint(map[string]any{
		"sub": sub, "email": devstack.UserEmail, "name": sub, "groups": []string{}, "aud": devstack.PortalAudience,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is a platformclient for assertions that read the API directly.
func client(t *testing.T, token string) *platformclient.Client {
	t.Helper()
	c, err := platformclient.New(platformclient.Options{BaseURL: stack.APIURL, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// getTenant reads a tenant through the API, failing the test on any error.
func getTenant(t *testing.T, token, slug string) *platformclient.Tenant {
	t.Helper()
	tn, err := client(t, token).GetTenant(context.Background(), slug)
	if err != nil {
		t.Fatalf("GET /tenants/%s: %v", slug, err)
	}
	return tn
}

// waitReady waits until the tenant's Ready condition is True for its current generation.
func waitReady(t *testing.T, token, slug string) *platformclient.Tenant {
	t.Helper()
	var tn *platformclient.Tenant
	eventually(t, 30*time.Second, slug+" Ready", func() bool {
		tn = getTenant(t, token, slug)
		return tn.Status.Ready() && tn.Status.ObservedGeneration == tn.Metadata.Generation
	})
	return tn
}

// recorder is a reverse proxy in front of the stack's API that records what platformctl sent:
// the only way to see, from outside, which query and headers a command used.
type recorder struct {
	URL string

	mu   sync.Mutex
	reqs []*http.Request
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	target, err := url.Parse(stack.APIURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r.Clone(context.Background()))
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// requests returns the recorded requests to path.
func (rec *recorder) requests(method, path string) []*http.Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []*http.Request
	for _, r := range rec.reqs {
		if r.Method == method && r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// decodeJSON parses s or fails the test.
func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
}
