package acceptance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
)

// ErrLostResponse is what the client sees when the Recorder loses a response.
var ErrLostResponse = errors.New("acceptance: response lost on the way back")

// Recorder is the transport of the client under test: it passes every request on, remembers
// which of them could change something upstream, and can lose the response of a request that
// was nevertheless carried out. Safe for concurrent use.
type Recorder struct {
	next      http.RoundTripper
	notAWrite func(*http.Request) bool
	describe  func(*http.Request) string

	mu     sync.Mutex
	writes []string
	lose   func(*http.Request) bool
}

// NewRecorder wraps next (nil: http.DefaultTransport). notAWrite, when set, exempts requests
// such as token requests from the writes.
func NewRecorder(next http.RoundTripper, notAWrite func(*http.Request) bool) *Recorder {
	if next == nil {
		next = http.DefaultTransport
	}
	return &Recorder{next: next, notAWrite: notAWrite}
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	write := req.Method != http.MethodGet && req.Method != http.MethodHead && (r.notAWrite == nil || !r.notAWrite(req))
	if write {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		what := req.Method + " " + req.URL.Path
		if r.describe != nil {
			what = r.describe(req)
		}
		r.writes = append(r.writes, fmt.Sprintf("%s -> %d", what, status))
	}
	lose := err == nil && r.lose != nil && r.lose(req)
	if lose {
		r.lose = nil
	}
	r.mu.Unlock()
	if lose {
		resp.Body.Close()
		return nil, ErrLostResponse
	}
	return resp, err
}

// LoseResponseOnce makes the next request matching match reach the server, and its response
// get lost on the way back.
func (r *Recorder) LoseResponseOnce(match func(*http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lose = match
}

// Writes returns the writes recorded since the last call, and forgets them.
func (r *Recorder) Writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.writes
	r.writes = nil
	return w
}

// Harness is what a scenario works with: the client under test on a Recorder, the suite's
// Upstream, and helpers that fail the test with context.
type Harness struct {
	T    *testing.T
	Step integrations.Step
	Up   Upstream
	Rec  *Recorder

	suite Suite
	ctx   context.Context
}

func newHarness(t *testing.T, s Suite) *Harness {
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	t.Cleanup(cancel)
	rec := NewRecorder(s.Base, s.NotAWrite)
	rec.describe = s.DescribeWrite
	return &Harness{T: t, Step: s.NewStep(t, rec), Up: s.Upstream, Rec: rec, suite: s, ctx: ctx}
}

// Ctx is the scenario's context, bounded by the suite's timeout.
func (h *Harness) Ctx() context.Context { return h.ctx }

// Tenant makes a fresh tenant's desired state and deletes whatever it left upstream when the
// scenario ends (through the client, after the scenario's own checks).
func (h *Harness) Tenant() *integrations.Desired {
	id, slug := NewTenant()
	d := h.suite.Desired(id, slug)
	h.T.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), h.suite.Timeout)
		defer cancel()
		// d is the variable the scenario changes through the pointer: its last recorded id.
		if err := h.Step.Delete(ctx, d); err != nil {
			h.T.Errorf("cleanup: delete tenant %s: %v", d.Slug, err)
		}
	})
	return &d
}

// Converge runs one reconcile the way the controller does under the Full policy: Observe, then
// Apply when anything differs or the object is not ours. It records the external id in d.
func (h *Harness) Converge(d *integrations.Desired) (integrations.Observed, error) {
	res, err := integrationstest.Converge(h.ctx, h.Step, *d)
	if res.ExternalID != "" {
		d.ExternalID = res.ExternalID
	}
	return res, err
}

// MustConverge is Converge failing the test on error.
func (h *Harness) MustConverge(d *integrations.Desired) integrations.Observed {
	h.T.Helper()
	res, err := h.Converge(d)
	if err != nil {
		h.T.Fatalf("converge %s: %v", d.Slug, err)
	}
	return res
}

// Observe runs Observe, failing the test on error or on any write.
func (h *Harness) Observe(d integrations.Desired) integrations.Observation {
	h.T.Helper()
	h.Rec.Writes()
	o, err := h.Step.Observe(h.ctx, d)
	if err != nil {
		h.T.Fatalf("observe %s: %v", d.Slug, err)
	}
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("Observe wrote upstream: %v", w)
	}
	return o
}

// InSync fails the test unless Observe finds d's objects, ours, with no drift.
func (h *Harness) InSync(d integrations.Desired, when string) {
	h.T.Helper()
	o := h.Observe(d)
	if !o.Exists || o.Owner != integrations.Ours || len(o.Drift) != 0 {
		h.T.Errorf("%s: Observe = exists %v, owner %s, drift %+v; want ours and in sync", when, o.Exists, o.Owner, o.Drift)
	}
}

// Owned fails the test unless exactly want objects carry d's marker.
func (h *Harness) Owned(d integrations.Desired, want int, when string) {
	h.T.Helper()
	n, err := h.Up.CountOwned(h.ctx, d)
	if err != nil {
		h.T.Fatalf("%s: count: %v", when, err)
	}
	if n != want {
		h.T.Errorf("%s: %d objects carry the tenant's marker, want %d", when, n, want)
	}
}
