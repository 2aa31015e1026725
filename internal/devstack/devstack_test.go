package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations/sim/faults"
	"github.com/dezky/platform-api/internal/devstack"
)

// tenantView is the part of the API's tenant view these tests read.
type tenantView struct {
	Metadata struct {
		UID  string `json:"uid"`
		Slug string `json:"slug"`
	} `json:"metadata"`
	Status struct {
		Phase                  string `json:"phase"`
		LastHandledReconcileAt string `json:"lastHandledReconcileAt"`
		Steps                  map[string]struct {
			State      string `json:"state"`
			Message    string `json:"message"`
			ExternalID string `json:"externalId"`
		} `json:"steps"`
	} `json:"status"`
}

// startStack starts a stack with the acceptance timing of docs/ARCHITECTURE.md; resync sets
// RESYNC_INTERVAL, extra overrides other settings (e.g. an upstream's URL).
func startStack(t *testing.T, resync string, extra ...string) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{
		"HTTP_ADDR": "127.0.0.1:0", "POLL_INTERVAL": "200ms", "RESYNC_INTERVAL": resync, "STEP_TIMEOUT": "10s",
		"LEASE_DURATION": "3s", "LEASE_RENEW": "1s",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	st, err := devstack.Start(ctx, devstack.Options{
		DataDir: t.TempDir(), MongoAddr: "127.0.0.1:0", Getenv: func(k string) string { return env[k] },
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := st.Wait(); err != nil {
			t.Errorf("stack stopped with %v", err)
		}
	})
	return st
}

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (c client) tenant(slug string) tenantView {
	c.t.Helper()
	code, body := c.do("GET", "/tenants/"+slug, nil)
	if code != http.StatusOK {
		c.t.Fatalf("GET /tenants/%s = %d %s", slug, code, body)
	}
	var v tenantView
	if err := json.Unmarshal(body, &v); err != nil {
		c.t.Fatal(err)
	}
	return v
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The seed's demo, end to end: POST /tenants → controller → all three steps ok → Active, and
// reconcile?wait returns the fresh status.
func TestDemoTenantGoesActive(t *testing.T) {
	st := startStack(t, "4s")
	token, err := st.UserToken()
	if err != nil {
		t.Fatal(err)
	}
	c := client{t: t, base: st.APIURL, token: token}
	code, body := c.do("POST", "/tenants", map[string]any{
		"slug": "acme", "name": "Acme GmbH", "plan": "standard", "mail": map[string]any{"domain": "acme.example"},
	})
	if code != http.StatusCreated {
		t.Fatalf("POST /tenants = %d %s", code, body)
	}
	var created tenantView
	_ = json.Unmarshal(body, &created)
	if created.Status.Phase != "Pending" {
		t.Errorf("new tenant phase %q, want Pending", created.Status.Phase)
	}
	eventually(t, 20*time.Second, "acme Active", func() bool { return c.tenant("acme").Status.Phase == "Active" })
	v := c.tenant("acme")
	for _, step := range []string{"authentik", "stalwart", "ocis"} {
		s := v.Status.Steps[step]
		if s.State != "ok" || s.ExternalID == "" {
			t.Errorf("step %s = %+v, want ok with an externalId", step, s)
		}
	}
	if n := st.Authentik.GroupCount(); n != 1 {
		t.Errorf("authentik groups = %d, want 1", n)
	}
	if n := st.Stalwart.DomainCount(); n != 1 {
		t.Errorf("stalwart domains = %d, want 1", n)
	}
	if n := st.OCIS.DriveCount(); n != 1 {
		t.Errorf("ocis spaces = %d, want 1", n)
	}

	code, body = c.do("POST", "/tenants/acme/reconcile?wait=30s", nil)
	if code != http.StatusOK {
		t.Fatalf("reconcile?wait = %d %s", code, body)
	}
	var fresh tenantView
	_ = json.Unmarshal(body, &fresh)
	if fresh.Status.LastHandledReconcileAt == "" || fresh.Status.Phase != "Active" {
		t.Errorf("reconcile?wait returned %+v, want the handled token and Active", fresh.Status)
	}
}

// 50 tenants through the API while every upstream fails 20% of calls (and loses the response of
// some creates): once the faults stop, all are Active and every simulator holds exactly 50 of
// each object — nothing lost, nothing duplicated.
func TestFiftyTenantsUnderUpstreamFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end fault drill")
	}
	st := startStack(t, "4s")
	token, err := st.UserToken()
	if err != nil {
		t.Fatal(err)
	}
	c := client{t: t, base: st.APIURL, token: token}
	injectors := map[string]*faults.Injector{"authentik": st.Authentik.Faults(), "stalwart": st.Stalwart.Faults(), "ocis": st.OCIS.Faults()}
	for _, in := range injectors {
		in.Set(faults.Config{ErrorRate: 0.2, Latency: 5 * time.Millisecond})
	}
	isCreate := func(r *http.Request) bool { return r.Method == http.MethodPost }
	for i := 0; i < 3; i++ {
		st.Authentik.Faults().DropResponseOnce(isCreate)
		st.OCIS.Faults().DropResponseOnce(isCreate)
	}

	const n = 50
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, body := c.do("POST", "/tenants", map[string]any{
				"slug": fmt.Sprintf("fault-%02d", i), "name": fmt.Sprintf("Fault %d", i),
				"mail": map[string]any{"domain": fmt.Sprintf("fault-%02d.example", i)},
			})
			if code != http.StatusCreated {
				t.Errorf("POST tenant %d = %d %s", i, code, body)
			}
		}(i)
	}
	wg.Wait()

	// Let the faults bite: wait until some step has recorded an error, then stop them.
	sawError := func() bool {
		for i := 0; i < n; i++ {
			for _, s := range c.tenant(fmt.Sprintf("fault-%02d", i)).Status.Steps {
				if s.State == "error" {
					return true
				}
			}
		}
		return false
	}
	eventually(t, 30*time.Second, "an upstream error to be recorded", sawError)
	for _, in := range injectors {
		in.Clear()
	}

	eventually(t, 90*time.Second, "all 50 tenants Active", func() bool {
		for i := 0; i < n; i++ {
			if c.tenant(fmt.Sprintf("fault-%02d", i)).Status.Phase != "Active" {
				return false
			}
		}
		return true
	})
	counts := map[string]int{
		"authentik groups":  st.Authentik.GroupCount(),
		"stalwart domains":  st.Stalwart.DomainCount(),
		"stalwart accounts": st.Stalwart.AccountCount(),
		"ocis spaces":       st.OCIS.DriveCount(),
		"ocis groups":       len(st.OCIS.Groups()),
	}
	for what, got := range counts {
		if got != n {
			t.Errorf("%s = %d, want exactly %d", what, got, n)
		}
	}
}
