package controller

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// idleTokenSave is how often the post-batch token of an idle stream is persisted: often
// enough that a quiet tenants collection's token never falls off the oplog, rarely enough
// that an idle controller does not write every second.
const idleTokenSave = time.Minute

var (
	errInvalidated  = errors.New("change stream invalidated")
	errStreamClosed = errors.New("change stream closed by the server")
)

// changeStream is what the watcher uses of *mongo.ChangeStream (tests fake it: no server here
// has change streams).
type changeStream interface {
	TryNext(ctx context.Context) bool
	Event() bson.Raw
	ResumeToken() bson.Raw
	RemainingBatchLength() int
	ID() int64
	Err() error
	Close(ctx context.Context) error
}

type mongoStream struct{ cs *mongo.ChangeStream }

func (m mongoStream) TryNext(ctx context.Context) bool { return m.cs.TryNext(ctx) }
func (m mongoStream) Event() bson.Raw                  { return m.cs.Current }
func (m mongoStream) ResumeToken() bson.Raw            { return m.cs.ResumeToken() }
func (m mongoStream) RemainingBatchLength() int        { return m.cs.RemainingBatchLength() }
func (m mongoStream) ID() int64                        { return m.cs.ID() }
func (m mongoStream) Err() error                       { return m.cs.Err() }
func (m mongoStream) Close(ctx context.Context) error  { return m.cs.Close(ctx) }

// watchTenants opens the change stream on tenants, resuming after token when there is one.
func (c *Controller) watchTenants(ctx context.Context, token bson.Raw) (changeStream, error) {
	cs, err := c.st.WatchTenants(ctx, token, time.Second)
	if err != nil {
		return nil, err
	}
	return mongoStream{cs: cs}, nil
}

// watcher is the change-stream source. It queues documentKey._id of every event and persists
// the resume token in controller_state after each handled batch, so a restarted leader resumes
// where the last one stopped (and the start-up resync covers anything in between). Lost
// history or an invalidate drops the token, reopens from now and asks for a full resync: it
// never loops on a dead token.
type watcher struct {
	c             *Controller
	s             *session
	requestResync func()

	cs      changeStream // the open stream; nil when it must be (re)opened
	token   bson.Raw     // newest token seen in this session
	saved   bson.Raw     // newest token persisted
	savedAt time.Time
}

// open opens the stream from the newest token known (this session's, else the stored one).
// A token the server refuses is dropped and the stream opened from now, with a resync.
func (w *watcher) open(ctx context.Context) error {
	token := w.token
	if token == nil {
		stored, err := w.c.st.ResumeToken(ctx)
		if err != nil {
			return err
		}
		token = stored
		w.saved = stored
	}
	cs, err := w.c.openStream(ctx, token)
	if err != nil && token != nil && serverRefused(err) && !noChangeStreams(err) {
		w.c.log.Warn("resume token refused; dropping it and resyncing", "err", err)
		w.dropToken(ctx)
		cs, err = w.c.openStream(ctx, nil)
	}
	if err != nil {
		return err
	}
	w.cs = cs
	return nil
}

func (w *watcher) run(ctx context.Context) {
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(time.Second),
		backoff.WithMaxInterval(30*time.Second), backoff.WithMaxElapsedTime(0))
	for ctx.Err() == nil {
		if w.cs == nil {
			err := w.open(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case noChangeStreams(err):
				// The server lost (or never had) change streams: poll from now on, and resync
				// once to cover whatever happened since the stream stopped.
				p := w.c.startPolling(ctx, w.s, err)
				w.requestResync()
				p.run(ctx)
				return
			case err != nil:
				w.c.m.watchRestarts.Inc()
				w.c.log.Warn("change stream not reopened; retrying", "err", err)
				if !sleepCtx(ctx, bo.NextBackOff()) {
					return
				}
				continue
			}
			w.c.setSource(SourceChangeStream, "change stream opened on tenants")
			if w.saved == nil && w.token == nil {
				// Opened from "now" after a failure: what happened in between is unknown.
				w.requestResync()
			}
		}
		err := w.consume(ctx)
		w.cs = nil
		if ctx.Err() != nil {
			return
		}
		w.c.m.watchRestarts.Inc()
		if errors.Is(err, errInvalidated) || historyLost(err) {
			w.c.log.Warn("change stream history lost or invalidated; dropping the token and resyncing", "err", err)
			w.dropToken(ctx)
			continue // reopen at once, from now
		}
		w.c.log.Warn("change stream failed; reopening", "err", err)
		if !sleepCtx(ctx, bo.NextBackOff()) {
			return
		}
	}
}

// consume reads events until the stream fails or is invalidated.
func (w *watcher) consume(ctx context.Context) error {
	cs := w.cs
	defer func() { _ = cs.Close(context.WithoutCancel(ctx)) }()
	for {
		if cs.TryNext(ctx) {
			var ev struct {
				OperationType string `bson:"operationType"`
				DocumentKey   struct {
					ID bson.ObjectID `bson:"_id"`
				} `bson:"documentKey"`
			}
			if err := bson.Unmarshal(cs.Event(), &ev); err != nil {
				w.c.log.Warn("undecodable change event skipped", "err", err)
			}
			switch ev.OperationType {
			case "invalidate", "drop", "rename", "dropDatabase":
				return errInvalidated
			}
			if !ev.DocumentKey.ID.IsZero() {
				enqueueChange(w.s, ev.DocumentKey.ID)
			}
			if cs.RemainingBatchLength() == 0 {
				w.saveToken(ctx, cs.ResumeToken(), true) // the batch is handled (queued)
			}
			continue
		}
		if err := cs.Err(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cs.ID() == 0 {
			return errStreamClosed
		}
		// An empty batch: the server's post-batch token may have moved on.
		w.saveToken(ctx, cs.ResumeToken(), false)
	}
}

// saveToken remembers tok and persists it: always after a batch of events, at most every
// idleTokenSave for an idle stream's post-batch token.
func (w *watcher) saveToken(ctx context.Context, tok bson.Raw, afterEvents bool) {
	if tok == nil || bytes.Equal(tok, w.token) && bytes.Equal(tok, w.saved) {
		return
	}
	w.token = slices.Clone(tok)
	if !afterEvents && time.Since(w.savedAt) < idleTokenSave {
		return
	}
	if err := w.c.st.SaveResumeToken(ctx, w.token); err != nil {
		w.c.log.Warn("resume token not saved; the next batch tries again", "err", err)
		return
	}
	w.saved, w.savedAt = w.token, time.Now()
}

// dropToken forgets the token (memory and store) and asks for a full resync.
func (w *watcher) dropToken(ctx context.Context) {
	w.token, w.saved = nil, nil
	if err := w.c.st.SaveResumeToken(ctx, nil); err != nil {
		w.c.log.Warn("dead resume token not dropped from the store", "err", err)
	}
	w.requestResync()
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
