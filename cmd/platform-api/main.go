// Command platform-api runs dezky's tenant API and/or reconciliation controller (MODE), configured
// from the environment (DESIGN §10); see the README's configuration table.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dezky/platform-api/internal/app"
	"github.com/dezky/platform-api/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cfg, err := config.Load(os.Getenv, os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "platform-api: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	log := app.NewLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := app.Run(ctx, app.Options{Config: cfg, Logger: log, Version: version}); err != nil {
		log.Error("platform-api failed", "err", err)
		fmt.Fprintf(os.Stderr, "platform-api: %v\n", err)
		os.Exit(1)
	}
}
