package controller

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// controllerGoroutines lists the stacks of goroutines running controller code, the test's own
// excluded.
func controllerGoroutines() []string {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	var out []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "platform-api/controller.") && !strings.Contains(g, "testing.tRunner") {
			out = append(out, g)
		}
	}
	return out
}

// TestNoGoroutineLeft: when Run returns, none of the controller's goroutines (sources,
// workers, queue, lease renewal, lease cleanup) is still running. The leadership ends the
// moment it starts, with old lease terms to clean up, so the cleanup is still in flight if
// Run does not wait for it.
func TestNoGoroutineLeft(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	old := time.Now().Add(-time.Hour)
	for term := int64(1); term <= 2*keepTerms; term++ {
		_, err := storetest.DB(t, e.st).Collection(store.CollLeases).InsertOne(ctx, store.LeaseTerm{
			ID: fmt.Sprintf("%s/%d", e.opts.withDefaults().LeaseName, term), Name: e.opts.withDefaults().LeaseName, Term: term,
			Holder: "gone", AcquiredAt: old, RenewedAt: old, ExpiresAt: old,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c := New(e.st, e.integrationSteps(), e.opts)
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.onLeading = func(_ int64, leading bool) {
		if leading {
			cancel() // shut down as soon as leadership starts
		}
	}
	if err := c.Run(runCtx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if left := controllerGoroutines(); len(left) > 0 {
		t.Errorf("%d controller goroutines still running after Run returned:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}
