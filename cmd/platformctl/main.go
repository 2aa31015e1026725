// Command platformctl is the operator's CLI over platform-api's HTTP API: list and describe
// tenants (conditions, per-step status, drift, events), create and delete them, force a
// reconcile and wait for it, run a drift check, pause, suspend, resync. It talks to the server
// at PLATFORM_URL (or --server) with the bearer token in PLATFORM_TOKEN (or --token).
//
// Exit codes: 0 success; 1 an error (one line on stderr), or drift found by `diff`; 2 a usage
// error; 3 a tenant not Ready after `reconcile --wait` (or the wait ran out).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{
		stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, now: time.Now,
		terminal: term.IsTerminal(int(os.Stdout.Fd())),
	})
	stop()
	os.Exit(code)
}
