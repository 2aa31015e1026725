package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestDatabaseOutageIs503: while the database is stopped every API route answers a 503
// problem with Retry-After (a create included: never a 500), the probes still answer, and
// once the database is back the same requests succeed without a restart of anything.
func TestDatabaseOutageIs503(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := storetest.StartFerretDB(ctx, dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.URI, "mongodb://"), "/")
	st := storetest.NewStoreWith(t, storetest.Options{Server: srv})
	e := newEnv(t, func(c *Config) { c.Store = st })
	owner := e.user("outage-owner")
	e.createTenant(owner, "outage")

	srv.Stop()
	type probe struct {
		method, path string
		body         any
	}
	probes := []probe{
		{http.MethodGet, "/tenants/outage", nil},
		{http.MethodGet, "/tenants", nil},
		{http.MethodGet, "/me", nil},
		{http.MethodPost, "/tenants", map[string]any{"slug": "during-outage", "name": "During"}},
		{http.MethodPost, "/tenants/outage/reconcile?wait=0", nil},
	}
	for _, p := range probes {
		start := time.Now()
		r := e.do(req{method: p.method, path: p.path, token: owner, body: p.body})
		took := time.Since(start)
		pd := requireProblem(t, r, http.StatusServiceUnavailable)
		if pd["type"] != problemUnavailable {
			t.Errorf("%s %s: problem type %v, want %s", p.method, p.path, pd["type"], problemUnavailable)
		}
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", p.method, p.path)
		}
		t.Logf("%s %s: 503 after %v", p.method, p.path, took)
	}
	if r := e.get("/health", ""); r.code != http.StatusOK {
		t.Errorf("/health = %d during the outage, want 200 (liveness does not depend on the database)", r.code)
	}
	if r := e.get("/ready", ""); r.code != http.StatusServiceUnavailable {
		t.Errorf("/ready = %d during the outage, want 503", r.code)
	}

	srv2, err := storetest.StartFerretDB(ctx, dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Stop()
	eventually(t, 30*time.Second, "GET to succeed again", func() bool {
		return e.get("/tenants/outage", owner).code == http.StatusOK
	})
	if r := e.get("/ready", ""); r.code != http.StatusOK {
		t.Errorf("/ready = %d after the outage: %s", r.code, r.body)
	}
	if r := e.get("/tenants/during-outage", owner); r.code != http.StatusNotFound {
		t.Errorf("the create refused with 503 wrote something: GET = %d", r.code)
	}
}

// TestUnavailableErrorsAre503: the error classes a broken connection produces map to the 503
// problem, not to 500.
func TestUnavailableErrorsAre503(t *testing.T) {
	cases := map[string]struct {
		err  error
		want int
	}{
		"network error": {fmt.Errorf("insert tenant: %w", mongo.CommandError{Labels: []string{"NetworkError"}, Message: "connection reset"}), http.StatusServiceUnavailable},
		"marked":        {fmt.Errorf("x: %w", store.ErrUnavailable), http.StatusServiceUnavailable},
		"disconnected":  {mongo.ErrClientDisconnected, http.StatusServiceUnavailable},
		"other":         {errors.New("boom"), http.StatusInternalServerError},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := problemFrom(tc.err)
			if p.Status != tc.want {
				t.Fatalf("status %d, want %d", p.Status, tc.want)
			}
			if tc.want == http.StatusServiceUnavailable && (p.Type != problemUnavailable || p.header.Get("Retry-After") == "") {
				t.Errorf("problem %+v, want type %s with Retry-After", p, problemUnavailable)
			}
		})
	}
}
