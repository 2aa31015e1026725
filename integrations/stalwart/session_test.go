package stalwart_test

import (
	"github.com/dezky/platform-api/integrations/integrationstest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/sim/faults"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/integrations/stalwart"
)

func TestNewValidatesConfig(t *testing.T) {
	cases := map[string]struct {
		reason string
		cfg    stalwart.Config
	}{
		"NoURL":     {"the base URL is required", stalwart.Config{Token: "t"}},
		"BadScheme": {"only http(s) URLs", stalwart.Config{BaseURL: "ftp://mail.example", Token: "t"}},
		"NoToken":   {"the token is required", stalwart.Config{BaseURL: "https://mail.example"}},
		"BadCA": {"an unreadable CA file fails", stalwart.Config{BaseURL: "https://mail.example", Token: "t",
			HTTP: integrations.HTTPOptions{CAFile: "/nonexistent/ca.pem"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := stalwart.New(tc.cfg); err == nil {
				t.Errorf("%s: New succeeded", tc.reason)
			}
		})
	}
}

// TestSessionCaching: the session is fetched once and reused, refetched after the server's
// sessionState changes.
func TestSessionCaching(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	d := desired("acme.example")
	d.ExternalID = e.ensure(t, d).ExternalID
	e.ensure(t, d)
	cached := e.sessionFetches()

	e.sim.BumpSessionState()
	e.ensure(t, d) // sees the new state in its response: drops the session
	e.ensure(t, d) // fetches a new one
	e.ensure(t, d)
	if diff := cmp.Diff([]int{1, 2}, []int{cached, e.sessionFetches()}); diff != "" {
		t.Errorf("session fetches [before, after the state change] (-want +got):\n%s", diff)
	}
}

// TestRequestShape pins what every API request carries: both capabilities in "using", the
// session's primary account (or no accountId when the session names none), and only arguments
// RFC 8620 declares for the method.
func TestRequestShape(t *testing.T) {
	declared := map[string][]string{
		"get":   {"accountId", "ids", "#ids", "properties"},
		"query": {"accountId", "filter", "position", "limit", "calculateTotal"},
		"set":   {"accountId", "create", "update", "destroy", "#destroy"},
	}
	for name, noPrimary := range map[string]bool{"PrimaryAccount": false, "NoPrimaryAccount": true} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{NoPrimaryAccount: noPrimary})
			fullFlow(t, e)
			reqs := e.apiRequests(t)
			if len(reqs) == 0 {
				t.Fatal("no API request recorded")
			}
			for _, r := range reqs {
				if !cmp.Equal(r.using, []string{"urn:ietf:params:jmap:core", "urn:stalwart:jmap"}) {
					t.Errorf("using = %v", r.using)
				}
				for _, c := range r.calls {
					acct, has := c.args["accountId"]
					if noPrimary == has || (has && acct != "a") {
						t.Errorf("%s: accountId %v (present %v) with NoPrimaryAccount=%v", c.name, acct, has, noPrimary)
					}
					_, method, _ := strings.Cut(c.name, "/")
					for k := range c.args {
						if !slices.Contains(declared[method], k) {
							t.Errorf("%s sent undeclared argument %q", c.name, k)
						}
					}
				}
			}
		})
	}
}

// fullFlow exercises every path of the step: create, correct drift, suspend, resume, delete.
// The simulator rejects undeclared properties and arguments, so its success also proves the
// requests follow the schema.
func fullFlow(t *testing.T, e *env) {
	t.Helper()
	d := desired("acme.example")
	d.ExternalID = e.ensure(t, d).ExternalID
	if err := e.sim.SetAccountQuota("acme.example", "team", 1); err != nil {
		t.Fatal(err)
	}
	e.ensure(t, d)
	d.Suspended = true
	e.ensure(t, d)
	d.Suspended = false
	e.ensure(t, d)
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatal(err)
	}
}

// TestSmallLimits runs the whole flow against a server allowing one call per request and one
// object per get/set, with decoy domains and accounts the text filters also match: the client
// splits requests, resolves references across them and pages through query results.
func TestSmallLimits(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{MaxCallsInRequest: 1, MaxObjectsInGet: 1, MaxObjectsInSet: 1})
	for _, n := range []string{"mail.acme.example", "acme.example.net"} {
		if _, err := e.sim.CreateDomainOutOfBand(n, ""); err != nil {
			t.Fatal(err)
		}
	}
	fullFlow(t, e)
	for _, r := range e.apiRequests(t) {
		if len(r.calls) != 1 {
			t.Errorf("request with %d calls, limit 1", len(r.calls))
		}
	}
	d := desired("acme.example")
	obs := e.ensure(t, d) // after the delete: created again, found among decoys next time
	if again := e.ensure(t, d); again.Action != integrations.ActionUnchanged || again.ExternalID != obs.ExternalID {
		t.Errorf("second Ensure among decoys: %+v, want unchanged %s", again, obs.ExternalID)
	}
	if e.sim.DomainCount() != 3 {
		t.Errorf("%d domains, want the 2 decoys and ours", e.sim.DomainCount())
	}
}

// TestDomainChanged: when spec.mail.domain changes, the new domain is created and the old one,
// carrying this tenant's marker, is torn down, and the message says so; an old domain that still
// holds mailboxes, or is not ours, stays and the message says that instead.
func TestDomainChanged(t *testing.T) {
	cases := map[string]struct {
		reason     string
		setup      func(t *testing.T, e *env, oldID string)
		wantOld    bool
		wantInNote string
	}{
		"ours": {reason: "the old domain is removed", wantInNote: "old.example was removed"},
		"mailboxes": {
			reason: "a mailbox on the old domain keeps it in place",
			setup: func(t *testing.T, e *env, _ string) {
				if _, err := e.sim.CreateAccountOutOfBand("User", "old.example", "alice", "", 0); err != nil {
					t.Fatal(err)
				}
			},
			wantOld: true, wantInNote: "old.example still holds mailboxes",
		},
		"not ours": {
			reason: "an old domain that lost our marker to another tenant is left alone",
			setup: func(t *testing.T, e *env, _ string) {
				if err := e.sim.SetDomainDescription("old.example", integrations.Marker(tenantB)); err != nil {
					t.Fatal(err)
				}
			},
			wantOld: true, wantInNote: "old.example is not ours",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{})
			d := desired("old.example")
			d.ExternalID = e.ensure(t, d).ExternalID
			if tc.setup != nil {
				tc.setup(t, e, d.ExternalID)
			}
			d.MailDomain = "new.example"
			obs := e.ensure(t, d)
			dom, _ := e.sim.DomainByName("new.example")
			if obs.ExternalID != dom.ID || !strings.Contains(obs.Message, tc.wantInNote) {
				t.Errorf("%s: Observed %+v, want %s with a note containing %q", tc.reason, obs, dom.ID, tc.wantInNote)
			}
			if _, ok := e.sim.DomainByName("old.example"); ok != tc.wantOld {
				t.Errorf("%s: old domain present = %v, want %v", tc.reason, ok, tc.wantOld)
			}
		})
	}
}

// TestMailRemoved: removing spec.mail tears the recorded domain down, then the step is skipped.
func TestMailRemoved(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	d := desired("acme.example")
	d.ExternalID = e.ensure(t, d).ExternalID
	d.MailDomain = ""
	o, err := e.client.Observe(ctx(t), d)
	if err != nil {
		t.Fatal(err)
	}
	want := []integrations.Drift{{Field: stalwart.FieldDomain, Want: "none", Got: "acme.example"}}
	if diff := cmp.Diff(want, o.Drift); diff != "" || o.Skipped {
		t.Fatalf("Observe after removing mail (skipped %v) drift -want +got:\n%s", o.Skipped, diff)
	}
	res, err := e.client.Apply(ctx(t), d, o)
	if err != nil || res.ExternalID != "" || !strings.Contains(res.Message, "acme.example was removed") {
		t.Fatalf("Apply = %+v, %v; want the domain removed and no external id", res, err)
	}
	if e.sim.DomainCount() != 0 || e.sim.AccountCount() != 0 {
		t.Errorf("%d domains and %d accounts left", e.sim.DomainCount(), e.sim.AccountCount())
	}
	d.ExternalID = res.ExternalID
	if o, err := e.client.Observe(ctx(t), d); err != nil || !o.Skipped {
		t.Errorf("next Observe = %+v, %v; want skipped", o, err)
	}
}

// TestSecretsNeverLogged runs failing and succeeding calls with Debug logging and checks the
// token appears neither in the logs nor in error texts, while the calls themselves are logged.
func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	bad := newEnv(t, stalwartsim.Options{}, func(c *stalwart.Config) { c.Token = "wrong-" + token })

	var errs []error
	e.sim.Faults().Set(faults.Config{ErrorRate: 1, ErrorStatus: 503})
	_, err := integrationstest.Converge(ctx(t), e.client, desired("acme.example"))
	errs = append(errs, err)
	e.sim.Faults().Clear()
	e.sim.InjectServerFail(1)
	_, err = integrationstest.Converge(ctx(t), e.client, desired("acme.example"))
	errs = append(errs, err)
	fullFlow(t, e)
	_, err = integrationstest.Converge(ctx(t), bad.client, desired("acme.example"))
	errs = append(errs, err)

	logs := e.logs.String() + bad.logs.String()
	if !strings.Contains(logs, "stalwart call") || !strings.Contains(logs, "status=503") || !strings.Contains(logs, "status=401") {
		t.Fatalf("calls not logged at Debug:\n%s", logs)
	}
	for _, secret := range []string{token, "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
		for _, err := range errs {
			if err == nil {
				t.Fatal("expected a failure")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains %q", err, secret)
			}
		}
	}
}
