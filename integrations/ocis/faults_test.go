package ocis_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/integrations/sim/faults"
)

func TestUpstreamFailuresAreClassified(t *testing.T) {
	cases := map[string]struct {
		reason         string
		faults         faults.Config
		timeout        time.Duration
		wantKind       integrations.Kind
		wantRetryAfter time.Duration
	}{
		"5xx": {
			reason: "a server error is retried with backoff",
			faults: faults.Config{ErrorRate: 1, ErrorStatus: http.StatusInternalServerError}, wantKind: integrations.Retryable,
		},
		"503": {
			reason: "unavailable is retried",
			faults: faults.Config{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable}, wantKind: integrations.Retryable,
		},
		"hang": {
			reason: "a call that times out is retried",
			faults: faults.Config{HangNext: 1}, timeout: 200 * time.Millisecond, wantKind: integrations.Retryable,
		},
		"429": {
			reason: "rate limiting is retried after the server's Retry-After",
			faults: faults.Config{RateLimitNext: 1, RetryAfterSeconds: 7}, wantKind: integrations.Retryable, wantRetryAfter: 7 * time.Second,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{timeout: tc.timeout})
			d := desired()
			mustEnsure(t, e, &d) // a cached token: the fault hits a graph call
			e.sim.Faults().Set(tc.faults)
			start := time.Now()
			_, err := integrationstest.Converge(ctx(t), e.client, d)
			if err == nil || integrations.KindOf(err) != tc.wantKind {
				t.Fatalf("%s: err = %v (kind %v), want %v", tc.reason, err, integrations.KindOf(err), tc.wantKind)
			}
			if got := integrations.RetryAfterOf(err); got != tc.wantRetryAfter {
				t.Errorf("%s: RetryAfter = %s, want %s", tc.reason, got, tc.wantRetryAfter)
			}
			if tc.timeout != 0 && time.Since(start) > 5*tc.timeout {
				t.Errorf("%s: the call took %s with a %s timeout", tc.reason, time.Since(start), tc.timeout)
			}
			e.sim.Faults().Clear()
			if _, err := integrationstest.Converge(ctx(t), e.client, d); err != nil {
				t.Errorf("%s: Ensure after the fault cleared: %v", tc.reason, err)
			}
		})
	}
}

func TestContextCancellationIsHonoured(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	mustEnsure(t, e, &d)
	e.sim.Faults().Set(faults.Config{HangNext: 1})
	c, cancel := contextWithTimeout(150 * time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := integrationstest.Converge(c, e.client, d)
	if !integrations.IsRetryable(err) || time.Since(start) > 2*time.Second {
		t.Errorf("err = %v after %s: want a prompt retryable error when the context ends", err, time.Since(start))
	}
}

func TestValidationFailureIsPermanentWithUpstreamMessage(t *testing.T) {
	// A group prefix with a control character makes oCIS refuse the group's displayName.
	e := newEnv(t, envOptions{prefix: "\x01bad-"})
	d := desired()
	_, err := integrationstest.Converge(ctx(t), e.client, d)
	if !integrations.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if !strings.Contains(err.Error(), "Invalid displayName") || !strings.Contains(err.Error(), "invalidRequest") {
		t.Errorf("err = %q, want the upstream code and message", err)
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	t.Run("bad secret is permanent", func(t *testing.T) {
		e := newEnv(t, envOptions{secret: "wrong-secret-value"})
		_, err := integrationstest.Converge(ctx(t), e.client, desired())
		if !integrations.IsPermanent(err) || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("err = %v, want permanent invalid_client", err)
		}
		for _, s := range []string{"wrong-secret-value", clientSecret} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q leaks a secret", err)
			}
		}
		if n := e.countRequests(http.MethodPost, "/token"); n != 1 {
			t.Errorf("%d token requests, want 1 (one auth style, no guessing)", n)
		}
		if e.countRequests(http.MethodGet, "/drives") != 0 {
			t.Error("the API was called without a token")
		}
	})
	t.Run("IdP unavailable is retryable", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.sim.Faults().Set(faults.Config{ErrorRate: 1, ErrorStatus: http.StatusBadGateway})
		_, err := integrationstest.Converge(ctx(t), e.client, desired())
		if !integrations.IsRetryable(err) || !strings.Contains(err.Error(), "access token") {
			t.Fatalf("err = %v, want retryable token error", err)
		}
	})
	t.Run("IdP rate limit keeps Retry-After", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.sim.Faults().Set(faults.Config{RateLimitNext: 1, RetryAfterSeconds: 3})
		_, err := integrationstest.Converge(ctx(t), e.client, desired())
		if !integrations.IsRetryable(err) || integrations.RetryAfterOf(err) != 3*time.Second {
			t.Fatalf("err = %v (retry after %s), want retryable after 3s", err, integrations.RetryAfterOf(err))
		}
	})
	t.Run("IdP unreachable is retryable", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.srv.Close()
		_, err := integrationstest.Converge(ctx(t), e.client, desired())
		if !integrations.IsRetryable(err) {
			t.Fatalf("err = %v, want retryable", err)
		}
	})
}
