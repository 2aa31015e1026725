package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dezky/platform-api/store/storetest"
)

// buildBinary compiles platform-api into a temporary directory, with extra `go build` flags
// (e.g. -ldflags) when given.
func buildBinary(t *testing.T, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "platform-api")
	args := append(append([]string{"build"}, flags...), "-o", bin, ".")
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBinaryServesHealthAndReadyAndStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv := storetest.Shared(t)
	bin := buildBinary(t)
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"MONGO_URI="+srv.URI, "MONGO_DB="+storetest.DBName(t), "HTTP_ADDR="+addr,
		"AUTH_DISABLED=true", "LOG_FORMAT=json", "POLL_INTERVAL=200ms", "LEASE_DURATION=3s", "LEASE_RENEW=1s")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	get := func(path string) (int, map[string]any) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	eventually(t, 20*time.Second, "/health to answer", func() bool { code, _ := get("/health"); return code == 200 })
	code, health := get("/health")
	if code != 200 || health["status"] != "ok" || health["service"] != "dezky-platform-api" || health["version"] == "" {
		t.Fatalf("/health = %d %v", code, health)
	}
	// Ready once Mongo answers and this process's controller runs (leader or standby).
	eventually(t, 20*time.Second, "/ready to say 200", func() bool { code, _ := get("/ready"); return code == 200 })

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM\n%s", logs.String())
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean-shutdown log line:\n%s", logs.String())
	}
}

func TestBinaryRefusesBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	cases := map[string]struct {
		env      []string
		wantCode int
		wantMsg  string
	}{
		"malformed MONGO_URI": {[]string{"MONGO_URI=localhost:27017", "AUTH_DISABLED=true"}, 2, "MONGO_URI"},
		"unreachable Mongo": {[]string{"MONGO_URI=mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500&connectTimeoutMS=500",
			"AUTH_DISABLED=true", "HTTP_ADDR=" + freeAddr(t)}, 1, "MONGO_URI"},
		"auth not configured": {[]string{"MONGO_URI=mongodb://127.0.0.1:1"}, 2, "OIDC_ISSUER_URL"},
		"bad duration":        {[]string{"AUTH_DISABLED=true", "POLL_INTERVAL=fast"}, 2, "POLL_INTERVAL"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tc.env...)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("err = %v, want a non-zero exit\n%s", err, out)
			}
			if ee.ExitCode() != tc.wantCode || !strings.Contains(string(out), tc.wantMsg) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d naming %s", ee.ExitCode(), out, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

// The version stamped at build time is what `--version` prints and what /health reports: an
// operator compares the two to know which build answers behind a load balancer.
func TestVersionFlagMatchesHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const stamped = "v1.2.3-test"
	bin := buildBinary(t, "-ldflags", "-X main.version="+stamped)

	// Every spelling prints the version alone and exits 0, with no configuration at all (an
	// empty environment would otherwise fail on OIDC_ISSUER_URL).
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}, {"-mode=api", "--version"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\nstderr: %s", args, err, stderr.String())
		}
		if got := stdout.String(); got != stamped+"\n" {
			t.Errorf("%v printed %q, want %q", args, got, stamped+"\n")
		}
	}

	// MODE=controller is the lightest process that serves /health.
	srv := storetest.Shared(t)
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "MODE=controller",
		"MONGO_URI="+srv.URI, "MONGO_DB="+storetest.DBName(t), "HTTP_ADDR="+addr,
		"LOG_FORMAT=json", "POLL_INTERVAL=200ms", "LEASE_DURATION=3s", "LEASE_RENEW=1s")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var health map[string]any
	eventually(t, 20*time.Second, "/health to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&health) == nil
	})
	if health["version"] != stamped {
		t.Fatalf("/health version = %v, want %q (what --version printed)\n%s", health["version"], stamped, logs.String())
	}
}
