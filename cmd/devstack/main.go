// Command devstack is `make run`: embedded FerretDB (data in .devdata/), the Authentik,
// Stalwart and oCIS simulators, a dev OIDC issuer and platform-api on :3001, in one process.
// It prints tokens and a curl line that creates a tenant. Nothing else to install.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/dezky/platform-api/internal/app"
	"github.com/dezky/platform-api/internal/devstack"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintf(os.Stderr, "devstack: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	level := getenv("LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	dataDir := getenv("DEVSTACK_DATA_DIR")
	stack, err := devstack.Start(ctx, devstack.Options{
		DataDir: dataDir, MongoAddr: getenv("DEVSTACK_MONGO_ADDR"), Getenv: getenv, Version: version,
		Logger: app.NewLogger(os.Stderr, "text", level),
	})
	if err != nil {
		return err
	}
	user, err := stack.UserToken()
	if err != nil {
		return err
	}
	operator, err := stack.OperatorToken()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `
dezky dev stack is up (Ctrl-C stops it; data kept in %s)

  platform-api      %s   (/health /ready /metrics /openapi.json)
  MongoDB (FerretDB) %s
  OIDC issuer       %s
  Authentik sim     %s/api/v3
  Stalwart sim      %s   (JMAP: /.well-known/jmap)
  oCIS sim          %s   (libre-graph: /graph/v1.0, token: /token)

User token (portal audience, 12h):
  export TOKEN=%s

Operator token (operator-console audience, group dezky-operators):
  export OPERATOR_TOKEN=%s

Create a tenant, then watch it go Pending -> Active:
  curl -s -X POST %s/tenants -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
       -d '{"slug":"acme","name":"Acme GmbH","plan":"standard","mail":{"domain":"acme.example"}}'
  curl -s %s/tenants/acme -H "Authorization: Bearer $TOKEN"
  curl -s -X POST '%s/tenants/acme/reconcile?wait=30s' -H "Authorization: Bearer $TOKEN"

`, orDefault(dataDir, ".devdata"), stack.APIURL, stack.MongoURI, stack.Issuer.URL(), stack.AuthentikURL, stack.StalwartURL, stack.OCISURL,
		user, operator, stack.APIURL, stack.APIURL, stack.APIURL)
	<-ctx.Done()
	return stack.Wait()
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
