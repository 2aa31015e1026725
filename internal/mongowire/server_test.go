package mongowire_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/internal/mongowire"
)

const ns = "db.things"

func connect(t *testing.T, srv *mongowire.Server) *mongo.Collection {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database("db").Collection("things")
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestDriverCRUD: the driver discovers the server as a replica-set primary and its writes,
// reads and index builds get answers it accepts (retryable writes included).
func TestDriverCRUD(t *testing.T) {
	srv := mongowire.Start(t, mongowire.Options{})
	coll := connect(t, srv)
	if _, err := coll.Indexes().CreateOne(ctx(t), mongo.IndexModel{Keys: bson.D{{Key: "a", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	up, err := coll.UpdateOne(ctx(t), bson.D{{Key: "_id", Value: "k"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: int32(1)}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil || up.UpsertedID != "k" {
		t.Fatalf("upsert = %+v, %v", up, err)
	}
	if _, err := coll.UpdateOne(ctx(t), bson.D{{Key: "_id", Value: "k"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: int32(2)}}}}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		V int32 `bson:"v"`
	}
	if err := coll.FindOne(ctx(t), bson.D{{Key: "_id", Value: "k"}}).Decode(&got); err != nil || got.V != 2 {
		t.Fatalf("find = %+v, %v", got, err)
	}
	if del, err := coll.DeleteOne(ctx(t), bson.D{{Key: "_id", Value: "k"}}); err != nil || del.DeletedCount != 1 {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	if err := coll.FindOne(ctx(t), bson.D{{Key: "_id", Value: "k"}}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("find after delete = %v", err)
	}
	updates := srv.Commands("update")
	if len(updates) != 2 {
		t.Fatalf("%d updates recorded, want 2", len(updates))
	}
	// The driver sends the updates as an OP_MSG document sequence; the record folds it in.
	if _, err := updates[0].Body.LookupErr("updates", "0", "q", "_id"); err != nil {
		t.Errorf("update recorded without its statements: %v", updates[0].Body)
	}
	if _, err := updates[0].Body.LookupErr("txnNumber"); err != nil {
		t.Errorf("a replica-set primary gets retryable writes (txnNumber): %v", updates[0].Body)
	}
}

// TestChangeStream: events in batches, the post-batch token after a batch and on an idle
// stream, the $project stage applied, and a resumable getMore error resumed by the driver
// with resumeAfter the last token.
func TestChangeStream(t *testing.T) {
	srv := mongowire.Start(t, mongowire.Options{})
	coll := connect(t, srv)
	cs, err := coll.Watch(ctx(t), mongo.Pipeline{{{Key: "$project", Value: bson.D{{Key: "operationType", Value: 1}, {Key: "documentKey", Value: 1}}}}},
		options.ChangeStream().SetMaxAwaitTime(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close(context.Background())

	toks := srv.Changes(ns, mongowire.Change{Op: "insert", ID: 1}, mongowire.Change{Op: "update", ID: 2})
	var ids []int32
	var keys [][]string
	for len(ids) < 2 {
		if !cs.TryNext(ctx(t)) {
			if cs.Err() != nil {
				t.Fatal(cs.Err())
			}
			continue
		}
		ids = append(ids, cs.Current.Lookup("documentKey", "_id").Int32())
		var k []string
		elems, _ := cs.Current.Elements()
		for _, e := range elems {
			k = append(k, e.Key())
		}
		keys = append(keys, k)
		if len(ids) == 1 && cs.RemainingBatchLength() != 1 {
			t.Errorf("the two changes came in separate batches")
		}
	}
	if diff := cmp.Diff([]int32{1, 2}, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"_id", "operationType", "documentKey"}, keys[0]); diff != "" {
		t.Errorf("projected event fields (-want +got):\n%s", diff)
	}
	// After the last event of a batch the driver's token is the post-batch token (the end of
	// the oplog here), which resumes where the last event's token does.
	if !bytes.Equal(cs.ResumeToken(), srv.HighWaterMark(ns)) {
		t.Errorf("token after the batch = %v, want the post-batch token %v", cs.ResumeToken(), srv.HighWaterMark(ns))
	}
	if p, _ := mongowire.ResumePosition(cs.ResumeToken()); p != 2 {
		t.Errorf("token after the batch resumes after %d changes, want 2", p)
	}
	if p, _ := mongowire.ResumePosition(toks[1]); p != 2 {
		t.Errorf("the second change's token resumes after %d changes, want 2", p)
	}

	hwm := srv.Advance(ns)
	for !bytes.Equal(cs.ResumeToken(), hwm) {
		if cs.TryNext(ctx(t)) || cs.Err() != nil {
			t.Fatalf("idle stream returned an event or failed: %v", cs.Err())
		}
	}

	f := srv.Inject(mongowire.Fault{Command: "getMore", Err: mongowire.Error(10107, "NotWritablePrimary", "not primary", "ResumableChangeStreamError"),
		OnHit: func(mongowire.Command) { srv.Changes(ns, mongowire.Change{Op: "delete", ID: 3}) }})
	for !cs.TryNext(ctx(t)) {
		if cs.Err() != nil {
			t.Fatal(cs.Err())
		}
	}
	if f.Hits() != 1 || cs.Current.Lookup("documentKey", "_id").Int32() != 3 {
		t.Fatalf("after the resumable error: hits %d, event %v", f.Hits(), cs.Current)
	}
	aggs := srv.Commands("aggregate")
	if len(aggs) != 2 {
		t.Fatalf("%d aggregates, want 2 (open, resume)", len(aggs))
	}
	if got := aggs[1].Body.Lookup("pipeline", "0", "$changeStream", "resumeAfter"); !bytes.Equal(got.Value, hwm) {
		t.Errorf("resumed with resumeAfter %v, want %v", got, hwm)
	}
}

// TestChangeStreamErrors: mongod's refusals: a standalone has no change streams (40573), a
// token before the oplog's start is lost (286), a token of an invalidate cannot be resumed
// after (260).
func TestChangeStreamErrors(t *testing.T) {
	code := func(err error) int32 {
		var ce mongo.CommandError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v is not a server error", err)
		}
		return ce.Code
	}
	standalone := connect(t, mongowire.Start(t, mongowire.Options{Standalone: true}))
	if _, err := standalone.Watch(ctx(t), mongo.Pipeline{}); code(err) != 40573 {
		t.Errorf("standalone watch: %v", err)
	}

	srv := mongowire.Start(t, mongowire.Options{})
	coll := connect(t, srv)
	old := srv.Changes(ns, mongowire.Change{Op: "insert", ID: 1})[0]
	srv.LoseHistory(ns)
	if _, err := coll.Watch(ctx(t), mongo.Pipeline{}, options.ChangeStream().SetResumeAfter(old)); code(err) != 286 {
		t.Errorf("resume after a lost token: %v", err)
	}
	inv := srv.Drop(ns)[1]
	if _, err := coll.Watch(ctx(t), mongo.Pipeline{}, options.ChangeStream().SetResumeAfter(inv)); code(err) != 260 {
		t.Errorf("resume after an invalidate: %v", err)
	}
	if cs, err := coll.Watch(ctx(t), mongo.Pipeline{}, options.ChangeStream().SetStartAfter(inv)); err != nil {
		t.Errorf("start after an invalidate: %v", err)
	} else {
		_ = cs.Close(ctx(t))
	}
}
