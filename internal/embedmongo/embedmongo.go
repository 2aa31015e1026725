// Package embedmongo runs an embedded FerretDB v1.24 (SQLite backend) in-process: the Mongo-wire
// server of the test suite and of the dev stack. It has no change streams, no transactions, and
// its updates are read-modify-write (docs/ARCHITECTURE.md, "FerretDB limits"); the product is designed to stay correct anyway.
package embedmongo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is a running embedded FerretDB.
type Server struct {
	// URI connects to it.
	URI string
	// Stop shuts it down and waits for it to finish.
	Stop func()
}

// Start starts FerretDB with its SQLite files in dir (created if missing) listening on addr
// ("127.0.0.1:0" picks a port) and waits until it accepts connections. logger receives
// FerretDB's own logs; nil discards them (it logs every connection at info).
func Start(ctx context.Context, dir, addr string, logger *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ferretdb data dir: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + strings.TrimSuffix(dir, "/") + "/",
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start ferretdb: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(runCtx)
	}()
	stop := func() { cancel(); <-done }
	uri := waitForURI(ctx, f)
	if uri == "" {
		stop()
		return nil, fmt.Errorf("ferretdb did not start listening on %s", addr)
	}
	return &Server{URI: uri, Stop: stop}, nil
}

// waitForURI polls until the listener is bound and accepts (MongoDBURI is empty before that).
func waitForURI(ctx context.Context, f *ferretdb.FerretDB) string {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if uri := f.MongoDBURI(); uri != "" {
			if u := strings.TrimPrefix(uri, "mongodb://"); u != uri {
				host := strings.SplitN(strings.SplitN(u, "/", 2)[0], "?", 2)[0]
				if c, err := net.DialTimeout("tcp", host, 200*time.Millisecond); err == nil {
					_ = c.Close()
					return uri
				}
			}
		}
		time.Sleep(5 * time.Millisecond) // waiting for a listener to bind, not synchronising a test
	}
	return ""
}
