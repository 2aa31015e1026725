package platformclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ListOptions selects a page of GET /tenants.
type ListOptions struct {
	// Limit is the page size (1–500). Zero leaves the server's default (50).
	Limit int
	// Cursor is the previous page's NextCursor; empty for the first page.
	Cursor string
	// Phase keeps only tenants in that phase.
	Phase string
}

// TenantPage is one page of tenants.
type TenantPage struct {
	Items []Tenant
	// NextCursor is empty on the last page.
	NextCursor string
}

// ListTenants reads one page of the tenants the caller may see.
func (c *Client) ListTenants(ctx context.Context, o ListOptions) (*TenantPage, error) {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Phase != "" {
		q.Set("phase", o.Phase)
	}
	r := request{method: http.MethodGet, path: "/tenants", query: q}
	items, next, err := listPage(ctx, c, r, func(item *Tenant, raw json.RawMessage) { item.Raw = raw })
	if err != nil {
		return nil, err
	}
	return &TenantPage{Items: items, NextCursor: next}, nil
}

// GetTenant reads one tenant.
func (c *Client) GetTenant(ctx context.Context, slug string) (*Tenant, error) {
	return c.tenantCall(ctx, request{method: http.MethodGet, path: tenantPath(slug)})
}

// CreateTenant creates a tenant; the caller becomes its owner.
func (c *Client) CreateTenant(ctx context.Context, body CreateTenant) (*Tenant, error) {
	return c.tenantCall(ctx, request{method: http.MethodPost, path: "/tenants", body: body})
}

// DeleteTenant asks for the tenant's deletion; the controller tears its upstream objects down,
// then the tenant is gone. It returns the tenant as it reads now (phase Deleting).
func (c *Client) DeleteTenant(ctx context.Context, slug string) (*Tenant, error) {
	return c.tenantCall(ctx, request{method: http.MethodDelete, path: tenantPath(slug)})
}

// Suspend sets spec.suspended (operators and the tenant's partner admins).
func (c *Client) Suspend(ctx context.Context, slug string) (*Tenant, error) {
	return c.tenantCall(ctx, request{method: http.MethodPost, path: tenantPath(slug) + "/suspend"})
}

// Resume clears spec.suspended.
func (c *Client) Resume(ctx context.Context, slug string) (*Tenant, error) {
	return c.tenantCall(ctx, request{method: http.MethodPost, path: tenantPath(slug) + "/resume"})
}

// Pause makes the controller leave the tenant alone (operators).
func (c *Client) Pause(ctx context.Context, slug string) (*Tenant, error) {
	return c.tenantCall(ctx, request{method: http.MethodPost, path: "/operator" + tenantPath(slug) + "/pause"})
}

// Unpause hands the tenant back to the controller (operators).
func (c *Client) Unpause(ctx context.Context, slug string) (*Tenant, error) {
	return c.tenantCall(ctx, request{method: http.MethodPost, path: "/operator" + tenantPath(slug) + "/unpause"})
}

func (c *Client) tenantCall(ctx context.Context, r request) (*Tenant, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeTenant(r, resp.body)
}

func decodeTenant(r request, body []byte) (*Tenant, error) {
	var t Tenant
	if err := decode(r, body, &t); err != nil {
		return nil, err
	}
	t.Raw = body
	return &t, nil
}

// ReconcileResult is the answer to a forced reconcile.
type ReconcileResult struct {
	// Handled: the controller handled the request within the wait; Tenant is the tenant as
	// it left it. Otherwise only RequestedAt is set.
	Handled bool
	// RequestedAt is the token written to annotations.reconcileRequestedAt (empty when the
	// server answered 200 without it).
	RequestedAt string
	Tenant      *Tenant
}

// Reconcile forces a reconcile. wait > 0 asks the server to answer once the controller handled
// it (at most wait, which the server caps at 60s); wait == 0 asks for an answer at once, by
// ?wait=0 and by Prefer: respond-async, because a server may wait by default when no wait is
// given.
func (c *Client) Reconcile(ctx context.Context, slug string, wait time.Duration) (*ReconcileResult, error) {
	r := waitRequest(tenantPath(slug)+"/reconcile", wait)
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusOK {
		t, err := decodeTenant(r, resp.body)
		if err != nil {
			return nil, err
		}
		res := &ReconcileResult{Handled: true, Tenant: t}
		if t.Status.LastHandledReconcileAt != nil {
			res.RequestedAt = *t.Status.LastHandledReconcileAt
		}
		return res, nil
	}
	var acc accepted
	if err := decode(r, resp.body, &acc); err != nil {
		return nil, err
	}
	return &ReconcileResult{RequestedAt: acc.RequestedAt}, nil
}

// DriftCheckResult is the answer to a drift check.
type DriftCheckResult struct {
	// Answered: the controller answered within the wait, and Check is its answer.
	Answered    bool
	RequestedAt string
	Check       *DriftCheck
}

// DriftCheck asks the controller to observe every step of the tenant without writing anything
// upstream, and waits up to wait for its answer.
func (c *Client) DriftCheck(ctx context.Context, slug string, wait time.Duration) (*DriftCheckResult, error) {
	r := waitRequest(tenantPath(slug)+"/drift-check", wait)
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusOK {
		var dc DriftCheck
		if err := decode(r, resp.body, &dc); err != nil {
			return nil, err
		}
		dc.Raw = resp.body
		return &DriftCheckResult{Answered: true, RequestedAt: dc.Token, Check: &dc}, nil
	}
	var acc accepted
	if err := decode(r, resp.body, &acc); err != nil {
		return nil, err
	}
	return &DriftCheckResult{RequestedAt: acc.RequestedAt}, nil
}

// accepted is the 202 body of reconcile and drift-check.
type accepted struct {
	RequestedAt string `json:"requestedAt"`
}

func waitRequest(path string, wait time.Duration) request {
	r := request{method: http.MethodPost, path: path, query: url.Values{}, wait: wait}
	if wait <= 0 {
		r.query.Set("wait", "0")
		r.header = http.Header{"Prefer": {"respond-async"}}
		r.wait = 0
	} else {
		r.query.Set("wait", wait.String())
	}
	return r
}

// Events reads the tenant's newest events, newest first (limit 1–50; 0 for the server's 50).
func (c *Client) Events(ctx context.Context, slug string, limit int) ([]Event, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	r := request{method: http.MethodGet, path: tenantPath(slug) + "/events", query: q}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []Event `json:"items"`
	}
	if err := decode(r, resp.body, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// Resync asks the leader's controller to enqueue every tenant now (operators); it returns when
// the request was recorded.
func (c *Client) Resync(ctx context.Context) (time.Time, error) {
	r := request{method: http.MethodPost, path: "/operator/resync"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return time.Time{}, err
	}
	var acc struct {
		RequestedAt time.Time `json:"requestedAt"`
	}
	if err := decode(r, resp.body, &acc); err != nil {
		return time.Time{}, err
	}
	return acc.RequestedAt, nil
}

// Health reads GET /health (no token needed).
func (c *Client) Health(ctx context.Context) (*Health, error) {
	r := request{method: http.MethodGet, path: "/health"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var h Health
	if err := decode(r, resp.body, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

func tenantPath(slug string) string { return "/tenants/" + url.PathEscape(slug) }
