package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
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

// defaultReconcileWait is how long POST /tenants/:slug/reconcile waits without ?wait: the
// earlier Node service answered this route with the result, and the portal still expects it
// to. ?wait=0 or Prefer: respond-async asks for the 202 at once.
const defaultReconcileWait = 30 * time.Second

// headerPreferenceApplied tells a client which preference of its Prefer header was honoured
// (RFC 7240).
const headerPreferenceApplied = "Preference-Applied"

// reconcileTenant is POST /tenants/:slug/reconcile[?wait=30s]. It only writes the annotation,
// then (unless asked not to) watches the status document the controller writes, never the
// controller.
func (s *Server) reconcileTenant(c echo.Context) error {
	wait, async, err := s.reconcileWait(c)
	if err != nil {
		return err
	}
	t, token, err := s.requestToken(c, store.AnnotationReconcileRequestedAt, "tenant.reconcile", "force a reconcile")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if async {
		c.Response().Header().Set(headerPreferenceApplied, "respond-async")
	}
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

// requestToken writes a new request token (now, RFC3339Nano) to the tenant's annotation key
// on behalf of its owner, an admin or an operator, and logs the write as action: the reconcile
// and drift-check requests. The controller answers a token it has not handled yet.
func (s *Server) requestToken(c echo.Context, key, action, what string) (*store.Tenant, string, error) {
	t, a, err := s.loadTenant(c)
	if err != nil {
		return nil, "", err
	}
	if !a.canWrite() {
		return nil, "", forbidden("only the tenant's owner, its admins and operators may " + what)
	}
	token := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := s.store.SetAnnotation(c.Request().Context(), t.Metadata.Slug, key, token); err != nil {
		return nil, "", s.tenantWriteError(c, err)
	}
	s.logWrite(c, action, "tenant", t.Metadata.Slug, "requested_at", token)
	return t, token, nil
}

// reconcileWait decides how long a reconcile request waits: ?wait when given (0 answers at
// once), else no wait when the client prefers an asynchronous answer (Prefer: respond-async,
// then async is true), else defaultReconcileWait; never more than MaxWait. An explicit ?wait
// wins over the Prefer header: it is the more specific request.
func (s *Server) reconcileWait(c echo.Context) (wait time.Duration, async bool, err error) {
	if raw := c.QueryParam("wait"); raw != "" || c.QueryParams().Has("wait") {
		wait, err = parseWait(raw, s.cfg.MaxWait)
		return wait, false, err
	}
	if prefersAsync(c.Request().Header.Values("Prefer")) {
		return 0, true, nil
	}
	return min(defaultReconcileWait, s.cfg.MaxWait), false, nil
}

// prefersAsync reports whether a Prefer header (RFC 7240: comma-separated preferences, each
// possibly with "=value" and ";parameters", names case-insensitive) holds respond-async.
func prefersAsync(values []string) bool {
	for _, v := range values {
		for _, pref := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(pref, ";")
			name, _, _ = strings.Cut(name, "=")
			if strings.EqualFold(strings.TrimSpace(name), "respond-async") {
				return true
			}
		}
	}
	return false
}

// parseWait reads ?wait= as a Go duration ("30s") or whole seconds ("30"); 0 or empty means
// do not wait. A wait above maxWait is cut to maxWait rather than refused: the caller asked to
// wait at most that long, and "202 when the wait ran out" already tells it to ask again.
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
	if d < 0 {
		return 0, badParam("wait", "must not be negative")
	}
	return min(d, maxWait), nil
}

type waitOutcome int

const (
	waitHandled waitOutcome = iota
	waitTimedOut
	waitGone
)

// waitHandled waits until the controller has handled token (or a request written after it,
// see reached), the tenant disappears, or wait runs out.
func (s *Server) waitHandled(ctx context.Context, id bson.ObjectID, token string, wait time.Duration) (waitOutcome, error) {
	return s.waitFor(ctx, id, wait, func(t *store.Tenant, st *store.Status) bool {
		return st != nil && reached(st.LastHandledReconcileAt, token, t.Metadata.Annotations[store.AnnotationReconcileRequestedAt])
	})
}

// waitFor polls the tenant and its status document until done holds, the tenant disappears,
// or wait runs out. Polling (every pollInterval, a ticker, no busy loop) works on every
// Mongo-wire server, change streams or not. When the client goes away the request context
// ends and so does the wait, at once. st is nil before the controller's first write.
func (s *Server) waitFor(ctx context.Context, id bson.ObjectID, wait time.Duration, done func(t *store.Tenant, st *store.Status) bool) (waitOutcome, error) {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(s.pollInterval)
	defer tick.Stop()
	for {
		tn, err := s.store.GetTenantByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return waitGone, nil
		} else if err != nil {
			return 0, err
		}
		st, err := s.store.GetStatus(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			st = nil
		case err != nil:
			return 0, err
		}
		if done(tn, st) {
			return waitHandled, nil
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

// reached: the controller handled token, or the request that replaced it in the annotation
// since (current, read after token was written): a reconcile always works from the desired
// state it read, so handling a later request covers this one too, and concurrent requests the
// controller coalesced all end. Nothing is compared by time: an annotation written by hand may
// hold any string, even a future date, and must not end a wait it has nothing to do with.
func reached(handled, token, current string) bool {
	if handled == "" {
		return false
	}
	return handled == token || (current != token && handled == current)
}
