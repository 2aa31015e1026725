package controller

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
)

// poller is the change source where the server has no change streams: every PollInterval it
// reads the (id, resourceVersion, updatedAt) of tenants whose metadata.updatedAt is at or
// after the newest updatedAt seen minus an overlap window, and queues those whose pair it has
// not seen. The pair catches a hand-written update that only touches updatedAt; the seen map
// keeps an unchanged tenant from being queued every tick (the controller never writes
// tenants, so its own status writes are never seen here). The map holds only tenants updated
// inside the window, so it stays small however many tenants there are.
type poller struct {
	c *Controller
	s *session

	seen map[bson.ObjectID]tenantVersion
	// watermark is the newest updatedAt seen (capped at our clock, so one writer whose clock
	// runs far ahead cannot push the window past everyone else's writes).
	watermark time.Time
	lastErr   string
}

type tenantVersion struct {
	rv        int64
	updatedAt time.Time
}

func newPoller(c *Controller, s *session) *poller {
	return &poller{c: c, s: s, seen: map[bson.ObjectID]tenantVersion{}, watermark: c.st.Now()}
}

// run polls until ctx ends. The pause between polls is PollInterval, or twice the last poll's
// duration when that is longer: on a server that scans the whole collection for this query
// (FerretDB's SQLite backend), a large tenants collection must not turn the poll into a busy
// loop that starves the reconciles it feeds. Only a poll that succeeded stretches the pause:
// a poll that failed spent its time waiting for an unreachable database, not scanning, and
// stretching on it made the first poll after an outage come up to twice the driver's
// server-selection timeout late (new tenants waited ~30s for their first reconcile).
func (p *poller) run(ctx context.Context) {
	for {
		start := time.Now()
		pause := p.c.o.PollInterval
		if p.tick(ctx, true) {
			pause = max(pause, 2*time.Since(start))
		}
		if !sleepCtx(ctx, pause) {
			return
		}
	}
}

// tick reads one window; with enqueue false it only records what it saw (the baseline). It
// reports whether the poll succeeded.
func (p *poller) tick(ctx context.Context, enqueue bool) bool {
	overlap := p.c.o.pollOverlap()
	newest := p.watermark
	err := p.c.st.TenantsUpdatedSince(ctx, p.watermark.Add(-overlap), func(v store.TenantVersion) error {
		ver := tenantVersion{rv: v.ResourceVersion, updatedAt: v.UpdatedAt}
		if old, ok := p.seen[v.ID]; ok && old.rv == ver.rv && old.updatedAt.Equal(ver.updatedAt) {
			return nil
		}
		p.seen[v.ID] = ver
		if enqueue {
			enqueueChange(p.s, v.ID)
		}
		if v.UpdatedAt.After(newest) {
			newest = v.UpdatedAt
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil && err.Error() != p.lastErr {
			p.c.log.Warn("poll for changed tenants failed; retrying next tick", "err", err)
			p.lastErr = err.Error()
		}
		return false
	}
	p.lastErr = ""
	p.c.polls.Add(1)
	p.watermark = minTime(newest, p.c.st.Now())
	cutoff := p.watermark.Add(-overlap)
	for id, v := range p.seen {
		if v.updatedAt.Before(cutoff) {
			delete(p.seen, id) // out of the window: the query cannot return it unchanged
		}
	}
	return true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
