// Command ferretserver runs an embedded FerretDB (SQLite backend) on a loopback port for tests
// that want the database in a process of its own. The controller's tests build it without
// -race and point MONGO_URI at it, so the race detector instruments the code under test and
// not FerretDB's SQLite engine, which is 20–30× slower under it; the drills (internal/drill)
// kill it with SIGKILL and start it again on the same directory and address. It prints its URI
// on the first line of stdout and stops when stdin closes (so it dies with the test binary
// that started it).
//
// Flags: -dir keeps the SQLite files there (default: a temporary directory, removed on exit);
// -addr is the listen address (default 127.0.0.1:0, a free port).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dezky/platform-api/store/storetest"
)

func main() {
	dir := flag.String("dir", "", "directory of the SQLite files (default: a temporary one, removed on exit)")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "controller-ferretdb-*")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		*dir = tmp
	}
	srv, err := storetest.StartFerretDB(context.Background(), *dir, *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.URI)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin or exits
	srv.Stop()
}
