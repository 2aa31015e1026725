package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// Event list sizes: the controller keeps the newest 50 events per tenant.
const (
	defaultEventLimit = 50
	maxEventLimit     = 50
)

// eventView is one event as GET /tenants/:slug/events shows it. Detail (the full error or
// object id) is shown to operators only: it may name internal hosts.
type eventView struct {
	Time       time.Time `json:"time"`
	Type       string    `json:"type"`
	Reason     string    `json:"reason"`
	Step       string    `json:"step"`
	Message    string    `json:"message"`
	Generation int64     `json:"generation"`
	Detail     string    `json:"detail,omitempty"`
}

// listEvents is GET /tenants/:slug/events?limit=50: the tenant's newest events first, for
// whoever may read the tenant (a hidden tenant's events are the same 404 as a missing one's).
func (s *Server) listEvents(c echo.Context) error {
	limit := defaultEventLimit
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxEventLimit {
			return badParam("limit", fmt.Sprintf("must be an integer from 1 to %d", maxEventLimit))
		}
		limit = n
	}
	t, a, err := s.loadTenant(c)
	if err != nil {
		return err
	}
	evs, err := s.store.ListEvents(c.Request().Context(), t.ID, limit)
	if err != nil {
		return err
	}
	items := make([]eventView, len(evs))
	for i, ev := range evs {
		items[i] = eventView{Time: ev.Time, Type: ev.Type, Reason: ev.Reason, Step: ev.Step, Message: ev.Message,
			Generation: ev.Generation}
		if a.operator {
			items[i].Detail = ev.Detail
		}
	}
	return c.JSON(http.StatusOK, map[string][]eventView{"items": items})
}
