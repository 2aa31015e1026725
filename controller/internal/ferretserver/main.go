// Command ferretserver runs an embedded FerretDB (SQLite backend, a temporary directory) on a
// loopback port for the controller's tests. The tests build it without -race and point
// MONGO_URI at it, so the race detector instruments the code under test and not FerretDB's
// SQLite engine, which is 20–30× slower under it. It prints its URI on the first line of
// stdout and stops when stdin closes (so it dies with the test binary that started it).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/dezky/platform-api/store/storetest"
)

func main() {
	dir, err := os.MkdirTemp("", "controller-ferretdb-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	srv, err := storetest.StartFerretDB(context.Background(), dir, "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.URI)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin or exits
	srv.Stop()
}
