package controller

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain starts FerretDB in a separate process built without -race (see
// internal/ferretserver) unless MONGO_URI is set or CONTROLLER_TEST_INPROCESS_FERRETDB asks
// for storetest's in-process server. Under -race an in-process FerretDB spends most of the
// machine in its instrumented SQLite engine; out of process the tests run several times
// faster and the race detector still watches every line of the controller.
func TestMain(m *testing.M) {
	stop := func() {}
	if os.Getenv("MONGO_URI") == "" && os.Getenv("CONTROLLER_TEST_INPROCESS_FERRETDB") == "" {
		uri, s, err := startFerretServer()
		if err != nil {
			fmt.Fprintf(os.Stderr, "controller tests: out-of-process FerretDB unavailable (%v); using the in-process one\n", err)
		} else {
			os.Setenv("MONGO_URI", uri)
			stop = s
		}
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func startFerretServer() (uri string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "controller-test-bin-*")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "ferretserver")
	// The go command that runs these tests is the first on PATH (make test, CI).
	build := exec.Command("go", "build", "-o", bin, "github.com/dezky/platform-api/controller/internal/ferretserver")
	if out, err := build.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build ferretserver: %v: %s", err, out)
	}
	cmd := exec.Command(bin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() {
		_ = stdin.Close()
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("read ferretserver URI: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}
