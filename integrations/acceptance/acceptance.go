// Package acceptance runs an integration's scenario table (create, Observe in sync, Apply
// idempotent, lost create response → adopt, drift in each field → repaired, suspend/resume,
// delete, delete of a missing object, foreign marker → permanent, and the upstream's own extra
// cases) against an upstream: always its simulator, and a live server when the suite's
// variables are set (docs/ARCHITECTURE.md, live acceptance suites).
//
// A suite supplies three things: the client under test, built on the transport the runner
// hands it (a Recorder, which counts the client's writes and can lose a response); an
// Upstream, the out-of-band side that tampers with objects behind the client's back and
// counts them; and a way to make a tenant's Desired value whose upstream names carry the
// suite's test prefix. Every tenant a scenario makes is deleted when it ends.
package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations"
)

// Tamper is one out-of-band change an Upstream can make, and the drift field Observe must then
// report.
type Tamper struct {
	// Name says what a person did ("quota changed", "group deleted").
	Name string
	// Field is the drift field the change shows up as (integrations.Field*).
	Field string
}

// Upstream is the out-of-band side of the scenarios: an administrator working behind the
// client's back, and the reads a test judges the outcome by. It talks to the upstream with its
// own identity, never through the client under test.
type Upstream interface {
	// Tampers lists the changes Tamper can make, one or more per drift field of the step.
	Tampers() []Tamper
	// Tamper makes the change named name to d's objects (d.ExternalID is the recorded id).
	Tamper(ctx context.Context, d integrations.Desired, name string) error
	// CountOwned counts the upstream objects carrying d's marker: a scenario that must never
	// make a second object checks it stays one.
	CountOwned(ctx context.Context, d integrations.Desired) (int, error)
	// Exists reports whether the object with the upstream id exists.
	Exists(ctx context.Context, id string) (bool, error)
	// CreateForeign creates an object named name carrying tenantID's marker, as another
	// tenant's, and returns its id.
	CreateForeign(ctx context.Context, name, tenantID string) (string, error)
	// Remove deletes an object CreateForeign made, whatever its state. A missing one is success.
	Remove(ctx context.Context, id string) error
	// Sweep removes the objects whose names start with prefix: what an interrupted run left.
	Sweep(ctx context.Context, prefix string) error
}

// Suite is one integration's scenario table against one upstream.
type Suite struct {
	// Prefix starts the upstream name of everything the suite creates (object names, group
	// names), so that a run's leftovers can be told from anyone else's objects and swept.
	Prefix string
	// NewStep builds the client under test on rt, which must carry every request it makes.
	NewStep func(t *testing.T, rt http.RoundTripper) integrations.Step
	// Base is the transport under the Recorder (a live server's CA, say). Nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Upstream is the out-of-band side.
	Upstream Upstream
	// Desired makes a tenant's desired state from a fresh tenant id and slug. Names it derives
	// must start with Prefix.
	Desired func(tenantID, slug string) integrations.Desired
	// IsCreate matches the request that creates the step's main object: the lost-response
	// scenario loses its answer.
	IsCreate func(*http.Request) bool
	// NotAWrite matches requests that change nothing upstream although they are not GETs (an
	// IdP's token endpoint, a JMAP request made only of /get and /query calls).
	NotAWrite func(*http.Request) bool
	// DescribeWrite names a recorded write in failure messages. Nil means its method and path,
	// which say nothing on an upstream where every call is a POST to one URL (JMAP): there the
	// suite names the methods called.
	DescribeWrite func(*http.Request) string
	// ForeignName names the object the foreign-marker scenario plants for a tenant. Nil means
	// Prefix+"foreign-"+slug, a name of its own that only the recorded id leads to. An upstream
	// that finds a tenant's object by name first and sets a recorded id that names something
	// else aside (Stalwart's mail domain) plants it under the tenant's own name instead, so the
	// step cannot sidestep it.
	ForeignName func(d integrations.Desired) string
	// Extra are the upstream's own scenarios.
	Extra []Scenario
	// Timeout bounds each scenario. Zero means one minute: a live server on loopback answers in
	// milliseconds, a remote one in well under that.
	Timeout time.Duration
}

// Scenario is one named case of a suite.
type Scenario struct {
	Name string
	Run  func(h *Harness)
}

// LiveEnv reads the named variables, or skips t naming the missing ones: a live suite runs only
// where its server is configured.
func LiveEnv(t *testing.T, suite string, names ...string) map[string]string {
	t.Helper()
	vals := map[string]string{}
	var missing []string
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			vals[n] = v
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Skipf("live %s suite: %s not set", suite, strings.Join(missing, ", "))
	}
	return vals
}

// NewTenant returns a fresh tenant id (24 hex digits, like a Mongo ObjectId) and slug.
func NewTenant() (id, slug string) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:24], "t" + h[24:]
}

// Run runs the standard scenarios, then the suite's extra ones, each as a subtest. Leftovers
// of earlier interrupted runs are swept first, and whatever this run left (a scenario that
// failed before its cleanup could run, say) is swept when it ends.
func Run(t *testing.T, s Suite) {
	t.Helper()
	if s.Timeout == 0 {
		s.Timeout = time.Minute
	}
	sweep := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		defer cancel()
		return s.Upstream.Sweep(ctx, s.Prefix)
	}
	if err := sweep(); err != nil {
		t.Fatalf("sweep leftovers of %q: %v", s.Prefix, err)
	}
	t.Cleanup(func() {
		if err := sweep(); err != nil {
			t.Errorf("sweep after the run of %q: %v", s.Prefix, err)
		}
	})
	for _, sc := range append(standard(s.Upstream), s.Extra...) {
		t.Run(sc.Name, func(t *testing.T) {
			h := newHarness(t, s)
			sc.Run(h)
		})
	}
}
