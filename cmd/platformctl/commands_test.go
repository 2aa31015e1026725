package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/internal/platformclient"
	"github.com/dezky/platform-api/plan"
)

// diff is a dry run with diff(1)'s exit codes: 0 in sync; 1 after the oCIS quota was changed
// behind the controller's back, with the drift as a table (and as the API's document with
// -o json); a reconcile repairs it and diff is 0 again.
func TestDiffExitCodes(t *testing.T) {
	tok := userToken(t)
	in := invocation{token: tok}
	in.mustCtl(t, exitOK, "create", "tenant", "drifty", "--name", "Drifty", "--mail-domain", "drifty.example")
	tn := waitReady(t, tok, "drifty")

	if r := in.mustCtl(t, exitOK, "diff", "drifty"); r.stdout != "tenant/drifty: in sync\n" {
		t.Errorf("diff of a tenant in sync printed %q", r.stdout)
	}

	driveID := tn.Status.Steps["ocis"].ExternalID
	if !stack.OCIS.SetQuota(driveID, 1) {
		t.Fatalf("drive %q not in the oCIS simulator", driveID)
	}
	r := in.mustCtl(t, exitFailed, "diff", "drifty")
	want := strconv.FormatInt(plan.Effective("starter", 0, 0).StorageBytes, 10)
	if !regexp.MustCompile(`(?m)^ocis +quota +` + want + ` +1$`).MatchString(r.stdout) {
		t.Errorf("diff does not show the quota drift (want %s, got 1):\n%s", want, r.stdout)
	}
	if !strings.HasPrefix(r.stdout, "STEP ") || r.stderr != "" {
		t.Errorf("want the drift table on stdout and nothing on stderr, got %s", r)
	}

	var dc platformclient.DriftCheck
	decodeJSON(t, in.mustCtl(t, exitFailed, "diff", "drifty", "-o", "json").stdout, &dc)
	if dc.InSync || len(dc.Steps["ocis"].Drift) != 1 || dc.Steps["ocis"].Drift[0].Got != "1" {
		t.Errorf("diff -o json = %+v, want ocis quota drift", dc)
	}
	if q := driveQuota(t, driveID); q != 1 {
		t.Errorf("a drift check wrote upstream: quota %d, want the drifted 1", q)
	}

	in.mustCtl(t, exitOK, "reconcile", "drifty", "--wait", "30s")
	if q := driveQuota(t, driveID); strconv.FormatInt(q, 10) != want {
		t.Errorf("quota after the reconcile = %d, want %s", q, want)
	}
	in.mustCtl(t, exitOK, "diff", "drifty")
}

func driveQuota(t *testing.T, id string) int64 {
	t.Helper()
	d, ok := stack.OCIS.Drive(id)
	if !ok {
		t.Fatalf("drive %q gone", id)
	}
	return d.QuotaTotal
}

// reconcile --wait exits 3 when the handled reconcile leaves the tenant not Ready: here
// Authentik holds a group of the tenant's name that carries another tenant's marker, which the
// controller must not adopt.
func TestReconcileWaitNotReady(t *testing.T) {
	tok := userToken(t)
	in := invocation{token: tok}
	if _, err := stack.Authentik.CreateGroupOutOfBand("tenant-blocked", map[string]any{
		"dezkyTenantId": "0123456789abcdef01234567", "dezkyTenantSlug": "someone-else",
	}); err != nil {
		t.Fatal(err)
	}
	in.mustCtl(t, exitOK, "create", "tenant", "blocked", "--name", "Blocked")

	r := in.mustCtl(t, exitNotReady, "reconcile", "blocked", "--wait", "30s")
	if !strings.HasPrefix(r.stdout, "tenant/blocked reconciled: phase ") || !strings.Contains(r.stdout, "Ready False") {
		t.Errorf("want the phase and Ready False on stdout, got %s", r)
	}
	if !regexp.MustCompile(`(?m)^  authentik +error +\S`).MatchString(r.stdout) {
		t.Errorf("want the failing authentik step and its message, got %s", r)
	}
	if r.stderr != "error: tenant/blocked is not Ready after the reconcile\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	tn := getTenant(t, tok, "blocked")
	if tn.Status.LastHandledReconcileAt == nil || tn.Status.Ready() {
		t.Errorf("status = %+v: want a handled reconcile and not Ready", tn.Status)
	}
}

// Without --wait, reconcile asks for an answer at once (?wait=0 and Prefer: respond-async, as a
// server may wait 30s by default) and prints the request's token.
func TestReconcileNoWait(t *testing.T) {
	tok := userToken(t)
	rec := newRecorder(t)
	in := invocation{server: rec.URL, token: tok}
	in.mustCtl(t, exitOK, "create", "tenant", "nowait", "--name", "No Wait")

	r := in.mustCtl(t, exitOK, "reconcile", "nowait")
	m := regexp.MustCompile(`^tenant/nowait reconcile requested: (\S+)\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout = %q", r.stdout)
	}
	if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
		t.Errorf("token %q is not RFC3339Nano: %v", m[1], err)
	}
	reqs := rec.requests(http.MethodPost, "/tenants/nowait/reconcile")
	if len(reqs) != 1 {
		t.Fatalf("%d reconcile requests, want 1", len(reqs))
	}
	if q := reqs[0].URL.Query().Get("wait"); q != "0" {
		t.Errorf("wait=%q, want 0", q)
	}
	if p := reqs[0].Header.Get("Prefer"); p != "respond-async" {
		t.Errorf("Prefer = %q, want respond-async", p)
	}
	if got := getTenant(t, tok, "nowait").Metadata.Annotations["reconcileRequestedAt"]; got != m[1] {
		t.Errorf("annotation reconcileRequestedAt = %q, want the printed token %q", got, m[1])
	}
}

// Operator lifecycle: pause (the controller then leaves the tenant alone, so a reconcile --wait
// runs out: exit 3 and a line saying so; a diff is not answered: exit 1), unpause, suspend and resume (phase follows), resync,
// delete (then 404).
func TestLifecycle(t *testing.T) {
	op := operatorToken(t)
	in := invocation{token: op}
	in.mustCtl(t, exitOK, "create", "tenant", "cycle", "--name", "Cycle", "--mail-domain", "cycle.example")
	waitReady(t, op, "cycle")

	if r := in.mustCtl(t, exitOK, "pause", "cycle"); r.stdout != "tenant/cycle paused\n" {
		t.Errorf("pause printed %q", r.stdout)
	}
	eventually(t, 10*time.Second, "Paused condition", func() bool {
		return getTenant(t, op, "cycle").Status.Condition("Paused") != nil
	})
	r := in.mustCtl(t, exitNotReady, "reconcile", "cycle", "--wait", "1s")
	if r.stdout != "" || !regexp.MustCompile(`^error: tenant/cycle: the reconcile requested at \S+ was not handled within 1s\n$`).MatchString(r.stderr) {
		t.Errorf("a wait that runs out: got %s", r)
	}
	// A paused tenant's drift check goes unanswered too: diff says so in one line, exit 1.
	r = in.mustCtl(t, exitFailed, "diff", "cycle", "--wait", "1s")
	if r.stdout != "" || !regexp.MustCompile(`^error: tenant/cycle: the drift check requested at \S+ was not answered within 1s\n$`).MatchString(r.stderr) {
		t.Errorf("a drift check that is not answered: got %s", r)
	}
	in.mustCtl(t, exitOK, "unpause", "cycle")
	eventually(t, 10*time.Second, "Paused condition gone", func() bool {
		return getTenant(t, op, "cycle").Status.Condition("Paused") == nil
	})

	if r := in.mustCtl(t, exitOK, "suspend", "cycle"); r.stdout != "tenant/cycle suspended\n" {
		t.Errorf("suspend printed %q", r.stdout)
	}
	eventually(t, 20*time.Second, "Suspended", func() bool { return getTenant(t, op, "cycle").Status.Phase == "Suspended" })
	in.mustCtl(t, exitOK, "resume", "cycle")
	eventually(t, 20*time.Second, "Active again", func() bool { return getTenant(t, op, "cycle").Status.Phase == "Active" })

	if r := in.mustCtl(t, exitOK, "resync"); !regexp.MustCompile(`^resync requested at \S+Z\n$`).MatchString(r.stdout) {
		t.Errorf("resync printed %q", r.stdout)
	}

	if r := in.mustCtl(t, exitOK, "delete", "tenant", "cycle"); !strings.HasPrefix(r.stdout, "tenant/cycle deletion requested") {
		t.Errorf("delete printed %q", r.stdout)
	}
	eventually(t, 30*time.Second, "tenant gone", func() bool {
		r := in.ctl(t, "get", "tenant", "cycle")
		return r.code == exitFailed && strings.Contains(r.stderr, "[HTTP 404]")
	})
	if _, ok := stack.Stalwart.DomainByName("cycle.example"); ok {
		t.Error("the mail domain outlived the tenant")
	}
}

// create tenant sends every flag as the API's body field: the slug, name, plan, mail domain and
// quota, storage quota in binary units, partner and management policy.
func TestCreateTenantFlags(t *testing.T) {
	op := operatorToken(t)
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, stack.APIURL+"/partners",
		strings.NewReader(`{"slug":"umbrella","name":"Umbrella Reseller","contact":"ops@umbrella.example"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+op)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /partners = %d", resp.StatusCode)
	}

	in := invocation{token: op}
	var tn platformclient.Tenant
	decodeJSON(t, in.mustCtl(t, exitOK, "create", "tenant", "--slug", "flagged", "--name", "Flagged", "--plan", "business",
		"--mail-domain", "flagged.example", "--mail-quota", "50Gi", "--storage-quota", "3Ti", "--partner", "umbrella",
		"--policy", "observeonly", "-o", "json").stdout, &tn)
	s := tn.Spec
	switch {
	case tn.Metadata.Slug != "flagged", s.Name != "Flagged", s.Plan != "business":
		t.Errorf("identity = %s %q %s", tn.Metadata.Slug, s.Name, s.Plan)
	case s.Mail == nil || s.Mail.Domain != "flagged.example" || s.Mail.QuotaBytes != 50<<30:
		t.Errorf("mail = %+v", s.Mail)
	case s.Storage == nil || s.Storage.QuotaBytes != 3<<40:
		t.Errorf("storage = %+v", s.Storage)
	case deref(s.PartnerID) != "umbrella":
		t.Errorf("partner = %q", deref(s.PartnerID))
	case s.ManagementPolicy != "ObserveOnly":
		t.Errorf("policy = %q", s.ManagementPolicy)
	}

	r := in.mustCtl(t, exitOK, "get", "partners")
	if !regexp.MustCompile(`(?m)^umbrella +Umbrella Reseller +active +ops@umbrella.example +\d+s$`).MatchString(r.stdout) {
		t.Errorf("get partners:\n%s", r.stdout)
	}
	var partners struct {
		Items []platformclient.Partner `json:"items"`
	}
	decodeJSON(t, in.mustCtl(t, exitOK, "get", "partners", "-o", "json").stdout, &partners)
	if len(partners.Items) == 0 || partners.Items[len(partners.Items)-1].Slug != "umbrella" {
		t.Errorf("get partners -o json = %+v", partners.Items)
	}
}

// The real binary: the version stamped with -ldflags -X and the server's from /health, and the
// exit codes main passes to the operating system.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "platformctl")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cases := map[string]struct {
		args       []string
		env        []string
		wantCode   int
		wantStdout string
	}{
		"version": {args: []string{"version"}, env: []string{envServer + "=" + stack.APIURL},
			wantStdout: "Client Version: v9.8.7-test\nServer Version: " + serverVersion + "\n"},
		"usage":              {args: []string{"get", "tenants", "--bogus"}, wantCode: exitUsage},
		"connection refused": {args: []string{"get", "tenants", "--server", closedPort(t)}, wantCode: exitFailed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), tc.env...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.wantCode, stderr.String())
			}
			if tc.wantStdout != "" && stdout.String() != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tc.wantStdout)
			}
			if strings.Contains(stdout.String()+stderr.String(), "\x1b") {
				t.Errorf("ANSI escape codes in a pipe: %q", stdout.String()+stderr.String())
			}
		})
	}
}
