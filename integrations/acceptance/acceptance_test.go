package acceptance

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecorderCountsWritesAndLosesOneResponse(t *testing.T) {
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	rec := NewRecorder(nil, func(r *http.Request) bool { return r.URL.Path == "/token" })
	c := &http.Client{Transport: rec}
	do := func(method, path string) error {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		res, err := c.Do(req)
		if err == nil {
			res.Body.Close()
		}
		return err
	}

	for _, r := range []struct{ method, path string }{{"GET", "/a"}, {"POST", "/token"}, {"POST", "/things"}, {"DELETE", "/things/1"}} {
		if err := do(r.method, r.path); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"POST /things -> 201", "DELETE /things/1 -> 201"}, rec.Writes()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if w := rec.Writes(); len(w) != 0 {
		t.Errorf("Writes did not forget: %v", w)
	}

	rec.LoseResponseOnce(func(r *http.Request) bool { return r.Method == http.MethodPost })
	before := served.Load()
	if err := do("POST", "/things"); !errors.Is(err, ErrLostResponse) {
		t.Fatalf("err = %v, want the lost response", err)
	}
	if served.Load() != before+1 {
		t.Error("a lost response must still reach the server")
	}
	if err := do("POST", "/things"); err != nil {
		t.Errorf("only one response is lost: %v", err)
	}
	if n := len(rec.Writes()); n != 2 {
		t.Errorf("%d writes recorded, want both POSTs", n)
	}
}

func TestLiveEnvSkipsNamingWhatIsMissing(t *testing.T) {
	t.Setenv("ACCEPTANCE_TEST_SET", "x")
	t.Setenv("ACCEPTANCE_TEST_UNSET", "")
	var skipped bool
	var msg string
	t.Run("probe", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		vals := LiveEnv(t, "demo", "ACCEPTANCE_TEST_SET")
		if vals["ACCEPTANCE_TEST_SET"] != "x" {
			t.Errorf("vals = %v", vals)
		}
		msg = "ran"
		LiveEnv(t, "demo", "ACCEPTANCE_TEST_SET", "ACCEPTANCE_TEST_UNSET")
		msg = "not skipped"
	})
	if !skipped || msg != "ran" {
		t.Errorf("skipped %v after %q: want a skip at the unset variable", skipped, msg)
	}
}

func TestNewTenant(t *testing.T) {
	id, slug := NewTenant()
	id2, slug2 := NewTenant()
	if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" || id == id2 || slug == slug2 || slug[0] != 't' {
		t.Errorf("NewTenant = %q %q, %q %q", id, slug, id2, slug2)
	}
}
