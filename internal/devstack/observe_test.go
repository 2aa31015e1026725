package devstack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations/integrationstest"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
	"github.com/dezky/platform-api/internal/devstack"
)

// driftCheck is the answer of POST /tenants/{slug}/drift-check?wait.
type driftCheck struct {
	Token  string `json:"token"`
	InSync bool   `json:"inSync"`
	Steps  map[string]struct {
		Exists bool `json:"exists"`
		Drift  []struct {
			Field string `json:"field"`
			Want  string `json:"want"`
			Got   string `json:"got"`
		} `json:"drift"`
		Message string `json:"message"`
	} `json:"steps"`
}

func (d driftCheck) fields(step string) []string {
	var out []string
	for _, f := range d.Steps[step].Drift {
		out = append(out, f.Field)
	}
	return out
}

func (c client) driftCheck(slug string) driftCheck {
	c.t.Helper()
	code, body := c.do("POST", "/tenants/"+slug+"/drift-check?wait=20s", nil)
	if code != http.StatusOK {
		c.t.Fatalf("drift-check?wait = %d %s", code, body)
	}
	var d driftCheck
	if err := json.Unmarshal(body, &d); err != nil {
		c.t.Fatal(err)
	}
	return d
}

// resetRecordings forgets what the three simulators recorded so far.
func resetRecordings(st *devstack.Stack) {
	st.Authentik.Faults().ResetRecording()
	st.Stalwart.Faults().ResetRecording()
	st.OCIS.Faults().ResetRecording()
}

// upstreamWrites counts the requests since resetRecordings that could have changed something
// upstream: non-GET calls to Authentik and oCIS (the IdP's token endpoint aside), JMAP /set
// calls to Stalwart.
func upstreamWrites(st *devstack.Stack) int {
	return len(integrationstest.RESTWrites(st.Authentik.Faults().Requests())) +
		len(integrationstest.JMAPWrites(st.Stalwart.Faults().Requests())) +
		len(integrationstest.RESTWrites(st.OCIS.Faults().Requests(), ocissim.TokenPath))
}

// A drift check is a dry run: on an in-sync tenant it says so; after out-of-band changes in
// all three simulators it names each changed field, with zero upstream writes during the
// check, and the drift is still there afterwards; the next normal reconcile corrects it and
// records DriftCorrected events naming each field.
func TestAcceptanceDriftCheck(t *testing.T) {
	st, c, _ := acceptanceStack(t, "1h") // no periodic resync may correct anything meanwhile
	v := createActive(t, c, "checked", "standard")
	if d := c.driftCheck("checked"); !d.InSync || len(d.Steps) != 3 {
		t.Fatalf("in-sync tenant: %+v", d)
	}

	g, _ := st.Authentik.GroupByName("tenant-checked")
	attrs := map[string]any{}
	for k, val := range g.Attributes {
		attrs[k] = val
	}
	attrs["dezkyTenantSlug"] = "someone-else"
	st.Authentik.SetGroupAttributes("tenant-checked", attrs)
	if err := st.Stalwart.SetAccountQuota("checked.example", "team", 1); err != nil {
		t.Fatal(err)
	}
	driveID, _, _ := driveOf(t, st, v)
	st.OCIS.SetQuota(driveID, 2)

	resetRecordings(st)
	d := c.driftCheck("checked")
	if n := upstreamWrites(st); n != 0 {
		t.Fatalf("the drift check wrote upstream %d times", n)
	}
	want := map[string][]string{"authentik": {"attributes"}, "stalwart": {"quota"}, "ocis": {"quota"}}
	for step, fields := range want {
		if got := d.fields(step); len(got) != 1 || got[0] != fields[0] {
			t.Errorf("%s drift fields %v, want %v", step, got, fields)
		}
	}
	if d.InSync || d.Steps["ocis"].Drift[0].Want == d.Steps["ocis"].Drift[0].Got || d.Steps["ocis"].Drift[0].Got != "2" {
		t.Errorf("drift check %+v", d)
	}
	if _, q, _ := driveOf(t, st, v); q != 2 || teamQuota(st, "checked") != 1 {
		t.Fatalf("the drift check corrected something: drive quota %d, mail quota %d", q, teamQuota(st, "checked"))
	}
	if s := c.full("checked").Status; s.Phase != "Active" || s.LastHandledReconcileAt != nil {
		t.Errorf("a drift check changed the reconcile state: %+v", s)
	}

	if code, body := c.do("POST", "/tenants/checked/reconcile?wait=20s", nil); code != http.StatusOK {
		t.Fatalf("reconcile = %d %s", code, body)
	}
	if d := c.driftCheck("checked"); !d.InSync {
		t.Errorf("after a reconcile: %+v", d)
	}
	code, body := c.do("GET", "/tenants/checked/events?limit=20", nil)
	if code != http.StatusOK {
		t.Fatalf("events = %d %s", code, body)
	}
	var evs struct {
		Items []struct {
			Reason, Step, Message string
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &evs); err != nil {
		t.Fatal(err)
	}
	corrected := map[string]bool{}
	for _, ev := range evs.Items {
		if ev.Reason == "DriftCorrected" {
			corrected[ev.Step] = true
		}
	}
	if len(corrected) != 3 {
		t.Errorf("DriftCorrected events for %v, want all three steps: %s", corrected, body)
	}
}

// ObserveOnly: a new tenant creates nothing upstream and lists what is missing per step; an
// Authentik group made by hand for it (no marker, as the Node service's imports have) is
// observed and listed as drift on its attributes; PATCH to Full converges, adopting that very
// group. Deleting an ObserveOnly tenant removes the documents and calls no upstream at all.
func TestAcceptanceObserveOnly(t *testing.T) {
	st, c, _ := acceptanceStack(t, "1h")
	handMade, err := st.Authentik.CreateGroupOutOfBand("tenant-imported", map[string]any{"team": "sales"})
	if err != nil {
		t.Fatal(err)
	}
	resetRecordings(st)
	code, body := c.do("POST", "/tenants", map[string]any{
		"slug": "imported", "name": "Imported", "managementPolicy": "ObserveOnly",
		"mail": map[string]any{"domain": "imported.example"},
	})
	if code != http.StatusCreated {
		t.Fatalf("POST = %d %s", code, body)
	}
	var status struct {
		Status struct {
			Phase      string `json:"phase"`
			Conditions []struct {
				Type, Status, Reason string
			} `json:"conditions"`
			Steps map[string]struct {
				State, Message string
				Drift          []struct{ Field, Want, Got string }
			} `json:"steps"`
		} `json:"status"`
	}
	eventually(t, 20*time.Second, "every step observed", func() bool {
		code, body := c.do("GET", "/tenants/imported", nil)
		if code != http.StatusOK || json.Unmarshal(body, &status) != nil {
			return false
		}
		for _, s := range status.Status.Steps {
			if s.State != "pending" || len(s.Drift) == 0 {
				return false
			}
		}
		return len(status.Status.Steps) == 3
	})
	if n := upstreamWrites(st); n != 0 {
		t.Fatalf("an ObserveOnly tenant wrote upstream %d times", n)
	}
	if got := status.Status.Steps["authentik"].Drift; got[0].Field != "attributes" {
		t.Errorf("the hand-made group is listed as %+v, want attributes drift", got)
	}
	for _, step := range []string{"stalwart", "ocis"} {
		if d := status.Status.Steps[step].Drift[0]; d.Got != "missing" {
			t.Errorf("%s drift %+v, want the object missing", step, d)
		}
	}
	if msg := status.Status.Steps["ocis"].Message; msg != "observe only: 3 field(s) differ" {
		t.Errorf("ocis message %q", msg)
	}
	synced := false
	for _, cond := range status.Status.Conditions {
		synced = synced || (cond.Type == "Synced" && cond.Status == "False" && cond.Reason == "ObserveOnly")
	}
	if !synced || status.Status.Phase != "Pending" {
		t.Errorf("phase %s conditions %+v, want Pending and Synced False/ObserveOnly", status.Status.Phase, status.Status.Conditions)
	}

	if code, body := c.do("PATCH", "/tenants/imported", map[string]any{"managementPolicy": "Full"}); code != http.StatusOK {
		t.Fatalf("PATCH = %d %s", code, body)
	}
	eventually(t, 20*time.Second, "Active under Full", func() bool { return c.full("imported").Status.Phase == "Active" })
	v := c.full("imported")
	if v.Status.Steps["authentik"].ExternalID != handMade || st.Authentik.GroupCount() != 1 {
		t.Errorf("authentik group %s (groups: %d), want the hand-made %s adopted", v.Status.Steps["authentik"].ExternalID, st.Authentik.GroupCount(), handMade)
	}
	if g, _ := st.Authentik.GroupByName("tenant-imported"); g.Attributes["team"] != "sales" || g.Attributes["dezkyTenantId"] != v.Metadata.UID {
		t.Errorf("adopted group attributes %v", g.Attributes)
	}

	// Deleting an ObserveOnly tenant: no upstream call, the documents go.
	code, body = c.do("POST", "/tenants", map[string]any{"slug": "watched", "name": "Watched", "managementPolicy": "ObserveOnly"})
	if code != http.StatusCreated {
		t.Fatalf("POST = %d %s", code, body)
	}
	eventually(t, 20*time.Second, "watched observed", func() bool { return c.full("watched").Status.ObservedGeneration == 1 })
	resetRecordings(st)
	if code, body := c.do("DELETE", "/tenants/watched", nil); code != http.StatusAccepted {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	eventually(t, 20*time.Second, "watched gone", func() bool {
		code, _ := c.do("GET", "/tenants/watched", nil)
		return code == http.StatusNotFound
	})
	if n := st.Authentik.Faults().Calls() + st.Stalwart.Faults().Calls() + st.OCIS.Faults().Calls(); n != 0 {
		t.Errorf("deleting an ObserveOnly tenant made %d upstream calls", n)
	}
}

// A drift check asked for by hand, as an operator would in the Mongo shell (the annotation and
// updatedAt, like the reconcile token), is answered in status.lastDriftCheck with that token.
func TestAcceptanceDriftCheckByHand(t *testing.T) {
	st, c, _ := acceptanceStack(t, "1h")
	createActive(t, c, "handchecked", "standard")
	token := time.Now().UTC().Format(time.RFC3339Nano)
	res, err := mongoTenants(t, st).UpdateOne(context.Background(), bson.D{{Key: "metadata.slug", Value: "handchecked"}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "metadata.annotations.driftCheckRequestedAt", Value: token},
			{Key: "metadata.updatedAt", Value: time.Now()},
		}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("raw update: %v (matched %d)", err, res.MatchedCount)
	}
	eventually(t, 10*time.Second, "the raw token answered", func() bool {
		code, body := c.do("GET", "/tenants/handchecked", nil)
		var v struct {
			Status struct {
				LastDriftCheck *struct {
					Token  string `json:"token"`
					InSync bool   `json:"inSync"`
				} `json:"lastDriftCheck"`
			} `json:"status"`
		}
		return code == http.StatusOK && json.Unmarshal(body, &v) == nil && v.Status.LastDriftCheck != nil &&
			v.Status.LastDriftCheck.Token == token && v.Status.LastDriftCheck.InSync
	})
}
