package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
)

// reconcileAccepted is the body of a 202 from POST /tenants/:slug/reconcile.
type reconcileAccepted struct {
	// RequestedAt is the token written to annotations.reconcileRequestedAt; the status's
	// lastHandledReconcileAt echoes it once the controller has handled the request.
	RequestedAt string `json:"requestedAt"`
}

// reconcileTenant is POST /tenants/:slug/reconcile[?wait=30s]. It only writes the annotation;
// with ?wait it then watches the status document the controller writes, never the controller.
func (s *Server) reconcileTenant(c echo.Context) error {
	wait, err := parseWait(c.QueryParam("wait"), s.cfg.MaxWait)
	if err != nil {
		return err
	}
	t, a, err := s.loadTenant(c)
	if err != nil {
		return err
	}
	if !a.canWrite() {
		return forbidden("only the tenant's owner, its admins and operators may force a reconcile")
	}
	ctx := c.Request().Context()
	token := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := s.store.SetAnnotation(ctx, t.Metadata.Slug, store.AnnotationReconcileRequestedAt, token); err != nil {
		return s.tenantWriteError(c, err)
	}
	s.logWrite(c, "tenant.reconcile", "tenant", t.Metadata.Slug, "requested_at", token)
	if wait == 0 {
		return c.JSON(http.StatusAccepted, reconcileAccepted{RequestedAt: token})
	}
	switch outcome, err := s.waitHandled(ctx, t.ID, token, wait); {
	case err != nil:
		return err
	case outcome == waitGone:
		return notFound("tenant", t.Metadata.Slug)
	case outcome == waitTimedOut:
		return c.JSON(http.StatusAccepted, reconcileAccepted{RequestedAt: token})
	}
	latest, err := s.store.GetTenantByID(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("tenant", t.Metadata.Slug)
	}
	if err != nil {
		return err
	}
	return s.respondTenant(c, http.StatusOK, latest, false)
}

// parseWait reads ?wait= as a Go duration ("30s") or whole seconds ("30"); 0 or absent means
// do not wait.
func parseWait(raw string, maxWait time.Duration) (time.Duration, error) {
	if raw == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		n, nerr := strconv.Atoi(raw)
		if nerr != nil {
			return 0, badParam("wait", "must be a duration such as 30s")
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 || d > maxWait {
		return 0, badParam("wait", fmt.Sprintf("must be between 0s and %s", maxWait))
	}
	return d, nil
}

type waitOutcome int

const (
	waitHandled waitOutcome = iota
	waitTimedOut
	waitGone
)

// waitHandled polls the status document until lastHandledReconcileAt reaches token, the
// tenant disappears, or wait runs out. Polling (every pollInterval, a ticker, no busy loop)
// works on every Mongo-wire server, change streams or not. When the client goes away the
// request context ends and so does the wait, at once.
func (s *Server) waitHandled(ctx context.Context, id bson.ObjectID, token string, wait time.Duration) (waitOutcome, error) {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(s.pollInterval)
	defer tick.Stop()
	for {
		st, err := s.store.GetStatus(ctx, id)
		switch {
		case err == nil && reached(st.LastHandledReconcileAt, token):
			return waitHandled, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return 0, err
		}
		if _, err := s.store.GetTenantByID(ctx, id); errors.Is(err, store.ErrNotFound) {
			return waitGone, nil
		} else if err != nil {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-deadline.C:
			return waitTimedOut, nil
		case <-tick.C:
		}
	}
}

// reached: the controller handled token or a later request (which covers this one, since
// a reconcile always works from the latest desired state). Tokens are RFC3339Nano, which does
// not sort as text (trailing zeros are trimmed), so they are compared as times.
func reached(handled, token string) bool {
	if handled == "" {
		return false
	}
	if handled == token {
		return true
	}
	h, err1 := time.Parse(time.RFC3339Nano, handled)
	t, err2 := time.Parse(time.RFC3339Nano, token)
	return err1 == nil && err2 == nil && h.After(t)
}
