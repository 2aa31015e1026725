package main

import (
	"net"
	"strings"
	"testing"
)

// closedPort is the URL of a loopback port nothing listens on: it was open a moment ago and
// is closed, so a connection to it is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// Every failure a caller can meet ends with its documented exit code: 1 with exactly one line
// on stderr for errors (the server's problem detail where there is one), 2 for usage, and
// nothing written to stdout in either case.
func TestExitCodes(t *testing.T) {
	g := goldenFixtures(t)
	user, operator := userToken(t), operatorToken(t)
	refused := closedPort(t)
	cases := map[string]struct {
		reason     string
		server     string
		token      string
		args       []string
		wantCode   int
		wantStdout string // a substring; "" means stdout must be empty
		wantStderr string // a substring of the first stderr line
	}{
		"success": {
			reason: "a tenant the token may read is shown", token: g.token,
			args: []string{"get", "tenant", "northwind"}, wantCode: exitOK, wantStdout: "northwind",
		},
		"help": {
			reason: "help is not an error", args: []string{"reconcile", "--help"}, wantCode: exitOK, wantStdout: "--wait",
		},
		"version without a server": {
			reason: "the client's version needs no request", server: refused,
			args: []string{"version", "--client"}, wantCode: exitOK, wantStdout: "Client Version: dev",
		},
		"401 bad token": {
			reason: "a token that is no JWT is refused by the server", token: "not-a-jwt",
			args: []string{"get", "tenants"}, wantCode: exitFailed, wantStderr: "error: unauthorized: the token is malformed",
		},
		"401 no token": {
			reason: "no token at all", args: []string{"describe", "tenant", "northwind"},
			wantCode: exitFailed, wantStderr: "a bearer token is required [HTTP 401]; check PLATFORM_TOKEN",
		},
		"403 user resync": {
			reason: "resync is for operators; a portal user's token is authenticated but not allowed", token: user,
			args: []string{"resync"}, wantCode: exitFailed, wantStderr: "error: forbidden: this route needs an operator token",
		},
		"403 user pause": {
			reason: "pause is an operator route", token: user,
			args: []string{"pause", "northwind"}, wantCode: exitFailed, wantStderr: "[HTTP 403]",
		},
		"404 unknown tenant": {
			reason: "no such tenant", token: operator,
			args: []string{"describe", "tenant", "no-such-tenant"}, wantCode: exitFailed, wantStderr: `error: tenant "no-such-tenant" not found [HTTP 404]`,
		},
		"404 hidden tenant": {
			reason: "another user's tenant reads as missing", token: user,
			args: []string{"diff", "northwind"}, wantCode: exitFailed, wantStderr: `tenant "northwind" not found [HTTP 404]`,
		},
		"409 slug taken": {
			reason: "the server's conflict detail is the line", token: user,
			args: []string{"create", "tenant", "northwind", "--name", "Again"}, wantCode: exitFailed, wantStderr: "[HTTP 409]",
		},
		"connection refused": {
			reason: "nothing listens at the server URL", server: refused, token: operator,
			args: []string{"get", "tenants"}, wantCode: exitFailed, wantStderr: "error: cannot reach platform-api at " + refused + ": connection refused",
		},
		"connection refused version": {
			reason: "version still prints the client's line, then the error", server: refused,
			args: []string{"version"}, wantCode: exitFailed, wantStdout: "Client Version:", wantStderr: "connection refused",
		},
		"unknown flag": {
			reason: "cobra's flag error is a usage error", token: operator,
			args: []string{"get", "tenants", "--bogus"}, wantCode: exitUsage, wantStderr: "error: unknown flag: --bogus",
		},
		"missing argument": {
			reason: "describe tenant needs a slug", token: operator,
			args: []string{"describe", "tenant"}, wantCode: exitUsage, wantStderr: "needs the tenant's slug",
		},
		"extra argument": {
			reason: "one slug only", token: operator,
			args: []string{"reconcile", "a", "b"}, wantCode: exitUsage, wantStderr: "takes one tenant slug",
		},
		"unknown command": {
			reason: "a typo gets a suggestion, not help and success", token: operator,
			args: []string{"gett", "tenants"}, wantCode: exitUsage, wantStderr: `unknown command "gett" for "platformctl"; did you mean get?`,
		},
		"unknown resource": {
			reason: "get of something that is not a resource", token: operator,
			args: []string{"get", "widgets"}, wantCode: exitUsage, wantStderr: `unknown command "widgets" for "platformctl get"`,
		},
		"get without resource": {
			reason: "get alone names the resources", token: operator,
			args: []string{"get"}, wantCode: exitUsage, wantStderr: "needs a resource: partners, tenant, tenants",
		},
		"bad output format": {
			reason: "checked before any request", server: refused,
			args: []string{"get", "tenants", "-o", "xml"}, wantCode: exitUsage, wantStderr: `unknown output format "xml"`,
		},
		"bad phase": {
			reason: "phases are known", server: refused,
			args: []string{"get", "tenants", "--phase", "Sleeping"}, wantCode: exitUsage, wantStderr: `unknown phase "Sleeping"`,
		},
		"bad wait": {
			reason: "a duration needs a unit", server: refused,
			args: []string{"reconcile", "x", "--wait", "30"}, wantCode: exitUsage, wantStderr: `invalid argument "30" for "--wait"`,
		},
		"bad policy": {
			reason: "the policy is Full or ObserveOnly", server: refused,
			args: []string{"create", "tenant", "x-y-z", "--name", "X", "--policy", "Sometimes"}, wantCode: exitUsage, wantStderr: `unknown --policy "Sometimes"`,
		},
		"create without name": {
			reason: "a tenant needs a name", server: refused,
			args: []string{"create", "tenant", "x-y-z"}, wantCode: exitUsage, wantStderr: "needs a slug (argument or --slug) and --name",
		},
		"bad quota": {
			reason: "decimal units are refused, not guessed", server: refused,
			args: []string{"create", "tenant", "x-y-z", "--name", "X", "--storage-quota", "10GB"}, wantCode: exitUsage, wantStderr: `"10GB" is not a size`,
		},
		"bad server URL": {
			reason: "the URL needs a scheme", server: "localhost:3001",
			args: []string{"get", "tenants"}, wantCode: exitUsage, wantStderr: `server URL "localhost:3001"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := invocation{server: tc.server, token: tc.token}.ctl(t, tc.args...)
			if r.code != tc.wantCode {
				t.Fatalf("%s: want exit %d, got %s", tc.reason, tc.wantCode, r)
			}
			if strings.Contains(r.stdout+r.stderr, "\x1b") {
				t.Errorf("ANSI escape codes although stdout is not a terminal: %q", r.stdout+r.stderr)
			}
			if tc.wantStdout == "" && r.stdout != "" {
				t.Errorf("%s: stdout should be empty, got %q", tc.reason, r.stdout)
			}
			if !strings.Contains(r.stdout, tc.wantStdout) {
				t.Errorf("%s: stdout %q does not contain %q", tc.reason, r.stdout, tc.wantStdout)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			switch tc.wantCode {
			case exitOK:
				if r.stderr != "" {
					t.Errorf("%s: stderr should be empty, got %q", tc.reason, r.stderr)
				}
			case exitFailed:
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
					t.Errorf("%s: want exactly one error line on stderr, got %q", tc.reason, r.stderr)
				}
			case exitUsage:
				if !strings.HasPrefix(lines[0], "error: ") {
					t.Errorf("%s: usage errors start with an error line, got %q", tc.reason, r.stderr)
				}
			}
			if !strings.Contains(lines[0], tc.wantStderr) {
				t.Errorf("%s: stderr %q does not contain %q", tc.reason, lines[0], tc.wantStderr)
			}
		})
	}
}
