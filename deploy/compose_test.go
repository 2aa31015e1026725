package deploy

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"
	yaml3 "go.yaml.in/yaml/v3"

	"github.com/dezky/platform-api/internal/config"
)

const (
	composeDir      = "compose"
	composeFile     = composeDir + "/docker-compose.yml"
	envExample      = composeDir + "/.env.example"
	traefikDynamic  = composeDir + "/traefik/dynamic.yml"
	upstreamProfile = "upstreams"
	platformImage   = "dezky/platform-api:"
)

// The stack without a profile, and what the upstreams profile adds.
var (
	coreServices     = []string{"mongo", "platform-api-1", "platform-api-2", "traefik"}
	upstreamServices = []string{"authentik-postgresql", "authentik-server", "authentik-worker", "ocis", "stalwart"}
)

// composeProject loads the compose file the way `docker compose --env-file .env.example
// [--profile ...] config` would: schema validation, interpolation from .env.example alone (not
// this process's environment, which would make the test depend on the machine), profiles. It
// also returns every variable the file interpolates and those .env.example does not set.
func composeProject(t *testing.T, profiles ...string) (p *types.Project, used, unset []string) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	missing := map[string]bool{}
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory(composeDir),
		cli.WithEnvFiles(envExample),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
		cli.WithLoadOptions(func(o *loader.Options) {
			// The same options also configure the file reader, which does not interpolate.
			if o.Interpolate == nil {
				return
			}
			inner := o.Interpolate.LookupValue
			o.Interpolate.LookupValue = func(key string) (string, bool) {
				v, ok := inner(key)
				mu.Lock()
				defer mu.Unlock()
				seen[key] = true
				if !ok {
					missing[key] = true
				}
				return v, ok
			}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err = opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose file does not load with profiles %v: %v", profiles, err)
	}
	return p, sortedKeys(seen), sortedKeys(missing)
}

// TestComposeLoadsWithProfiles: the file validates against the compose schema, interpolates
// with .env.example alone, and the upstreams sit behind their profile.
func TestComposeLoadsWithProfiles(t *testing.T) {
	cases := map[string]struct {
		profiles []string
		want     []string
	}{
		"core stack":     {nil, coreServices},
		"with upstreams": {[]string{upstreamProfile}, append(slices.Clone(coreServices), upstreamServices...)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, _, unset := composeProject(t, tc.profiles...)
			if len(unset) > 0 {
				t.Errorf("variables used by %s but not set in %s: %v", composeFile, envExample, unset)
			}
			got := p.ServiceNames()
			sort.Strings(got)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
		})
	}
	// Every upstream carries the profile, so a plain `up` never starts one.
	p, _, _ := composeProject(t, upstreamProfile)
	for _, name := range upstreamServices {
		if s, ok := p.Services[name]; ok && !slices.Equal(s.Profiles, []string{upstreamProfile}) {
			t.Errorf("%s: profiles %v, want [%s]", name, s.Profiles, upstreamProfile)
		}
	}
}

// TestComposeEnvExampleDocumentsEveryVariable: .env.example sets every variable the compose file
// uses and nothing it does not use, each under a comment.
func TestComposeEnvExampleDocumentsEveryVariable(t *testing.T) {
	_, used, _ := composeProject(t, upstreamProfile)
	defined := map[string]bool{}
	commented := false
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, envExample)))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
			commented = false
		case strings.HasPrefix(text, "#"):
			commented = true
		default:
			name, _, ok := strings.Cut(text, "=")
			if !ok {
				t.Errorf("%s:%d: not NAME=value: %q", envExample, line, text)
				continue
			}
			if defined[name] {
				t.Errorf("%s:%d: %s set twice", envExample, line, name)
			}
			defined[name] = true
			if !commented {
				t.Errorf("%s:%d: %s has no comment above it", envExample, line, name)
			}
			// A variable directly below another shares its comment only if the comment
			// introduced both; each value line needs its own.
			commented = false
		}
	}
	if diff := cmp.Diff(used, sortedKeys(defined)); diff != "" {
		t.Errorf("variables used by %s (-) vs set in %s (+):\n%s", composeFile, envExample, diff)
	}
}

// platformServices returns the platform-api replicas: the services running its image.
func platformServices(t *testing.T, p *types.Project) map[string]types.ServiceConfig {
	t.Helper()
	out := map[string]types.ServiceConfig{}
	for name, s := range p.Services {
		if strings.HasPrefix(s.Image, platformImage) {
			out[name] = s
		}
	}
	return out
}

// env flattens a service's environment; a variable without a value would be taken from the
// shell that runs compose, which this stack never relies on.
func env(t *testing.T, name string, s types.ServiceConfig) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("%s: %s has no value (it would come from the shell running compose)", name, k)
			continue
		}
		out[k] = *v
	}
	return out
}

// TestComposePlatformAPIReplicas: two replicas, both MODE=all, each setting exactly the
// variables platform-api reads, with values platform-api accepts, against the replica set, with
// the mkcert CA mounted where CA_FILE points.
func TestComposePlatformAPIReplicas(t *testing.T) {
	p, _, _ := composeProject(t, upstreamProfile)
	replicas := platformServices(t, p)
	if got := sortedKeys(replicas); !slices.Equal(got, []string{"platform-api-1", "platform-api-2"}) {
		t.Fatalf("platform-api services = %v, want platform-api-1 and platform-api-2", got)
	}
	for name, s := range replicas {
		t.Run(name, func(t *testing.T) {
			e := env(t, name, s)
			if diff := cmp.Diff(settingNames(), sortedKeys(e)); diff != "" {
				t.Errorf("environment vs config.Vars() (-missing +unknown):\n%s", diff)
			}
			cfg, err := config.Load(lookupFrom(e), nil)
			if err != nil {
				t.Fatalf("platform-api would refuse this environment: %v", err)
			}
			if cfg.Mode != config.ModeAll {
				t.Errorf("MODE = %q, want all (every replica serves the API and campaigns for the lease)", cfg.Mode)
			}
			u, err := url.Parse(cfg.MongoURI)
			if err != nil || u.Query().Get("replicaSet") == "" {
				t.Errorf("MONGO_URI %q names no replicaSet: change streams need the replica set", cfg.MongoURI)
			} else if host, _, _ := net.SplitHostPort(u.Host); p.Services[host].Image == "" {
				t.Errorf("MONGO_URI host %q is not a service of the stack", u.Host)
			}
			if _, ok := s.DependsOn["mongo"]; !ok || s.DependsOn["mongo"].Condition != types.ServiceConditionHealthy {
				t.Errorf("depends_on mongo = %+v, want condition service_healthy (the set is initiated by its healthcheck)", s.DependsOn)
			}
			caMounted := false
			for _, v := range s.Volumes {
				if v.Target == cfg.CAFile && v.ReadOnly && strings.HasSuffix(v.Source, "/certs/rootCA.pem") {
					caMounted = true
				}
			}
			if cfg.CAFile == "" || !caMounted {
				t.Errorf("CA_FILE = %q is not mkcert's rootCA.pem mounted read-only (volumes %+v)", cfg.CAFile, s.Volumes)
			}
			// The same hardening as the Kubernetes Deployment.
			if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") ||
				s.User == "" || strings.HasPrefix(s.User, "0") || s.User == "root" {
				t.Errorf("hardening: read_only=%v cap_drop=%v security_opt=%v user=%q", s.ReadOnly, s.CapDrop, s.SecurityOpt, s.User)
			}
			if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" || s.Build.Args["VERSION"] == nil {
				t.Errorf("build = %+v, want deploy/Dockerfile with the VERSION build argument", s.Build)
			}
		})
	}
}

// TestComposeMongoReplicaSet: mongod runs as the replica set MONGO_URI names, and its
// healthcheck initiates the set once (only when it is not initiated yet) and reports healthy
// only on a writable primary.
func TestComposeMongoReplicaSet(t *testing.T) {
	p, _, _ := composeProject(t)
	m := p.Services["mongo"]
	i := slices.Index(m.Command, "--replSet")
	if i < 0 || i+1 >= len(m.Command) {
		t.Fatalf("mongo command %v has no --replSet", m.Command)
	}
	set := m.Command[i+1]
	for name, s := range platformServices(t, p) {
		u, err := url.Parse(*s.Environment["MONGO_URI"])
		if err != nil || u.Query().Get("replicaSet") != set {
			t.Errorf("%s: MONGO_URI replicaSet differs from mongod's --replSet %s", name, set)
		}
	}
	if m.HealthCheck == nil || len(m.HealthCheck.Test) == 0 {
		t.Fatal("mongo has no healthcheck: nothing would initiate the replica set")
	}
	script := strings.Join(m.HealthCheck.Test, " ")
	for _, want := range []string{
		"rs.status()",               // succeeds once initiated: initiate runs once
		"NotYetInitialized",         // initiate only when that is the reason it failed
		"rs.initiate(",              //
		"_id: '" + set + "'",        // the set mongod was started with
		"host: 'mongo:27017'",       // a member name every container resolves
		"isWritablePrimary ? 0 : 1", // healthy only once writes work
	} {
		if !strings.Contains(script, want) {
			t.Errorf("mongo healthcheck lacks %q:\n%s", want, script)
		}
	}
}

// traefikConfig is the part of Traefik's dynamic configuration the stack uses; strict decoding
// rejects anything else, such as a misspelt healthCheck key Traefik would silently ignore.
type traefikConfig struct {
	TLS struct {
		Stores map[string]struct {
			DefaultCertificate struct {
				CertFile string `json:"certFile"`
				KeyFile  string `json:"keyFile"`
			} `json:"defaultCertificate"`
		} `json:"stores"`
	} `json:"tls"`
	HTTP struct {
		Routers map[string]struct {
			Rule        string    `json:"rule"`
			EntryPoints []string  `json:"entryPoints"`
			Service     string    `json:"service"`
			TLS         *struct{} `json:"tls"`
		} `json:"routers"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `json:"url"`
				} `json:"servers"`
				HealthCheck *struct {
					Path     string `json:"path"`
					Interval string `json:"interval"`
					Timeout  string `json:"timeout"`
				} `json:"healthCheck"`
				ServersTransport string `json:"serversTransport"`
			} `json:"loadBalancer"`
		} `json:"services"`
		ServersTransports map[string]struct {
			InsecureSkipVerify bool `json:"insecureSkipVerify"`
		} `json:"serversTransports"`
	} `json:"http"`
}

var hostRule = regexp.MustCompile("^Host\\(`([a-z0-9.-]+)`\\)$")

// TestComposeTraefikRoutes: Traefik routes api.dezky.localhost to both replicas, health-checked
// on /ready; every route leads to a service of the stack over TLS, under a hostname the
// containers resolve to Traefik too.
func TestComposeTraefikRoutes(t *testing.T) {
	p, _, _ := composeProject(t, upstreamProfile)
	var tc traefikConfig
	decodeStrictYAML(t, traefikDynamic, &tc)

	api := tc.HTTP.Services["platform-api"].LoadBalancer
	var got, want []string
	for _, s := range api.Servers {
		got = append(got, s.URL)
	}
	for name, s := range platformServices(t, p) {
		_, port, err := net.SplitHostPort(*s.Environment["HTTP_ADDR"])
		if err != nil {
			t.Fatalf("%s: HTTP_ADDR: %v", name, err)
		}
		want = append(want, "http://"+name+":"+port)
	}
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("platform-api load balancer servers (-want +got):\n%s", diff)
	}
	if api.HealthCheck == nil || api.HealthCheck.Path != "/ready" {
		t.Errorf("platform-api health check = %+v, want path /ready", api.HealthCheck)
	}

	traefik := p.Services["traefik"]
	aliases := traefik.Networks["default"]
	if aliases == nil {
		t.Fatal("traefik joins no default network with aliases")
	}
	hosts := map[string]bool{}
	for name, r := range tc.HTTP.Routers {
		m := hostRule.FindStringSubmatch(r.Rule)
		if m == nil {
			t.Errorf("router %s: rule %q is not a single Host(`...`)", name, r.Rule)
			continue
		}
		hosts[m[1]] = true
		if !slices.Contains(aliases.Aliases, m[1]) {
			t.Errorf("router %s: %s is not a network alias of traefik: containers could not reach it", name, m[1])
		}
		if r.TLS == nil || !slices.Equal(r.EntryPoints, []string{"websecure"}) {
			t.Errorf("router %s: not TLS on websecure", name)
		}
		svc, ok := tc.HTTP.Services[r.Service]
		if !ok || len(svc.LoadBalancer.Servers) == 0 {
			t.Errorf("router %s: service %q undefined", name, r.Service)
			continue
		}
		for _, s := range svc.LoadBalancer.Servers {
			u, err := url.Parse(s.URL)
			if err != nil {
				t.Errorf("router %s: server %q: %v", name, s.URL, err)
				continue
			}
			if _, ok := p.Services[u.Hostname()]; !ok {
				t.Errorf("router %s: server %s is not a service of the stack", name, u.Hostname())
			}
		}
		if st := svc.LoadBalancer.ServersTransport; st != "" {
			if _, ok := tc.HTTP.ServersTransports[st]; !ok {
				t.Errorf("service %s: serversTransport %q undefined", r.Service, st)
			}
		}
	}
	for _, a := range aliases.Aliases {
		if !hosts[a] {
			t.Errorf("traefik alias %s has no router", a)
		}
	}

	// The certificate is read from the certs directory mounted into Traefik.
	mount := ""
	for _, v := range traefik.Volumes {
		if strings.HasSuffix(v.Source, "/compose/certs") {
			mount = v.Target
		}
	}
	cert := tc.TLS.Stores["default"].DefaultCertificate
	if mount == "" || !strings.HasPrefix(cert.CertFile, mount+"/") || !strings.HasPrefix(cert.KeyFile, mount+"/") {
		t.Errorf("default certificate %+v is not read from the mounted certs directory (%q)", cert, mount)
	}
}

// TestComposeUpstreamVersions pins the upstream versions the clients were written against:
// Stalwart v0.16 (JMAP management; v0.15's REST API is gone) and Authentik 2026.2 (group
// parents as a list).
func TestComposeUpstreamVersions(t *testing.T) {
	p, _, _ := composeProject(t, upstreamProfile)
	want := map[string]string{
		"stalwart":         "stalwartlabs/stalwart:v0.16.",
		"authentik-server": "ghcr.io/goauthentik/server:2026.2.",
		"authentik-worker": "ghcr.io/goauthentik/server:2026.2.",
		"ocis":             "owncloud/ocis:7.",
	}
	for name, prefix := range want {
		if img := p.Services[name].Image; !strings.HasPrefix(img, prefix) {
			t.Errorf("%s image %q, want %s*", name, img, prefix)
		}
	}
	// oCIS trusts exactly the issuer of the tokens platform-api fetches, and verifies them itself.
	oc := env(t, "ocis", p.Services["ocis"])
	checks := map[string]string{
		"PROXY_OIDC_ACCESS_TOKEN_VERIFY_METHOD": "jwt",
		"PROXY_AUTOPROVISION_ACCOUNTS":          "true",
		"PROXY_ROLE_ASSIGNMENT_DRIVER":          "oidc",
		"PROXY_ROLE_ASSIGNMENT_OIDC_CLAIM":      "roles",
		"OCIS_EXCLUDE_RUN_SERVICES":             "idp",
	}
	for k, v := range checks {
		if oc[k] != v {
			t.Errorf("ocis %s = %q, want %q", k, oc[k], v)
		}
	}
	tokenURL := *p.Services["platform-api-1"].Environment["OCIS_TOKEN_URL"]
	if iss := oc["OCIS_OIDC_ISSUER"]; !hasPrefixAny(iss, strings.TrimSuffix(tokenURL, "token/")) {
		t.Errorf("OCIS_OIDC_ISSUER %q is not an issuer of the IdP whose token endpoint is %q", iss, tokenURL)
	}
}

// TestComposeCommentsEverySetting: in the replicas' shared definition each platform-api
// variable has a comment of its own directly above it (the compose file is where an operator
// reads what each setting does).
func TestComposeCommentsEverySetting(t *testing.T) {
	var doc yaml3.Node
	if err := yaml3.Unmarshal(readFile(t, composeFile), &doc); err != nil {
		t.Fatal(err)
	}
	env := mappingValue(mappingValue(doc.Content[0], "x-platform-api"), "environment")
	if env == nil {
		t.Fatalf("%s: no x-platform-api.environment mapping", composeFile)
	}
	seen := 0
	for i := 0; i < len(env.Content); i += 2 {
		key := env.Content[i]
		seen++
		if strings.TrimSpace(key.HeadComment) == "" {
			t.Errorf("%s:%d: %s has no comment directly above it", composeFile, key.Line, key.Value)
		}
	}
	if seen != len(config.Vars()) {
		t.Errorf("x-platform-api.environment has %d variables, platform-api reads %d", seen, len(config.Vars()))
	}
}

// mappingValue returns the value node of key in a YAML mapping node, or nil.
func mappingValue(m *yaml3.Node, key string) *yaml3.Node {
	if m == nil || m.Kind != yaml3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
