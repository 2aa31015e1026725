package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dezky/platform-api/store"
)

// driftCheckTenant is POST /tenants/:slug/drift-check[?wait=30s]: a dry run. It only writes the
// driftCheckRequestedAt annotation; the controller answers by observing every step, writing
// nothing upstream whatever the tenant's policy, and records the result in
// status.lastDriftCheck. Without wait: 202 with the token. With wait: 200 with the check once
// the controller answered this token, 202 if the wait ran out, 404 if the tenant was deleted
// meanwhile.
func (s *Server) driftCheckTenant(c echo.Context) error {
	wait, err := parseWait(c.QueryParam("wait"), s.cfg.MaxWait)
	if err != nil {
		return err
	}
	t, token, err := s.requestToken(c, store.AnnotationDriftCheckRequestedAt, "tenant.drift-check", "ask for a drift check")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if wait == 0 {
		return c.JSON(http.StatusAccepted, reconcileAccepted{RequestedAt: token})
	}
	var answer *store.DriftCheck
	outcome, err := s.waitFor(ctx, t.ID, wait, func(_ *store.Tenant, st *store.Status) bool {
		if st != nil && st.LastDriftCheck != nil && st.LastDriftCheck.Token == token {
			answer = st.LastDriftCheck
			return true
		}
		return false
	})
	switch {
	case err != nil:
		return err
	case outcome == waitGone:
		return notFound("tenant", t.Metadata.Slug)
	case outcome == waitTimedOut:
		return c.JSON(http.StatusAccepted, reconcileAccepted{RequestedAt: token})
	}
	return c.JSON(http.StatusOK, driftCheckViewOf(answer))
}
