package upstreamspecs

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// files lists dir's entries with their contents (temporary files included: none may be left).
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// server serves body per path and counts requests.
func server(t *testing.T, bodies map[string][]byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestFetch(t *testing.T) {
	doc := []byte("openapi: 3.0.3\n")
	other := []byte(`{"schemas":{}}`)
	cases := map[string]struct {
		reason    string
		served    map[string][]byte
		specs     func(base string) []Spec
		before    map[string]string
		wantErr   string
		wantFiles map[string]string
		wantGets  int64
		present   []bool
	}{
		"missing documents are downloaded": {
			reason: "a hash that matches is written under the pinned name",
			served: map[string][]byte{"/a.yml": doc, "/b.json": other},
			specs: func(base string) []Spec {
				return []Spec{{Name: "a.yml", SHA256: sum(doc), URL: base + "/a.yml"}, {Name: "b.json", SHA256: sum(other), URL: base + "/b.json"}}
			},
			wantFiles: map[string]string{"a.yml": string(doc), "b.json": string(other)},
			wantGets:  2,
			present:   []bool{false, false},
		},
		"a mismatch writes nothing": {
			reason: "one document whose hash differs refuses the whole fetch, the good one included",
			served: map[string][]byte{"/a.yml": doc, "/b.json": []byte(`{"tampered":true}`)},
			specs: func(base string) []Spec {
				return []Spec{{Name: "a.yml", SHA256: sum(doc), URL: base + "/a.yml"}, {Name: "b.json", SHA256: sum(other), URL: base + "/b.json"}}
			},
			wantErr:   "refused",
			wantFiles: map[string]string{},
			wantGets:  2,
		},
		"a failed download writes nothing": {
			reason: "a 404 is an error, not an empty document",
			served: map[string][]byte{"/a.yml": doc},
			specs: func(base string) []Spec {
				return []Spec{{Name: "a.yml", SHA256: sum(doc), URL: base + "/a.yml"}, {Name: "b.json", SHA256: sum(other), URL: base + "/gone.json"}}
			},
			wantErr:   "404",
			wantFiles: map[string]string{},
			wantGets:  2,
		},
		"a .gz URL is decompressed": {
			reason: "the pinned hash is the document's, as tests read it (Stalwart's schema.json.gz)",
			served: map[string][]byte{"/schema.json.gz": gz(t, other)},
			specs: func(base string) []Spec {
				return []Spec{{Name: "schema.json", SHA256: sum(other), URL: base + "/schema.json.gz"}}
			},
			wantFiles: map[string]string{"schema.json": string(other)},
			wantGets:  1,
			present:   []bool{false},
		},
		"a pinned file already there is kept": {
			reason: "no request when the directory already holds the pinned document",
			served: map[string][]byte{},
			specs: func(base string) []Spec {
				return []Spec{{Name: "a.yml", SHA256: sum(doc), URL: base + "/a.yml"}}
			},
			before:    map[string]string{"a.yml": string(doc)},
			wantFiles: map[string]string{"a.yml": string(doc)},
			wantGets:  0,
			present:   []bool{true},
		},
		"a file with another hash is replaced": {
			reason: "make specs puts the pinned document back",
			served: map[string][]byte{"/a.yml": doc},
			specs: func(base string) []Spec {
				return []Spec{{Name: "a.yml", SHA256: sum(doc), URL: base + "/a.yml"}}
			},
			before:    map[string]string{"a.yml": "edited by hand\n"},
			wantFiles: map[string]string{"a.yml": string(doc)},
			wantGets:  1,
			present:   []bool{false},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv, gets := server(t, tc.served)
			dir := filepath.Join(t.TempDir(), "specs")
			if tc.before != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for n, c := range tc.before {
					if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			res, err := Fetch(context.Background(), srv.Client(), tc.specs(srv.URL), dir)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s: unexpected error: %v", tc.reason, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("%s: error = %v, want it to mention %q", tc.reason, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantFiles, files(t, dir)); diff != "" {
				t.Errorf("%s: files -want +got:\n%s", tc.reason, diff)
			}
			if got := gets.Load(); got != tc.wantGets {
				t.Errorf("%s: %d requests, want %d", tc.reason, got, tc.wantGets)
			}
			var present []bool
			for _, r := range res {
				present = append(present, r.Present)
			}
			if diff := cmp.Diff(tc.present, present); diff != "" {
				t.Errorf("%s: Present -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestPinnedListAgainstTheTeamsCopy serves the team's copy of every pinned document (gzipped
// where the real URL is a .gz) from a local server at the real URLs' paths and fetches the
// real list from it: the pins match the documents the tests have been validating against.
func TestPinnedListAgainstTheTeamsCopy(t *testing.T) {
	dir, _, err := Dir()
	if err != nil {
		t.Skip(err)
	}
	specs := List()
	bodies := map[string][]byte{}
	for _, s := range specs {
		b, err := os.ReadFile(filepath.Join(dir, s.Name))
		if errors.Is(err, os.ErrNotExist) {
			t.Skipf("the team's copy of %s is not in %s", s.Name, dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		if s.gzipped() {
			b = gz(t, b)
		}
		bodies[u.Path] = b
	}
	srv, _ := server(t, bodies)
	local := make([]Spec, len(specs))
	for i, s := range specs {
		u, _ := url.Parse(s.URL)
		local[i] = s
		local[i].URL = srv.URL + u.Path
	}
	out := t.TempDir()
	if _, err := Fetch(context.Background(), srv.Client(), local, out); err != nil {
		t.Fatalf("the pinned hashes do not match the team's copy in %s: %v", dir, err)
	}
	for _, s := range specs {
		if _, err := locate(specs, s.Name); err != nil {
			t.Errorf("Locate(%s): %v", s.Name, err)
		}
	}
}

// TestList keeps specs.txt honest: every URL is a raw file at a full commit id (a branch or tag
// could move under the hash), and the documents the tests read are pinned.
func TestList(t *testing.T) {
	pinned := regexp.MustCompile(`^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/`)
	var names []string
	for _, s := range List() {
		names = append(names, s.Name)
		if !pinned.MatchString(s.URL) {
			t.Errorf("%s: URL %s is not a raw file at a full commit id", s.Name, s.URL)
		}
		if s.Version == "" {
			t.Errorf("%s: no version", s.Name)
		}
	}
	sort.Strings(names)
	for _, want := range []string{"authentik-schema.yml", "libre-graph-api-v1.0.yaml", "stalwart-v0.16-schema.json"} {
		if _, ok := lookup(List(), want); !ok {
			t.Errorf("%s is read by tests but not pinned (listed: %v)", want, names)
		}
	}
}

func TestParseRejects(t *testing.T) {
	const h = "d5af9b63961a3eaa4b5eb15d8b93a8099081804eaf9c1d50a3e09dac7640f461"
	cases := map[string]struct {
		line, wantErr string
	}{
		"too few fields":  {"a.yml v1 " + h, "4 fields"},
		"path in name":    {"../a.yml v1 " + h + " https://x/a", "plain file name"},
		"short hash":      {"a.yml v1 abc https://x/a", "64 hex"},
		"not a URL":       {"a.yml v1 " + h + " raw/a.yml", "absolute"},
		"listed twice":    {"a.yml v1 " + h + " https://x/a\na.yml v2 " + h + " https://x/b", "twice"},
		"non-hex hash":    {"a.yml v1 " + strings.Repeat("z", 64) + " https://x/a", "64 hex"},
		"file URL scheme": {"a.yml v1 " + h + " file:///etc/passwd", "absolute"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := parse(tc.line); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parse(%q) error = %v, want it to mention %q", tc.line, err, tc.wantErr)
			}
		})
	}
}

func TestDir(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "upstreamspecs", "specs.txt")); err != nil {
		t.Fatalf("ModuleRoot() = %s, which does not hold this package: %v", root, err)
	}
	abs := t.TempDir()
	cases := map[string]struct {
		env          string
		want         string
		wantExplicit bool
	}{
		"default":  {env: "", want: filepath.Join(root, "..", "shared", "upstreams")},
		"absolute": {env: abs, want: abs, wantExplicit: true},
		"relative": {env: ".specs", want: filepath.Join(root, ".specs"), wantExplicit: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(EnvDir, tc.env)
			got, explicit, err := Dir()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || explicit != tc.wantExplicit {
				t.Errorf("Dir() = %s, %v; want %s, %v", got, explicit, tc.want, tc.wantExplicit)
			}
		})
	}
}

func TestLocate(t *testing.T) {
	doc := []byte("openapi: 3.1.0\n")
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	specs := []Spec{
		{Name: "good.yml", SHA256: sum(doc), URL: "https://example.test/good.yml"},
		{Name: "edited.yml", SHA256: sum(doc), URL: "https://example.test/edited.yml"},
		{Name: "absent.yml", SHA256: sum(doc), URL: "https://example.test/absent.yml"},
	}
	for n, c := range map[string][]byte{"good.yml": doc, "edited.yml": []byte("edited\n"), "unpinned.yml": doc} {
		if err := os.WriteFile(filepath.Join(dir, n), c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := locate(specs, "good.yml"); err != nil || p != filepath.Join(dir, "good.yml") {
		t.Errorf("good.yml: %s, %v", p, err)
	}
	if _, err := locate(specs, "edited.yml"); err == nil || !strings.Contains(err.Error(), "not the pinned") {
		t.Errorf("edited.yml: error = %v, want a hash mismatch", err)
	}
	if _, err := locate(specs, "unpinned.yml"); err == nil || !strings.Contains(err.Error(), "not pinned") {
		t.Errorf("unpinned.yml: error = %v, want not pinned", err)
	}
	var me *MissingError
	_, err := locate(specs, "absent.yml")
	if !errors.As(err, &me) || !me.Explicit || !strings.Contains(err.Error(), "make specs") {
		t.Errorf("absent.yml with %s set: error = %v, want an explicit *MissingError naming make specs", EnvDir, err)
	}

	t.Setenv(EnvDir, "")
	_, err = locate([]Spec{{Name: "nowhere-" + t.Name() + ".yml", SHA256: sum(doc), URL: "https://example.test/x"}},
		"nowhere-"+t.Name()+".yml")
	if !errors.As(err, &me) || me.Explicit || !strings.Contains(err.Error(), EnvDir) {
		t.Errorf("absent with the default directory: error = %v, want a *MissingError to skip on, naming %s", err, EnvDir)
	}
}
