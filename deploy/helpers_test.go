package deploy

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/dezky/platform-api/internal/config"
)

// repoRoot is the repository's top directory: this package is deploy/, one level below.
const repoRoot = ".."

// settingNames lists the environment variables platform-api reads, from the service's own
// configuration list: the deployment files must set exactly these, whatever is added later.
func settingNames() []string {
	var names []string
	for _, v := range config.Vars() {
		names = append(names, v.Env)
	}
	sort.Strings(names)
	return names
}

// secretSettings are the settings that are credentials: they go into a Secret, never a
// ConfigMap. MONGO_URI is one because a production connection string carries a password.
var secretSettings = map[string]bool{
	"MONGO_URI":           true,
	"AUTHENTIK_API_TOKEN": true,
	"STALWART_API_TOKEN":  true,
	"OCIS_CLIENT_SECRET":  true,
}

// sortedKeys returns m's keys in order, for stable comparisons.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readFile reads a file relative to this package, failing the test if it is missing.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeStrictYAML decodes the YAML file at path into v strictly; see decodeStrict.
func decodeStrictYAML(t *testing.T, path string, v any) {
	t.Helper()
	j, err := yaml.YAMLToJSON(readFile(t, path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := decodeStrict(j, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// decodeStrict decodes JSON into v the way the Kubernetes API server does in strict mode: a
// field v does not declare, a duplicate field, or a field spelt in another case fails. (The
// standard library matches names case-insensitively, so "healthcheck" would fill HealthCheck.)
// A misspelt key in a hand-written file must fail here rather than be ignored by the tool that
// reads it.
func decodeStrict(data []byte, v any) error {
	strict, err := sigsjson.UnmarshalStrict(data, v, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// lookupFrom turns a map into the getenv shape config.Load takes.
func lookupFrom(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// hasPrefixAny reports whether s starts with one of the prefixes.
func hasPrefixAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
