package store

import (
	"context"
	"errors"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// ErrUnavailable marks an error as "the database could not be reached" (no server to select,
// a broken connection, a cleared pool): a transient condition of the store, not a fault of the
// request or of the tenant. Callers branch on it with errors.Is (see IsUnavailable), answer
// 503 with Retry-After and retry later without counting it against anyone.
var ErrUnavailable = errors.New("database unavailable")

// IsUnavailable reports whether err means the database could not be reached: the driver found
// no server it may use (server selection failed or timed out), a connection broke or could
// not be opened, the connection pool was cleared after such a failure, or the client is
// closed. Errors the server answered (duplicate key, validation, ...) are not.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, mongo.ErrClientDisconnected) {
		return true
	}
	var sse topology.ServerSelectionError
	if errors.As(err, &sse) {
		return true
	}
	var ce topology.ConnectionError
	if errors.As(err, &ce) {
		return true
	}
	var wq topology.WaitQueueTimeoutError
	if errors.As(err, &wq) {
		return true
	}
	var pool driver.RetryablePoolError
	if errors.As(err, &pool) && pool.Retryable() {
		return true
	}
	return mongo.IsNetworkError(err)
}

// availability follows the driver's view of the deployment (SDAM topology events): the store
// is available while the topology holds a server that takes writes (a standalone, the
// primary, a mongos or a load balancer). The driver marks a server unknown as soon as an
// operation's connection breaks or a heartbeat fails, so request paths can refuse at once
// instead of waiting out the server-selection timeout against a database that is gone.
type availability struct {
	mu sync.Mutex
	up bool
	// changed is closed (and replaced) on every transition, for waiters.
	changed chan struct{}
}

func newAvailability() *availability {
	return &availability{changed: make(chan struct{})}
}

// monitor is the driver callback; it runs with the topology locked, so it only records.
func (a *availability) monitor() *event.ServerMonitor {
	return &event.ServerMonitor{
		TopologyDescriptionChanged: func(e *event.TopologyDescriptionChangedEvent) {
			a.set(writable(e.NewDescription))
		},
		TopologyClosed: func(*event.TopologyClosedEvent) { a.set(false) },
	}
}

func writable(d event.TopologyDescription) bool {
	for _, s := range d.Servers {
		switch s.Kind {
		case "Standalone", "RSPrimary", "Mongos", "LoadBalancer":
			return true
		}
	}
	return false
}

func (a *availability) set(up bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.up == up {
		return
	}
	a.up = up
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *availability) get() (bool, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.up, a.changed
}

// Available reports whether the driver currently knows a server that takes writes. It is
// false from the moment the driver saw the server fail until a heartbeat reaches it again
// (HeartbeatInterval), and never blocks.
func (s *Store) Available() bool {
	up, _ := s.avail.get()
	return up
}

// WaitAvailable blocks until the store is available or ctx ends (then it returns ctx's error).
func (s *Store) WaitAvailable(ctx context.Context) error {
	for {
		up, changed := s.avail.get()
		if up {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
