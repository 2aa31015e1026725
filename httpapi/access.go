package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/dezky/platform-api/store"
)

// access is what one caller may do with one tenant (docs/ARCHITECTURE.md, "Authentication and authorization").
type access struct {
	// owner: spec.owner.sub is the caller, or an owner membership. The spec counts on its own
	// so a crash between inserting the tenant and its membership never locks the owner out.
	owner bool
	// role is the caller's membership role, "" when none.
	role string
	// partnerAdmin: the tenant belongs to a partner the caller administers.
	partnerAdmin bool
	operator     bool
}

func (a access) visible() bool {
	return a.owner || a.role != "" || a.partnerAdmin || a.operator
}

// canWrite: PATCH and reconcile (owner, admin, operator).
func (a access) canWrite() bool { return a.owner || a.role == store.RoleAdmin || a.operator }

// canDelete: owner or operator.
func (a access) canDelete() bool { return a.owner || a.operator }

// canSuspend: lifecycle actions belong to whoever sells or runs the service.
func (a access) canSuspend() bool { return a.operator || a.partnerAdmin }

// accessTo works out the caller's access to t; the membership is read only when nothing cheaper
// already decided it.
func (s *Server) accessTo(ctx context.Context, p *principal, t *store.Tenant) (access, error) {
	a := access{
		operator:     p.Operator,
		partnerAdmin: p.isPartnerAdmin(t.Spec.PartnerID),
		owner:        t.Spec.Owner.Sub != "" && t.Spec.Owner.Sub == p.Subject,
	}
	// An operator or the owner may already do everything a membership could add; skipping
	// the read keeps the common request at one tenant read and one status read.
	if a.operator || a.owner {
		return a, nil
	}
	// By the tenant's id, not its slug: a membership of an earlier tenant of the same slug
	// (deleted, its slug reused by someone else) must grant nothing here.
	m, err := s.store.GetMembership(ctx, t.ID, p.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return a, fmt.Errorf("read membership: %w", err)
	default:
		a.role = m.Role
		if m.Role == store.RoleOwner {
			a.owner = true
		}
	}
	return a, nil
}

// loadTenant reads the tenant of the :slug parameter and the caller's access to it. A missing
// tenant and one the caller may not see give the same 404.
func (s *Server) loadTenant(c echo.Context) (*store.Tenant, access, error) {
	slug := c.Param("slug")
	ctx := c.Request().Context()
	t, err := s.store.GetTenant(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access{}, notFound("tenant", slug)
	}
	if err != nil {
		return nil, access{}, err
	}
	a, err := s.accessTo(ctx, principalOf(c), t)
	if err != nil {
		return nil, access{}, err
	}
	if !a.visible() {
		return nil, access{}, notFound("tenant", slug)
	}
	return t, a, nil
}

// visibility is the store filter for what the caller may list; nil for operators (everything).
func (s *Server) visibility(ctx context.Context, p *principal) (*store.Visibility, error) {
	if p.Operator {
		return nil, nil
	}
	ms, err := s.store.MembershipsOf(ctx, p.Subject)
	if err != nil {
		return nil, err
	}
	v := &store.Visibility{OwnerSub: p.Subject, PartnerIDs: p.PartnerAdminOf}
	for _, m := range ms {
		v.TenantIDs = append(v.TenantIDs, m.TenantID)
	}
	return v, nil
}
