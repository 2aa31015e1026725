package devstack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/integrations/sim/faults"
	"github.com/dezky/platform-api/internal/devstack"
	"github.com/dezky/platform-api/plan"
)

// The acceptance timing (docs/ARCHITECTURE.md, "Sources"): with RESYNC_INTERVAL=4s drift is repaired within two
// resync periods plus 5 s.
const (
	resyncInterval = 4 * time.Second
	driftDeadline  = 2*resyncInterval + 5*time.Second
)

// fullView is the part of the tenant view the acceptance tests read, attempts included.
type fullView struct {
	Metadata struct {
		UID        string `json:"uid"`
		Generation int64  `json:"generation"`
	} `json:"metadata"`
	Status struct {
		Phase                  string     `json:"phase"`
		ObservedGeneration     int64      `json:"observedGeneration"`
		LastReconciledAt       *time.Time `json:"lastReconciledAt"`
		LastHandledReconcileAt *string    `json:"lastHandledReconcileAt"`
		Steps                  map[string]struct {
			State              string `json:"state"`
			Message            string `json:"message"`
			ExternalID         string `json:"externalId"`
			ObservedGeneration int64  `json:"observedGeneration"`
			Attempts           int    `json:"attempts"`
		} `json:"steps"`
	} `json:"status"`
}

func (c client) full(slug string) fullView {
	c.t.Helper()
	code, body := c.do("GET", "/tenants/"+slug, nil)
	if code != http.StatusOK {
		c.t.Fatalf("GET /tenants/%s = %d %s", slug, code, body)
	}
	var v fullView
	if err := json.Unmarshal(body, &v); err != nil {
		c.t.Fatal(err)
	}
	return v
}

// acceptanceStack starts a stack with the acceptance timing; resync overrides RESYNC_INTERVAL.
func acceptanceStack(t *testing.T, resync string) (*devstack.Stack, client, client) {
	t.Helper()
	st := startStack(t, resync)
	user, err := st.UserToken()
	if err != nil {
		t.Fatal(err)
	}
	op, err := st.OperatorToken()
	if err != nil {
		t.Fatal(err)
	}
	return st, client{t: t, base: st.APIURL, token: user}, client{t: t, base: st.APIURL, token: op}
}

// createActive creates a tenant with a mail domain and waits until it is Active.
func createActive(t *testing.T, c client, slug, planName string) fullView {
	t.Helper()
	code, body := c.do("POST", "/tenants", map[string]any{
		"slug": slug, "name": "Tenant " + slug, "plan": planName, "mail": map[string]any{"domain": slug + ".example"},
	})
	if code != http.StatusCreated {
		t.Fatalf("POST /tenants = %d %s", code, body)
	}
	eventually(t, 20*time.Second, slug+" Active", func() bool { return c.full(slug).Status.Phase == "Active" })
	return c.full(slug)
}

// mongoTenants connects to the stack's database the way an operator's shell would.
func mongoTenants(t *testing.T, st *devstack.Stack) *mongo.Collection {
	t.Helper()
	cl, err := mongo.Connect(options.Client().ApplyURI(st.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Disconnect(context.Background()) })
	return cl.Database("dezky").Collection("tenants")
}

// forceByHand is the documented raw update (docs/ARCHITECTURE.md, "Writes, tokens and waits"), written with the driver.
func forceByHand(t *testing.T, coll *mongo.Collection, slug, token string) {
	t.Helper()
	res, err := coll.UpdateOne(context.Background(), bson.D{{Key: "metadata.slug", Value: slug}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "metadata.annotations.reconcileRequestedAt", Value: token},
			{Key: "metadata.updatedAt", Value: time.Now()},
		}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("force reconcile of %s: %v (matched %d)", slug, err, res.MatchedCount)
	}
}

func (c client) post(path string, want int) {
	c.t.Helper()
	if code, body := c.do("POST", path, nil); code != want {
		c.t.Fatalf("POST %s = %d %s, want %d", path, code, body, want)
	}
}

// metric reads one unlabelled gauge from /metrics.
func metric(t *testing.T, c client, name string) float64 {
	t.Helper()
	code, body := c.do("GET", "/metrics", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// resyncedAt is when the leader last queued every tenant for a resync.
func resyncedAt(t *testing.T, c client) float64 {
	return metric(t, c, "platform_resync_last_timestamp_seconds")
}

func queueDepth(t *testing.T, c client) float64 { return metric(t, c, "platform_workqueue_depth") }

func driveOf(t *testing.T, st *devstack.Stack, v fullView) (id string, quota int64, disabled bool) {
	t.Helper()
	for _, d := range st.OCIS.Drives() {
		if d.ID == v.Status.Steps["ocis"].ExternalID {
			return d.ID, d.QuotaTotal, d.Disabled
		}
	}
	return "", 0, false
}

func teamQuota(st *devstack.Stack, slug string) int64 {
	dom, ok := st.Stalwart.DomainByName(slug + ".example")
	if !ok {
		return -1
	}
	for _, a := range st.Stalwart.Accounts() {
		if a.DomainID == dom.ID && a.Name == "team" {
			return a.MaxDiskQuota
		}
	}
	return -1
}

// Drift in every upstream is repaired by the periodic resync alone, within two resync periods
// plus 5 s, and a stable tenant's resyncs write nothing (lastReconciledAt, attempts untouched).
func TestAcceptanceDriftRepairedByResync(t *testing.T) {
	st, c, _ := acceptanceStack(t, resyncInterval.String())
	v := createActive(t, c, "drift", "standard")
	want := plan.Effective("standard", 0, 0)

	// No-op resyncs: after two full resyncs of a stable tenant the status is unchanged.
	before := c.full("drift")
	for i := 0; i < 2; i++ {
		from := resyncedAt(t, c)
		eventually(t, 2*resyncInterval, "a resync", func() bool { return resyncedAt(t, c) > from })
	}
	eventually(t, 5*time.Second, "the resync's reconcile", func() bool { return queueDepth(t, c) == 0 })
	after := c.full("drift")
	if !after.Status.LastReconciledAt.Equal(*before.Status.LastReconciledAt) {
		t.Errorf("lastReconciledAt moved from %v to %v without any change", before.Status.LastReconciledAt, after.Status.LastReconciledAt)
	}
	for name, s := range after.Status.Steps {
		if s.Attempts != before.Status.Steps[name].Attempts {
			t.Errorf("step %s attempts moved %d → %d without any change", name, before.Status.Steps[name].Attempts, s.Attempts)
		}
	}

	oldGroup := v.Status.Steps["authentik"].ExternalID
	if !st.Authentik.DeleteGroupOutOfBand("tenant-drift") {
		t.Fatal("group tenant-drift not found in authentik")
	}
	driveID, _, _ := driveOf(t, st, v)
	if !st.OCIS.SetQuota(driveID, 1<<20) {
		t.Fatal("drive not found in ocis")
	}
	if err := st.Stalwart.SetAccountQuota("drift.example", "team", 1<<20); err != nil {
		t.Fatal(err)
	}
	eventually(t, driftDeadline, "drift repaired in all three upstreams", func() bool {
		g, ok := st.Authentik.GroupByName("tenant-drift")
		_, quota, _ := driveOf(t, st, v)
		return ok && g.PK != oldGroup && quota == want.StorageBytes && teamQuota(st, "drift") == want.MailBytes
	})
	eventually(t, 5*time.Second, "new group id recorded", func() bool {
		now := c.full("drift")
		g, _ := st.Authentik.GroupByName("tenant-drift")
		return now.Status.Phase == "Active" && now.Status.Steps["authentik"].ExternalID == g.PK
	})
}

// A plan change corrects both upstream quotas; suspend makes the tenant Suspended once every
// step applied it (space and domain disabled); resume brings it back to Active.
func TestAcceptancePlanChangeAndSuspend(t *testing.T) {
	st, c, op := acceptanceStack(t, resyncInterval.String())
	v := createActive(t, c, "planned", "starter")
	starter := plan.Effective("starter", 0, 0)
	if _, q, _ := driveOf(t, st, v); q != starter.StorageBytes || teamQuota(st, "planned") != starter.MailBytes {
		t.Fatalf("starter quotas: drive %d, mail %d", q, teamQuota(st, "planned"))
	}

	if code, body := c.do("PATCH", "/tenants/planned", map[string]any{"plan": "business"}); code != http.StatusOK {
		t.Fatalf("PATCH = %d %s", code, body)
	}
	business := plan.Effective("business", 0, 0)
	eventually(t, 10*time.Second, "both quotas follow the plan", func() bool {
		_, q, _ := driveOf(t, st, v)
		return q == business.StorageBytes && teamQuota(st, "planned") == business.MailBytes
	})
	eventually(t, 5*time.Second, "generation 2 Active", func() bool {
		s := c.full("planned").Status
		return s.Phase == "Active" && s.ObservedGeneration == 2
	})

	op.post("/tenants/planned/suspend", http.StatusOK)
	eventually(t, 10*time.Second, "Suspended", func() bool { return c.full("planned").Status.Phase == "Suspended" })
	if _, _, disabled := driveOf(t, st, v); !disabled {
		t.Error("suspended tenant's space is not disabled")
	}
	if d, _ := st.Stalwart.DomainByName("planned.example"); d.IsEnabled {
		t.Error("suspended tenant's mail domain is enabled")
	}
	op.post("/tenants/planned/resume", http.StatusOK)
	eventually(t, 10*time.Second, "Active again", func() bool { return c.full("planned").Status.Phase == "Active" })
	if _, _, disabled := driveOf(t, st, v); disabled {
		t.Error("resumed tenant's space is still disabled")
	}
}

// An Active tenant whose step starts failing is Degraded, its step in error with the message
// and attempts counting the tries; when the upstream heals it is Active again.
func TestAcceptanceDegradedWhileFailing(t *testing.T) {
	st, c, _ := acceptanceStack(t, resyncInterval.String())
	createActive(t, c, "wobbly", "standard")
	st.OCIS.Faults().Set(faults.Config{ErrorRate: 1})
	eventually(t, driftDeadline, "Degraded with ocis in error, retried", func() bool {
		s := c.full("wobbly").Status
		o := s.Steps["ocis"]
		return s.Phase == "Degraded" && o.State == "error" && o.Message != "" && o.Attempts >= 2 &&
			s.Steps["authentik"].State == "ok"
	})
	st.OCIS.Faults().Clear()
	eventually(t, driftDeadline, "Active again", func() bool {
		s := c.full("wobbly").Status
		return s.Phase == "Active" && s.Steps["ocis"].State == "ok"
	})
}

// A reconcile forced by hand (the documented raw update: the annotation and updatedAt) runs every
// step, without waiting for a resync, and lastHandledReconcileAt echoes the token exactly.
func TestAcceptanceForceReconcileByHand(t *testing.T) {
	st, c, _ := acceptanceStack(t, "1h") // no periodic resync can do the work for it
	createActive(t, c, "forced", "standard")
	coll := mongoTenants(t, st)

	if !st.Authentik.DeleteGroupOutOfBand("tenant-forced") {
		t.Fatal("group not found")
	}
	// A token as an operator writes it: now, RFC3339Nano (trailing zeros trimmed).
	token := time.Now().UTC().Format(time.RFC3339Nano)
	forceByHand(t, coll, "forced", token)
	eventually(t, 10*time.Second, "token echoed and group recreated", func() bool {
		s := c.full("forced").Status
		_, ok := st.Authentik.GroupByName("tenant-forced")
		return s.LastHandledReconcileAt != nil && *s.LastHandledReconcileAt == token && ok
	})

	// Same through the API endpoint, waiting for it.
	if !st.Authentik.DeleteGroupOutOfBand("tenant-forced") {
		t.Fatal("group not found")
	}
	code, body := c.do("POST", "/tenants/forced/reconcile?wait=20s", nil)
	if code != http.StatusOK {
		t.Fatalf("reconcile?wait = %d %s", code, body)
	}
	if _, ok := st.Authentik.GroupByName("tenant-forced"); !ok {
		t.Error("reconcile?wait returned before the group was recreated")
	}
}

// Pause leaves a tenant alone (drift stays); unpause, a change event of annotations only on a
// tenant whose generation is observed, runs the steps at once (no resync can: RESYNC_INTERVAL
// is an hour).
func TestAcceptancePauseUnpause(t *testing.T) {
	st, c, op := acceptanceStack(t, "1h")
	createActive(t, c, "paused", "standard")
	op.post("/operator/tenants/paused/pause", http.StatusOK)
	eventually(t, 5*time.Second, "pause recorded", func() bool {
		code, body := c.do("GET", "/tenants/paused", nil)
		return code == http.StatusOK && json.Valid(body) && containsCondition(body, "Paused")
	})
	if !st.Authentik.DeleteGroupOutOfBand("tenant-paused") {
		t.Fatal("group not found")
	}
	op.post("/operator/tenants/paused/unpause", http.StatusOK)
	eventually(t, 10*time.Second, "group recreated after unpause", func() bool {
		_, ok := st.Authentik.GroupByName("tenant-paused")
		code, body := c.do("GET", "/tenants/paused", nil)
		return ok && code == http.StatusOK && c.full("paused").Status.Phase == "Active" && !containsCondition(body, "Paused")
	})
}

func containsCondition(body []byte, typ string) bool {
	var v struct {
		Status struct {
			Conditions []struct {
				Type string `json:"type"`
			} `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	for _, c := range v.Status.Conditions {
		if c.Type == typ {
			return true
		}
	}
	return false
}

// Deletion tears every upstream object down, then the tenant is gone (404).
func TestAcceptanceDelete(t *testing.T) {
	st, c, _ := acceptanceStack(t, resyncInterval.String())
	createActive(t, c, "doomed", "standard")
	if code, body := c.do("DELETE", "/tenants/doomed", nil); code != http.StatusAccepted {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	eventually(t, 10*time.Second, "tenant gone", func() bool {
		code, _ := c.do("GET", "/tenants/doomed", nil)
		return code == http.StatusNotFound
	})
	if _, ok := st.Authentik.GroupByName("tenant-doomed"); ok {
		t.Error("authentik group left behind")
	}
	if _, ok := st.Stalwart.DomainByName("doomed.example"); ok {
		t.Error("stalwart domain left behind")
	}
	if n := st.Stalwart.AccountCount(); n != 0 {
		t.Errorf("%d stalwart accounts left behind", n)
	}
	for _, d := range st.OCIS.Drives() {
		if d.DriveType == "project" {
			t.Errorf("ocis space %+v left behind", d)
		}
	}
	for _, g := range st.OCIS.Groups() {
		if g.DisplayName == "tenant-doomed" {
			t.Error("ocis group left behind")
		}
	}
	if code, _ := c.do("DELETE", "/tenants/doomed", nil); code != http.StatusNotFound {
		t.Errorf("DELETE of a deleted tenant = %d, want 404", code)
	}
}
