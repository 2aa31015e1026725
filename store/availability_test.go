package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestOutageFailsFastAndRecovers: against a server that is stopped and started again on the
// same data and address, the store reports itself unavailable, fails operations as
// unavailable (not as something else, and within about the server-selection timeout, not the
// driver's 30s), then becomes available again by itself and serves the data written before.
func TestOutageFailsFastAndRecovers(t *testing.T) {
	dir := t.TempDir()
	srv, err := storetest.StartFerretDB(ctxT(t), dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.URI, "mongodb://"), "/")
	st := storetest.NewStoreWith(t, storetest.Options{Server: srv})
	if !st.Available() {
		t.Fatal("not Available right after Open")
	}
	if _, err := st.CreateTenant(ctxT(t), newTenant("before")); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	start := time.Now()
	_, err = st.GetTenant(ctxT(t), "before")
	took := time.Since(start)
	if !store.IsUnavailable(err) {
		t.Fatalf("read with the server stopped: %v, want an unavailable error", err)
	}
	t.Logf("read failed as unavailable after %v: %v", took, err)
	deadline(t, 10*time.Second, "Available() false", func() bool { return !st.Available() })
	// A write fails the same way: a create must never look like a server bug.
	if _, err := st.CreateTenant(ctxT(t), newTenant("during")); !store.IsUnavailable(err) {
		t.Fatalf("create with the server stopped: %v, want an unavailable error", err)
	}

	srv2, err := storetest.StartFerretDB(ctxT(t), dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Stop()
	back := time.Now()
	wctx, cancel := context.WithTimeout(ctxT(t), 30*time.Second)
	defer cancel()
	if err := st.WaitAvailable(wctx); err != nil {
		t.Fatalf("not Available again after the server's return: %v", err)
	}
	t.Logf("available again %v after the server's return", time.Since(back))
	got, err := st.GetTenant(ctxT(t), "before")
	if err != nil || got.Metadata.Slug != "before" {
		t.Fatalf("after the restart: %v %v", got, err)
	}
}

func TestIsUnavailable(t *testing.T) {
	st := storetest.NewStore(t)
	if _, err := st.CreateTenant(ctxT(t), newTenant("taken")); err != nil {
		t.Fatal(err)
	}
	_, dup := st.CreateTenant(ctxT(t), newTenant("taken"))
	cases := map[string]struct {
		err  error
		want bool
	}{
		"nil":                 {nil, false},
		"not found":           {store.ErrNotFound, false},
		"duplicate slug":      {dup, false},
		"validation":          {&store.ValidationError{}, false},
		"deadline":            {context.DeadlineExceeded, false},
		"marked":              {store.ErrUnavailable, true},
		"wrapped marked":      {fmt.Errorf("read tenant: %w", store.ErrUnavailable), true},
		"unrelated, wrapping": {fmt.Errorf("x: %w", errors.New("boom")), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := store.IsUnavailable(tc.err); got != tc.want {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// deadline polls cond until it holds or within passes.
func deadline(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(within)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}
