package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/dezky/platform-api/controller/workqueue"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

func TestErrorClassification(t *testing.T) {
	cases := map[string]struct {
		err                  error
		noStreams, lost, ref bool
	}{
		"FerretDB collection watch (238)": {err: mongo.CommandError{Code: 238, Name: "NotImplemented", Message: "`aggregate` stage \"$changeStream\" is not implemented yet"}, noStreams: true, ref: true},
		"standalone mongod (40573)":       {err: mongo.CommandError{Code: 40573, Message: "The $changeStream stage is only supported on replica sets"}, noStreams: true, ref: true},
		"FerretDB database watch (9)":     {err: mongo.CommandError{Code: 9, Message: "not implemented"}, noStreams: true, ref: true},
		"not implemented, other code":     {err: mongo.CommandError{Code: 1, Message: "Watch is not implemented"}, noStreams: true, ref: true},
		"history lost (286)":              {err: mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost"}, lost: true, ref: true},
		"fatal (280)":                     {err: mongo.CommandError{Code: 280, Name: "ChangeStreamFatalError"}, lost: true, ref: true},
		"wrapped history lost":            {err: fmt.Errorf("next: %w", mongo.CommandError{Code: 286}), lost: true, ref: true},
		"network":                         {err: mongo.CommandError{Code: 6, Labels: []string{"NetworkError"}}},
		"plain error":                     {err: errors.New("connection refused")},
		"timeout":                         {err: context.DeadlineExceeded},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := [3]bool{noChangeStreams(tc.err), historyLost(tc.err), serverRefused(tc.err)}
			want := [3]bool{tc.noStreams, tc.lost, tc.ref}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("[noChangeStreams historyLost serverRefused] (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeStream is a scripted change stream: batches and a terminal error pushed by the test.
type fakeStream struct {
	feed chan any // []fakeEvent (one batch) or error

	mu      sync.Mutex
	batch   []fakeEvent
	current bson.Raw
	token   bson.Raw
	err     error
	closed  bool
}

type fakeEvent struct {
	op    string
	id    bson.ObjectID
	token string
}

func tok(s string) bson.Raw {
	raw, _ := bson.Marshal(bson.D{{Key: "_data", Value: s}})
	return raw
}

func (f *fakeStream) TryNext(ctx context.Context) bool {
	f.mu.Lock()
	if len(f.batch) == 0 && f.err == nil {
		f.mu.Unlock()
		select { // an awaitData getMore: wait a little for a batch
		case v := <-f.feed:
			f.mu.Lock()
			switch v := v.(type) {
			case error:
				f.err = v
			case []fakeEvent:
				f.batch = v
			}
		case <-ctx.Done():
			f.mu.Lock()
			f.err = ctx.Err()
		case <-time.After(20 * time.Millisecond):
			f.mu.Lock()
		}
	}
	defer f.mu.Unlock()
	if f.err != nil || len(f.batch) == 0 {
		return false
	}
	ev := f.batch[0]
	f.batch = f.batch[1:]
	f.current, _ = bson.Marshal(bson.D{
		{Key: "_id", Value: tok(ev.token)}, {Key: "operationType", Value: ev.op},
		{Key: "documentKey", Value: bson.D{{Key: "_id", Value: ev.id}}},
	})
	f.token = tok(ev.token)
	return true
}

func (f *fakeStream) Event() bson.Raw { f.mu.Lock(); defer f.mu.Unlock(); return f.current }
func (f *fakeStream) ResumeToken() bson.Raw {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.token
}
func (f *fakeStream) RemainingBatchLength() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.batch)
}
func (f *fakeStream) ID() int64  { return 1 }
func (f *fakeStream) Err() error { f.mu.Lock(); defer f.mu.Unlock(); return f.err }
func (f *fakeStream) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// fakeServer hands out fake streams and records the token each open was asked to resume
// after; openErr, when set, refuses the next open.
type fakeServer struct {
	mu      sync.Mutex
	opens   []string // token's _data, "" for none
	streams []*fakeStream
	openErr []error
}

func (s *fakeServer) open(ctx context.Context, token bson.Raw) (changeStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := ""
	if token != nil {
		data = token.Lookup("_data").StringValue()
	}
	s.opens = append(s.opens, data)
	if len(s.openErr) > 0 {
		err := s.openErr[0]
		s.openErr = s.openErr[1:]
		if err != nil {
			return nil, err
		}
	}
	fs := &fakeStream{feed: make(chan any, 4)}
	s.streams = append(s.streams, fs)
	return fs, nil
}

func (s *fakeServer) latest() *fakeStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[len(s.streams)-1]
}

func (s *fakeServer) openTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.opens...)
}

func (s *fakeServer) numStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// watchHarness runs a watcher against a fake server, with a real store for the token.
type watchHarness struct {
	t       *testing.T
	st      *store.Store
	c       *Controller
	srv     *fakeServer
	s       *session
	resyncs chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

func newWatchHarness(t *testing.T, storedToken string, openErrs ...error) *watchHarness {
	st := storetest.NewStore(t)
	if storedToken != "" {
		if err := st.SaveResumeToken(ctxT(t), tok(storedToken)); err != nil {
			t.Fatal(err)
		}
	}
	h := &watchHarness{t: t, st: st, srv: &fakeServer{openErr: openErrs}, resyncs: make(chan struct{}, 16)}
	h.c = New(st, nil, testOptions())
	h.c.openStream = h.srv.open
	h.s = &session{term: 1, q: workqueue.New[bson.ObjectID](workqueue.Options{})}
	t.Cleanup(h.s.q.ShutDown)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	src := h.c.openSource(ctx, h.s, func() { h.resyncs <- struct{}{} })
	go func() { defer close(h.done); src.run(ctx) }()
	t.Cleanup(func() { cancel(); <-h.done })
	return h
}

// registry exposes the harness controller's metrics for reading.
func (h *watchHarness) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	if err := h.c.m.register(reg); err != nil {
		h.t.Fatal(err)
	}
	return reg
}

func (h *watchHarness) storedToken() string {
	raw, err := h.st.ResumeToken(ctxT(h.t))
	if err != nil {
		h.t.Fatal(err)
	}
	if raw == nil {
		return ""
	}
	return raw.Lookup("_data").StringValue()
}

// queued takes n keys from the queue (in order).
func (h *watchHarness) queued(n int) []bson.ObjectID {
	var out []bson.ObjectID
	for range n {
		k, _, _ := h.s.q.Get()
		h.s.q.Done(k)
		out = append(out, k)
	}
	return out
}

// TestWatchSavesTokenAfterEachBatch: events are queued by documentKey._id, and the resume
// token is stored once the batch is handled; a restart resumes after it.
func TestWatchSavesTokenAfterEachBatch(t *testing.T) {
	h := newWatchHarness(t, "t0")
	if diff := cmp.Diff([]string{"t0"}, h.srv.openTokens()); diff != "" {
		t.Fatalf("first open must resume after the stored token (-want +got):\n%s", diff)
	}
	a, b := bson.NewObjectID(), bson.NewObjectID()
	h.srv.latest().feed <- []fakeEvent{{"insert", a, "t1"}, {"update", b, "t2"}, {"update", a, "t3"}}
	if diff := cmp.Diff([]bson.ObjectID{a, b}, h.queued(2)); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
	eventually(t, 5*time.Second, "token t3 stored", func() bool { return h.storedToken() == "t3" })
	if _, d := h.c.Readiness(); d["source"] != SourceChangeStream {
		t.Errorf("source %v", d)
	}
}

// TestWatchHistoryLost: ChangeStreamHistoryLost drops the token, reopens from now (no token)
// and asks for a full resync — and does not reopen with the dead token again.
func TestWatchHistoryLost(t *testing.T) {
	for name, end := range map[string]func(*fakeStream){
		"history lost": func(f *fakeStream) { f.feed <- mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost"} },
		"invalidate":   func(f *fakeStream) { f.feed <- []fakeEvent{{op: "invalidate", token: "t-inv"}} },
	} {
		t.Run(name, func(t *testing.T) {
			h := newWatchHarness(t, "t0")
			h.srv.latest().feed <- []fakeEvent{{"insert", bson.NewObjectID(), "t1"}}
			eventually(t, 5*time.Second, "t1 stored", func() bool { return h.storedToken() == "t1" })
			end(h.srv.latest())
			select {
			case <-h.resyncs:
			case <-time.After(5 * time.Second):
				t.Fatal("no resync requested")
			}
			eventually(t, 5*time.Second, "reopened", func() bool { return h.srv.numStreams() == 2 })
			if diff := cmp.Diff([]string{"t0", ""}, h.srv.openTokens()); diff != "" {
				t.Errorf("opens (-want +got):\n%s", diff)
			}
			if tok := h.storedToken(); tok != "" {
				t.Errorf("dead token %q still stored", tok)
			}
			if v := gauge(t, h.registry(), "platform_watch_restarts_total", nil); v != 1 {
				t.Errorf("watch restarts = %v, want 1", v)
			}
			// The new stream works and its token is stored.
			id := bson.NewObjectID()
			h.srv.latest().feed <- []fakeEvent{{"insert", id, "n1"}}
			if got := h.queued(2); got[1] != id { // the first key is the pre-failure insert
				t.Errorf("queued %v, want %v last", got, id)
			}
			eventually(t, 5*time.Second, "n1 stored", func() bool { return h.storedToken() == "n1" })
		})
	}
}

// TestWatchRefusedToken: a stored token the server refuses is dropped at open, the stream
// opens from now and a resync is asked for.
func TestWatchRefusedToken(t *testing.T) {
	h := newWatchHarness(t, "dead", mongo.CommandError{Code: 280, Name: "ChangeStreamFatalError", Message: "cannot resume"})
	if diff := cmp.Diff([]string{"dead", ""}, h.srv.openTokens()); diff != "" {
		t.Errorf("opens (-want +got):\n%s", diff)
	}
	select {
	case <-h.resyncs:
	case <-time.After(5 * time.Second):
		t.Fatal("no resync requested")
	}
	if tok := h.storedToken(); tok != "" {
		t.Errorf("refused token %q still stored", tok)
	}
}

// TestWatchFallsBackToPoll: a server that refuses change streams gets the poll source.
func TestWatchFallsBackToPoll(t *testing.T) {
	h := newWatchHarness(t, "", mongo.CommandError{Code: 40573, Message: "The $changeStream stage is only supported on replica sets"})
	if _, d := h.c.Readiness(); d["source"] != SourcePoll {
		t.Fatalf("source %v, want poll", d)
	}
	tn, err := h.st.CreateTenant(ctxT(t), newTenantSpec("polled"))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.queued(1); got[0] != tn.ID {
		t.Errorf("queued %v, want %v", got, tn.ID)
	}
	if v := gauge(t, h.registry(), "platform_watch_source", map[string]string{"source": SourcePoll}); v != 1 {
		t.Errorf("platform_watch_source{source=poll} = %v", v)
	}
}
