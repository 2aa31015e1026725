// Package upstreamspecs is the one place that knows where the upstreams' API documents live and
// which versions of them the project is pinned to (docs/ARCHITECTURE.md, "Upstream API
// documents"). Tests that validate requests or simulator answers against those documents find
// them through Locate (integrations/apispec.Path wraps it for tests); cmd/fetchspecs (`make
// specs`) downloads them with Fetch for a clone that has no ../shared.
//
// The directory is $UPSTREAM_SPECS, a relative value taken from the module root; without it,
// ../shared/upstreams beside the module root. The pinned list is specs.txt, embedded: name,
// version, sha256 and URL of every document. A document is only ever used or written when its
// sha256 is the pinned one.
package upstreamspecs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// EnvDir names the environment variable that says where the documents are.
const EnvDir = "UPSTREAM_SPECS"

// DefaultDir is where the documents are without EnvDir, relative to the module root: the
// team's shared folder beside the repository.
const DefaultDir = "../shared/upstreams"

// modulePath identifies this module's go.mod while walking up from the working directory
// (deploy/ is a module of its own and must not be taken for the root).
const modulePath = "github.com/dezky/platform-api"

// Limits of one download: the largest document (Authentik's schema) is about 2.6 MB.
const (
	maxDownload     = 32 << 20
	maxDecompressed = 64 << 20
)

//go:embed specs.txt
var specsTxt string

// Spec is one pinned upstream document.
type Spec struct {
	// Name is the file name under the documents' directory.
	Name string
	// Version is the upstream's version of the document, for people.
	Version string
	// SHA256 is the hex sha256 of the document as written (after decompression).
	SHA256 string
	// URL is where the document is downloaded from, at a pinned commit. A URL ending in .gz is
	// decompressed (when the body is gzip) before the hash is checked.
	URL string
}

// gzipped reports whether the document is downloaded compressed.
func (s Spec) gzipped() bool { return strings.HasSuffix(s.URL, ".gz") }

// List returns the pinned documents of specs.txt, in its order.
func List() []Spec {
	specs, err := parse(specsTxt)
	if err != nil {
		panic("upstreamspecs: specs.txt: " + err.Error()) // a test keeps it parseable
	}
	return specs
}

// parse reads a specs list: one "name version sha256 url" a line, # comments, blank lines.
func parse(text string) ([]Spec, error) {
	var out []Spec
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: want 4 fields (name version sha256 url), got %d", n, len(f))
		}
		s := Spec{Name: f[0], Version: f[1], SHA256: strings.ToLower(f[2]), URL: f[3]}
		switch {
		case s.Name != filepath.Base(s.Name) || s.Name == "." || s.Name == ".." || strings.ContainsAny(s.Name, `/\`):
			return nil, fmt.Errorf("line %d: name %q must be a plain file name", n, s.Name)
		case seen[s.Name]:
			return nil, fmt.Errorf("line %d: %s listed twice", n, s.Name)
		case len(s.SHA256) != 64 || !isHex(s.SHA256):
			return nil, fmt.Errorf("line %d: sha256 of %s must be 64 hex digits", n, s.Name)
		}
		if u, err := url.Parse(s.URL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("line %d: url of %s must be an absolute http(s) URL", n, s.Name)
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	return out, sc.Err()
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// lookup returns the entry of name in specs.
func lookup(specs []Spec, name string) (Spec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// ModuleRoot finds the directory of this module's go.mod by walking up from the working
// directory (go test runs each package in its own directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isModuleRoot(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func isModuleRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == modulePath
		}
	}
	return false
}

// Dir returns the documents' directory as an absolute path: $UPSTREAM_SPECS (relative to the
// module root when relative), else DefaultDir beside the module root. explicit reports that
// UPSTREAM_SPECS was set.
func Dir() (dir string, explicit bool, err error) {
	v := strings.TrimSpace(os.Getenv(EnvDir))
	explicit = v != ""
	if explicit && filepath.IsAbs(v) {
		return filepath.Clean(v), true, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		if explicit {
			return "", true, fmt.Errorf("%s=%s is relative, and it is taken from the module root: %w", EnvDir, v, err)
		}
		return "", false, fmt.Errorf("the default %s is beside the module root: %w; set %s", DefaultDir, err, EnvDir)
	}
	if !explicit {
		v = DefaultDir
	}
	return filepath.Join(root, v), explicit, nil
}

// MissingError says that a document is not in the directory where it was looked for.
type MissingError struct {
	Name string
	Dir  string
	// Explicit is true when UPSTREAM_SPECS named the directory: then the absence is a mistake
	// to report, not a reason to skip.
	Explicit bool
}

func (e *MissingError) Error() string {
	if e.Explicit {
		return fmt.Sprintf("upstream document %s is not in %s=%s; run `make specs` with the same %s",
			e.Name, EnvDir, e.Dir, EnvDir)
	}
	return fmt.Sprintf("upstream document %s is not in %s (the default %s beside the module root); set %s to a directory holding it, or run `make specs`",
		e.Name, e.Dir, DefaultDir, EnvDir)
}

// verified remembers documents whose hash was checked (path → sha256), so a package that
// loads one document in several tests hashes it once.
var verified sync.Map

// Locate returns the path of the pinned document name. It fails with a *MissingError when the
// file is absent, and with a plain error when name is not pinned in specs.txt or the file's
// sha256 is not the pinned one (a document nobody pinned must not be validated against).
func Locate(name string) (string, error) { return locate(List(), name) }

func locate(specs []Spec, name string) (string, error) {
	spec, ok := lookup(specs, name)
	if !ok {
		return "", fmt.Errorf("upstream document %s is not pinned in internal/upstreamspecs/specs.txt", name)
	}
	dir, explicit, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return "", &MissingError{Name: name, Dir: dir, Explicit: explicit}
	} else if err != nil {
		return "", err
	}
	if sum, ok := verified.Load(p); ok && sum == spec.SHA256 {
		return p, nil
	}
	sum, err := fileSHA256(p)
	if err != nil {
		return "", err
	}
	if sum != spec.SHA256 {
		return "", fmt.Errorf("%s has sha256 %s, not the pinned %s (%s): pin the new document in internal/upstreamspecs/specs.txt, or run `make specs` to put the pinned one back",
			p, sum, spec.SHA256, spec.Version)
	}
	verified.Store(p, sum)
	return p, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Result says what Fetch did with one document.
type Result struct {
	Spec Spec
	// Present is true when the file was already there with the pinned hash: not downloaded.
	Present bool
}

// Fetch makes dir hold every document of specs with its pinned hash. A document already there
// with that hash is left alone; every other one is downloaded (decompressed for a .gz URL) and
// its sha256 checked. Nothing is written unless every download succeeded and matched: a
// mismatch or a failed download leaves dir exactly as it was. A file present with another hash
// is replaced by the pinned document. Each file is written to a temporary name and renamed, so
// a reader never sees half a document.
func Fetch(ctx context.Context, client *http.Client, specs []Spec, dir string) ([]Result, error) {
	if client == nil {
		client = http.DefaultClient
	}
	results := make([]Result, len(specs))
	bodies := make([][]byte, len(specs))
	var errs []error
	for i, s := range specs {
		results[i].Spec = s
		if sum, err := fileSHA256(filepath.Join(dir, s.Name)); err == nil && sum == s.SHA256 {
			results[i].Present = true
			continue
		}
		body, err := download(ctx, client, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
			continue
		}
		bodies[i] = body
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing written: %w", errors.Join(errs...))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for i, s := range specs {
		if results[i].Present {
			continue
		}
		if err := writeAtomic(dir, s.Name, bodies[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	return results, nil
}

// download fetches one document and checks its hash.
func download(ctx context.Context, client *http.Client, s Spec) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", s.URL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", s.URL, err)
	}
	if len(body) > maxDownload {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", s.URL, maxDownload)
	}
	if s.gzipped() && bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w", s.URL, err)
		}
		body, err = io.ReadAll(io.LimitReader(zr, maxDecompressed+1))
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w", s.URL, err)
		}
		if len(body) > maxDecompressed {
			return nil, fmt.Errorf("decompress %s: larger than %d bytes", s.URL, maxDecompressed)
		}
	}
	sum := sha256.Sum256(body)
	if got := hex.EncodeToString(sum[:]); got != s.SHA256 {
		return nil, fmt.Errorf("sha256 of %s is %s, not the pinned %s: refused", s.URL, got, s.SHA256)
	}
	return body, nil
}

func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}
