// Command fetchspecs (`make specs`) downloads the upstream API documents pinned in
// internal/upstreamspecs/specs.txt into $UPSTREAM_SPECS, or ../shared/upstreams beside the
// module root, for a clone that has no ../shared. Every document's sha256 must be the pinned one,
// or nothing is written; documents already there with the pinned hash are not downloaded again.
//
//	make specs                                # into $UPSTREAM_SPECS or ../shared/upstreams
//	make specs UPSTREAM_SPECS=.upstream-specs # a relative directory is taken from the module root
//	go run ./cmd/fetchspecs -dir /tmp/specs
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/dezky/platform-api/internal/upstreamspecs"
)

func main() {
	dir := flag.String("dir", "", "directory to write into (default $"+upstreamspecs.EnvDir+", else "+upstreamspecs.DefaultDir+" beside the module root)")
	timeout := flag.Duration("timeout", 5*time.Minute, "time allowed for all downloads")
	flag.Parse()
	if err := run(*dir, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "fetchspecs:", err)
		os.Exit(1)
	}
}

func run(dir string, timeout time.Duration) error {
	if dir == "" {
		d, _, err := upstreamspecs.Dir()
		if err != nil {
			return err
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The default transport honours HTTPS_PROXY; the per-request deadline is ctx's.
	res, err := upstreamspecs.Fetch(ctx, &http.Client{}, upstreamspecs.List(), dir)
	if err != nil {
		return err
	}
	for _, r := range res {
		what := "downloaded, sha256 verified"
		if r.Present {
			what = "already present, sha256 verified"
		}
		fmt.Printf("%-30s %-18s %s\n", r.Spec.Name, r.Spec.Version, what)
	}
	fmt.Printf("upstream documents in %s\n", dir)
	return nil
}
