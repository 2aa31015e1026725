package stalwart_test

import (
	"errors"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/sim/faults"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/integrations/stalwart"
)

// TestErrorClassification drives each failure the upstream can produce and checks the kind the
// client decides, the upstream's message, and (for retryable ones) that the next Ensure after
// the fault clears succeeds.
func TestErrorClassification(t *testing.T) {
	cases := map[string]struct {
		reason string
		opts   stalwartsim.Options
		mod    func(*stalwart.Config)
		fault  func(e *env)
		domain string
		want   want
	}{
		"ServiceUnavailable": {
			reason: "5xx is retryable and carries the problem detail",
			fault:  func(e *env) { e.sim.Faults().Set(faults.Config{ErrorRate: 1, ErrorStatus: 503}) },
			want:   want{kind: integrations.Retryable, status: 503, msg: "temporary problem"},
		},
		"InternalError": {
			reason: "500 is retryable",
			fault:  func(e *env) { e.sim.Faults().Set(faults.Config{ErrorRate: 1, ErrorStatus: 500}) },
			want:   want{kind: integrations.Retryable, status: 500, msg: "problem while processing your request"},
		},
		"RateLimited": {
			reason: "429 is retryable with the server's Retry-After",
			fault:  func(e *env) { e.sim.Faults().Set(faults.Config{RateLimitNext: 1, RetryAfterSeconds: 7}) },
			want:   want{kind: integrations.Retryable, status: 429, msg: "rate limited", retryAfter: 7 * time.Second},
		},
		"Timeout": {
			reason: "a hanging server is a retryable timeout",
			mod:    func(c *stalwart.Config) { c.HTTP.Timeout = 200 * time.Millisecond },
			fault:  func(e *env) { e.sim.Faults().Set(faults.Config{HangNext: 1}) },
			want:   want{kind: integrations.Retryable, msg: "timeout"},
		},
		"ServerFail": {
			reason: "a method-level serverFail inside HTTP 200 is retryable",
			fault:  func(e *env) { e.sim.InjectServerFail(1) },
			want:   want{kind: integrations.Retryable, msg: "serverFail"},
		},
		"ServerFailOnCreate": {
			reason: "serverFail on the create itself is retryable too",
			fault:  func(e *env) { e.sim.InjectMethodError("x:Domain/set", "serverFail", 1) },
			want:   want{kind: integrations.Retryable, msg: "serverFail"},
		},
		"Forbidden": {
			reason: "a method-level forbidden is permanent",
			fault:  func(e *env) { e.sim.InjectMethodError("x:Domain/query", "forbidden", 1) },
			want:   want{kind: integrations.Permanent, msg: "forbidden"},
		},
		"InvalidDomain": {
			reason: "a SetError validation failure is permanent with the upstream's message",
			domain: "not_a_domain",
			want:   want{kind: integrations.Permanent, msg: "invalidPatch: Invalid domain name (name)"},
		},
		"BadToken": {
			reason: "401 is permanent",
			mod:    func(c *stalwart.Config) { c.Token = "wrong-token" },
			want:   want{kind: integrations.Permanent, status: 401, msg: "You have to authenticate first."},
		},
		"APIUnreachable": {
			reason: "an apiUrl that refuses connections is a retryable transport error",
			opts:   stalwartsim.Options{PublicURL: "http://127.0.0.1:1/moved"},
			want:   want{kind: integrations.Retryable, msg: "connect"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var mods []func(*stalwart.Config)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			e := newEnv(t, tc.opts, mods...)
			if tc.fault != nil {
				tc.fault(e)
			}
			domain := tc.domain
			if domain == "" {
				domain = "acme.example"
			}
			_, err := integrationstest.Converge(ctx(t), e.client, desired(domain))
			if got := describe(err); !tc.want.matches(got) {
				t.Errorf("%s:\n got %+v\nwant %+v (msg as a substring)", tc.reason, got, tc.want)
			}
			if tc.want.kind == integrations.Retryable && tc.opts.PublicURL == "" {
				e.sim.Faults().Clear()
				if _, err := integrationstest.Converge(ctx(t), e.client, desired(domain)); err != nil {
					t.Errorf("%s: Ensure after the fault cleared: %v", tc.reason, err)
				}
				if e.sim.DomainCount() != 1 || e.sim.AccountCount() != 1 {
					t.Errorf("%s: %d domains, %d accounts after recovery; want 1, 1", tc.reason, e.sim.DomainCount(), e.sim.AccountCount())
				}
			}
		})
	}
}

// want is the classification a test expects; msg is a substring of the error text.
type want struct {
	kind       integrations.Kind
	status     int
	msg        string
	retryAfter time.Duration
}

func (w want) matches(got want) bool {
	return w.kind == got.kind && w.status == got.status && w.retryAfter == got.retryAfter &&
		strings.Contains(got.msg, w.msg)
}

func describe(err error) want {
	if err == nil {
		return want{}
	}
	var e *integrations.Error
	status := 0
	if errors.As(err, &e) {
		status = e.Status
	}
	return want{kind: integrations.KindOf(err), status: status, msg: err.Error(), retryAfter: integrations.RetryAfterOf(err)}
}

// TestAPINotFoundIsPermanent points the session's apiUrl at a path the server does not serve:
// the client refetches the session once, then fails permanently (a Delete must not take a 404
// for "already gone").
func TestAPINotFoundIsPermanent(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	// A second simulator whose session advertises an apiUrl on the first one, under a prefix.
	moved := newEnv(t, stalwartsim.Options{PublicURL: e.srv.URL + "/moved"})
	d := desired("acme.example")
	_, ensureErr := integrationstest.Converge(ctx(t), moved.client, d)
	d.ExternalID = "anything"
	deleteErr := moved.client.Delete(ctx(t), d)
	got := []any{integrations.KindOf(ensureErr), integrations.KindOf(deleteErr), moved.sessionFetches()}
	want := []any{integrations.Permanent, integrations.Permanent, 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[ensure kind, delete kind, session fetches] (-want +got):\n%s", diff)
	}
	if ensureErr == nil || !strings.Contains(ensureErr.Error(), "HTTP 404") {
		t.Errorf("Ensure error %v, want the 404", ensureErr)
	}
}
