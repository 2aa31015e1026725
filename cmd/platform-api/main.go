// Command platform-api runs dezky's tenant API and/or reconciliation controller (MODE), configured
// from the environment (see docs/ARCHITECTURE.md and the README's configuration table).
//
// `platform-api --version` (also `-version` or `version`) prints the version stamped at build
// time and exits: the same string GET /health reports, so an operator can tell which build an
// image holds without starting it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/dezky/platform-api/internal/app"
	"github.com/dezky/platform-api/internal/config"
)

// version is set at build time with -ldflags "-X main.version=..." (the Makefile and the
// Dockerfile stamp `git describe`). Read it through buildVersion.
var version = "dev"

func main() {
	if wantsVersion(os.Args[1:]) {
		fmt.Println(buildVersion())
		return
	}
	cfg, err := config.Load(os.Getenv, os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "platform-api: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	log := app.NewLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := app.Run(ctx, app.Options{Config: cfg, Logger: log, Version: buildVersion()}); err != nil {
		log.Error("platform-api failed", "err", err)
		fmt.Fprintf(os.Stderr, "platform-api: %v\n", err)
		os.Exit(1)
	}
}

// wantsVersion reports whether the command line asks for the version. It is checked before the
// configuration is loaded, so `--version` works with no environment at all (as in a bare image).
// The flag forms may appear anywhere; the word form only first, where a subcommand would stand,
// so that a flag value spelled "version" is not taken for it.
func wantsVersion(args []string) bool {
	if len(args) > 0 && args[0] == "version" {
		return true
	}
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-version", "--version", "-version=true", "--version=true":
			return true
		}
	}
	return false
}

// buildVersion is the stamped version. An unstamped build installed with
// `go install github.com/dezky/platform-api/cmd/platform-api@v1.2.3` reports the module version
// instead of "dev", so every released binary names its release.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}
