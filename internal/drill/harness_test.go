package drill_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dezky/platform-api/httpapi/devissuer"
	authentiksim "github.com/dezky/platform-api/integrations/sim/authentik"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"

	// The drills run binaries built from these packages. Importing them makes the test
	// binary depend on them, so `go test` does not answer a drill from its cache after a
	// change to the code the drill exercises.
	_ "github.com/dezky/platform-api/internal/app"
	_ "github.com/dezky/platform-api/store/storetest"
)

// Binaries built once per test binary, without -race: the processes under test run at the
// speed an operator's would; the race detector covers this package's own code.
var bins struct {
	dir       string
	ferret    string
	platform  string
	buildErr  error
	buildOnce sync.Once
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		_ = os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// soak reports whether the drills run at full size (make soak).
func soak() bool { return os.Getenv("DRILL_SOAK") != "" }

// size picks the CI figure or the soak figure.
func size[T any](ci, full T) T {
	if soak() {
		return full
	}
	return ci
}

func buildBinaries(t *testing.T) {
	t.Helper()
	bins.buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drill-bin-*")
		if err != nil {
			bins.buildErr = err
			return
		}
		bins.dir = dir
		goTool := "go" // the go command that runs these tests is the first on PATH (make test, CI)
		for _, b := range []struct {
			out *string
			pkg string
		}{
			{&bins.ferret, "github.com/dezky/platform-api/controller/internal/ferretserver"},
			{&bins.platform, "github.com/dezky/platform-api/cmd/platform-api"},
		} {
			*b.out = filepath.Join(dir, filepath.Base(b.pkg))
			cmd := exec.Command(goTool, "build", "-o", *b.out, b.pkg)
			if out, err := cmd.CombinedOutput(); err != nil {
				bins.buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if bins.buildErr != nil {
		t.Fatal(bins.buildErr)
	}
	// DRILL_PLATFORM_BIN runs the drills against another build (an older commit, to compare).
	if b := os.Getenv("DRILL_PLATFORM_BIN"); b != "" {
		bins.platform = b
	}
}

// eventually polls cond every 50ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	eventuallyEvery(t, 50*time.Millisecond, timeout, what, cond)
}

// eventuallyEvery is eventually with another polling interval, for conditions that are
// expensive to check (listing every tenant): the drill must not become the load it measures.
func eventuallyEvery(t *testing.T, every, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(every) // polling interval of a condition with a deadline
	}
}

// ---------------------------------------------------------------------------------------
// FerretDB in a process of its own.

// ferret is a FerretDB child process on a fixed data directory and address, so a restart
// comes back with the same data on the same port, as a restarted mongod would.
type ferret struct {
	t    *testing.T
	dir  string
	addr string
	URI  string

	mu    sync.Mutex
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

func startFerret(t *testing.T) *ferret {
	t.Helper()
	buildBinaries(t)
	f := &ferret{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	f.start()
	// Later starts must reuse the port the first one was given.
	host := strings.TrimPrefix(f.URI, "mongodb://")
	f.addr = strings.SplitN(strings.SplitN(host, "/", 2)[0], "?", 2)[0]
	t.Cleanup(f.stop)
	return f
}

func (f *ferret) start() {
	f.t.Helper()
	cmd := exec.Command(bins.ferret, "-dir", f.dir, "-addr", f.addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		<-done
		f.t.Fatalf("ferretserver did not start: %v: %s", err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	f.mu.Lock()
	f.cmd, f.stdin, f.done = cmd, stdin, done
	if f.URI == "" {
		f.URI = strings.TrimSpace(line)
	}
	f.mu.Unlock()
}

// kill9 kills the server with SIGKILL (no chance to flush or close anything) and waits for it.
func (f *ferret) kill9() {
	f.mu.Lock()
	cmd, done := f.cmd, f.done
	f.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	f.mu.Lock()
	f.cmd = nil
	f.mu.Unlock()
}

// restart starts the server again on the same directory and address.
func (f *ferret) restart() { f.start() }

func (f *ferret) stop() {
	f.mu.Lock()
	cmd, stdin, done := f.cmd, f.stdin, f.done
	f.cmd = nil
	f.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = stdin.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// ---------------------------------------------------------------------------------------
// Upstream simulators and the OIDC issuer, in this process, on loopback.

const (
	authentikToken   = "drill-authentik-token"
	stalwartToken    = "drill-stalwart-token"
	ocisClientID     = "platform-api"
	ocisClientSecret = "drill-ocis-secret"
	portalAudience   = "portal"
	opsAudience      = "operator-console"
)

type upstreams struct {
	authentik *authentiksim.Server
	stalwart  *stalwartsim.Server
	ocis      *ocissim.Server
	issuer    *devissuer.Issuer
	env       map[string]string
}

func startUpstreams(t *testing.T) *upstreams {
	t.Helper()
	u := &upstreams{
		authentik: authentiksim.New(authentiksim.Options{Token: authentikToken}),
		stalwart:  stalwartsim.New(stalwartsim.Options{Token: stalwartToken}),
		ocis:      ocissim.New(ocissim.Options{ClientID: ocisClientID, ClientSecret: ocisClientSecret, TokenTTL: time.Hour}),
	}
	serve := func(h http.Handler) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.URL
	}
	authentikURL, stalwartURL, ocisURL := serve(u.authentik), serve(u.stalwart), serve(u.ocis)
	iss, srv, err := devissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	u.issuer = iss
	u.env = map[string]string{
		"OIDC_ISSUER_URL": iss.URL(), "OIDC_AUDIENCES": portalAudience + "," + opsAudience,
		"OIDC_OPERATOR_AUDIENCES": opsAudience,
		"AUTHENTIK_API_URL":       authentikURL + "/api/v3", "AUTHENTIK_API_TOKEN": authentikToken,
		"STALWART_API_URL": stalwartURL, "STALWART_API_TOKEN": stalwartToken,
		"OCIS_API_URL": ocisURL, "OCIS_TOKEN_URL": ocissim.TokenURL(ocisURL),
		"OCIS_CLIENT_ID": ocisClientID, "OCIS_CLIENT_SECRET": ocisClientSecret,
		// The simulators answer in microseconds; the default 20 requests/s per upstream would
		// make the drills measure the limiter instead of recovery.
		"AUTHENTIK_MAX_RPS": "1000", "STALWART_MAX_RPS": "1000", "OCIS_MAX_RPS": "1000",
	}
	return u
}

// user is one portal user: a subject with an Authentik account (so the owner can be added
// to the tenant's group) and a token.
type user struct {
	sub, email, token string
}

func (u *upstreams) newUser(t *testing.T, name string) user {
	t.Helper()
	email := name + "@drill.test"
	u.authentik.AddUser(name, email)
	tok, err := u.issuer.Mint(map[string]any{"sub": "sub-" + name, "email": email, "name": name, "groups": []string{}, "aud": portalAudience})
	if err != nil {
		t.Fatal(err)
	}
	return user{sub: "sub-" + name, email: email, token: tok}
}

func (u *upstreams) operatorToken(t *testing.T) string {
	t.Helper()
	tok, err := u.issuer.Mint(map[string]any{"sub": "drill-operator", "email": "ops@drill.test", "name": "Ops",
		"groups": []string{"dezky-operators"}, "aud": opsAudience})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkOneObjectEach asserts that every tenant (uid → slug) has exactly one Authentik group,
// one Stalwart domain with one group account, one oCIS project space and one oCIS group, and
// that no simulator holds anything else.
func (u *upstreams) checkOneObjectEach(t *testing.T, tenants map[string]string) {
	t.Helper()
	groups := map[string]int{}
	for _, g := range u.authentik.Groups() {
		groups[g.Name]++
	}
	domains := map[string]int{}
	for _, d := range u.stalwart.Domains() {
		domains[d.Name]++
	}
	spaces := map[string]int{}
	for _, d := range u.ocis.Drives() {
		if d.DriveType == "project" {
			spaces[d.Description]++
		}
	}
	ocisGroups := map[string]int{}
	for _, g := range u.ocis.Groups() {
		ocisGroups[g.DisplayName]++
	}
	bad := 0
	report := func(format string, args ...any) {
		if bad < 10 {
			t.Errorf(format, args...)
		}
		bad++
	}
	for uid, slug := range tenants {
		if n := groups["tenant-"+slug]; n != 1 {
			report("authentik: %d groups for %s", n, slug)
		}
		if n := domains[slug+".drill.test"]; n != 1 {
			report("stalwart: %d domains for %s", n, slug)
		}
		if n := countMarked(spaces, uid); n != 1 {
			report("ocis: %d project spaces for %s", n, slug)
		}
		if n := ocisGroups["tenant-"+slug]; n != 1 {
			report("ocis: %d groups for %s", n, slug)
		}
	}
	counts := map[string]int{
		"authentik groups": u.authentik.GroupCount(), "stalwart domains": u.stalwart.DomainCount(),
		"stalwart accounts": u.stalwart.AccountCount(), "ocis spaces": u.ocis.DriveCount(), "ocis groups": len(u.ocis.Groups()),
	}
	for what, n := range counts {
		if n != len(tenants) {
			report("%s = %d, want exactly %d (one per tenant)", what, n, len(tenants))
		}
	}
	if bad > 10 {
		t.Errorf("... %d upstream mismatches in all", bad)
	}
}

// countMarked counts the spaces whose description carries the tenant's marker.
func countMarked(byDescription map[string]int, uid string) int {
	n := 0
	for desc, c := range byDescription {
		if strings.Contains(desc, "dezky:tenant:"+uid) {
			n += c
		}
	}
	return n
}

// ---------------------------------------------------------------------------------------
// platform-api as a process.

type apiProc struct {
	t    *testing.T
	name string
	URL  string
	log  string // path of its log file

	cmd  *exec.Cmd
	done chan struct{}
}

// platformEnv is the configuration every drill starts from; over replaces entries.
func platformEnv(u *upstreams, mongoURI string, over map[string]string) []string {
	if o := os.Getenv("DRILL_MONGO_OPTIONS"); o != "" {
		mongoURI = strings.TrimSuffix(mongoURI, "/") + "/?" + o // e.g. maxPoolSize=1, to compare driver settings
	}
	env := map[string]string{
		"MONGO_URI": mongoURI, "MONGO_DB": "dezky", "HTTP_ADDR": "127.0.0.1:0", "MODE": "all",
		"LOG_FORMAT": "json", "LOG_LEVEL": "info", "STEP_TIMEOUT": "10s", "RESYNC_INTERVAL": "10m",
	}
	for k, v := range u.env {
		env[k] = v
	}
	for k, v := range over {
		env[k] = v
	}
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// startAPI runs the platform-api binary and returns once it serves /health. Its logs go to a
// file whose tail is printed if the test fails.
func startAPI(t *testing.T, name string, env []string) *apiProc {
	t.Helper()
	buildBinaries(t)
	// DRILL_LOG_DIR keeps the processes' logs after the test (to read a drill's timeline).
	logDir := os.Getenv("DRILL_LOG_DIR")
	if logDir == "" {
		logDir = t.TempDir()
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%s-%d.log", t.Name(), name, time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins.platform)
	cmd.Env = env
	cmd.Stdout = logFile
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &apiProc{t: t, name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		// Copy the log to its file, and pick the bound address from the start-up line.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = logFile.Write(append(line, '\n'))
			if bytes.Contains(line, []byte(`"platform-api started"`)) {
				var l struct{ Addr string }
				if json.Unmarshal(line, &l) == nil {
					select {
					case addrc <- l.Addr:
					default:
					}
				}
			}
		}
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	select {
	case addr := <-addrc:
		p.URL = "http://" + addr
	case <-p.done:
		t.Fatalf("%s exited during start-up:\n%s", name, tail(logPath, 30))
	case <-time.After(60 * time.Second):
		p.kill9()
		t.Fatalf("%s did not start within 60s:\n%s", name, tail(logPath, 30))
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("last lines of %s's log:\n%s", name, tail(logPath, 40))
		}
	})
	return p
}

// kill9 kills the process with SIGKILL: no lease release, no draining, connections cut.
func (p *apiProc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks for a clean shutdown (SIGTERM) and waits for it.
func (p *apiProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill9()
	}
}

func (p *apiProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ready returns the status of /ready and its "controller" member.
func (p *apiProc) ready() (int, string) {
	resp, err := probeClient.Get(p.URL + "/ready")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var body struct{ Controller string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Controller
}

var probeClient = &http.Client{Timeout: 5 * time.Second}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---------------------------------------------------------------------------------------
// HTTP client with figures.

// result is one request's outcome.
type result struct {
	kind    string
	code    int // 0: no HTTP answer (connection refused or reset)
	took    time.Duration
	retryOK bool // a 503 carried Retry-After and a problem body
	body    []byte
	err     error
}

// recorder keeps every result, for counts and percentiles.
type recorder struct {
	mu  sync.Mutex
	all []result
}

func (r *recorder) add(res result) {
	r.mu.Lock()
	r.all = append(r.all, res)
	r.mu.Unlock()
}

func (r *recorder) results() []result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]result(nil), r.all...)
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return s[i]
}

var httpClient = &http.Client{
	Timeout: 90 * time.Second,
	Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
	},
}

// call sends one request and records it under kind.
func call(ctx context.Context, rec *recorder, kind, method, url, token string, body any) result {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := httpClient.Do(req)
	res := result{kind: kind, err: err}
	if err == nil {
		res.body, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		res.code = resp.StatusCode
		res.retryOK = resp.Header.Get("Retry-After") != "" &&
			strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json")
	}
	res.took = time.Since(start)
	if rec != nil && ctx.Err() == nil {
		rec.add(res)
	}
	return res
}

// createTenant creates slug for u through api, retrying what a client should retry: a 503
// (after its Retry-After) and no answer at all (the process was killed). A 409 after such a
// retry means the earlier attempt committed: it counts as created if the tenant is u's.
// It returns the tenant's uid.
func createTenant(ctx context.Context, rec *recorder, base func() string, u user, slug string) (string, error) {
	body := map[string]any{"slug": slug, "name": "Drill " + slug, "mail": map[string]any{"domain": slug + ".drill.test"}}
	retried := false
	for ctx.Err() == nil {
		res := call(ctx, rec, "POST /tenants", http.MethodPost, base()+"/tenants", u.token, body)
		switch {
		case res.code == http.StatusCreated:
			return uidOf(res.body)
		case res.code == http.StatusConflict && retried:
			g := call(ctx, rec, "GET /tenants/:slug", http.MethodGet, base()+"/tenants/"+slug, u.token, nil)
			if g.code == http.StatusOK {
				return uidOf(g.body)
			}
			retried = true
			continue
		case res.code >= 500, res.code == 0:
			// A 503 is what a client should retry; anything else 5xx is a failure the drill
			// reports from the recorder at the end, retried here so the drill still runs on.
			retried = true
			if !sleepCtx(ctx, 200*time.Millisecond) {
				return "", ctx.Err()
			}
			continue
		default:
			return "", fmt.Errorf("POST /tenants %s = %d %s", slug, res.code, res.body)
		}
	}
	return "", ctx.Err()
}

func uidOf(body []byte) (string, error) {
	var v struct{ Metadata struct{ UID string } }
	if err := json.Unmarshal(body, &v); err != nil || v.Metadata.UID == "" {
		return "", fmt.Errorf("no metadata.uid in %s", body)
	}
	return v.Metadata.UID, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// phases lists every tenant's phase through GET /tenants as an operator (all pages).
func phases(ctx context.Context, base, opToken string) (map[string]string, error) {
	out := map[string]string{}
	cursor := ""
	for {
		url := base + "/tenants?limit=500"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		res := call(ctx, nil, "", http.MethodGet, url, opToken, nil)
		if res.code != http.StatusOK {
			return nil, fmt.Errorf("GET /tenants = %d %s %v", res.code, res.body, res.err)
		}
		var page struct {
			Items []struct {
				Metadata struct{ Slug string }
				Status   struct{ Phase string }
			}
			NextCursor *string
		}
		if err := json.Unmarshal(res.body, &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			out[it.Metadata.Slug] = it.Status.Phase
		}
		if page.NextCursor == nil {
			return out, nil
		}
		cursor = *page.NextCursor
	}
}

// allActive reports whether every slug in want is Active, and how many are.
func allActive(ctx context.Context, base, opToken string, want map[string]string) (bool, int) {
	ph, err := phases(ctx, base, opToken)
	if err != nil {
		return false, 0
	}
	n := 0
	for _, slug := range want {
		if ph[slug] == "Active" {
			n++
		}
	}
	return n == len(want), n
}

// tenantSet is the tenants a drill created: uid → slug, safe for concurrent adds.
type tenantSet struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *tenantSet) add(uid, slug string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[uid] = slug
}

func (s *tenantSet) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

// figures prints the drill's figures on one greppable line and in the test log.
func figures(t *testing.T, drill string, kv ...any) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "DRILL %s", drill)
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if d, ok := v.(time.Duration); ok {
			v = fmt.Sprintf("%.3fs", d.Seconds())
		}
		fmt.Fprintf(&b, " %v=%v", kv[i], v)
	}
	t.Log(b.String())
	fmt.Println(b.String())
}
