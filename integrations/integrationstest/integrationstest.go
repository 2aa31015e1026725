// Package integrationstest holds what the integration clients' tests share: driving a Step the
// way the controller does (Observe, then Apply only when something differs) and telling the
// simulators' recorded writes from their reads.
package integrationstest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/sim/faults"
)

// Converge runs one reconcile of step s under the Full policy: Observe, then Apply when the
// object is missing, foreign or drifted. In sync, it reports what Observe found as an
// unchanged Observed, as the controller records it.
func Converge(ctx context.Context, s integrations.Step, d integrations.Desired) (integrations.Observed, error) {
	o, err := s.Observe(ctx, d)
	if err != nil {
		return integrations.Observed{}, err
	}
	if o.Skipped || (o.InSync() && o.Owner != integrations.Foreign) {
		return integrations.Observed{ExternalID: o.ExternalID, Action: integrations.ActionUnchanged, Message: o.Message}, nil
	}
	return s.Apply(ctx, d, o)
}

// RESTWrites returns the recorded requests of a REST upstream (Authentik, oCIS) that could
// change something: every method but GET and HEAD, except calls to paths under skip (an IdP's
// token endpoint served by the same simulator is no upstream write).
func RESTWrites(reqs []faults.Request, skip ...string) []faults.Request {
	var out []faults.Request
next:
	for _, r := range reqs {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			continue
		}
		for _, p := range skip {
			if strings.HasPrefix(r.Path, p) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// JMAPWrites returns the names of the JMAP /set method calls in the recorded requests of a JMAP
// upstream (Stalwart): every management call there is a POST, so the methods tell writes from
// reads.
func JMAPWrites(reqs []faults.Request) []string {
	var out []string
	for _, r := range reqs {
		var body struct {
			MethodCalls [][]json.RawMessage `json:"methodCalls"`
		}
		if r.Method != http.MethodPost || json.Unmarshal(r.Body, &body) != nil {
			continue
		}
		for _, call := range body.MethodCalls {
			var name string
			if len(call) > 0 && json.Unmarshal(call[0], &name) == nil && strings.HasSuffix(name, "/set") {
				out = append(out, name)
			}
		}
	}
	return out
}

// DriftRoundTrip is the Observe → Apply → Observe loop every integration's drift table runs on
// a tenant whose upstream was tampered with: Observe must report exactly want and write nothing
// (writes returns what the simulator recorded as writes since reset was called), Apply must
// succeed, and a second Observe must find nothing left.
func DriftRoundTrip(t testing.TB, ctx context.Context, s integrations.Step, d integrations.Desired,
	want []integrations.Drift, reset func(), writes func() int) {
	t.Helper()
	reset()
	o, err := s.Observe(ctx, d)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if diff := cmp.Diff(want, o.Drift); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
	if n := writes(); n != 0 {
		t.Errorf("Observe wrote upstream %d times", n)
	}
	res, err := s.Apply(ctx, d, o)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	d.ExternalID = res.ExternalID
	again, err := s.Observe(ctx, d)
	if err != nil {
		t.Fatalf("second Observe: %v", err)
	}
	if len(again.Drift) != 0 {
		t.Errorf("drift left after Apply: %+v", again.Drift)
	}
}
