package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dezky/platform-api/httpapi/devissuer"
	"github.com/dezky/platform-api/store/storetest"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingIssuer serves a dev issuer and counts the JWKS fetches it answers.
type countingIssuer struct {
	*devissuer.Issuer
	jwks atomic.Int64
	down atomic.Bool
}

// newCountingEnv is an API server whose issuer counts JWKS fetches; mods adjust the config.
func newCountingEnv(t *testing.T, mods ...func(*Config)) (*testEnv, *countingIssuer) {
	t.Helper()
	iss, err := devissuer.New(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ci := &countingIssuer{Issuer: iss}
	issSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, devissuer.JWKSPath) {
			ci.jwks.Add(1)
			if ci.down.Load() {
				http.Error(w, "down", http.StatusBadGateway)
				return
			}
		}
		iss.ServeHTTP(w, r)
	}))
	t.Cleanup(issSrv.Close)
	iss.SetURL(issSrv.URL)

	st := storetest.NewStore(t)
	reg := prometheus.NewRegistry()
	cfg := Config{
		Store: st, Version: "test", Registerer: reg, Logger: slog.New(slog.DiscardHandler),
		Auth: AuthConfig{IssuerURL: iss.URL(), Audiences: []string{audPortal}},
	}
	for _, m := range mods {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(s.Handler())
	t.Cleanup(api.Close)
	return &testEnv{t: t, iss: iss, st: st, srv: s, url: api.URL, reg: reg, logs: &logBuffer{}}, ci
}

// TestUnknownKeyIDsRefetchAtMostOncePerInterval: thirty tokens with made-up key ids, sent at
// once, cost the IdP at most one JWKS fetch besides the first load, and each gets 401 naming
// the key id; genuine tokens keep working from the cache.
func TestUnknownKeyIDsRefetchAtMostOncePerInterval(t *testing.T) {
	e, iss := newCountingEnv(t)
	good := e.user("u1")
	if r := e.get("/me", good); r.code != http.StatusOK {
		t.Fatalf("baseline: %d %s", r.code, r.body)
	}
	loaded := iss.jwks.Load()
	if loaded != 1 {
		t.Fatalf("%d JWKS fetches for the first token, want 1", loaded)
	}

	const attackers = 30
	resps := make([]resp, attackers)
	var wg sync.WaitGroup
	for i := range attackers {
		tok := e.mint(map[string]any{"sub": "mallory", "aud": audPortal}, devissuer.WithKeyID(fmt.Sprintf("made-up-%d", i)))
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resps[i], _ = e.send(ctx, req{method: http.MethodGet, path: "/me", token: tok})
		})
	}
	wg.Wait()
	for i, r := range resps {
		p := requireProblem(t, r, http.StatusUnauthorized)
		if p["detail"] != "the token's key id is not one the issuer publishes" {
			t.Errorf("token %d: detail %q", i, p["detail"])
		}
		if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("token %d: WWW-Authenticate %q", i, r.header.Get("WWW-Authenticate"))
		}
	}
	if n := iss.jwks.Load() - loaded; n > 1 {
		t.Fatalf("%d unknown key ids caused %d JWKS fetches, want at most 1", attackers, n)
	}
	if n := iss.jwks.Load(); n > 3 {
		t.Fatalf("%d JWKS fetches in all, want at most 3", n)
	}

	// More of them, one after another: still no fetch within the interval.
	before := iss.jwks.Load()
	for i := range 10 {
		tok := e.mint(map[string]any{"sub": "mallory", "aud": audPortal}, devissuer.WithKeyID(fmt.Sprintf("again-%d", i)))
		requireProblem(t, e.get("/me", tok), http.StatusUnauthorized)
	}
	if r := e.get("/me", good); r.code != http.StatusOK {
		t.Fatalf("a genuine token after the storm: %d %s", r.code, r.body)
	}
	if n := iss.jwks.Load() - before; n != 0 {
		t.Fatalf("%d more JWKS fetches within the interval, want 0", n)
	}
}

// TestRotatedKeyIsPickedUpWithinTheInterval: a rotation right after made-up key ids used up
// the interval is seen once the interval has passed (the clock is moved by hand), and then
// the retired key's tokens fail without another fetch.
func TestRotatedKeyIsPickedUpWithinTheInterval(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	e, iss := newCountingEnv(t, func(c *Config) { c.Auth.Now = clock.Now })
	oldTok := e.user("u1")
	if r := e.get("/me", oldTok); r.code != http.StatusOK {
		t.Fatalf("baseline: %d %s", r.code, r.body)
	}
	bogus := e.mint(map[string]any{"sub": "mallory", "aud": audPortal}, devissuer.WithKeyID("made-up"))
	requireProblem(t, e.get("/me", bogus), http.StatusUnauthorized)
	if n := iss.jwks.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after the first load and one unknown key id, want 2", n)
	}

	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	newTok := e.user("u1")
	clock.Add(defaultKeyRefetch - time.Second)
	requireProblem(t, e.get("/me", newTok), http.StatusUnauthorized)
	if n := iss.jwks.Load(); n != 2 {
		t.Fatalf("a fetch within the interval: %d fetches, want 2", n)
	}
	clock.Add(time.Second)
	if r := e.get("/me", newTok); r.code != http.StatusOK {
		t.Fatalf("the rotated key, 10s after the last fetch: %d %s", r.code, r.body)
	}
	if n := iss.jwks.Load(); n != 3 {
		t.Fatalf("%d JWKS fetches, want 3", n)
	}
	requireProblem(t, e.get("/me", oldTok), http.StatusUnauthorized)
	if n := iss.jwks.Load(); n != 3 {
		t.Fatalf("the retired key's token fetched again: %d fetches, want 3", n)
	}
}

// TestRotatedKeyIsPickedUpOnTheRealClock: the same with real time and a short interval,
// polling with a deadline while made-up key ids keep arriving.
func TestRotatedKeyIsPickedUpOnTheRealClock(t *testing.T) {
	const interval = 300 * time.Millisecond
	e, iss := newCountingEnv(t, func(c *Config) { c.Auth.KeyRefetchInterval = interval })
	if r := e.get("/me", e.user("u1")); r.code != http.StatusOK {
		t.Fatalf("baseline: %d %s", r.code, r.body)
	}
	bogus := e.mint(map[string]any{"sub": "mallory", "aud": audPortal}, devissuer.WithKeyID("made-up"))
	requireProblem(t, e.get("/me", bogus), http.StatusUnauthorized)
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	newTok := e.user("u1")
	start := time.Now()
	eventually(t, 10*time.Second, "the rotated key to verify", func() bool {
		requireProblem(t, e.get("/me", bogus), http.StatusUnauthorized)
		return e.get("/me", newTok).code == http.StatusOK
	})
	elapsed := time.Since(start)
	// One fetch per interval at most, plus the first load and the one the bogus token made.
	if n, most := iss.jwks.Load(), int64(elapsed/interval)+3; n > most {
		t.Fatalf("%d JWKS fetches in %s, want at most %d", n, elapsed, most)
	}
}

// TestUnreachableJWKSIsServiceUnavailable: while no key was ever loaded because the JWKS
// cannot be fetched, a token is not blamed (503, not 401), and the IdP is asked once per
// interval, not once per request.
func TestUnreachableJWKSIsServiceUnavailable(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	e, iss := newCountingEnv(t, func(c *Config) { c.Auth.Now = clock.Now })
	iss.down.Store(true)
	tok := e.user("u1")
	for range 5 {
		p := requireProblem(t, e.get("/me", tok), http.StatusServiceUnavailable)
		if !strings.Contains(p["detail"].(string), "identity provider") {
			t.Fatalf("503 detail = %v", p["detail"])
		}
	}
	if n := iss.jwks.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches while it is down, want 1", n)
	}
	iss.down.Store(false)
	clock.Add(defaultKeyRefetch)
	if r := e.get("/me", tok); r.code != http.StatusOK {
		t.Fatalf("after the JWKS came back: %d %s", r.code, r.body)
	}
}
