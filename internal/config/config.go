// Package config reads platform-api's configuration from the environment (the README's configuration table), with
// command-line flags of the same meaning overriding it. A malformed value stops start-up with a
// message naming the variable.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Modes of the process.
const (
	ModeAll        = "all"
	ModeAPI        = "api"
	ModeController = "controller"
)

// Config is everything platform-api needs to start.
type Config struct {
	MongoURI  string
	MongoDB   string
	HTTPAddr  string
	Mode      string
	LogFormat string
	LogLevel  string

	Workers        int
	PollInterval   time.Duration
	ResyncInterval time.Duration
	StepTimeout    time.Duration
	LeaseDuration  time.Duration
	LeaseRenew     time.Duration

	OIDCIssuerURL         string
	OIDCAudiences         []string
	OIDCOperatorAudiences []string
	OperatorGroup         string
	AuthDisabled          bool
	AuthentikAPIURL       string
	AuthentikAPIToken     string
	AuthentikGroupPrefix  string
	StalwartAPIURL        string
	StalwartAPIToken      string
	OCISAPIURL            string
	OCISTokenURL          string
	OCISClientID          string
	OCISClientSecret      string
	OCISTokenScopes       []string
	CAFile                string

	// Per-upstream request limits (requests per second), shared by live calls and listings.
	AuthentikMaxRPS float64
	StalwartMaxRPS  float64
	OCISMaxRPS      float64
	// ResyncMode is how a resync finds drift: ResyncList (one listing per upstream, then a
	// diff) or ResyncPerTenant (every tenant observed live, the stage-1 behaviour).
	ResyncMode string
}

// Resync modes.
const (
	ResyncList      = "list"
	ResyncPerTenant = "per-tenant"
)

// RunsAPI reports whether this mode serves the HTTP API routes.
func (c Config) RunsAPI() bool { return c.Mode == ModeAll || c.Mode == ModeAPI }

// RunsController reports whether this mode campaigns for the controller lease.
func (c Config) RunsController() bool { return c.Mode == ModeAll || c.Mode == ModeController }

// Var documents one setting: the README's configuration table is generated from the same list.
type Var struct {
	Env     string
	Flag    string
	Default string
	Help    string
	set     func(c *Config, v string) error
}

// Vars lists every setting in the order the README shows them.
func Vars() []Var {
	str := func(dst func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *dst(c) = v; return nil }
	}
	dur := func(name string, dst func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s=%q: want a positive Go duration such as 200ms or 10m", name, v)
			}
			*dst(c) = d
			return nil
		}
	}
	list := func(dst func(*Config) *[]string) func(*Config, string) error {
		return func(c *Config, v string) error { *dst(c) = splitList(v); return nil }
	}
	rps := func(name string, dst func(*Config) *float64) func(*Config, string) error {
		return func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 100000 {
				return fmt.Errorf("%s=%q: want requests per second, a number above 0 (e.g. 20 or 0.5)", name, v)
			}
			*dst(c) = f
			return nil
		}
	}
	urlVar := func(name string, dst func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("%s=%q: want an http(s) URL", name, v)
				}
			}
			*dst(c) = v
			return nil
		}
	}
	return []Var{
		{"MONGO_URI", "mongo-uri", "mongodb://localhost:27017", "MongoDB connection string (a replica set for change streams)", func(c *Config, v string) error {
			if !strings.HasPrefix(v, "mongodb://") && !strings.HasPrefix(v, "mongodb+srv://") {
				return fmt.Errorf("MONGO_URI=%q: want a mongodb:// or mongodb+srv:// URI", redact(v))
			}
			c.MongoURI = v
			return nil
		}},
		{"MONGO_DB", "mongo-db", "dezky", "database name", str(func(c *Config) *string { return &c.MongoDB })},
		{"HTTP_ADDR", "http-addr", ":3001", "listen address of the HTTP API", str(func(c *Config) *string { return &c.HTTPAddr })},
		{"MODE", "mode", ModeAll, "all, api or controller: which parts this process runs", func(c *Config, v string) error {
			switch v {
			case ModeAll, ModeAPI, ModeController:
				c.Mode = v
				return nil
			}
			return fmt.Errorf("MODE=%q: want all, api or controller", v)
		}},
		{"LOG_FORMAT", "log-format", "json", "json (production) or text (terminal)", func(c *Config, v string) error {
			if v != "json" && v != "text" {
				return fmt.Errorf("LOG_FORMAT=%q: want json or text", v)
			}
			c.LogFormat = v
			return nil
		}},
		{"LOG_LEVEL", "log-level", "info", "debug, info, warn or error", func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "debug", "info", "warn", "error":
				c.LogLevel = strings.ToLower(v)
				return nil
			}
			return fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", v)
		}},
		{"CONTROLLER_WORKERS", "controller-workers", "8", "reconcile workers", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1024 {
				return fmt.Errorf("CONTROLLER_WORKERS=%q: want an integer from 1 to 1024", v)
			}
			c.Workers = n
			return nil
		}},
		{"POLL_INTERVAL", "poll-interval", "1s", "poll period of the fallback source (servers without change streams)", dur("POLL_INTERVAL", func(c *Config) *time.Duration { return &c.PollInterval })},
		{"RESYNC_INTERVAL", "resync-interval", "10m", "period of the full resync (±10% jitter)", dur("RESYNC_INTERVAL", func(c *Config) *time.Duration { return &c.ResyncInterval })},
		{"STEP_TIMEOUT", "step-timeout", "30s", "timeout of one step (one upstream) in one reconcile", dur("STEP_TIMEOUT", func(c *Config) *time.Duration { return &c.StepTimeout })},
		{"LEASE_DURATION", "lease-duration", "15s", "leader lease length", dur("LEASE_DURATION", func(c *Config) *time.Duration { return &c.LeaseDuration })},
		{"LEASE_RENEW", "lease-renew", "5s", "leader lease renewal period", dur("LEASE_RENEW", func(c *Config) *time.Duration { return &c.LeaseRenew })},
		{"OIDC_ISSUER_URL", "oidc-issuer-url", "", "OIDC issuer (discovery and JWKS); required unless AUTH_DISABLED=true", urlVar("OIDC_ISSUER_URL", func(c *Config) *string { return &c.OIDCIssuerURL })},
		{"OIDC_AUDIENCES", "oidc-audiences", "", "comma list of accepted token audiences (portal, operator console, partner client)", list(func(c *Config) *[]string { return &c.OIDCAudiences })},
		{"OIDC_OPERATOR_AUDIENCES", "oidc-operator-audiences", "", "comma list of audiences allowed to use operator and partner-management routes", list(func(c *Config) *[]string { return &c.OIDCOperatorAudiences })},
		{"OPERATOR_GROUP", "operator-group", "dezky-operators", "group (groups claim) that makes a caller an operator", str(func(c *Config) *string { return &c.OperatorGroup })},
		{"AUTH_DISABLED", "auth-disabled", "false", "true serves every request as a dev operator (never in production; logged loudly)", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("AUTH_DISABLED=%q: want true or false", v)
			}
			c.AuthDisabled = b
			return nil
		}},
		{"AUTHENTIK_API_URL", "authentik-api-url", "", "Authentik API base ending in /api/v3 (a bare host gets /api/v3); empty skips the step", urlVar("AUTHENTIK_API_URL", func(c *Config) *string { return &c.AuthentikAPIURL })},
		{"AUTHENTIK_API_TOKEN", "authentik-api-token", "", "Authentik API token (Bearer, intent=api)", str(func(c *Config) *string { return &c.AuthentikAPIToken })},
		{"AUTHENTIK_GROUP_PREFIX", "authentik-group-prefix", "tenant-", "prefix of the tenant's Authentik and oCIS group names", str(func(c *Config) *string { return &c.AuthentikGroupPrefix })},
		{"STALWART_API_URL", "stalwart-api-url", "", "Stalwart base URL (the client discovers /.well-known/jmap); empty skips the step", urlVar("STALWART_API_URL", func(c *Config) *string { return &c.StalwartAPIURL })},
		{"STALWART_API_TOKEN", "stalwart-api-token", "", "Stalwart API key (Bearer)", str(func(c *Config) *string { return &c.StalwartAPIToken })},
		{"OCIS_API_URL", "ocis-api-url", "", "oCIS base URL (the client adds /graph/v1.0/...); empty skips the step", urlVar("OCIS_API_URL", func(c *Config) *string { return &c.OCISAPIURL })},
		{"OCIS_TOKEN_URL", "ocis-token-url", "", "the IdP's token endpoint for oCIS client_credentials", urlVar("OCIS_TOKEN_URL", func(c *Config) *string { return &c.OCISTokenURL })},
		{"OCIS_CLIENT_ID", "ocis-client-id", "", "OAuth2 client id for oCIS", str(func(c *Config) *string { return &c.OCISClientID })},
		{"OCIS_CLIENT_SECRET", "ocis-client-secret", "", "OAuth2 client secret for oCIS", str(func(c *Config) *string { return &c.OCISClientSecret })},
		{"OCIS_TOKEN_SCOPES", "ocis-token-scopes", "openid profile", "space-separated scopes of the oCIS token request", func(c *Config, v string) error {
			c.OCISTokenScopes = strings.Fields(v)
			return nil
		}},
		{"CA_FILE", "ca-file", "", "PEM file of extra CAs trusted for upstream and OIDC calls (e.g. mkcert's)", str(func(c *Config) *string { return &c.CAFile })},
		{"AUTHENTIK_MAX_RPS", "authentik-max-rps", "20", "request limit towards Authentik (requests/s, live calls and listings together)", rps("AUTHENTIK_MAX_RPS", func(c *Config) *float64 { return &c.AuthentikMaxRPS })},
		{"STALWART_MAX_RPS", "stalwart-max-rps", "20", "request limit towards Stalwart (requests/s)", rps("STALWART_MAX_RPS", func(c *Config) *float64 { return &c.StalwartMaxRPS })},
		{"OCIS_MAX_RPS", "ocis-max-rps", "20", "request limit towards oCIS, token requests included (requests/s)", rps("OCIS_MAX_RPS", func(c *Config) *float64 { return &c.OCISMaxRPS })},
		{"RESYNC_MODE", "resync-mode", ResyncList, "list (one listing per upstream, then a diff) or per-tenant (observe every tenant live)", func(c *Config, v string) error {
			if v != ResyncList && v != ResyncPerTenant {
				return fmt.Errorf("RESYNC_MODE=%q: want list or per-tenant", v)
			}
			c.ResyncMode = v
			return nil
		}},
	}
}

// Load builds the configuration from getenv, then args (flags such as -mode=api). Every bad
// value is reported, each naming its variable.
func Load(getenv func(string) string, args []string) (Config, error) {
	var c Config
	vars := Vars()
	fs := flag.NewFlagSet("platform-api", flag.ContinueOnError)
	flagVals := make([]*string, len(vars))
	for i, v := range vars {
		flagVals[i] = fs.String(v.Flag, "", v.Help+" (env "+v.Env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	for i, v := range vars {
		val := v.Default
		if e := getenv(v.Env); e != "" {
			val = e
		}
		if *flagVals[i] != "" {
			val = *flagVals[i]
		}
		if err := v.set(&c, val); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.validate()
}

// validate checks relations between settings.
func (c Config) validate() error {
	var errs []error
	if c.LeaseRenew >= c.LeaseDuration {
		errs = append(errs, fmt.Errorf("LEASE_RENEW=%s must be shorter than LEASE_DURATION=%s", c.LeaseRenew, c.LeaseDuration))
	}
	if c.RunsAPI() && !c.AuthDisabled {
		if c.OIDCIssuerURL == "" {
			errs = append(errs, errors.New("OIDC_ISSUER_URL is required (or set AUTH_DISABLED=true for a local stack)"))
		}
		if len(c.OIDCAudiences) == 0 {
			errs = append(errs, errors.New("OIDC_AUDIENCES is required (or set AUTH_DISABLED=true for a local stack)"))
		}
	}
	if c.AuthentikAPIURL != "" && c.AuthentikAPIToken == "" {
		errs = append(errs, errors.New("AUTHENTIK_API_TOKEN is required when AUTHENTIK_API_URL is set"))
	}
	if c.StalwartAPIURL != "" && c.StalwartAPIToken == "" {
		errs = append(errs, errors.New("STALWART_API_TOKEN is required when STALWART_API_URL is set"))
	}
	if c.OCISAPIURL != "" && (c.OCISTokenURL == "" || c.OCISClientID == "" || c.OCISClientSecret == "") {
		errs = append(errs, errors.New("OCIS_TOKEN_URL, OCIS_CLIENT_ID and OCIS_CLIENT_SECRET are required when OCIS_API_URL is set"))
	}
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// redact hides the password of a connection string in messages.
func redact(uri string) string {
	if at := strings.LastIndex(uri, "@"); at > 0 {
		if s := strings.Index(uri, "://"); s > 0 && s < at {
			return uri[:s+3] + "***" + uri[at:]
		}
	}
	return uri
}
