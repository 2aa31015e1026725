// Package storetest gives each test a fresh database on a real Mongo-wire server: the MongoDB at
// MONGO_URI when set (a replica set runs the change-stream tests), otherwise an embedded
// FerretDB v1.24 (SQLite backend in a temp dir, 127.0.0.1 on a random port) started once per
// test binary. It also reports what the server can do, so a test that needs change streams or
// atomic concurrent updates skips with the reason instead of failing on FerretDB.
package storetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/internal/embedmongo"
	"github.com/dezky/platform-api/store"
)

// Server is a running Mongo-wire server and what it supports.
type Server struct {
	// URI connects to the server.
	URI string
	// FerretDB is true for the embedded server.
	FerretDB bool
	// ChangeStreams is true when collection Watch works (a MongoDB replica set).
	ChangeStreams bool
	// AtomicUpdates is true when concurrent updates to one document never lose writes (MongoDB;
	// not FerretDB, whose updates are read-modify-write).
	AtomicUpdates bool

	stop func()
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	dbCounter  atomic.Int64
)

// Shared returns the server shared by every test of this binary, starting it on first use.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	sharedOnce.Do(func() {
		if uri := os.Getenv("MONGO_URI"); uri != "" {
			shared, sharedErr = probe(uri, false, nil)
			return
		}
		dir, err := os.MkdirTemp("", "storetest-ferretdb-*")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = StartFerretDB(context.Background(), dir, "127.0.0.1:0")
	})
	if sharedErr != nil {
		tb.Fatalf("storetest: no Mongo-wire server: %v", sharedErr)
	}
	return shared
}

// StartFerretDB starts an embedded FerretDB (SQLite files in dir) listening on addr, and waits
// until it answers. Stop it with Server.Stop; start another on the same dir and address to
// simulate a restarted server.
func StartFerretDB(ctx context.Context, dir, addr string) (*Server, error) {
	f, err := embedmongo.Start(ctx, dir, addr, nil)
	if err != nil {
		return nil, err
	}
	s, err := probe(f.URI, true, f.Stop)
	if err != nil {
		f.Stop()
		return nil, err
	}
	return s, nil
}

// Stop shuts an embedded server down (no-op for MONGO_URI).
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
	}
}

func probe(uri string, ferret bool, stop func()) (*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	if err := c.Ping(ctx, nil); err != nil {
		return nil, fmt.Errorf("ping %s: %w", redact(uri), err)
	}
	var info bson.M
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err == nil {
		if _, ok := info["ferretdb"]; ok {
			ferret = true
		}
	}
	s := &Server{URI: uri, FerretDB: ferret, AtomicUpdates: !ferret, stop: stop}
	coll := c.Database("storetest_probe").Collection("probe")
	cs, err := coll.Watch(ctx, mongo.Pipeline{})
	if err == nil {
		s.ChangeStreams = true
		_ = cs.Close(ctx)
	}
	return s, nil
}

func redact(uri string) string {
	if i := strings.Index(uri, "@"); i > 0 {
		if j := strings.Index(uri, "://"); j > 0 && j < i {
			return uri[:j+3] + "***" + uri[i:]
		}
	}
	return uri
}

// DBName returns a database name unique to this test and process.
func DBName(tb testing.TB) string {
	tb.Helper()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, tb.Name())
	if len(name) > 30 {
		name = name[:30]
	}
	return fmt.Sprintf("t%d_%d_%s", os.Getpid()%100000, dbCounter.Add(1), name)
}

// Options adjusts NewStore.
type Options struct {
	// Server to use; nil means Shared.
	Server *Server
	// Database name; empty means a fresh DBName.
	Database string
	// Store options passed through (URI and Database are filled in).
	Store store.Options
}

// NewStore opens a store on a fresh database of the shared server (indexes ensured) and drops
// the database when the test ends.
func NewStore(tb testing.TB) *store.Store {
	tb.Helper()
	return NewStoreWith(tb, Options{})
}

// NewStoreWith is NewStore with options (another server, a given database, store options).
func NewStoreWith(tb testing.TB, o Options) *store.Store {
	tb.Helper()
	srv := o.Server
	if srv == nil {
		srv = Shared(tb)
	}
	so := o.Store
	so.URI = srv.URI
	so.Database = o.Database
	if so.Database == "" {
		so.Database = DBName(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, so)
	if err != nil {
		tb.Fatalf("storetest: open store: %v", err)
	}
	raw, err := mongo.Connect(options.Client().ApplyURI(srv.URI))
	if err != nil {
		tb.Fatalf("storetest: connect: %v", err)
	}
	raws.Store(st, raw.Database(st.DatabaseName()))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if o.Database == "" {
			_ = raw.Database(st.DatabaseName()).Drop(ctx)
		}
		raws.Delete(st)
		_ = raw.Disconnect(ctx)
		_ = st.Close(ctx)
	})
	return st
}

// raws holds a raw database handle for every store NewStoreWith opened, for DB.
var raws sync.Map // *store.Store → *mongo.Database

// DB is a raw handle on st's database, through a client of its own: what an operator's shell
// (or a test checking what was written) uses. Production code reaches MongoDB only through
// store. The handle lives as long as the store.
func DB(tb testing.TB, st *store.Store) *mongo.Database {
	tb.Helper()
	db, ok := raws.Load(st)
	if !ok {
		tb.Fatal("storetest: DB needs a store opened by NewStore or NewStoreWith")
	}
	return db.(*mongo.Database)
}

// RequireChangeStreams skips the test when the server has no change streams.
func (s *Server) RequireChangeStreams(tb testing.TB) {
	tb.Helper()
	if !s.ChangeStreams {
		tb.Skip("server has no change streams (embedded FerretDB, or a standalone mongod); set MONGO_URI to a replica set to run this test")
	}
}

// RequireAtomicUpdates skips the test when concurrent updates to one document lose writes.
func (s *Server) RequireAtomicUpdates(tb testing.TB) {
	tb.Helper()
	if !s.AtomicUpdates {
		tb.Skip("server updates are read-modify-write (FerretDB): concurrent updates to one document lose writes")
	}
}
