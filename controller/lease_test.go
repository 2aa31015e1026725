package controller

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestLeaseTerms: one winner per term among racing candidates (the unique _id decides), no
// takeover before expiry, renewal by the holder only, release lets the next term in, and
// cleanup keeps the last few terms.
func TestLeaseTerms(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	const d = time.Hour
	cands := []*lease{newLease(st, "l", "a", d), newLease(st, "l", "b", d), newLease(st, "l", "c", d), newLease(st, "l", "d", d)}
	var mu sync.Mutex
	var winners []string
	var wg sync.WaitGroup
	for _, l := range cands {
		wg.Go(func() {
			term, ok, err := l.tryAcquire(ctx)
			if err != nil {
				t.Errorf("%s: %v", l.holder, err)
			}
			if ok {
				mu.Lock()
				winners = append(winners, l.holder)
				mu.Unlock()
				if term != 1 {
					t.Errorf("first term is %d", term)
				}
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("winners of term 1: %v, want exactly one", winners)
	}
	var holder, other *lease
	for _, l := range cands {
		if l.holder == winners[0] {
			holder = l
		} else {
			other = l
		}
	}
	if _, ok, _ := other.tryAcquire(ctx); ok {
		t.Fatal("took an unexpired term")
	}
	if err := holder.renew(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := other.renew(ctx, 1); err == nil {
		t.Fatal("a non-holder renewed the term")
	}
	if err := holder.release(ctx, 1); err != nil {
		t.Fatal(err)
	}
	term, ok, err := other.tryAcquire(ctx)
	if err != nil || !ok || term != 2 {
		t.Fatalf("after release: term %d ok %v err %v", term, ok, err)
	}
	if err := holder.renew(ctx, 1); err == nil {
		t.Fatal("the old holder renewed a term superseded by a newer one")
	}
	for i := int64(3); i <= 9; i++ {
		if err := other.release(context.Background(), i-1); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := other.tryAcquire(ctx); !ok || err != nil {
			t.Fatalf("term %d: %v %v", i, ok, err)
		}
	}
	if err := other.cleanup(ctx, 9); err != nil {
		t.Fatal(err)
	}
	n, err := storetest.DB(t, st).Collection(store.CollLeases).CountDocuments(ctx, bson.D{{Key: "name", Value: "l"}})
	if err != nil || n != keepTerms {
		t.Errorf("%d term documents after cleanup (%v), want %d", n, err, keepTerms)
	}
}

// TestLeaseOwnTermRetakenAtOnce: a replica that stepped down (it could not renew) finds its
// own unexpired term the newest and takes the next one at once instead of sitting out the
// rest of it; a different replica still waits for the expiry, and the old holder, having
// lost the newer term to nobody, is not confused by its own older one.
func TestLeaseOwnTermRetakenAtOnce(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	const d = time.Hour
	me, other := newLease(st, "l", "me", d), newLease(st, "l", "other", d)
	if term, ok, err := me.tryAcquire(ctx); err != nil || !ok || term != 1 {
		t.Fatalf("first acquire: term %d ok %v err %v", term, ok, err)
	}
	if _, ok, err := other.tryAcquire(ctx); err != nil || ok {
		t.Fatalf("another replica took an unexpired term: ok %v err %v", ok, err)
	}
	term, ok, err := me.tryAcquire(ctx)
	if err != nil || !ok || term != 2 {
		t.Fatalf("retaking after stepping down: term %d ok %v err %v, want term 2", term, ok, err)
	}
	if err := me.renew(ctx, 2); err != nil {
		t.Fatalf("renewing the retaken term: %v", err)
	}
	if err := me.renew(ctx, 1); err == nil {
		t.Fatal("the superseded own term still renews")
	}
	if _, ok, _ := other.tryAcquire(ctx); ok {
		t.Fatal("another replica took the retaken, unexpired term")
	}
	// A second controller with the same identity (misconfigured replicas, or two in one
	// process) did not acquire that term: for it the term is someone else's.
	twin := newLease(st, "l", "me", d)
	if _, ok, err := twin.tryAcquire(ctx); err != nil || ok {
		t.Fatalf("a controller sharing the holder name took an unexpired term it never held: ok %v err %v", ok, err)
	}
}
