package controller

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestChangeStream runs convergence, no-self-trigger and restart through a real change stream.
// It needs MONGO_URI pointing at a replica set; on FerretDB it skips (the poll source is what
// the other tests exercise there, and watch_test.go covers the watcher with a scripted stream).
func TestChangeStream(t *testing.T) {
	storetest.Shared(t).RequireChangeStreams(t)

	t.Run("convergence", func(t *testing.T) {
		e := newEnv(t)
		e.start()
		if _, d := e.c.Readiness(); d["source"] != SourceChangeStream {
			t.Fatalf("source %v, want changestream", d)
		}
		ids := make([]bson.ObjectID, 200)
		for i := range ids {
			ids[i] = e.createTenant(fmt.Sprintf("cs-%03d", i)).ID
		}
		eventually(t, 90*time.Second, "200 tenants Active", func() bool {
			n, _ := storetest.DB(t, e.st).Collection(store.CollTenantStatus).CountDocuments(ctxT(t), bson.D{{Key: "phase", Value: store.PhaseActive}})
			return n == int64(len(ids))
		})
	})

	t.Run("no self-trigger", func(t *testing.T) {
		e := newEnv(t)
		e.start()
		testNoSelfTrigger(t, e, e.waitChecks)
	})

	t.Run("restart resumes from the stored token", func(t *testing.T) {
		e := newEnv(t)
		e.start()
		tn := e.createTenant("resume")
		e.waitPhase(tn.ID, store.PhaseActive)
		var stored bson.Raw
		eventually(t, 10*time.Second, "resume token stored", func() bool {
			stored, _ = e.st.ResumeToken(ctxT(t))
			return stored != nil
		})
		e.stop()
		if _, err := e.st.UpdateSpec(ctxT(t), "resume", 0, func(s *store.Spec) error { s.Name = "While down"; return nil }); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var opened []bson.Raw
		e.start(func(c *Controller) {
			open := c.openStream
			c.openStream = func(ctx context.Context, token bson.Raw) (changeStream, error) {
				mu.Lock()
				opened = append(opened, token)
				mu.Unlock()
				return open(ctx, token)
			}
		})
		eventually(t, 20*time.Second, "generation 2 applied", func() bool {
			st := e.status(tn.ID)
			return st.ObservedGeneration == 2 && st.Phase == store.PhaseActive
		})
		mu.Lock()
		defer mu.Unlock()
		if len(opened) == 0 || string(opened[0]) != string(stored) {
			t.Errorf("the new leader opened its stream with %v, want the stored token %v", opened, stored)
		}
	})
}
