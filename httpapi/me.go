package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
)

// meMaxTenants caps the tenants /me lists. A person belongs to a handful; a partner admin's
// many tenants are listed by GET /partners/:slug/tenants, not here.
const meMaxTenants = 1000

type meView struct {
	Profile      profileView         `json:"profile"`
	Tenants      []meTenant          `json:"tenants"`
	Subscription *store.Subscription `json:"subscription"`
	Access       meAccess            `json:"access"`
}

type profileView struct {
	Sub    string   `json:"sub"`
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
}

// meTenant is one of the caller's tenants. Status, ProvisioningStatus and ProvisioningErrors
// are the fields the earlier Node service answered, kept for the portal: status is the phase
// in lower case; the other two are as in the tenant view.
type meTenant struct {
	Slug               string            `json:"slug"`
	Name               string            `json:"name"`
	Role               string            `json:"role"`
	Phase              string            `json:"phase"`
	Status             string            `json:"status"`
	ProvisioningStatus map[string]string `json:"provisioningStatus"`
	ProvisioningErrors map[string]string `json:"provisioningErrors"`
}

// meAccess tells a portal which consoles to offer; the server decides again on every request.
type meAccess struct {
	Operator       bool     `json:"operator"`
	PartnerAdminOf []string `json:"partnerAdminOf"`
}

// me is GET /me: who the token says the caller is, their tenants with role and phase, and the
// subscription of the tenant they own.
func (s *Server) me(c echo.Context) error {
	ctx := c.Request().Context()
	p := principalOf(c)
	ms, err := s.store.MembershipsOf(ctx, p.Subject)
	if err != nil {
		return err
	}
	// Memberships name their tenant by id (uid in the view): a membership left by an earlier
	// tenant of a reused slug matches nothing.
	roles := make(map[string]string, len(ms))
	vis := &store.Visibility{OwnerSub: p.Subject}
	for _, m := range ms {
		roles[m.TenantID.Hex()] = m.Role
		vis.TenantIDs = append(vis.TenantIDs, m.TenantID)
	}
	views, err := s.allVisible(ctx, vis)
	if err != nil {
		return err
	}
	out := meView{
		Profile: profileView{Sub: p.Subject, Email: p.Email, Name: p.Name, Groups: p.Groups},
		Tenants: make([]meTenant, 0, len(views)),
		Access:  meAccess{Operator: p.Operator, PartnerAdminOf: p.PartnerAdminOf},
	}
	if out.Profile.Groups == nil {
		out.Profile.Groups = []string{}
	}
	if out.Access.PartnerAdminOf == nil {
		out.Access.PartnerAdminOf = []string{}
	}
	// The subscription shown is that of the oldest owned tenant not being deleted, else of the
	// oldest owned one.
	owned, ownedLive := "", ""
	for _, v := range views {
		role := roles[v.Metadata.UID]
		if v.Spec.Owner.Sub == p.Subject {
			role = store.RoleOwner
		}
		out.Tenants = append(out.Tenants, meTenant{
			Slug: v.Metadata.Slug, Name: v.Spec.Name, Role: role, Phase: v.Status.Phase,
			Status: strings.ToLower(v.Status.Phase), ProvisioningStatus: v.ProvisioningStatus, ProvisioningErrors: v.ProvisioningErrors,
		})
		if role != store.RoleOwner {
			continue
		}
		if owned == "" {
			owned = v.Metadata.UID
		}
		if ownedLive == "" && v.Metadata.DeletionRequestedAt == nil {
			ownedLive = v.Metadata.UID
		}
	}
	if ownedLive != "" {
		owned = ownedLive
	}
	if id, err := bson.ObjectIDFromHex(owned); err == nil {
		sub, err := s.store.GetSubscription(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			out.Subscription = sub
		}
	}
	return c.JSON(http.StatusOK, out)
}

// allVisible pages through everything vis lets the caller see, up to meMaxTenants.
func (s *Server) allVisible(ctx context.Context, vis *store.Visibility) ([]tenantView, error) {
	var out []tenantView
	o := store.ListOptions{Limit: store.MaxPageSize, Visible: vis}
	for len(out) < meMaxTenants {
		ts, next, err := s.store.ListTenants(ctx, o)
		if err != nil {
			return nil, err
		}
		views, err := s.viewsOf(ctx, ts)
		if err != nil {
			return nil, err
		}
		out = append(out, views...)
		if next == "" {
			break
		}
		o.Cursor = next
	}
	return out, nil
}
