package store

import (
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// slugCacheMax bounds the slug → id cache (~100 bytes an entry); when full it starts over.
const slugCacheMax = 100_000

// slugCache remembers which id a slug resolved to. A slug never changes on a tenant, so a hit
// turns a lookup by slug into a lookup by _id, which FerretDB's SQLite backend answers without
// scanning the collection (docs/ARCHITECTURE.md, "FerretDB limits") and MongoDB answers from its primary index. A hit is
// always verified against the document read, so a slug deleted and reused by a new tenant (by
// this process or another) falls back to the lookup by slug.
type slugCache struct {
	mu sync.Mutex
	m  map[string]bson.ObjectID
}

func (c *slugCache) get(slug string) (bson.ObjectID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.m[slug]
	return id, ok
}

func (c *slugCache) put(slug string, id bson.ObjectID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= slugCacheMax {
		c.m = make(map[string]bson.ObjectID)
	}
	c.m[slug] = id
}

func (c *slugCache) drop(slug string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, slug)
}
