package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Options configures Open. The zero value of each field means the documented default.
type Options struct {
	// URI of the Mongo-wire server. Defaults to mongodb://localhost:27017.
	URI string
	// Database name. Defaults to "dezky".
	Database string
	// MaxPoolSize caps connections; 0 leaves the driver's default (100). The dev stack sets 1
	// against embedded FerretDB, whose updates are read-modify-write: one connection serialises
	// them (docs/ARCHITECTURE.md, "FerretDB limits").
	MaxPoolSize uint64
	// Monitor receives driver command events (benchmarks count round trips with it).
	Monitor *event.CommandMonitor
	// Timeout bounds connecting and the index build at start. Defaults to 10s.
	Timeout time.Duration
	// ServerSelectionTimeout is how long one operation waits for a usable server before it
	// fails as unavailable (IsUnavailable). Defaults to 1s: a healthy deployment has a server
	// at once, so waiting longer only turns a database outage into requests that hang; callers
	// answer 503 with Retry-After instead (within 2s of the request, the promise to clients)
	// and the controller retries. A value written in the URI (serverSelectionTimeoutMS) wins.
	ServerSelectionTimeout time.Duration
	// HeartbeatInterval is how often the driver checks the server. Defaults to 1s (the driver's
	// own default is 10s): after an outage the store is Available again within about a
	// second of the server's return. A value written in the URI (heartbeatFrequencyMS) wins.
	HeartbeatInterval time.Duration
	// Now is the clock; defaults to time.Now. Times are stored at millisecond precision.
	Now func() time.Time
}

// Store is the MongoDB-backed store. Safe for concurrent use.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	now    func() time.Time

	// locks serialise this process's read-modify-write updates of one tenant. On MongoDB the
	// compare-and-set filter alone is enough; on FerretDB concurrent updates of one document
	// lose writes, and this keeps one process's writes correct there too.
	locks [64]sync.Mutex

	slugs slugCache

	// avail follows the driver's topology events (see Available).
	avail *availability
}

// Open connects, pings and ensures the indexes.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.URI == "" {
		o.URI = "mongodb://localhost:27017"
	}
	if o.Database == "" {
		o.Database = "dezky"
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ServerSelectionTimeout == 0 {
		o.ServerSelectionTimeout = time.Second
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = time.Second
	}
	co := options.Client().ApplyURI(o.URI)
	// Timeouts written in the URI win over the defaults.
	if co.ServerSelectionTimeout == nil {
		co.SetServerSelectionTimeout(o.ServerSelectionTimeout)
	}
	if co.ConnectTimeout == nil {
		co.SetConnectTimeout(o.Timeout)
	}
	if co.HeartbeatInterval == nil {
		co.SetHeartbeatInterval(o.HeartbeatInterval)
	}
	avail := newAvailability()
	co.SetServerMonitor(avail.monitor())
	if o.MaxPoolSize > 0 {
		co.SetMaxPoolSize(o.MaxPoolSize)
	}
	if o.Monitor != nil {
		co.SetMonitor(o.Monitor)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("connect to mongo: %w", err)
	}
	s := &Store{client: client, db: client.Database(o.Database), now: o.Now, avail: avail}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := s.pingUntil(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping mongo: %w", err)
	}
	if err := s.ensureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// pingUntil pings until the server answers or ctx ends: one server selection is short
// (ServerSelectionTimeout), and a server that is still starting must not fail start-up.
func (s *Store) pingUntil(ctx context.Context) error {
	for {
		err := s.client.Ping(ctx, nil)
		if err == nil || ctx.Err() != nil || !IsUnavailable(err) {
			return err
		}
		if werr := s.WaitAvailable(ctx); werr != nil {
			return err
		}
	}
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that the server answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx, nil) }

// DatabaseName is the database this store works in (tests open their own handle on it).
func (s *Store) DatabaseName() string { return s.db.Name() }

// Now returns the store's clock at millisecond precision (what Mongo keeps).
func (s *Store) Now() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Store) lockFor(key string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return &s.locks[h.Sum32()%uint32(len(s.locks))]
}

// idxMailDomain makes a mail domain belong to one tenant, across every API replica and against
// hand-written documents too: the stored domain is lowercase (NormalizeDomain), so the index
// compares case-insensitively. It is sparse, so tenants without mail are not indexed at all.
// FerretDB ignores "sparse", but its SQL backends never equate missing values in a unique
// index, so there too only tenants naming the same domain collide
// (TestTenantsWithoutMailDoNotCollide runs on whichever server the tests use).
const idxMailDomain = "mail_domain_unique"

// ensureIndexes creates the indexes of the data model. Only plain, unique and sparse indexes:
// FerretDB has neither TTL nor partial indexes.
func (s *Store) ensureIndexes(ctx context.Context) error {
	idx := []struct {
		coll   string
		keys   bson.D
		unique bool
		name   string
	}{
		{CollTenants, bson.D{{Key: "metadata.slug", Value: 1}}, true, "slug_unique"},
		{CollTenants, bson.D{{Key: "spec.mail.domain", Value: 1}}, true, idxMailDomain},
		{CollTenants, bson.D{{Key: "metadata.updatedAt", Value: 1}}, false, "updatedAt"},
		{CollTenants, bson.D{{Key: "spec.owner.sub", Value: 1}}, false, "owner_sub"},
		{CollTenants, bson.D{{Key: "spec.partnerId", Value: 1}}, false, "partnerId"},
		{CollTenantStatus, bson.D{{Key: "phase", Value: 1}}, false, "phase"},
		{CollPartners, bson.D{{Key: "slug", Value: 1}}, true, "slug_unique"},
		{CollMemberships, bson.D{{Key: "tenantId", Value: 1}, {Key: "subject", Value: 1}}, true, "tenantid_subject_unique"},
		{CollMemberships, bson.D{{Key: "subject", Value: 1}}, false, "subject"},
		{CollSubscriptions, bson.D{{Key: "tenantId", Value: 1}}, true, "tenantid_unique"},
		{CollEvents, bson.D{{Key: "tenantId", Value: 1}, {Key: "time", Value: -1}}, false, "tenant_time"},
	}
	if err := s.dropSlugKeyedIndexes(ctx); err != nil {
		return err
	}
	for _, ix := range idx {
		m := mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name)}
		if ix.unique {
			m.Options.SetUnique(true)
		}
		if ix.name == idxMailDomain {
			m.Options.SetSparse(true)
		}
		if _, err := s.db.Collection(ix.coll).Indexes().CreateOne(ctx, m); err != nil {
			if ix.name == idxMailDomain && isDuplicateKey(err) {
				return fmt.Errorf("create index %s.%s: tenants share a mail domain; find them with "+
					`db.tenants.aggregate([{$group: {_id: "$spec.mail.domain", n: {$sum: 1}}}, {$match: {_id: {$ne: null}, n: {$gt: 1}}}]), `+
					"give each its own domain, and start again: %w", ix.coll, ix.name, err)
			}
			return fmt.Errorf("create index %s.%s: %w", ix.coll, ix.name, err)
		}
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ErrNotFound
	}
	return err
}
