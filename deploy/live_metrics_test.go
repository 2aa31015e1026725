package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestQueriedMetricsAreExported scrapes a running dev stack (embedded FerretDB, the upstream
// simulators, platform-api) after driving a tenant through creation and a drift repair, and
// checks that every metric family of the contract is exported with its type and labels, and
// that every metric and label the dashboard and the alerts query exists there. A renamed metric
// or label in the service breaks this test, not a dashboard in production.
func TestQueriedMetricsAreExported(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the dev stack")
	}
	stack := startDevstack(t)
	stack.createTenantAndRepairDrift(t, "metrics-check")

	exported := stack.scrape(t)
	var missing []string
	for name, c := range metricContract {
		f, ok := exported[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if f.typ != c.typ {
			t.Errorf("%s is a %s, the contract says %s", name, f.typ, c.typ)
		}
		if f.labels != nil && !slices.Equal(f.labels, c.labels) {
			t.Errorf("%s has labels %v, the contract says %v", name, f.labels, c.labels)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("not exported by platform-api (after a tenant was created and its drift repaired): %v", missing)
	}
	checkQueries(t, append(dashboardQueries(t), alertQueries(t)...), exported)
}

// devstack is a running `cmd/devstack` process.
type devstack struct {
	api, authentik, userToken string
}

// startDevstack builds cmd/devstack and runs it on free loopback ports with its data in a
// temporary directory, then reads the addresses and the user token it prints.
func startDevstack(t *testing.T) *devstack {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "devstack")
	build := exec.Command("go", "build", "-o", bin, "./cmd/devstack")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/devstack: %v\n%s", err, out)
	}

	apiAddr, mongoAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin)
	// Only what the stack needs: a platform-api variable inherited from the machine (say
	// MONGO_URI) would reconfigure it.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir,
		"HTTP_ADDR=" + apiAddr, "DEVSTACK_DATA_DIR=" + filepath.Join(dir, "data"), "DEVSTACK_MONGO_ADDR=" + mongoAddr,
		"LOG_LEVEL=warn", "POLL_INTERVAL=200ms"}
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() && stderr.String() != "" {
			t.Logf("devstack stderr:\n%s", stderr.String())
		}
	})

	token := regexp.MustCompile(`(?m)^\s*export TOKEN=(\S+)$`)
	authentik := regexp.MustCompile(`(?m)^\s*Authentik sim\s+(http://\S+)$`)
	eventually(t, 60*time.Second, "the dev stack to print its tokens", func() bool {
		select {
		case <-exited:
			t.Fatalf("devstack exited early\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		default:
		}
		return token.MatchString(stdout.String()) && authentik.MatchString(stdout.String())
	})
	out := stdout.String()
	return &devstack{
		api:       "http://" + apiAddr,
		authentik: authentik.FindStringSubmatch(out)[1],
		userToken: token.FindStringSubmatch(out)[1],
	}
}

// createTenantAndRepairDrift makes the labelled series exist: a tenant goes through every step
// (step, reconcile, upstream and tenant-phase series), then its Authentik group is deleted
// behind the controller's back and a forced reconcile recreates it (a drift series).
func (s *devstack) createTenantAndRepairDrift(t *testing.T, slug string) {
	t.Helper()
	body := fmt.Sprintf(`{"slug":%q,"name":"Metrics Check","plan":"starter","mail":{"domain":"%s.example"}}`, slug, slug)
	if code, got := s.call(t, "POST", s.api+"/tenants", s.userToken, body); code != http.StatusCreated {
		t.Fatalf("POST /tenants: %d %s", code, got)
	}
	var group string
	eventually(t, 30*time.Second, "the tenant to become Active", func() bool {
		v := s.tenant(t, slug)
		group = v.Status.Steps["authentik"].ExternalID
		return v.Status.Phase == "Active" && group != ""
	})

	// Out-of-band drift: the group disappears from Authentik.
	if code, got := s.call(t, "DELETE", s.authentik+"/core/groups/"+group+"/", "dev-authentik-token", ""); code != http.StatusNoContent {
		t.Fatalf("deleting the Authentik group in the simulator: %d %s", code, got)
	}
	if code, got := s.call(t, "POST", s.api+"/tenants/"+slug+"/reconcile?wait=30s", s.userToken, ""); code != http.StatusOK {
		t.Fatalf("forced reconcile: %d %s", code, got)
	}
	eventually(t, 30*time.Second, "the Authentik group to be recreated", func() bool {
		st := s.tenant(t, slug).Status.Steps["authentik"]
		return st.State == "ok" && st.ExternalID != "" && st.ExternalID != group
	})
}

type tenantView struct {
	Status struct {
		Phase string `json:"phase"`
		Steps map[string]struct {
			State      string `json:"state"`
			ExternalID string `json:"externalId"`
		} `json:"steps"`
	} `json:"status"`
}

func (s *devstack) tenant(t *testing.T, slug string) tenantView {
	t.Helper()
	code, body := s.call(t, "GET", s.api+"/tenants/"+slug, s.userToken, "")
	var v tenantView
	if code != http.StatusOK || json.Unmarshal(body, &v) != nil {
		t.Fatalf("GET /tenants/%s: %d %s", slug, code, body)
	}
	return v
}

func (s *devstack) call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 45 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// scrape reads /metrics and returns the platform_ families: type, and label names when the
// family has series (a labelled counter never incremented shows none).
func (s *devstack) scrape(t *testing.T) map[string]family {
	t.Helper()
	resp, err := http.Get(s.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	out := map[string]family{}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "platform_") {
			continue
		}
		// client_model's type names (COUNTER, GAUGE, HISTOGRAM) lower-cased, as in the contract.
		f := family{typ: strings.ToLower(mf.GetType().String())}
		if len(mf.GetMetric()) > 0 {
			f.labels = []string{}
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				f.labels = append(f.labels, lp.GetName())
			}
			sort.Strings(f.labels)
		}
		out[name] = f
	}
	t.Logf("platform_ families exported: %v", sortedNames(out))
	return out
}

// freeAddr returns a loopback address with a port nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

// syncBuffer is a bytes.Buffer safe for the child process's writer and the test's reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
