package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestReadyHidesTheDriversError: with the database gone /ready says "unreachable" and no more
// (the driver's text names the host and port), the detail is logged at Warn once however often
// the probe asks, and the way back is logged once too.
func TestReadyHidesTheDriversError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	db, err := storetest.StartFerretDB(ctx, dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			db.Stop()
		}
	})
	u, err := url.Parse(db.URI)
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.NewStoreWith(t, storetest.Options{Server: db, Store: store.Options{Timeout: 500 * time.Millisecond}})
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	s, err := New(ctx, Config{Store: st, Registerer: reg, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Auth: AuthConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(s.Handler())
	defer api.Close()
	e := &testEnv{t: t, st: st, srv: s, url: api.URL, reg: reg, logs: logs}

	if r := e.get("/ready", ""); r.code != http.StatusOK || r.obj(t)["mongo"] != "ok" {
		t.Fatalf("/ready with the database up: %d %s", r.code, r.body)
	}

	db.Stop()
	stopped = true
	for range 3 {
		r := e.get("/ready", "")
		p := requireProblem(t, r, http.StatusServiceUnavailable)
		if p["mongo"] != "unreachable" {
			t.Fatalf("mongo = %q, want exactly \"unreachable\"", p["mongo"])
		}
		for _, leak := range []string{u.Host, u.Port(), "server selection", "connection refused", "dial"} {
			if strings.Contains(string(r.body), leak) {
				t.Fatalf("/ready body names %q: %s", leak, r.body)
			}
		}
	}
	warns := logs.lines("readiness: mongo unreachable")
	if len(warns) != 1 {
		t.Fatalf("%d Warn lines for 3 failed probes, want 1", len(warns))
	}
	if warns[0]["level"] != "WARN" || !strings.Contains(warns[0]["error"].(string), u.Port()) {
		t.Fatalf("the Warn line should carry the driver's error: %v", warns[0])
	}

	// The same server comes back on the same address and files.
	db, err = storetest.StartFerretDB(ctx, dir, u.Host)
	if err != nil {
		t.Fatal(err)
	}
	stopped = false
	eventually(t, 20*time.Second, "/ready to answer 200 again", func() bool { return e.get("/ready", "").code == http.StatusOK })
	e.get("/ready", "")
	if n := len(logs.lines("readiness: mongo reachable again")); n != 1 {
		t.Fatalf("%d lines for the way back, want 1", n)
	}
	if n := len(logs.lines("readiness: mongo unreachable")); n != 1 {
		t.Fatalf("%d Warn lines in all, want 1", n)
	}
}
