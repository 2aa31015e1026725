package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dezky/platform-api/internal/config"
)

const dockerfile = "Dockerfile"

// TestDockerfile: no container engine runs here, so the image's build step is run as the
// Dockerfile writes it (same command, same source tree as its `COPY . .`), and the result is
// checked as the image would carry it: a static binary that prints the stamped version. The
// runtime stage is checked by reading it: distroless, non-root, the binary as entrypoint, the
// port platform-api listens on by default.
func TestDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	var build string
	var final []string // instructions of the last stage
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, dockerfile)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			final = nil
		}
		final = append(final, line)
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, " go build ") {
			build = strings.TrimPrefix(line, "RUN ")
		}
	}

	// The build step, with the build argument and output path of this test.
	const stamped = "v9.9.9-dockerfile"
	out := regexp.MustCompile(`-o (\S+) `).FindStringSubmatch(build)
	if out == nil || !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "-X main.version=${VERSION}") {
		t.Fatalf("build step %q: want CGO_ENABLED=0, -X main.version=${VERSION} and -o <path>", build)
	}
	bin := filepath.Join(t.TempDir(), "platform-api")
	cmdline := strings.ReplaceAll(strings.Replace(build, out[1], bin, 1), "${VERSION}", stamped)
	run := exec.Command("sh", "-c", cmdline)
	run.Dir = repoRoot
	if b, err := run.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	got, err := exec.Command(bin, "--version").Output()
	if err != nil || string(got) != stamped+"\n" {
		t.Errorf("--version printed %q (%v), want %q", got, err, stamped)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked: distroless/static has no C library")
		}
	}

	// The runtime stage: the binary copied out of the build stage is the entrypoint.
	stage := strings.Join(final, "\n")
	cp := regexp.MustCompile(`(?m)^COPY --from=\S+ ` + regexp.QuoteMeta(out[1]) + ` (\S+)$`).FindStringSubmatch(stage)
	if cp == nil {
		t.Fatalf("runtime stage does not copy %s from the build stage:\n%s", out[1], stage)
	}
	_, port, _ := net.SplitHostPort(defaultOf(t, "HTTP_ADDR"))
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM gcr\.io/distroless/static[-\w.]*:nonroot$`),
		regexp.MustCompile(`(?m)^USER (nonroot|65532)$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["` + regexp.QuoteMeta(cp[1]) + `"\]$`),
		regexp.MustCompile(`(?m)^EXPOSE ` + port + `$`),
	} {
		if !want.MatchString(stage) {
			t.Errorf("runtime stage lacks %s:\n%s", want, stage)
		}
	}
}

// defaultOf is a setting's default from the service's configuration list.
func defaultOf(t *testing.T, env string) string {
	t.Helper()
	for _, v := range config.Vars() {
		if v.Env == env {
			return v.Default
		}
	}
	t.Fatalf("no setting %s", env)
	return ""
}
