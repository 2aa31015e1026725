package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dezky/platform-api/store"
)

// pauseTenant is POST /operator/tenants/:slug/pause: the controller leaves the tenant alone
// (annotations.paused = "true") until unpaused.
func (s *Server) pauseTenant(c echo.Context) error { return s.setPaused(c, true) }

// unpauseTenant is POST /operator/tenants/:slug/unpause.
func (s *Server) unpauseTenant(c echo.Context) error { return s.setPaused(c, false) }

func (s *Server) setPaused(c echo.Context, paused bool) error {
	slug := c.Param("slug")
	value, action := "", "tenant.unpause"
	if paused {
		value, action = "true", "tenant.pause"
	}
	before, err := s.store.GetTenant(c.Request().Context(), slug)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("tenant", slug)
	}
	if err != nil {
		return err
	}
	t, err := s.store.SetAnnotation(c.Request().Context(), slug, store.AnnotationPaused, value)
	if err != nil {
		return s.tenantWriteError(c, err)
	}
	if t.Metadata.ResourceVersion != before.Metadata.ResourceVersion {
		s.logWrite(c, action, "tenant", slug)
	}
	return s.respondTenant(c, http.StatusOK, t, false)
}

// resyncAccepted is the body of POST /operator/resync.
type resyncAccepted struct {
	RequestedAt time.Time `json:"requestedAt"`
}

// resync is POST /operator/resync: it records the request; the leader's controller notices it
// and enqueues every tenant. 202: nothing has been reconciled yet when this answers.
func (s *Server) resync(c echo.Context) error {
	at, err := s.store.RequestResync(c.Request().Context())
	if err != nil {
		return err
	}
	s.logWrite(c, "operator.resync", "tenant", "*")
	return c.JSON(http.StatusAccepted, resyncAccepted{RequestedAt: at})
}
