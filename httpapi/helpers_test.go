package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/httpapi/devissuer"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// Audiences of the test deployment: a portal and a partner API client are ordinary audiences,
// the operator console is the operator audience.
const (
	audPortal  = "portal"
	audPartner = "partner-api"
	audConsole = "console"
)

// testEnv is one API server on loopback with its own database, issuer, registry and log.
type testEnv struct {
	t    testing.TB
	iss  *devissuer.Issuer
	st   *store.Store
	srv  *Server
	url  string
	reg  *prometheus.Registry
	logs *logBuffer
}

// logBuffer collects JSON log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the decoded log records whose msg is msg.
func (b *logBuffer) lines(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(b.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// testSteps are the step names the wiring passes in production (integrations.StepNames(); this
// package does not import integrations, its tests neither).
func testSteps() []string { return []string{"authentik", "stalwart", "ocis"} }

func newEnv(t testing.TB, mods ...func(*Config)) *testEnv {
	t.Helper()
	return newEnvHook(t, nil, mods...)
}

// newEnvHook is newEnv with a hook that runs on the server before it starts serving (tests
// that register an extra route).
func newEnvHook(t testing.TB, hook func(*Server), mods ...func(*Config)) *testEnv {
	t.Helper()
	iss, issSrv, err := devissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(issSrv.Close)
	e := &testEnv{t: t, iss: iss, st: storetest.NewStore(t), reg: prometheus.NewRegistry(), logs: &logBuffer{}}
	cfg := Config{
		Store: e.st, Version: "test", Registerer: e.reg, Gatherer: e.reg, Steps: testSteps(),
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		Auth: AuthConfig{
			IssuerURL: iss.URL(), Audiences: []string{audPortal, audPartner}, OperatorAudiences: []string{audConsole},
		},
	}
	for _, m := range mods {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.srv, err = New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(e.srv)
	}
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL
	return e
}

func (e *testEnv) mint(claims map[string]any, opts ...devissuer.Option) string {
	e.t.Helper()
	tok, err := e.iss.Mint(claims, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// user is a portal token of sub.
func (e *testEnv) user(sub string, groups ...string) string {
	return e.mint(map[string]any{"sub": sub, "email": sub + "@example.com", "name": "User " + sub, "aud": audPortal, "groups": groups})
}

// operator is an operator-console token with the operator group.
func (e *testEnv) operator() string {
	return e.mint(map[string]any{"sub": "op-1", "email": "op@dezky.example", "name": "Op", "aud": audConsole, "groups": []string{DefaultOperatorGroup}})
}

// partnerAdmin is a partner API token of an admin of partner.
func (e *testEnv) partnerAdmin(sub, partner string) string {
	return e.mint(map[string]any{"sub": sub, "email": sub + "@partner.example", "aud": audPartner, "groups": []string{"partner:" + partner + ":admin"}})
}

// resp is a finished response with its body read.
type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// req describes one request. body is sent as is when it is a string, []byte or io.Reader
// (chunked), else as JSON; contentType defaults to application/json when there is a body, and
// "-" sends none.
type req struct {
	method, path, token string
	body                any
	contentType         string
	header              map[string]string
}

func (e *testEnv) do(r req) resp {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.send(ctx, r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return res
}

func (e *testEnv) send(ctx context.Context, r req) (resp, error) {
	var rd io.Reader
	ct := r.contentType
	switch b := r.body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader: // sent chunked: no Content-Length
		rd = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return resp{}, err
		}
		rd = bytes.NewReader(raw)
	}
	if rd != nil && ct == "" {
		ct = "application/json"
	}
	hr, err := http.NewRequestWithContext(ctx, r.method, e.url+r.path, rd)
	if err != nil {
		return resp{}, err
	}
	if ct != "" && ct != "-" { // "-" sends a body without Content-Type
		hr.Header.Set("Content-Type", ct)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{code: res.StatusCode, header: res.Header, body: body}, nil
}

func (e *testEnv) get(path, token string) resp {
	e.t.Helper()
	return e.do(req{method: http.MethodGet, path: path, token: token})
}

func (e *testEnv) post(path, token string, body any) resp {
	e.t.Helper()
	return e.do(req{method: http.MethodPost, path: path, token: token, body: body})
}

// createTenant creates a tenant through the API and fails the test unless it is 201.
func (e *testEnv) createTenant(token, slug string, extra ...map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"slug": slug, "name": "Tenant " + slug}
	for _, x := range extra {
		for k, v := range x {
			body[k] = v
		}
	}
	r := e.post("/tenants", token, body)
	if r.code != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", slug, r.code, r.body)
	}
	return r.obj(e.t)
}

// createPartner creates a partner directly in the store.
func (e *testEnv) createPartner(slug string) {
	e.t.Helper()
	if _, err := e.st.CreatePartner(context.Background(), store.Partner{Slug: slug, Name: "Partner " + slug}); err != nil {
		e.t.Fatal(err)
	}
}

// requireProblem asserts a problem response with the status.
func requireProblem(t testing.TB, r resp, status int) map[string]any {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != ContentTypeProblem {
		t.Fatalf("Content-Type %q, want %q", ct, ContentTypeProblem)
	}
	p := r.obj(t)
	if p["status"] != float64(status) || p["title"] == "" || p["type"] == "" {
		t.Fatalf("not a problem document for %d: %s", status, r.body)
	}
	if r.header.Get(HeaderRequestID) == "" {
		t.Fatalf("no %s header", HeaderRequestID)
	}
	return p
}

// fieldsOf lists the field names of a problem's errors.
func fieldsOf(p map[string]any) []string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m["field"].(string))
		}
	}
	return out
}

// dbState is what "nothing was written" compares: document counts of every collection the API
// writes, and each tenant's resourceVersion.
type dbState struct {
	Counts   map[string]int64
	Versions map[string]int64
	Resync   bool
}

func snapshot(t testing.TB, st *store.Store) dbState {
	t.Helper()
	ctx := context.Background()
	s := dbState{Counts: map[string]int64{}, Versions: map[string]int64{}}
	for _, c := range []string{store.CollTenants, store.CollPartners, store.CollMemberships, store.CollSubscriptions, store.CollControllerState} {
		n, err := storetest.DB(t, st).Collection(c).CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		s.Counts[c] = n
	}
	cur, err := storetest.DB(t, st).Collection(store.CollTenants).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var ts []store.Tenant
	if err := cur.All(ctx, &ts); err != nil {
		t.Fatal(err)
	}
	for _, tn := range ts {
		s.Versions[tn.Metadata.Slug] = tn.Metadata.ResourceVersion
	}
	return s
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronising
	}
}

// dig walks a decoded JSON object by keys.
func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}
