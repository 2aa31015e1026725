package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/dezky/platform-api/store"
)

// createPartnerBody is the POST /partners body.
type createPartnerBody struct {
	Slug    string `json:"slug"`
	Name    string `json:"name"`
	Contact string `json:"contact"`
	Status  string `json:"status"`
}

func createPartnerSchema() schema {
	return schema{"slug": nil, "name": nil, "contact": nil, "status": nil}
}

// partnerPatchSchema: the slug is the partner's name in URLs and in tenants' spec.partnerId,
// so it never changes.
func partnerPatchSchema() schema { return schema{"name": nil, "contact": nil, "status": nil} }

// partnerFields is the mutable part of a partner in its JSON form, the merge-patch target.
type partnerFields struct {
	Name    string `json:"name"`
	Contact string `json:"contact"`
	Status  string `json:"status"`
}

// requirePartnerAccess guards /partners/:slug/tenants: an operator, or an admin of exactly
// that partner. The partner must exist.
func (s *Server) requirePartnerAccess(c echo.Context) (*store.Partner, error) {
	slug := c.Param("slug")
	p := principalOf(c)
	if !p.Operator && !p.isPartnerAdmin(slug) {
		return nil, forbidden("only operators and the partner's admins may manage its tenants")
	}
	pt, err := s.store.GetPartner(c.Request().Context(), slug)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("partner", slug)
	}
	return pt, err
}

// listPartners is GET /partners.
func (s *Server) listPartners(c echo.Context) error {
	q, err := parseListQuery(c)
	if err != nil {
		return err
	}
	if q.phase != "" {
		return badParam("phase", "does not apply to partners")
	}
	items, next, err := s.store.ListPartners(c.Request().Context(), q.cursor, q.limit)
	if errors.Is(err, store.ErrInvalidCursor) {
		return badParam("cursor", "is not a cursor this server issued")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newListView(items, next))
}

// createPartner is POST /partners.
func (s *Server) createPartner(c echo.Context) error {
	var body createPartnerBody
	if err := decodeBody(c, createPartnerSchema(), &body, mediaJSON); err != nil {
		return err
	}
	pt, err := s.store.CreatePartner(c.Request().Context(), store.Partner{
		Slug: body.Slug, Name: body.Name, Contact: body.Contact, Status: body.Status,
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return conflict(fmt.Sprintf("the partner slug %q is taken", body.Slug), store.FieldError{Field: "slug", Message: "is taken"})
	}
	if err != nil {
		return err
	}
	s.logWrite(c, "partner.create", "partner", pt.Slug)
	c.Response().Header().Set(echo.HeaderLocation, "/partners/"+url.PathEscape(pt.Slug))
	c.Response().Header().Set(headerETag, etag(pt.ResourceVersion))
	return c.JSON(http.StatusCreated, pt)
}

// getPartner is GET /partners/:slug.
func (s *Server) getPartner(c echo.Context) error {
	slug := c.Param("slug")
	pt, err := s.store.GetPartner(c.Request().Context(), slug)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("partner", slug)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set(headerETag, etag(pt.ResourceVersion))
	return c.JSON(http.StatusOK, pt)
}

// patchPartner is PATCH /partners/:slug: a merge patch of name, contact and status.
func (s *Server) patchPartner(c echo.Context) error {
	ctx := c.Request().Context()
	slug := c.Param("slug")
	cur, err := s.store.GetPartner(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("partner", slug)
	}
	if err != nil {
		return err
	}
	expected, err := checkIfMatch(c, cur.ResourceVersion)
	if err != nil {
		return err
	}
	body, err := readJSONBody(c, mediaMergePatch, mediaJSON)
	if err != nil {
		return err
	}
	patch, err := parseObject(body, partnerPatchSchema())
	if err != nil {
		return err
	}
	updated, err := s.store.UpdatePartner(ctx, slug, expected, func(p *store.Partner) error {
		target, err := toJSONValue(partnerFields{Name: p.Name, Contact: p.Contact, Status: p.Status})
		if err != nil {
			return err
		}
		merged, err := marshalJSON(mergePatch(target, patch))
		if err != nil {
			return err
		}
		var next partnerFields
		if err := decodeStrict(merged, &next); err != nil {
			return err
		}
		p.Name, p.Contact, p.Status = next.Name, next.Contact, next.Status
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("partner", slug)
	case errors.Is(err, store.ErrConflict):
		return preconditionFailed("the partner changed since the version in If-Match; read it again and retry")
	case err != nil:
		return err
	}
	if updated.ResourceVersion != cur.ResourceVersion {
		s.logWrite(c, "partner.patch", "partner", slug)
	}
	c.Response().Header().Set(headerETag, etag(updated.ResourceVersion))
	return c.JSON(http.StatusOK, updated)
}

// deletePartner is DELETE /partners/:slug. A partner with tenants stays: deleting it would
// orphan their spec.partnerId and the partner admins' access.
func (s *Server) deletePartner(c echo.Context) error {
	ctx := c.Request().Context()
	slug := c.Param("slug")
	if _, err := s.store.GetPartner(ctx, slug); errors.Is(err, store.ErrNotFound) {
		return notFound("partner", slug)
	} else if err != nil {
		return err
	}
	n, err := s.store.CountPartnerTenants(ctx, slug)
	if err != nil {
		return err
	}
	if n > 0 {
		return conflict(fmt.Sprintf("partner %q still has %d tenant(s); move or delete them first", slug, n))
	}
	if err := s.store.DeletePartner(ctx, slug); errors.Is(err, store.ErrNotFound) {
		return notFound("partner", slug)
	} else if err != nil {
		return err
	}
	s.logWrite(c, "partner.delete", "partner", slug)
	return c.NoContent(http.StatusNoContent)
}
