package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
)

// defaultSeats is the seat count of a new subscription: the plans table knows quotas, not
// seats, and the earlier Node service gave every new workspace five.
const defaultSeats = 5

// subscriptionActive is the status of a subscription the API creates.
const subscriptionActive = "active"

// followUpTimeout bounds the writes that follow a committed tenant write (membership,
// subscription), which do not stop when the client leaves.
const followUpTimeout = 10 * time.Second

// createTenantBody is the flat POST body (docs/ARCHITECTURE.md, "Writes, tokens and waits").
type createTenantBody struct {
	Slug             string             `json:"slug"`
	Name             string             `json:"name"`
	Plan             string             `json:"plan"`
	PartnerID        string             `json:"partnerId"`
	Mail             *store.MailSpec    `json:"mail"`
	Storage          *store.StorageSpec `json:"storage"`
	ManagementPolicy string             `json:"managementPolicy"`
}

func createTenantSchema() schema {
	return schema{
		"slug": nil, "name": nil, "plan": nil, "partnerId": nil, "managementPolicy": nil,
		"mail":    {"domain": nil, "quotaBytes": nil},
		"storage": {"quotaBytes": nil},
	}
}

// specPatchSchema is what a merge patch of spec may name. owner and partnerId are listed so a
// patch that repeats them unchanged (a client sending back what it read) is accepted; changing
// them is refused in patchTenant.
func specPatchSchema() schema {
	return schema{
		"name": nil, "plan": nil, "partnerId": nil, "suspended": nil, "managementPolicy": nil,
		"owner":   {"sub": nil, "email": nil},
		"mail":    {"domain": nil, "quotaBytes": nil},
		"storage": {"quotaBytes": nil},
	}
}

// createTenant is POST /tenants: the caller becomes the owner.
func (s *Server) createTenant(c echo.Context) error { return s.create(c, "") }

// createPartnerTenant is POST /partners/:slug/tenants: the tenant belongs to the partner.
func (s *Server) createPartnerTenant(c echo.Context) error {
	pt, err := s.requirePartnerAccess(c)
	if err != nil {
		return err
	}
	if pt.Status != store.PartnerActive {
		return conflict(fmt.Sprintf("partner %q is %s and takes no new tenants", pt.Slug, pt.Status))
	}
	return s.create(c, pt.Slug)
}

// create validates everything, then inserts the tenant (the commit point: the slug's unique
// index decides races), then records the owner's membership and the subscription. Those two
// follow-ups cannot be in one transaction with the insert (FerretDB has none); if one fails
// the tenant stays, its owner still sees it through spec.owner, and the failure is logged.
func (s *Server) create(c echo.Context, partner string) error {
	ctx := c.Request().Context()
	p := principalOf(c)
	var body createTenantBody
	if err := decodeBody(c, createTenantSchema(), &body, mediaJSON); err != nil {
		return err
	}
	if partner != "" {
		if body.PartnerID != "" && body.PartnerID != partner {
			return invalid(store.FieldError{Field: "partnerId", Message: "must be absent or the partner of the route"})
		}
		body.PartnerID = partner
	} else if body.PartnerID != "" {
		if !p.Operator && !p.isPartnerAdmin(body.PartnerID) {
			return forbidden("only operators and the partner's admins may create a tenant for a partner")
		}
		if err := s.checkPartnerUsable(ctx, body.PartnerID); err != nil {
			return err
		}
	}
	spec := store.Spec{
		Name: body.Name, Plan: body.Plan, PartnerID: body.PartnerID,
		Owner: ownerOf(p), Mail: body.Mail, Storage: body.Storage, ManagementPolicy: body.ManagementPolicy,
	}
	t, err := s.store.CreateTenant(ctx, store.NewTenant{Slug: body.Slug, Spec: spec})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return conflict(fmt.Sprintf("the slug %q is taken", body.Slug), store.FieldError{Field: "slug", Message: "is taken"})
	case errors.Is(err, store.ErrDomainTaken):
		return domainTaken()
	case err != nil:
		return err
	}
	s.logWrite(c, "tenant.create", "tenant", t.Metadata.Slug, "partner", t.Spec.PartnerID, "plan", t.Spec.Plan)
	s.recordOwnership(c, t)
	c.Response().Header().Set(echo.HeaderLocation, "/tenants/"+url.PathEscape(t.Metadata.Slug))
	return s.respondTenant(c, http.StatusCreated, t, true)
}

// recordOwnership writes the owner's membership and the subscription of a new tenant. Both
// are inserts (decided by a unique index, no scan); a leftover of an earlier tenant of the same
// slug (a teardown that crashed half-way) makes the insert collide and is then overwritten.
// They run on even if the client has just gone away: the tenant exists, so they should too.
func (s *Server) recordOwnership(c echo.Context, t *store.Tenant) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), followUpTimeout)
	defer cancel()
	m := store.Membership{TenantSlug: t.Metadata.Slug, TenantID: t.ID, Subject: t.Spec.Owner.Sub, Email: t.Spec.Owner.Email, Role: store.RoleOwner}
	err := s.store.CreateMembership(ctx, m)
	if errors.Is(err, store.ErrAlreadyExists) {
		err = s.store.PutMembership(ctx, m)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "owner membership not recorded; the owner still sees the tenant through spec.owner",
			"tenant", t.Metadata.Slug, "subject", m.Subject, "request_id", requestIDOf(c), "error", err)
	}
	sub := store.Subscription{TenantSlug: t.Metadata.Slug, TenantID: t.ID, Plan: t.Spec.Plan, Status: subscriptionActive, Seats: defaultSeats}
	err = s.store.CreateSubscription(ctx, sub)
	if errors.Is(err, store.ErrAlreadyExists) {
		err = s.store.PutSubscription(ctx, sub)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "subscription not recorded; the next plan change records it",
			"tenant", t.Metadata.Slug, "request_id", requestIDOf(c), "error", err)
	}
}

// ownerOf takes the owner from the token. An email the store would reject (IdPs put odd
// things there) is left out rather than failing the caller's request for it.
func ownerOf(p *principal) store.Owner {
	o := store.Owner{Sub: p.Subject}
	if a, err := mail.ParseAddress(p.Email); err == nil && a.Address == p.Email {
		o.Email = p.Email
	}
	return o
}

// checkPartnerUsable: a tenant may only name an existing, active partner.
func (s *Server) checkPartnerUsable(ctx context.Context, slug string) error {
	pt, err := s.store.GetPartner(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return invalid(store.FieldError{Field: "partnerId", Message: "names no partner"})
	}
	if err != nil {
		return err
	}
	if pt.Status != store.PartnerActive {
		return invalid(store.FieldError{Field: "partnerId", Message: "names a partner that is " + pt.Status})
	}
	return nil
}

// getTenant is GET /tenants/:slug.
func (s *Server) getTenant(c echo.Context) error {
	t, _, err := s.loadTenant(c)
	if err != nil {
		return err
	}
	return s.respondTenant(c, http.StatusOK, t, false)
}

// respondTenant writes the view of t with its ETag. A tenant just created has no status to
// read (isNew); any other reads its status first.
func (s *Server) respondTenant(c echo.Context, code int, t *store.Tenant, isNew bool) error {
	var st *store.Status
	if !isNew {
		var err error
		st, err = s.store.GetStatus(c.Request().Context(), t.ID)
		if errors.Is(err, store.ErrNotFound) {
			st = nil
		} else if err != nil {
			return err
		}
	}
	c.Response().Header().Set(headerETag, etag(t.Metadata.ResourceVersion))
	return c.JSON(code, s.viewOf(t, st))
}

// listTenants is GET /tenants: what the caller may see.
func (s *Server) listTenants(c echo.Context) error {
	q, err := parseListQuery(c)
	if err != nil {
		return err
	}
	vis, err := s.visibility(c.Request().Context(), principalOf(c))
	if err != nil {
		return err
	}
	return s.respondList(c, store.ListOptions{Cursor: q.cursor, Limit: q.limit, Visible: vis}, q.phase)
}

// listPartnerTenants is GET /partners/:slug/tenants.
func (s *Server) listPartnerTenants(c echo.Context) error {
	pt, err := s.requirePartnerAccess(c)
	if err != nil {
		return err
	}
	q, err := parseListQuery(c)
	if err != nil {
		return err
	}
	return s.respondList(c, store.ListOptions{Cursor: q.cursor, Limit: q.limit, PartnerID: pt.Slug}, q.phase)
}

func (s *Server) respondList(c echo.Context, o store.ListOptions, phase string) error {
	items, next, err := s.listPage(c.Request().Context(), o, phase)
	if errors.Is(err, store.ErrInvalidCursor) {
		return badParam("cursor", "is not a cursor this server issued")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newListView(items, next))
}

// phaseScanBudget bounds how many tenants one ?phase= request examines. The phase is derived
// (no status yet → Pending; deletion requested → Deleting), so it cannot be a store filter;
// a page may come back short with a nextCursor, and the client simply continues.
const phaseScanBudget = 2000

// listPage reads one page of views, with the statuses of the page in one query (no N+1).
func (s *Server) listPage(ctx context.Context, o store.ListOptions, phase string) ([]tenantView, string, error) {
	limit := o.Limit
	if phase == "" {
		ts, next, err := s.store.ListTenants(ctx, o)
		if err != nil {
			return nil, "", err
		}
		views, err := s.viewsOf(ctx, ts)
		return views, next, err
	}
	batch := o
	batch.Limit = max(limit, 100)
	var out []tenantView
	for examined := 0; ; {
		ts, next, err := s.store.ListTenants(ctx, batch)
		if err != nil {
			return nil, "", err
		}
		views, err := s.viewsOf(ctx, ts)
		if err != nil {
			return nil, "", err
		}
		for i, v := range views {
			if v.Status.Phase != phase {
				continue
			}
			out = append(out, v)
			if len(out) == limit {
				if i < len(views)-1 || next != "" {
					return out, store.EncodeCursor(ts[i].ID), nil
				}
				return out, "", nil
			}
		}
		examined += len(ts)
		if next == "" || examined >= phaseScanBudget {
			return out, next, nil
		}
		batch.Cursor = next
	}
}

func (s *Server) viewsOf(ctx context.Context, ts []store.Tenant) ([]tenantView, error) {
	ids := make([]bson.ObjectID, len(ts))
	for i := range ts {
		ids[i] = ts[i].ID
	}
	statuses, err := s.store.GetStatuses(ctx, ids)
	if err != nil {
		return nil, err
	}
	views := make([]tenantView, len(ts))
	for i := range ts {
		var st *store.Status
		if got, ok := statuses[ts[i].ID]; ok {
			st = &got
		}
		views[i] = s.viewOf(&ts[i], st)
	}
	return views, nil
}

type listQuery struct {
	limit  int
	cursor string
	phase  string
}

// phases a ?phase= filter may name.
func phases() []string {
	return []string{store.PhasePending, store.PhaseActive, store.PhaseDegraded, store.PhaseSuspended, store.PhaseDeleting}
}

// parseListQuery checks ?limit=, ?cursor= and ?phase= before anything is read.
func parseListQuery(c echo.Context) (listQuery, error) {
	var q listQuery
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > store.MaxPageSize {
			return q, badParam("limit", fmt.Sprintf("must be an integer from 1 to %d", store.MaxPageSize))
		}
		q.limit = n
	} else {
		q.limit = 50
	}
	if raw := c.QueryParam("cursor"); raw != "" {
		if _, err := store.DecodeCursor(raw); err != nil {
			return q, badParam("cursor", "is not a cursor this server issued")
		}
		q.cursor = raw
	}
	if raw := c.QueryParam("phase"); raw != "" {
		for _, ph := range phases() {
			if strings.EqualFold(raw, ph) {
				q.phase = ph
			}
		}
		if q.phase == "" {
			return q, badParam("phase", "must be one of "+strings.Join(phases(), ", "))
		}
	}
	return q, nil
}

// patchTenant is PATCH /tenants/:slug: an RFC 7396 merge patch of spec.
func (s *Server) patchTenant(c echo.Context) error {
	ctx := c.Request().Context()
	t, a, err := s.loadTenant(c)
	if err != nil {
		return err
	}
	if !a.canWrite() {
		return forbidden("only the tenant's owner, its admins and operators may change it")
	}
	expected, err := checkIfMatch(c, t.Metadata.ResourceVersion)
	if err != nil {
		return err
	}
	body, err := readJSONBody(c, mediaMergePatch, mediaJSON)
	if err != nil {
		return err
	}
	patch, err := parseObject(body, specPatchSchema())
	if err != nil {
		return err
	}
	var oldPlan string
	updated, err := s.store.UpdateSpec(ctx, t.Metadata.Slug, expected, func(sp *store.Spec) error {
		oldPlan = sp.Plan
		next, err := patchSpec(*sp, patch)
		if err != nil {
			return err
		}
		switch {
		case next.Owner != sp.Owner:
			return invalid(store.FieldError{Field: "owner", Message: "cannot be changed"})
		case next.PartnerID != sp.PartnerID:
			return invalid(store.FieldError{Field: "partnerId", Message: "cannot be changed"})
		case next.Suspended != sp.Suspended && !a.canSuspend():
			return forbidden("only operators and the tenant's partner admins may suspend or resume it")
		}
		*sp = next
		return nil
	})
	if err != nil {
		return s.tenantWriteError(c, err)
	}
	if updated.Metadata.ResourceVersion != t.Metadata.ResourceVersion {
		s.logWrite(c, "tenant.patch", "tenant", updated.Metadata.Slug, "generation", updated.Metadata.Generation)
	}
	if updated.Spec.Plan != oldPlan {
		s.followPlan(c, updated)
	}
	return s.respondTenant(c, http.StatusOK, updated, false)
}

// patchSpec applies a merge patch to a spec through its JSON form, then decodes the result
// strictly, so a wrong type is a 422 naming the field.
func patchSpec(cur store.Spec, patch map[string]any) (store.Spec, error) {
	target, err := toJSONValue(cur)
	if err != nil {
		return store.Spec{}, err
	}
	merged, err := marshalJSON(mergePatch(target, patch))
	if err != nil {
		return store.Spec{}, err
	}
	var next store.Spec
	if err := decodeStrict(merged, &next); err != nil {
		return store.Spec{}, err
	}
	return next, nil
}

// followPlan keeps the subscription on the tenant's plan (docs/ARCHITECTURE.md, "Plans"), keeping its seats. Like
// recordOwnership it completes even if the client has gone away after the spec was written.
func (s *Server) followPlan(c echo.Context, t *store.Tenant) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), followUpTimeout)
	defer cancel()
	sub := store.Subscription{TenantSlug: t.Metadata.Slug, TenantID: t.ID, Plan: t.Spec.Plan, Status: subscriptionActive, Seats: defaultSeats}
	if cur, err := s.store.GetSubscription(ctx, t.ID); err == nil {
		sub.Status, sub.Seats = cur.Status, cur.Seats
	}
	if err := s.store.PutSubscription(ctx, sub); err != nil {
		s.log.ErrorContext(ctx, "subscription does not follow the plan change", "tenant", t.Metadata.Slug,
			"plan", t.Spec.Plan, "request_id", requestIDOf(c), "error", err)
		return
	}
	s.logWrite(c, "subscription.plan", "tenant", t.Metadata.Slug, "plan", t.Spec.Plan)
}

// tenantWriteError maps the store's write errors of an existing tenant.
func (s *Server) tenantWriteError(c echo.Context, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("tenant", c.Param("slug"))
	case errors.Is(err, store.ErrConflict):
		return preconditionFailed("the tenant changed since the version in If-Match; read it again and retry")
	case errors.Is(err, store.ErrDeleting):
		return conflict("the tenant is being deleted; its spec no longer changes")
	case errors.Is(err, store.ErrDomainTaken):
		return domainTaken()
	}
	return err
}

// domainTaken is the 409 of a mail domain another tenant holds. Like a taken slug it says
// only that the name is taken, never by whom.
func domainTaken() *Problem {
	return conflict("the mail domain belongs to another tenant",
		store.FieldError{Field: "mail.domain", Message: "is taken by another tenant"})
}

// checkIfMatch evaluates an optional If-Match against the current resource version and
// returns the version the write must still find (0 without If-Match: last writer wins).
// Strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
func checkIfMatch(c echo.Context, current int64) (int64, error) {
	raw := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if raw == "" {
		return 0, nil
	}
	if raw == "*" {
		return current, nil
	}
	matched := false
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		weak := strings.HasPrefix(part, "W/")
		tag := strings.TrimPrefix(part, "W/")
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			return 0, badParam("If-Match", `must be an entity tag such as "17"`)
		}
		rv, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64)
		if err != nil {
			// A well-formed tag this server never issued: it cannot match.
			continue
		}
		if !weak && rv == current {
			matched = true
		}
	}
	if !matched {
		return 0, preconditionFailed(fmt.Sprintf("the resource is at version %s, not the one in If-Match", etag(current)))
	}
	return current, nil
}

// deleteTenant is DELETE /tenants/:slug: it only requests the deletion; the controller tears
// the upstreams down and then removes the tenant.
func (s *Server) deleteTenant(c echo.Context) error {
	t, a, err := s.loadTenant(c)
	if err != nil {
		return err
	}
	if !a.canDelete() {
		return forbidden("only the tenant's owner and operators may delete it")
	}
	updated, already, err := s.store.RequestDeletion(c.Request().Context(), t.Metadata.Slug)
	if err != nil {
		return s.tenantWriteError(c, err)
	}
	if !already {
		s.logWrite(c, "tenant.delete", "tenant", updated.Metadata.Slug)
	}
	return s.respondTenant(c, http.StatusAccepted, updated, false)
}

// suspendTenant is POST /tenants/:slug/suspend.
func (s *Server) suspendTenant(c echo.Context) error { return s.setSuspended(c, true) }

// resumeTenant is POST /tenants/:slug/resume.
func (s *Server) resumeTenant(c echo.Context) error { return s.setSuspended(c, false) }

func (s *Server) setSuspended(c echo.Context, suspended bool) error {
	t, a, err := s.loadTenant(c)
	if err != nil {
		return err
	}
	if !a.canSuspend() {
		return forbidden("only operators and the tenant's partner admins may suspend or resume it")
	}
	updated, err := s.store.UpdateSpec(c.Request().Context(), t.Metadata.Slug, 0, func(sp *store.Spec) error {
		sp.Suspended = suspended
		return nil
	})
	if err != nil {
		return s.tenantWriteError(c, err)
	}
	if updated.Metadata.ResourceVersion != t.Metadata.ResourceVersion {
		s.logWrite(c, map[bool]string{true: "tenant.suspend", false: "tenant.resume"}[suspended], "tenant", updated.Metadata.Slug)
	}
	return s.respondTenant(c, http.StatusOK, updated, false)
}

// logWrite records one write with who did it and the request id.
func (s *Server) logWrite(c echo.Context, action, kind, slug string, attrs ...any) {
	subject := ""
	if p := principalOf(c); p != nil {
		subject = p.Subject
	}
	args := append([]any{"action", action, kind, slug, "subject", subject, "request_id", requestIDOf(c)}, attrs...)
	s.log.InfoContext(c.Request().Context(), "write", args...)
}
