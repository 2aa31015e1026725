package authentik

import (
	"github.com/dezky/platform-api/integrations/integrationstest"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	authentiksim "github.com/dezky/platform-api/integrations/sim/authentik"
)

func TestEnsureCreatesGroupWithOwner(t *testing.T) {
	e := newEnv(t)
	owner := e.sim.AddUser("owner", ownerEmail)
	e.sim.AddUser("someone", "someone@else.example")

	obs, err := integrationstest.Converge(ctx(t), e.client, desired())
	if err != nil {
		t.Fatal(err)
	}
	g, ok := e.sim.GroupByName("tenant-acme")
	if !ok {
		t.Fatal("group tenant-acme was not created")
	}
	if diff := cmp.Diff(integrations.Observed{ExternalID: g.PK, Action: integrations.ActionCreated}, obs); diff != "" {
		t.Errorf("observed -want +got:\n%s", diff)
	}
	want := authentiksim.Group{PK: g.PK, Name: "tenant-acme", Attributes: ourAttrs(false), Users: []int{owner}}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("group -want +got:\n%s", diff)
	}
}

func TestEnsureTwiceMakesOneGroup(t *testing.T) {
	e := newEnv(t)
	e.sim.AddUser("owner", ownerEmail)
	d := desired()
	first, err := integrationstest.Converge(ctx(t), e.client, d)
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		reason     string
		externalID string
		wantCalls  int
	}{
		"by name": {
			reason:     "without a recorded id the group is found by its exact name, then the owner is looked up",
			externalID: "", wantCalls: 2,
		},
		"by recorded id": {
			reason:     "a stable tenant costs one read: the group with its members' emails",
			externalID: first.ExternalID, wantCalls: 1,
		},
		"stale id": {
			reason:     "an id that is not a UUID falls through to the name lookup",
			externalID: "not-a-uuid", wantCalls: 2,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e.sim.Faults().ResetRecording()
			d.ExternalID = tc.externalID
			obs, err := integrationstest.Converge(ctx(t), e.client, d)
			if err != nil {
				t.Fatal(err)
			}
			want := integrations.Observed{ExternalID: first.ExternalID, Action: integrations.ActionUnchanged}
			if diff := cmp.Diff(want, obs); diff != "" {
				t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
			}
			if n := e.sim.GroupCount(); n != 1 {
				t.Errorf("GroupCount = %d, want 1", n)
			}
			if n := e.sim.Faults().Calls(); n != tc.wantCalls {
				t.Errorf("%s\nupstream calls = %d, want %d", tc.reason, n, tc.wantCalls)
			}
		})
	}
}

func TestEnsureAfterLostCreateResponse(t *testing.T) {
	e := newEnv(t)
	e.sim.AddUser("owner", ownerEmail)
	e.sim.Faults().DropResponseOnce(isCreate)

	_, err := integrationstest.Converge(ctx(t), e.client, desired())
	if !integrations.IsRetryable(err) {
		t.Fatalf("lost response: err = %v, want a retryable error", err)
	}
	if n := e.sim.GroupCount(); n != 1 {
		t.Fatalf("the create was carried out: GroupCount = %d, want 1", n)
	}
	obs, err := integrationstest.Converge(ctx(t), e.client, desired())
	if err != nil {
		t.Fatal(err)
	}
	g, _ := e.sim.GroupByName("tenant-acme")
	if obs.ExternalID != g.PK || obs.Action == integrations.ActionCreated {
		t.Errorf("observed %+v, want the existing group %s found, not created", obs, g.PK)
	}
	if n := e.sim.GroupCount(); n != 1 {
		t.Errorf("GroupCount = %d after retry, want 1", n)
	}
	if n := countRequests(e, http.MethodPost, "/core/groups/"); n != 1 {
		t.Errorf("create requests = %d, want 1", n)
	}
}

// racingCreate serves the simulator but creates the tenant's group out of band just before a
// create reaches it: the client's lookup saw nothing, its create meets a duplicate name.
func racingCreate(e *env, attrs map[string]any) {
	inner := e.sim
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isCreate(r) {
			_, _ = inner.CreateGroupOutOfBand("tenant-acme", attrs)
		}
		inner.ServeHTTP(w, r)
	})
}

func TestEnsureCreateMeetsDuplicateName(t *testing.T) {
	cases := map[string]struct {
		reason     string
		attrs      map[string]any
		wantAction integrations.Action
		wantPerm   bool
		wantAttrs  map[string]any
	}{
		"ours": {
			reason:     "a concurrent worker created our group: take it (and add the owner, not yet a member)",
			attrs:      ourAttrs(false),
			wantAction: integrations.ActionUpdated,
			wantAttrs:  ourAttrs(false),
		},
		"unmarked": {
			reason:     "somebody made the group by hand: adopt it and write the marker",
			attrs:      map[string]any{"team": "x"},
			wantAction: integrations.ActionAdopted,
			wantAttrs:  map[string]any{"team": "x", AttrTenantSlug: "acme", AttrTenantID: tenantID, AttrSuspended: false},
		},
		"foreign": {
			reason:    "another tenant holds the name: permanent, nothing changed",
			attrs:     map[string]any{AttrTenantID: integrations.Marker(otherID)},
			wantPerm:  true,
			wantAttrs: map[string]any{AttrTenantID: integrations.Marker(otherID)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.sim.AddUser("owner", ownerEmail)
			racingCreate(e, tc.attrs)
			obs, err := integrationstest.Converge(ctx(t), e.client, desired())
			switch {
			case tc.wantPerm && !integrations.IsPermanent(err):
				t.Fatalf("%s\nerr = %v, want permanent", tc.reason, err)
			case !tc.wantPerm && err != nil:
				t.Fatalf("%s\nerr = %v", tc.reason, err)
			case !tc.wantPerm && obs.Action != tc.wantAction:
				t.Errorf("%s\naction = %s, want %s", tc.reason, obs.Action, tc.wantAction)
			}
			g, _ := e.sim.GroupByName("tenant-acme")
			if diff := cmp.Diff(tc.wantAttrs, g.Attributes); diff != "" {
				t.Errorf("%s\nattributes -want +got:\n%s", tc.reason, diff)
			}
			if n := e.sim.GroupCount(); n != 1 {
				t.Errorf("GroupCount = %d, want 1", n)
			}
		})
	}
}

func TestEnsureOwnership(t *testing.T) {
	cases := map[string]struct {
		reason     string
		attrs      map[string]any
		wantAction integrations.Action
		wantPerm   bool
		wantAttrs  map[string]any
	}{
		"our bare id": {
			reason:     "a group carrying our bare id (what the Node service wrote) is ours",
			attrs:      ourAttrs(false),
			wantAction: integrations.ActionUnchanged,
			wantAttrs:  ourAttrs(false),
		},
		"our marker form": {
			reason:     "the marker form earlier builds wrote reads as ours and is not rewritten on its own",
			attrs:      map[string]any{AttrTenantSlug: "acme", AttrTenantID: integrations.Marker(tenantID), AttrSuspended: false},
			wantAction: integrations.ActionUnchanged,
			wantAttrs:  map[string]any{AttrTenantSlug: "acme", AttrTenantID: integrations.Marker(tenantID), AttrSuspended: false},
		},
		"no marker": {
			reason:     "an unmarked group is adopted; attributes others set are kept",
			attrs:      map[string]any{"policy": "strict"},
			wantAction: integrations.ActionAdopted,
			wantAttrs:  map[string]any{"policy": "strict", AttrTenantSlug: "acme", AttrTenantID: tenantID, AttrSuspended: false},
		},
		"empty marker": {
			reason:     "an empty id is no id",
			attrs:      map[string]any{AttrTenantID: ""},
			wantAction: integrations.ActionAdopted,
			wantAttrs:  ourAttrs(false),
		},
		"other tenant's marker": {
			reason:    "never adopt another tenant's group",
			attrs:     map[string]any{AttrTenantID: integrations.Marker(otherID), "x": 1.0},
			wantPerm:  true,
			wantAttrs: map[string]any{AttrTenantID: integrations.Marker(otherID), "x": 1.0},
		},
		"other tenant's bare id": {
			reason:    "a bare id of another tenant is foreign too",
			attrs:     map[string]any{AttrTenantID: otherID},
			wantPerm:  true,
			wantAttrs: map[string]any{AttrTenantID: otherID},
		},
		"unreadable id": {
			reason:    "a non-string id is not claimed on a guess",
			attrs:     map[string]any{AttrTenantID: 42.0},
			wantPerm:  true,
			wantAttrs: map[string]any{AttrTenantID: 42.0},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.sim.CreateGroupOutOfBand("tenant-acme", tc.attrs); err != nil {
				t.Fatal(err)
			}
			d := desired()
			d.OwnerEmail = "" // membership is covered elsewhere
			obs, err := integrationstest.Converge(ctx(t), e.client, d)
			if tc.wantPerm {
				if !integrations.IsPermanent(err) {
					t.Fatalf("%s\nerr = %v, want permanent", tc.reason, err)
				}
				if !strings.Contains(err.Error(), "another tenant") {
					t.Errorf("error %q does not say why", err)
				}
				if n := countRequests(e, http.MethodPatch, "/"); n != 0 {
					t.Errorf("%d PATCH requests sent to a foreign group", n)
				}
			} else {
				if err != nil {
					t.Fatalf("%s\nerr = %v", tc.reason, err)
				}
				if obs.Action != tc.wantAction {
					t.Errorf("%s\naction = %s, want %s", tc.reason, obs.Action, tc.wantAction)
				}
			}
			g, _ := e.sim.GroupByName("tenant-acme")
			if diff := cmp.Diff(tc.wantAttrs, g.Attributes); diff != "" {
				t.Errorf("%s\nattributes -want +got:\n%s", tc.reason, diff)
			}
			if e.sim.GroupCount() != 1 {
				t.Errorf("GroupCount = %d, want 1", e.sim.GroupCount())
			}
		})
	}
}

func TestEnsureRepairsDrift(t *testing.T) {
	type drift func(t *testing.T, e *env, owner int)
	cases := map[string]struct {
		reason     string
		drift      drift
		wantAction integrations.Action
		wantNewPK  bool
	}{
		"deleted": {
			reason:     "a group deleted out of band is recreated (the recorded id answers 404)",
			drift:      func(t *testing.T, e *env, _ int) { e.sim.DeleteGroupOutOfBand("tenant-acme") },
			wantAction: integrations.ActionCreated, wantNewPK: true,
		},
		"attributes changed": {
			reason: "our attributes are corrected; keys others added stay",
			drift: func(t *testing.T, e *env, _ int) {
				e.sim.SetGroupAttributes("tenant-acme", map[string]any{
					AttrTenantSlug: "wrong", AttrTenantID: integrations.Marker(tenantID), "extra": "kept",
				})
			},
			wantAction: integrations.ActionUpdated,
		},
		"renamed": {
			reason:     "a group found by its recorded id gets its name back",
			drift:      func(t *testing.T, e *env, _ int) { e.sim.RenameGroupOutOfBand("tenant-acme", "acme-renamed") },
			wantAction: integrations.ActionUpdated,
		},
		"owner removed": {
			reason:     "the owner is added back",
			drift:      func(t *testing.T, e *env, owner int) { e.sim.RemoveMemberOutOfBand("tenant-acme", owner) },
			wantAction: integrations.ActionUpdated,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			owner := e.sim.AddUser("owner", ownerEmail)
			d := desired()
			first, err := integrationstest.Converge(ctx(t), e.client, d)
			if err != nil {
				t.Fatal(err)
			}
			d.ExternalID = first.ExternalID
			tc.drift(t, e, owner)

			obs, err := integrationstest.Converge(ctx(t), e.client, d)
			if err != nil {
				t.Fatalf("%s\n%v", tc.reason, err)
			}
			if obs.Action != tc.wantAction {
				t.Errorf("%s\naction = %s, want %s", tc.reason, obs.Action, tc.wantAction)
			}
			if (obs.ExternalID != first.ExternalID) != tc.wantNewPK {
				t.Errorf("%s\nexternal id %s → %s", tc.reason, first.ExternalID, obs.ExternalID)
			}
			g, ok := e.sim.GroupByName("tenant-acme")
			if !ok {
				t.Fatalf("%s\nno group named tenant-acme", tc.reason)
			}
			wantAttrs := ourAttrs(false)
			if name == "attributes changed" {
				wantAttrs["extra"] = "kept"
			}
			want := authentiksim.Group{PK: obs.ExternalID, Name: "tenant-acme", Attributes: wantAttrs, Users: []int{owner}}
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("%s\ngroup -want +got:\n%s", tc.reason, diff)
			}
			if e.sim.GroupCount() != 1 {
				t.Errorf("GroupCount = %d, want 1", e.sim.GroupCount())
			}
			// Converged: the next resync changes nothing.
			e.sim.Faults().ResetRecording()
			d.ExternalID = obs.ExternalID
			again, err := integrationstest.Converge(ctx(t), e.client, d)
			if err != nil || again.Action != integrations.ActionUnchanged {
				t.Errorf("after repair: %+v %v, want unchanged", again, err)
			}
			if n := countRequests(e, http.MethodPatch, "/") + countRequests(e, http.MethodPost, "/"); n != 0 {
				t.Errorf("after repair: %d writes, want 0", n)
			}
		})
	}
}

func TestEnsurePatchesOnlyWhatDiffers(t *testing.T) {
	e := newEnv(t)
	d := desired()
	d.OwnerEmail = ""
	first, err := integrationstest.Converge(ctx(t), e.client, d)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.SetGroupAttributes("tenant-acme", map[string]any{AttrTenantSlug: "acme", AttrTenantID: integrations.Marker(tenantID), AttrSuspended: true, "x": "y"})
	e.sim.Faults().ResetRecording()
	d.ExternalID = first.ExternalID
	if _, err := integrationstest.Converge(ctx(t), e.client, d); err != nil {
		t.Fatal(err)
	}
	var patches []string
	for _, r := range e.sim.Faults().Requests() {
		if r.Method == http.MethodPatch {
			patches = append(patches, string(r.Body))
		}
	}
	want := []string{`{"attributes":{"dezkySuspended":false,"dezkyTenantId":"` + tenantID + `","dezkyTenantSlug":"acme","x":"y"}}`}
	if diff := cmp.Diff(want, patches); diff != "" {
		t.Errorf("PATCH bodies -want +got:\n%s", diff)
	}
}

func TestSuspendAndResume(t *testing.T) {
	e := newEnv(t)
	e.sim.AddUser("owner", ownerEmail)
	d := desired()
	first, err := integrationstest.Converge(ctx(t), e.client, d)
	if err != nil {
		t.Fatal(err)
	}
	d.ExternalID = first.ExternalID
	steps := []struct {
		suspended  bool
		wantAction integrations.Action
	}{
		{true, integrations.ActionUpdated},
		{true, integrations.ActionUnchanged},
		{false, integrations.ActionUpdated},
	}
	for i, s := range steps {
		d.Suspended = s.suspended
		obs, err := integrationstest.Converge(ctx(t), e.client, d)
		if err != nil {
			t.Fatal(err)
		}
		if obs.Action != s.wantAction {
			t.Errorf("step %d: action = %s, want %s", i, obs.Action, s.wantAction)
		}
		g, _ := e.sim.GroupByName("tenant-acme")
		if diff := cmp.Diff(ourAttrs(s.suspended), g.Attributes); diff != "" {
			t.Errorf("step %d: attributes -want +got:\n%s", i, diff)
		}
	}
}

func TestOwnerMembership(t *testing.T) {
	t.Run("not found, then found", func(t *testing.T) {
		e := newEnv(t)
		obs, err := integrationstest.Converge(ctx(t), e.client, desired())
		if err != nil {
			t.Fatalf("a missing owner must not fail the step: %v", err)
		}
		if obs.Action != integrations.ActionCreated || !strings.Contains(obs.Message, "has no identity provider account") {
			t.Errorf("observed %+v, want created with a not-found message", obs)
		}
		owner := e.sim.AddUser("owner", ownerEmail)
		d := desired()
		d.ExternalID = obs.ExternalID
		obs, err = integrationstest.Converge(ctx(t), e.client, d)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(integrations.Observed{ExternalID: d.ExternalID, Action: integrations.ActionUpdated}, obs); diff != "" {
			t.Errorf("-want +got:\n%s", diff)
		}
		g, _ := e.sim.GroupByName("tenant-acme")
		if diff := cmp.Diff([]int{owner}, g.Users); diff != "" {
			t.Errorf("members -want +got:\n%s", diff)
		}
	})

	t.Run("shared email, one active account across pages", func(t *testing.T) {
		e := newEnv(t, withPageSize(1))
		a := e.sim.AddUser("a-old", ownerEmail)
		b := e.sim.AddUser("b-old", ownerEmail)
		c := e.sim.AddUser("c-owner", ownerEmail)
		e.sim.SetUserActive(a, false)
		e.sim.SetUserActive(b, false)
		obs, err := integrationstest.Converge(ctx(t), e.client, desired())
		if err != nil || obs.Message != "" {
			t.Fatalf("observed %+v, err %v", obs, err)
		}
		g, _ := e.sim.GroupByName("tenant-acme")
		if diff := cmp.Diff([]int{c}, g.Users); diff != "" {
			t.Errorf("the only active account (on page 3) should be added -want +got:\n%s", diff)
		}
	})

	t.Run("ambiguous email", func(t *testing.T) {
		e := newEnv(t)
		e.sim.AddUser("one", ownerEmail)
		e.sim.AddUser("two", ownerEmail)
		obs, err := integrationstest.Converge(ctx(t), e.client, desired())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(obs.Message, "2 identity provider accounts") {
			t.Errorf("message %q does not report the ambiguity", obs.Message)
		}
		if g, _ := e.sim.GroupByName("tenant-acme"); len(g.Users) != 0 {
			t.Errorf("members = %v, want none when the owner is ambiguous", g.Users)
		}
	})

	t.Run("already a member is not added again", func(t *testing.T) {
		e := newEnv(t)
		e.sim.AddUser("owner", ownerEmail)
		if _, err := integrationstest.Converge(ctx(t), e.client, desired()); err != nil {
			t.Fatal(err)
		}
		e.sim.Faults().ResetRecording()
		if _, err := integrationstest.Converge(ctx(t), e.client, desired()); err != nil {
			t.Fatal(err)
		}
		if n := countRequests(e, http.MethodPost, "/add_user/"); n != 0 {
			t.Errorf("add_user called %d times for an existing member", n)
		}
	})
}

func TestValidationFailureIsPermanent(t *testing.T) {
	e := newEnv(t)
	d := desired()
	d.OwnerEmail = ""
	first, err := integrationstest.Converge(ctx(t), e.client, d)
	if err != nil {
		t.Fatal(err)
	}
	// Our group was renamed and someone else took its name: renaming it back is refused.
	e.sim.RenameGroupOutOfBand("tenant-acme", "acme-old")
	if _, err := e.sim.CreateGroupOutOfBand("tenant-acme", map[string]any{"owner": "ops"}); err != nil {
		t.Fatal(err)
	}
	d.ExternalID = first.ExternalID
	_, err = integrationstest.Converge(ctx(t), e.client, d)
	if !integrations.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if !strings.Contains(err.Error(), "name: Group with this name already exists.") {
		t.Errorf("error %q does not carry Authentik's message", err)
	}
}

func TestInvalidDesiredIsPermanent(t *testing.T) {
	e := newEnv(t)
	for name, d := range map[string]integrations.Desired{
		"no slug":      {TenantID: tenantID},
		"no tenant id": {Slug: "acme"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := integrationstest.Converge(ctx(t), e.client, d); !integrations.IsPermanent(err) {
				t.Errorf("Ensure: err = %v, want permanent", err)
			}
			if err := e.client.Delete(ctx(t), d); !integrations.IsPermanent(err) {
				t.Errorf("Delete: err = %v, want permanent", err)
			}
		})
	}
	if n := e.sim.Faults().Calls(); n != 0 {
		t.Errorf("%d upstream calls for an invalid desired state", n)
	}
}

func TestGroupPrefix(t *testing.T) {
	e := newEnv(t)
	c, err := New(Config{BaseURL: e.srv.URL + "/api/v3/", Token: testToken, GroupPrefix: "ws-"})
	if err != nil {
		t.Fatal(err)
	}
	d := desired()
	d.OwnerEmail = ""
	if _, err := integrationstest.Converge(ctx(t), c, d); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.sim.GroupByName("ws-acme"); !ok {
		t.Error("group ws-acme not created")
	}
}
