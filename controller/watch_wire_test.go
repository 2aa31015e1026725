package controller

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/controller/workqueue"
	"github.com/dezky/platform-api/internal/mongowire"
	"github.com/dezky/platform-api/store"
)

// These tests drive the change source through the real driver against mongowire, a loopback
// server that answers as MongoDB documents it (hello of a replica-set primary, aggregate with
// $changeStream, getMore batches with postBatchResumeToken, resumable and fatal errors,
// invalidate). They need no MongoDB: the wire is the seam, so they hold whichever Go code
// opens the stream. What they observe is what the driver sent (every command is logged),
// what the source queued, and the resume token in the store.

const wireDB = "dezky"

var wireNS = wireDB + "." + store.CollTenants

// wireHarness is one controller process: a store opened on the server, a controller, and its
// change source feeding a queue.
type wireHarness struct {
	t       *testing.T
	srv     *mongowire.Server
	st      *store.Store
	c       *Controller
	q       *workqueue.Queue[bson.ObjectID]
	resyncs atomic.Int64
	stop    func()
}

// startWire opens the change source the way a new leader does (openSource, then run).
func startWire(t *testing.T, srv *mongowire.Server) *wireHarness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URI: srv.URI(), Database: wireDB, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := &wireHarness{t: t, srv: srv, st: st, c: New(st, nil, testOptions())}
	h.q = workqueue.New[bson.ObjectID](workqueue.Options{})
	s := &session{term: 1, q: h.q}
	runCtx, stopRun := context.WithCancel(context.Background())
	src := h.c.openSource(runCtx, s, func() { h.resyncs.Add(1) })
	done := make(chan struct{})
	go func() { defer close(done); src.run(runCtx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			stopRun()
			<-done
			h.q.ShutDown()
		})
	}
	t.Cleanup(func() {
		h.stop()
		_ = st.Close(context.Background())
	})
	return h
}

// storedToken reads the resume token the way the next leader will.
func (h *wireHarness) storedToken() bson.Raw {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := h.st.ResumeToken(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *wireHarness) waitStored(want bson.Raw, what string) {
	h.t.Helper()
	eventually(h.t, 10*time.Second, what+": stored token "+tokData(want), func() bool {
		return bytes.Equal(h.storedToken(), want)
	})
}

// waitQueued waits until at least len(want) tenants are queued, takes them all and compares
// them with want: none lost, none that should not be there. (The queue de-duplicates; only
// this helper takes from it.)
func (h *wireHarness) waitQueued(want ...bson.ObjectID) {
	h.t.Helper()
	eventually(h.t, 10*time.Second, fmt.Sprintf("%d tenants queued", len(want)), func() bool { return h.q.Len() >= len(want) })
	var got []bson.ObjectID
	for h.q.Len() > 0 {
		k, _, _ := h.q.Get()
		h.q.Done(k)
		got = append(got, k)
	}
	sortIDs := cmpopts.SortSlices(func(a, b bson.ObjectID) bool { return a.Hex() < b.Hex() })
	if diff := cmp.Diff(want, got, sortIDs); diff != "" {
		h.t.Errorf("queued tenants (-want +got):\n%s", diff)
	}
}

// metric reads one of the controller's metrics.
func (h *wireHarness) metric(name string, labels map[string]string) float64 {
	reg := prometheus.NewRegistry()
	if err := h.c.m.register(reg); err != nil {
		h.t.Fatal(err)
	}
	return gauge(h.t, reg, name, labels)
}

// opens returns the $changeStream stage of every aggregate sent on tenants, in order.
func opens(srv *mongowire.Server) []bson.Raw {
	var out []bson.Raw
	for _, c := range srv.Commands("aggregate") {
		if c.Namespace() != wireNS {
			continue
		}
		stage, _ := c.Body.Lookup("pipeline", "0", "$changeStream").DocumentOK()
		out = append(out, stage)
	}
	return out
}

// resumeAfter returns a $changeStream stage's resumeAfter token, nil when it has none.
func resumeAfter(stage bson.Raw) bson.Raw {
	tok, _ := stage.Lookup("resumeAfter").DocumentOK()
	return tok
}

// fromNow reports whether a $changeStream stage starts at the present: no resume point.
func fromNow(stage bson.Raw) bool {
	for _, k := range []string{"resumeAfter", "startAfter", "startAtOperationTime"} {
		if _, err := stage.LookupErr(k); err == nil {
			return false
		}
	}
	return true
}

// insertChanges writes n new tenants' inserts to the oplog as one batch and returns the ids
// and the batch's post-batch token (the end of the oplog after them).
func insertChanges(srv *mongowire.Server, n int) ([]bson.ObjectID, bson.Raw) {
	ids := make([]bson.ObjectID, n)
	changes := make([]mongowire.Change, n)
	for i := range ids {
		ids[i] = bson.NewObjectID()
		changes[i] = mongowire.Change{Op: "insert", ID: ids[i]}
	}
	srv.Changes(wireNS, changes...)
	return ids, srv.HighWaterMark(wireNS)
}

// tokenIn finds the resume token a command carries (a token write stores one), wherever the
// store puts it in the document.
func tokenIn(doc bson.Raw) bson.Raw {
	elems, _ := doc.Elements()
	for _, e := range elems {
		var sub bson.Raw
		switch v := e.Value(); v.Type {
		case bson.TypeEmbeddedDocument:
			sub = v.Document()
		case bson.TypeArray:
			sub = bson.Raw(v.Array())
		default:
			continue
		}
		if _, ok := mongowire.ResumePosition(sub); ok {
			return sub
		}
		if tok := tokenIn(sub); tok != nil {
			return tok
		}
	}
	return nil
}

// tokenWrites returns the tokens written to controller_state, in order.
func tokenWrites(srv *mongowire.Server) []bson.Raw {
	var out []bson.Raw
	for _, c := range srv.Commands() {
		if c.Collection() == store.CollControllerState && c.Name != "find" {
			if tok := tokenIn(c.Body); tok != nil {
				out = append(out, tok)
			}
		}
	}
	return out
}

func tokData(tok bson.Raw) string {
	if tok == nil {
		return "<none>"
	}
	s, _ := tok.Lookup("_data").StringValueOK()
	return s
}

// getMores counts the getMores sent on tenants.
func getMores(srv *mongowire.Server) int {
	n := 0
	for _, c := range srv.Commands("getMore") {
		if c.Collection() == store.CollTenants {
			n++
		}
	}
	return n
}

// TestWireTokenSavedAfterBatchQueued: events arrive in batches; the resume token is written
// only once every event of its batch is queued — the check runs at the server, at the moment
// the write arrives, while the controller waits for the answer. Then the process dies while
// recording a received batch as handled; the next process resumes after the last recorded
// batch and queues the lost one: nothing is lost across the crash.
func TestWireTokenSavedAfterBatchQueued(t *testing.T) {
	srv := mongowire.Start(t, mongowire.Options{})
	h := startWire(t, srv)

	var mu sync.Mutex
	var problems []string
	var saved []int // oplog positions of the tokens written
	srv.OnCommand(func(c mongowire.Command) {
		if c.Collection() != store.CollControllerState {
			return
		}
		tok := tokenIn(c.Body)
		if tok == nil {
			return
		}
		pos, _ := mongowire.ResumePosition(tok)
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, pos)
		if n := h.q.Len(); n != pos {
			problems = append(problems, fmt.Sprintf("token after change %d written with %d changes queued", pos, n))
		}
	})

	var all []bson.ObjectID
	batchEnds := map[int]bool{0: true}
	for _, n := range []int{3, 1, 4} {
		ids, end := insertChanges(srv, n)
		all = append(all, ids...)
		batchEnds[len(all)] = true
		h.waitStored(end, fmt.Sprintf("batch of %d", n))
	}
	mu.Lock()
	if len(saved) < 3 {
		t.Errorf("the server saw %d token writes, want one per batch at least", len(saved))
	}
	if len(problems) > 0 {
		t.Errorf("token written before its batch was queued: %v", problems)
	}
	for _, pos := range saved {
		if !batchEnds[pos] {
			t.Errorf("a token inside a batch was written (after change %d; batches end at %v)", pos, batchEnds)
		}
	}
	mu.Unlock()
	h.waitQueued(all...)

	// The process dies while it records the next batch as handled: every write of the
	// token fails (the driver retries the write once) until the process is gone.
	recorded := h.storedToken()
	crash := srv.Inject(mongowire.Fault{Command: "update", Times: -1, CloseConnection: true,
		Match: func(c mongowire.Command) bool { return c.Collection() == store.CollControllerState }})
	lost, _ := insertChanges(srv, 2)
	eventually(t, 10*time.Second, "the token write of the last batch", func() bool { return crash.Hits() > 0 })
	h.stop()
	crash.Remove()
	srv.OnCommand(nil)
	if got := h.storedToken(); !bytes.Equal(got, recorded) {
		t.Fatalf("stored token %s, want the last recorded batch's %s", tokData(got), tokData(recorded))
	}

	h2 := startWire(t, srv)
	o := opens(srv)
	if got := resumeAfter(o[len(o)-1]); !bytes.Equal(got, recorded) {
		t.Errorf("the new process resumed after %s, want the stored %s", tokData(got), tokData(recorded))
	}
	h2.waitQueued(lost...)
	if n := h2.resyncs.Load(); n != 0 {
		t.Errorf("%d resyncs asked for; the stored token was good", n)
	}
}

// TestWireIdlePostBatchToken: an idle stream's getMores bring empty batches whose
// postBatchResumeToken moves on with the cluster time. The watcher writes the first one at
// once, then keeps newer ones in memory (written at most every idleTokenSave): after a
// failure it reopens after the newest, not the stored one. A batch of events is written at
// once whatever the idle timer says.
func TestWireIdlePostBatchToken(t *testing.T) {
	srv := mongowire.Start(t, mongowire.Options{})
	h := startWire(t, srv)
	if o := opens(srv); len(o) != 1 || !fromNow(o[0]) {
		t.Fatalf("first open %v, want one from now (nothing stored)", o)
	}
	first := srv.HighWaterMark(wireNS)
	h.waitStored(first, "the first idle post-batch token")

	newer := srv.Advance(wireNS)
	n := getMores(srv)
	// Two getMores later one reply was built after Advance and the watcher has handled it.
	eventually(t, 10*time.Second, "two more idle getMores", func() bool { return getMores(srv) >= n+2 })
	if got := h.storedToken(); !bytes.Equal(got, first) {
		t.Errorf("stored %s within idleTokenSave of the last write, want still %s", tokData(got), tokData(first))
	}
	if w := tokenWrites(srv); len(w) != 1 {
		t.Errorf("%d token writes on an idle stream, want 1", len(w))
	}

	// A failure the driver does not resume (Interrupted, no resumable label): the watcher
	// reopens by itself, after the newest token it saw.
	srv.Inject(mongowire.Fault{Command: "getMore", Err: mongowire.Error(11601, "Interrupted", "operation was interrupted")})
	eventually(t, 10*time.Second, "the watcher reopens", func() bool { return len(opens(srv)) == 2 })
	if got := resumeAfter(opens(srv)[1]); !bytes.Equal(got, newer) {
		t.Errorf("reopened after %s, want the newest post-batch token %s", tokData(got), tokData(newer))
	}
	if v := h.metric("platform_watch_restarts_total", nil); v != 1 {
		t.Errorf("watch restarts = %v, want 1", v)
	}

	ids, end := insertChanges(srv, 2)
	h.waitQueued(ids...)
	h.waitStored(end, "a batch of events")
	if n := h.resyncs.Load(); n != 0 {
		t.Errorf("%d resyncs asked for; no history was lost", n)
	}
}

// TestWireResumableErrors: a getMore fails in a way the change-streams spec calls resumable
// while changes are written. The driver resumes by itself after the last token (the watcher
// sees nothing), or, when its own resume fails too, the watcher reopens after its last token.
// Either way every change is queued and no resync is needed.
func TestWireResumableErrors(t *testing.T) {
	resumable := func(code int32, name string) mongowire.Fault {
		return mongowire.Fault{Command: "getMore", Err: mongowire.Error(code, name, name, "ResumableChangeStreamError")}
	}
	cases := map[string]struct {
		fault mongowire.Fault
		// resumeFails answers the driver's own resume (and its one retry) with a network error.
		resumeFails  bool
		wantRestarts float64
	}{
		"NotWritablePrimary (10107)":      {fault: resumable(10107, "NotWritablePrimary")},
		"ShutdownInProgress (91)":         {fault: resumable(91, "ShutdownInProgress")},
		"PrimarySteppedDown (189)":        {fault: resumable(189, "PrimarySteppedDown")},
		"ExceededTimeLimit (262)":         {fault: resumable(262, "ExceededTimeLimit")},
		"CursorNotFound (43), no label":   {fault: mongowire.Fault{Command: "getMore", Err: mongowire.Error(43, "CursorNotFound", "cursor id 1 not found")}},
		"connection lost":                 {fault: mongowire.Fault{Command: "getMore", CloseConnection: true}},
		"driver's resume fails: reopened": {fault: resumable(10107, "NotWritablePrimary"), resumeFails: true, wantRestarts: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // most wait for the driver to rediscover the primary
			srv := mongowire.Start(t, mongowire.Options{})
			h := startWire(t, srv)
			before, last := insertChanges(srv, 2)
			h.waitStored(last, "first batch")
			h.waitQueued(before...)

			var during []bson.ObjectID
			f := tc.fault
			f.OnHit = func(mongowire.Command) { during, _ = insertChanges(srv, 3) }
			if tc.resumeFails {
				srv.Inject(mongowire.Fault{Command: "aggregate", Times: 2, CloseConnection: true})
			}
			hit := srv.Inject(f)
			eventually(t, 10*time.Second, "the fault fires", func() bool { return hit.Hits() == 1 })
			h.waitQueued(during...)

			o := opens(srv)
			if got := resumeAfter(o[len(o)-1]); !bytes.Equal(got, last) {
				t.Errorf("resumed after %s, want the last batch's token %s", tokData(got), tokData(last))
			}
			if v := h.metric("platform_watch_restarts_total", nil); v != tc.wantRestarts {
				t.Errorf("watch restarts = %v, want %v", v, tc.wantRestarts)
			}
			if n := h.resyncs.Load(); n != 0 {
				t.Errorf("%d resyncs asked for; nothing was lost", n)
			}
			h.waitStored(srv.HighWaterMark(wireNS), "after the resume")
		})
	}
}

// TestWireReopenTransientError: the stream fails (not resumably) while the primary steps down
// or shuts down, and the watcher's reopen meets that too, after the driver's one retry. Such
// an error says nothing about the token: the watcher keeps it, retries, and resumes after it,
// so the changes written meanwhile come through the stream and no full resync is needed.
func TestWireReopenTransientError(t *testing.T) {
	cases := map[string]*mongowire.CommandError{
		"NotWritablePrimary (10107)":              mongowire.Error(10107, "NotWritablePrimary", "not primary"),
		"ShutdownInProgress (91)":                 mongowire.Error(91, "ShutdownInProgress", "The server is in quiesce mode and will shut down"),
		"InterruptedDueToReplStateChange (11602)": mongowire.Error(11602, "InterruptedDueToReplStateChange", "operation was interrupted"),
	}
	for name, refusal := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each waits out the watcher's backoff twice
			srv := mongowire.Start(t, mongowire.Options{})
			h := startWire(t, srv)
			before, last := insertChanges(srv, 1)
			h.waitStored(last, "first batch")
			h.waitQueued(before...)

			var during []bson.ObjectID
			srv.Inject(mongowire.Fault{Command: "getMore", Err: mongowire.Error(11601, "Interrupted", "operation was interrupted"),
				OnHit: func(mongowire.Command) { during, _ = insertChanges(srv, 2) }})
			refused := srv.Inject(mongowire.Fault{Command: "aggregate", Times: 2, Err: refusal})
			eventually(t, 10*time.Second, "the reopen meets the error", func() bool { return refused.Hits() == 2 })
			h.waitQueued(during...)

			for i, stage := range opens(srv)[1:] {
				if got := resumeAfter(stage); !bytes.Equal(got, last) {
					t.Errorf("reopen %d after %s, want %s", i+1, tokData(got), tokData(last))
				}
			}
			if n := h.resyncs.Load(); n != 0 {
				t.Errorf("%d resyncs asked for; the token was never refused", n)
			}
			if got := h.storedToken(); got == nil {
				t.Error("the resume token was dropped")
			}
		})
	}
}

// TestTransientErrorIsNoRefusal: the errors of a node in transition are not an answer about
// the request, so they never make the watcher drop its token; an answer about it still does.
func TestTransientErrorIsNoRefusal(t *testing.T) {
	cases := map[string]struct {
		err  error
		want bool
	}{
		"NotWritablePrimary (10107)":             {err: mongo.CommandError{Code: 10107, Name: "NotWritablePrimary"}},
		"ShutdownInProgress (91)":                {err: mongo.CommandError{Code: 91, Name: "ShutdownInProgress"}},
		"PrimarySteppedDown (189)":               {err: mongo.CommandError{Code: 189, Name: "PrimarySteppedDown"}},
		"InterruptedDueToReplStateChange":        {err: mongo.CommandError{Code: 11602, Name: "InterruptedDueToReplStateChange"}},
		"labelled ResumableChangeStreamError":    {err: mongo.CommandError{Code: 1, Labels: []string{"ResumableChangeStreamError"}}},
		"ChangeStreamHistoryLost (286)":          {err: mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost"}, want: true},
		"InvalidResumeToken (260)":               {err: mongo.CommandError{Code: 260, Name: "InvalidResumeToken"}, want: true},
		"ChangeStreamFatalError (280), labelled": {err: mongo.CommandError{Code: 280, Labels: []string{"NonResumableChangeStreamError"}}, want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := serverRefused(tc.err); got != tc.want {
				t.Errorf("serverRefused(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestWireHistoryLost: the stream cannot go on from its token — ChangeStreamHistoryLost (286)
// or ChangeStreamFatalError (280) on a getMore, or 286 when the stored token fell off the oplog
// while no controller ran. The watcher drops the token, reopens from now (never with the dead
// token) and asks for a full resync; the new stream then works and its token is stored.
func TestWireHistoryLost(t *testing.T) {
	fatal := func(code int32, name, msg string) func(*mongowire.Server) {
		return func(srv *mongowire.Server) {
			srv.Inject(mongowire.Fault{Command: "getMore", Err: mongowire.Error(code, name, msg, "NonResumableChangeStreamError")})
		}
	}
	cases := map[string]struct {
		// restart stops the first process and starts a second after the history is lost.
		restart      bool
		lose         func(*mongowire.Server)
		wantRestarts float64
	}{
		"286 on getMore": {lose: fatal(286, "ChangeStreamHistoryLost",
			"Resume of change stream was not possible, as the resume point may no longer be in the oplog."), wantRestarts: 1},
		"280 on getMore": {lose: fatal(280, "ChangeStreamFatalError", "cannot resume stream"), wantRestarts: 1},
		"286 on resuming the stored token": {restart: true, lose: func(srv *mongowire.Server) {
			insertChanges(srv, 2) // written while no controller ran, then rolled off the oplog
			srv.LoseHistory(wireNS)
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := mongowire.Start(t, mongowire.Options{})
			h := startWire(t, srv)
			ids, dead := insertChanges(srv, 1)
			h.waitStored(dead, "first batch")
			h.waitQueued(ids...)
			if tc.restart {
				h.stop()
			}
			nOpens := len(opens(srv))
			tc.lose(srv)
			if tc.restart {
				h = startWire(t, srv)
			}

			eventually(t, 10*time.Second, "a full resync asked for", func() bool { return h.resyncs.Load() > 0 })
			eventually(t, 10*time.Second, "reopened", func() bool { return len(opens(srv)) >= nOpens+2 || !tc.restart && len(opens(srv)) >= nOpens+1 })
			o := opens(srv)
			if last := o[len(o)-1]; !fromNow(last) {
				t.Errorf("reopened with %v, want from now", last)
			}
			for i, stage := range o[nOpens:] {
				if tok := resumeAfter(stage); tok != nil && !bytes.Equal(tok, dead) {
					t.Errorf("open %d resumed after %s, which no one stored", i, tokData(tok))
				}
			}
			if v := h.metric("platform_watch_restarts_total", nil); v != tc.wantRestarts {
				t.Errorf("watch restarts = %v, want %v", v, tc.wantRestarts)
			}
			dropped := false // a write to controller_state without a token: the drop
			for _, c := range srv.Commands() {
				dropped = dropped || c.Collection() == store.CollControllerState && c.Name != "find" && tokenIn(c.Body) == nil
			}
			if !dropped {
				t.Error("the dead token was not dropped from the store")
			}

			fresh, end := insertChanges(srv, 2)
			h.waitQueued(fresh...)
			h.waitStored(end, "the new stream's batch")
		})
	}
}

// TestWireInvalidate: a drop or rename of tenants ends every stream on it with the event and
// an invalidate (the cursor closes). The watcher treats it like lost history: it drops the
// token, reopens from now (resuming after an invalidate is refused with 260) and asks for a
// full resync. The drop's own token is never stored.
func TestWireInvalidate(t *testing.T) {
	cases := map[string]func(*mongowire.Server) []bson.Raw{
		"drop":   func(srv *mongowire.Server) []bson.Raw { return srv.Drop(wireNS) },
		"rename": func(srv *mongowire.Server) []bson.Raw { return srv.Rename(wireNS, wireDB+".tenants_old") },
	}
	for name, end := range cases {
		t.Run(name, func(t *testing.T) {
			srv := mongowire.Start(t, mongowire.Options{})
			h := startWire(t, srv)
			ids, last := insertChanges(srv, 1)
			h.waitStored(last, "first batch")
			h.waitQueued(ids...)

			endToks := end(srv)
			eventually(t, 10*time.Second, "a full resync asked for", func() bool { return h.resyncs.Load() > 0 })
			eventually(t, 10*time.Second, "reopened", func() bool { return len(opens(srv)) == 2 })
			if o := opens(srv); !fromNow(o[1]) {
				t.Errorf("reopened with %v, want from now", o[1])
			}
			for _, tok := range tokenWrites(srv) {
				for _, e := range endToks {
					if bytes.Equal(tok, e) {
						t.Errorf("the %s event's token was stored", name)
					}
				}
			}
			if v := h.metric("platform_watch_restarts_total", nil); v != 1 {
				t.Errorf("watch restarts = %v, want 1", v)
			}

			// The collection comes back with the next tenant the API writes.
			fresh, end := insertChanges(srv, 1)
			h.waitQueued(fresh...)
			h.waitStored(end, "the new stream's batch")
		})
	}
}

// TestWireFallsBackToPoll: a server without change streams refuses the first aggregate —
// standalone mongod 40573, FerretDB 238 (collection watch) or 9 — and the controller polls
// instead, once, without retrying the stream: the metric and Readiness say poll, and a
// tenant written afterwards is queued by the poll.
func TestWireFallsBackToPoll(t *testing.T) {
	cases := map[string]*mongowire.CommandError{
		"standalone mongod (40573)": nil, // the server's own answer
		"FerretDB (238)":            mongowire.Error(238, "NotImplemented", "`aggregate` stage \"$changeStream\" is not implemented yet"),
		"FerretDB (9)":              mongowire.Error(9, "FailedToParse", "$changeStream is not implemented"),
	}
	for name, refusal := range cases {
		t.Run(name, func(t *testing.T) {
			srv := mongowire.Start(t, mongowire.Options{Standalone: true})
			if refusal != nil {
				srv.Inject(mongowire.Fault{Command: "aggregate", Err: refusal})
			}
			h := startWire(t, srv)
			if _, d := h.c.Readiness(); d["source"] != SourcePoll {
				t.Fatalf("source %v, want poll", d)
			}
			if v := h.metric("platform_watch_source", map[string]string{"source": SourcePoll}); v != 1 {
				t.Errorf("platform_watch_source{source=poll} = %v, want 1", v)
			}
			if v := h.metric("platform_watch_source", map[string]string{"source": SourceChangeStream}); v != 0 {
				t.Errorf("platform_watch_source{source=changestream} = %v, want 0", v)
			}

			id := writeTenant(t, srv)
			h.waitQueued(id)
			if n := len(opens(srv)); n != 1 {
				t.Errorf("%d change-stream opens, want 1 (no retry on a server without them)", n)
			}
		})
	}
}

// TestWireLosesChangeStreams: a server that stops offering change streams while the stream
// runs (reopened against a standalone) gets the poll source and a full resync for the gap.
func TestWireLosesChangeStreams(t *testing.T) {
	srv := mongowire.Start(t, mongowire.Options{})
	h := startWire(t, srv)
	if _, d := h.c.Readiness(); d["source"] != SourceChangeStream {
		t.Fatalf("source %v, want changestream", d)
	}
	srv.Inject(mongowire.Fault{Command: "aggregate", Times: -1,
		Err: mongowire.Error(40573, "Location40573", "The $changeStream stage is only supported on replica sets")})
	srv.Inject(mongowire.Fault{Command: "getMore", Err: mongowire.Error(11601, "Interrupted", "operation was interrupted")})
	eventually(t, 10*time.Second, "poll source", func() bool {
		_, d := h.c.Readiness()
		return d["source"] == SourcePoll
	})
	if n := h.resyncs.Load(); n == 0 {
		t.Error("no resync asked for the gap")
	}
	id := writeTenant(t, srv)
	h.waitQueued(id)
}

// TestWireRestartResumesStoredToken: a controller that starts where another stopped opens
// its stream with resumeAfter exactly the stored token, queues what was written while none
// ran, and asks for no resync.
func TestWireRestartResumesStoredToken(t *testing.T) {
	srv := mongowire.Start(t, mongowire.Options{})
	h := startWire(t, srv)
	ids, tok := insertChanges(srv, 2)
	h.waitStored(tok, "first batch")
	h.waitQueued(ids...)
	h.stop()
	stored := h.storedToken()

	down, end := insertChanges(srv, 3)
	h2 := startWire(t, srv)
	o := opens(srv)
	if got := resumeAfter(o[len(o)-1]); !bytes.Equal(got, stored) {
		t.Errorf("the second controller resumed after %s, want exactly the stored %s", tokData(got), tokData(stored))
	}
	h2.waitQueued(down...)
	h2.waitStored(end, "the batch written while down")
	if n := h2.resyncs.Load(); n != 0 {
		t.Errorf("%d resyncs asked for; the stored token was good", n)
	}
}

// writeTenant writes a tenant document the way the API does (a fresh updatedAt and
// resourceVersion) with a client of its own, and returns its id.
func writeTenant(t *testing.T, srv *mongowire.Server) bson.ObjectID {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	id := bson.NewObjectID()
	_, err = client.Database(wireDB).Collection(store.CollTenants).InsertOne(ctxT(t), bson.D{
		{Key: "_id", Value: id},
		{Key: "metadata", Value: bson.D{{Key: "slug", Value: "polled"}, {Key: "resourceVersion", Value: int64(1)}, {Key: "updatedAt", Value: time.Now()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
