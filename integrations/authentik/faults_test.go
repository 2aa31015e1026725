package authentik

import (
	"context"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/sim/faults"
)

func TestUpstreamFaultsAreClassified(t *testing.T) {
	cases := map[string]struct {
		reason         string
		faults         faults.Config
		token          string
		wantKind       integrations.Kind
		wantRetryAfter time.Duration
		wantText       string
	}{
		"5xx": {
			reason:   "a server error is retried with backoff",
			faults:   faults.Config{ErrorRate: 1, ErrorStatus: 502},
			wantKind: integrations.Retryable, wantText: "HTTP 502",
		},
		"503": {
			reason:   "unavailable is retried",
			faults:   faults.Config{ErrorRate: 1},
			wantKind: integrations.Retryable, wantText: "HTTP 503",
		},
		"429": {
			reason:   "throttling is retried after the server's delay",
			faults:   faults.Config{RateLimitNext: 1, RetryAfterSeconds: 7},
			wantKind: integrations.Retryable, wantRetryAfter: 7 * time.Second, wantText: "Request was throttled.",
		},
		"hang": {
			reason:   "a call that never answers times out and is retried",
			faults:   faults.Config{HangNext: 1},
			wantKind: integrations.Retryable, wantText: "timeout",
		},
		"bad token": {
			reason:   "a refused token waits for a configuration change",
			token:    "wrong-token",
			wantKind: integrations.Permanent, wantText: "Token invalid/expired",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withTimeout(200*time.Millisecond))
			c := e.client
			if tc.token != "" {
				var err error
				c, err = New(Config{BaseURL: e.srv.URL, Token: tc.token, HTTP: integrations.HTTPOptions{Timeout: 200 * time.Millisecond}})
				if err != nil {
					t.Fatal(err)
				}
			}
			e.sim.Faults().Set(tc.faults)
			_, err := integrationstest.Converge(ctx(t), c, desired())
			if err == nil {
				t.Fatalf("%s\nEnsure succeeded", tc.reason)
			}
			if k := integrations.KindOf(err); k != tc.wantKind {
				t.Errorf("%s\nkind = %s, want %s (%v)", tc.reason, k, tc.wantKind, err)
			}
			if ra := integrations.RetryAfterOf(err); ra != tc.wantRetryAfter {
				t.Errorf("%s\nRetryAfter = %s, want %s", tc.reason, ra, tc.wantRetryAfter)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("%s\nerror %q does not contain %q", tc.reason, err, tc.wantText)
			}
			if e.sim.GroupCount() != 0 {
				t.Errorf("GroupCount = %d, want 0", e.sim.GroupCount())
			}
			// Once the fault is gone the same call converges.
			e.sim.Faults().Clear()
			if tc.token == "" {
				if _, err := integrationstest.Converge(ctx(t), c, desired()); err != nil {
					t.Errorf("after the fault: %v", err)
				}
			}
		})
	}
}

func TestContextCancellationIsRetryable(t *testing.T) {
	e := newEnv(t)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := integrationstest.Converge(c, e.client, desired())
	if !integrations.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if err := e.client.Delete(c, recordedDesired()); !integrations.IsRetryable(err) {
		t.Fatalf("Delete err = %v, want retryable", err)
	}
}

// recordedDesired is desired() with a recorded group id, so Delete starts with a GET by id.
func recordedDesired() integrations.Desired {
	d := desired()
	d.ExternalID = "00000000-0000-4000-8000-000000000000"
	return d
}

func TestErrorMessage(t *testing.T) {
	cases := map[string]struct {
		body string
		want string
	}{
		"generic":    {`{"detail":"Token invalid/expired","code":"authentication_failed"}`, "Token invalid/expired"},
		"validation": {`{"name":["Group with this name already exists."],"code":"invalid"}`, "name: Group with this name already exists."},
		"non field":  {`{"non_field_errors":["nope"],"users":["Invalid pk \"4\" - object does not exist."]}`, `nope; users: Invalid pk "4" - object does not exist.`},
		"list":       {`["filter: failed to parse JSON"]`, "filter: failed to parse JSON"},
		"html":       {"<html><body>Server Error</body></html>", ""},
		"plain text": {"upstream connect error\n or disconnect", "upstream connect error or disconnect"},
		"empty":      {"", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := errorMessage([]byte(tc.body)); got != tc.want {
				t.Errorf("errorMessage = %q, want %q", got, tc.want)
			}
		})
	}
	long := strings.Repeat("é", 400)
	if got := errorMessage([]byte(`{"detail":"` + long + `"}`)); len(got) > maxMessage+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("long message not truncated: %d bytes", len(got))
	}
}
