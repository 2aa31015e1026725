package authentik_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/acceptance"
	"github.com/dezky/platform-api/integrations/authentik"
	authentiksim "github.com/dezky/platform-api/integrations/sim/authentik"
)

// The Authentik acceptance suite: the shared scenario table against the simulator, always, and
// against a live Authentik when these are set:
//
//	LIVE_AUTHENTIK_URL    Authentik base URL (a bare host gets /api/v3), e.g. http://localhost:9000
//	LIVE_AUTHENTIK_TOKEN  an API token (intent=api) of a user allowed to manage groups and users
//	LIVE_CA_FILE          optional: PEM of a private CA
//
// Every group it creates is named with accPrefix (the client's group prefix), and so is the
// owner account it creates for the run; all of it is removed afterwards, and the prefix is
// swept at the start, for what an interrupted run left, and at the end.

// accPrefix starts the name of every group and user the suite creates.
const accPrefix = "dezky-acc-"

// simToken is the simulator's API token.
const simToken = "ak-acceptance-token"

func TestAcceptance(t *testing.T) {
	t.Run("simulator", func(t *testing.T) {
		sim := authentiksim.New(authentiksim.Options{Token: simToken})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		email := accPrefix + "owner@example.com"
		up := &simUpstream{sim: sim, ownerPK: sim.AddUser(accPrefix+"owner", email)}
		acceptance.Run(t, authentikSuite(srv.URL, simToken, email, nil, up))
	})
	// The live half's out-of-band side, tampering over the REST API, run against the
	// simulator: the only place it runs where no Authentik is available, so a request the
	// simulator refuses shows here before it meets a real server. The simulator does not
	// create users over HTTP, so the owner is seeded.
	t.Run("simulator over its api", func(t *testing.T) {
		sim := authentiksim.New(authentiksim.Options{Token: simToken})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		email := accPrefix + "owner@example.com"
		up := &liveUpstream{api: srv.URL + authentiksim.APIPrefix, token: simToken, http: srv.Client(),
			ownerPK: sim.AddUser(accPrefix+"owner", email), ownerEmail: email}
		acceptance.Run(t, authentikSuite(srv.URL, simToken, email, nil, up))
	})
	t.Run("live", func(t *testing.T) {
		env := acceptance.LiveEnv(t, "Authentik", "LIVE_AUTHENTIK_URL", "LIVE_AUTHENTIK_TOKEN")
		up, base := newLiveUpstream(t, env)
		acceptance.Run(t, authentikSuite(env["LIVE_AUTHENTIK_URL"], env["LIVE_AUTHENTIK_TOKEN"], up.ownerEmail, base, up))
	})
}

// authentikUpstream is the out-of-band side the Authentik suite needs beyond the shared one.
type authentikUpstream interface {
	acceptance.Upstream
	// CreateGroup creates a group named name with attrs, as an administrator would.
	CreateGroup(ctx context.Context, name string, attrs map[string]any) (string, error)
	// Attributes reads the attributes of the group with pk.
	Attributes(ctx context.Context, pk string) (map[string]any, error)
	// SetAttributes replaces the attributes of the group with pk.
	SetAttributes(ctx context.Context, pk string, attrs map[string]any) error
}

func authentikSuite(baseURL, token, ownerEmail string, base http.RoundTripper, up authentikUpstream) acceptance.Suite {
	return acceptance.Suite{
		Prefix: accPrefix,
		NewStep: func(t *testing.T, rt http.RoundTripper) integrations.Step {
			c, err := authentik.New(authentik.Config{BaseURL: baseURL, Token: token, GroupPrefix: accPrefix,
				HTTP: integrations.HTTPOptions{Transport: rt, Timeout: 20 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Base:     base,
		Upstream: up,
		Desired: func(tenantID, slug string) integrations.Desired {
			return integrations.Desired{TenantID: tenantID, Slug: slug, Name: "Acceptance " + slug, Plan: "starter",
				OwnerEmail: ownerEmail}
		},
		IsCreate: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/v3/core/groups/")
		},
		Extra: []acceptance.Scenario{
			{Name: "foreign group holding the name is permanent", Run: func(h *acceptance.Harness) { foreignHoldsName(h, up) }},
			{Name: "unmarked group is adopted", Run: func(h *acceptance.Harness) { unmarkedAdopted(h, up) }},
			{Name: "attributes others added survive a repair", Run: func(h *acceptance.Harness) { othersAttributesKept(h, up) }},
			{Name: "owner without an account is no drift", Run: ownerWithoutAccount},
		},
	}
}

// foreignHoldsName: Authentik group names are global, so the realistic collision is another
// tenant's group already holding this tenant's name, found by name with no recorded id. It is
// refused before any write, Observe reports it as foreign, and Delete leaves it.
func foreignHoldsName(h *acceptance.Harness, up authentikUpstream) {
	d := h.Tenant()
	other, _ := acceptance.NewTenant()
	attrs := foreignAttrs(other)
	id, err := up.CreateGroup(h.Ctx(), accPrefix+d.Slug, attrs)
	if err != nil {
		h.T.Fatalf("create the other tenant's group: %v", err)
	}
	h.T.Cleanup(func() {
		if err := up.Remove(h.Ctx(), id); err != nil {
			h.T.Errorf("cleanup: %v", err)
		}
	})
	h.Rec.Writes()
	if _, err := h.Converge(d); !integrations.IsPermanent(err) {
		h.T.Errorf("reconcile: %v, want permanent", err)
	}
	if o := h.Observe(*d); o.Owner != integrations.Foreign || o.ExternalID != id {
		h.T.Errorf("Observe = %+v, want the group %s, foreign", o, id)
	}
	if err := h.Step.Delete(h.Ctx(), *d); err != nil {
		h.T.Errorf("Delete: %v", err)
	}
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("the other tenant's group was written to: %v", w)
	}
	got, err := up.Attributes(h.Ctx(), id)
	if err != nil {
		h.T.Fatalf("the other tenant's group: %v", err)
	}
	if diff := cmp.Diff(attrs, got); diff != "" {
		h.T.Errorf("the other tenant's attributes changed (-want +got):\n%s", diff)
	}
}

// unmarkedAdopted: a group of the tenant's name without dezky attributes (made by hand, or by
// the Node service before it wrote them) is adopted: the attributes are added, the ones already
// there kept, and no second group is made.
func unmarkedAdopted(h *acceptance.Harness, up authentikUpstream) {
	d := h.Tenant()
	id, err := up.CreateGroup(h.Ctx(), accPrefix+d.Slug, map[string]any{"note": "made by hand"})
	if err != nil {
		h.T.Fatalf("create the unmarked group: %v", err)
	}
	res := h.MustConverge(d)
	if res.Action != integrations.ActionAdopted || res.ExternalID != id {
		h.T.Errorf("reconcile: %+v, want %s adopted", res, id)
	}
	attrs, err := up.Attributes(h.Ctx(), id)
	if err != nil {
		h.T.Fatal(err)
	}
	if attrs["note"] != "made by hand" || !carriesMarker(attrs, d.TenantID) {
		h.T.Errorf("attributes after the adoption: %v", attrs)
	}
	h.InSync(*d, "after the adoption")
	h.Owned(*d, 1, "after the adoption")
}

// othersAttributesKept: Authentik replaces attributes as a whole, so a repair of ours must
// carry the keys someone else added.
func othersAttributesKept(h *acceptance.Harness, up authentikUpstream) {
	d := h.Tenant()
	h.MustConverge(d)
	attrs, err := up.Attributes(h.Ctx(), d.ExternalID)
	if err != nil {
		h.T.Fatal(err)
	}
	attrs["note"] = "added by hand"
	attrs[authentik.AttrSuspended] = true
	if err := up.SetAttributes(h.Ctx(), d.ExternalID, attrs); err != nil {
		h.T.Fatal(err)
	}
	want := []integrations.Drift{{Field: integrations.FieldSuspended, Want: "false", Got: "true"}}
	if diff := cmp.Diff(want, h.Observe(*d).Drift); diff != "" {
		h.T.Errorf("drift (-want +got):\n%s", diff)
	}
	h.MustConverge(d)
	got, err := up.Attributes(h.Ctx(), d.ExternalID)
	if err != nil {
		h.T.Fatal(err)
	}
	if got["note"] != "added by hand" || got[authentik.AttrSuspended] != false {
		h.T.Errorf("attributes after the repair: %v", got)
	}
	h.InSync(*d, "after the repair")
}

// ownerWithoutAccount: an owner whose email has no Authentik account yet is told in the
// message, not reported as drift (nothing here can create the account), and costs no write on
// the next reconcile.
func ownerWithoutAccount(h *acceptance.Harness) {
	d := h.Tenant()
	d.OwnerEmail = accPrefix + "nobody-" + d.Slug + "@example.com"
	if res := h.MustConverge(d); res.Action != integrations.ActionCreated || !strings.Contains(res.Message, d.OwnerEmail) {
		h.T.Errorf("reconcile: %+v, want created with a message naming the owner", res)
	}
	o := h.Observe(*d)
	if !o.Exists || len(o.Drift) != 0 || !strings.Contains(o.Message, d.OwnerEmail) {
		h.T.Errorf("Observe = %+v, want in sync with a message naming the owner", o)
	}
	h.Rec.Writes()
	h.MustConverge(d)
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("second reconcile wrote: %v", w)
	}
}

// Tampers both upstreams make, as an administrator would in the admin interface or the API.
const (
	tamperDeleted      = "group deleted"
	tamperRenamed      = "group renamed"
	tamperSlug         = "slug attribute changed"
	tamperMarker       = "tenant id attribute removed"
	tamperOwnerRemoved = "owner removed"
	tamperSuspended    = "suspended attribute set"
)

var authentikTampers = []acceptance.Tamper{
	{Name: tamperDeleted, Field: integrations.FieldGroup},
	{Name: tamperRenamed, Field: integrations.FieldGroup},
	{Name: tamperSlug, Field: integrations.FieldAttributes},
	{Name: tamperMarker, Field: integrations.FieldAttributes},
	{Name: tamperOwnerRemoved, Field: integrations.FieldOwner},
	{Name: tamperSuspended, Field: integrations.FieldSuspended},
}

// renamed is the name the rename tamper gives a group; it keeps the prefix, so a sweep finds it.
func renamed(slug string) string { return accPrefix + "renamed-" + slug }

// tamperedAttributes returns attrs after the attribute tamper name, false when name is not one.
func tamperedAttributes(name string, d integrations.Desired, attrs map[string]any) (map[string]any, bool) {
	out := maps.Clone(attrs)
	if out == nil {
		out = map[string]any{}
	}
	switch name {
	case tamperSlug:
		out[authentik.AttrTenantSlug] = "changed-by-hand"
	case tamperMarker:
		delete(out, authentik.AttrTenantID)
	case tamperSuspended:
		out[authentik.AttrSuspended] = !d.Suspended
	default:
		return nil, false
	}
	return out, true
}

// foreignAttrs are the attributes of another tenant's group.
func foreignAttrs(tenantID string) map[string]any {
	return map[string]any{authentik.AttrTenantID: tenantID, authentik.AttrTenantSlug: "another-tenant"}
}

// carriesMarker reports whether attrs name tenantID in dezkyTenantId, bare or in the marker
// form earlier builds wrote.
func carriesMarker(attrs map[string]any, tenantID string) bool {
	s, _ := attrs[authentik.AttrTenantID].(string)
	id, found := integrations.MarkerOwner(s)
	if !found {
		id = s
	}
	return id != "" && strings.EqualFold(id, tenantID)
}

// simUpstream tampers through the simulator's out-of-band methods.
type simUpstream struct {
	sim     *authentiksim.Server
	ownerPK int
}

func (u *simUpstream) group(pk string) (authentiksim.Group, bool) {
	for _, g := range u.sim.Groups() {
		if g.PK == pk {
			return g, true
		}
	}
	return authentiksim.Group{}, false
}

func (u *simUpstream) Tampers() []acceptance.Tamper { return authentikTampers }

func (u *simUpstream) Tamper(_ context.Context, d integrations.Desired, name string) error {
	g, found := u.group(d.ExternalID)
	if !found {
		return fmt.Errorf("%s: no group %s", name, d.ExternalID)
	}
	if attrs, ok := tamperedAttributes(name, d, g.Attributes); ok {
		found = u.sim.SetGroupAttributes(g.Name, attrs)
	} else {
		switch name {
		case tamperDeleted:
			found = u.sim.DeleteGroupOutOfBand(g.Name)
		case tamperRenamed:
			found = u.sim.RenameGroupOutOfBand(g.Name, renamed(d.Slug))
		case tamperOwnerRemoved:
			found = u.sim.RemoveMemberOutOfBand(g.Name, u.ownerPK)
		default:
			return fmt.Errorf("unknown tamper %q", name)
		}
	}
	if !found {
		return fmt.Errorf("%s: nothing to change for %s", name, d.Slug)
	}
	return nil
}

func (u *simUpstream) CountOwned(_ context.Context, d integrations.Desired) (int, error) {
	n := 0
	for _, g := range u.sim.Groups() {
		if carriesMarker(g.Attributes, d.TenantID) {
			n++
		}
	}
	return n, nil
}

func (u *simUpstream) Exists(_ context.Context, pk string) (bool, error) {
	_, ok := u.group(pk)
	return ok, nil
}

func (u *simUpstream) CreateForeign(ctx context.Context, name, tenantID string) (string, error) {
	return u.CreateGroup(ctx, name, foreignAttrs(tenantID))
}

func (u *simUpstream) CreateGroup(_ context.Context, name string, attrs map[string]any) (string, error) {
	return u.sim.CreateGroupOutOfBand(name, attrs)
}

func (u *simUpstream) Attributes(_ context.Context, pk string) (map[string]any, error) {
	g, ok := u.group(pk)
	if !ok {
		return nil, fmt.Errorf("no group %s", pk)
	}
	return g.Attributes, nil
}

func (u *simUpstream) SetAttributes(_ context.Context, pk string, attrs map[string]any) error {
	g, ok := u.group(pk)
	if !ok || !u.sim.SetGroupAttributes(g.Name, attrs) {
		return fmt.Errorf("no group %s", pk)
	}
	return nil
}

func (u *simUpstream) Remove(_ context.Context, pk string) error {
	if g, ok := u.group(pk); ok {
		u.sim.DeleteGroupOutOfBand(g.Name)
	}
	return nil
}

// Sweep has nothing to do: every run starts a fresh simulator.
func (u *simUpstream) Sweep(context.Context, string) error { return nil }
