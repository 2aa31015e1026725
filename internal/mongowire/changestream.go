package mongowire

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Errors a change stream meets, as mongod answers them.
var (
	errNotReplicaSet = Error(40573, "Location40573", "The $changeStream stage is only supported on replica sets")
	errHistoryLost   = Error(286, "ChangeStreamHistoryLost",
		"Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
		"NonResumableChangeStreamError")
	errResumeInvalidate = Error(260, "InvalidResumeToken",
		"Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.")
)

// oplog is one namespace's change events, oldest first. Event i's resume token encodes
// position i+1 ("after event i") and the event's cluster time; an idle cursor's
// postBatchResumeToken encodes the end of the oplog and the newest cluster time.
type oplog struct {
	db, coll string
	events   []event
	// oldest is the cluster time of the oldest entry still in the oplog: a resume point
	// before it has been lost.
	oldest bson.Timestamp
}

type event struct {
	doc        bson.D
	ts         bson.Timestamp
	invalidate bool
}

// streamCursor is an open change stream.
type streamCursor struct {
	id        int64
	ns        string
	pos       int      // index of the next event to return
	project   []string // inclusion projection of the events; nil: whole events
	batchSize int      // 0: no limit
}

// Change is a write to a document, as a change stream reports it.
type Change struct {
	// Op is "insert", "update", "replace" or "delete".
	Op string
	// ID is the document's _id (the event's documentKey).
	ID any
}

// Changes appends writes to the oplog of ns ("db.collection"), one cluster time each, and
// returns their resume tokens. Changes appended in one call are visible together: a waiting
// getMore returns them in one batch.
func (s *Server) Changes(ns string, changes ...Change) []bson.Raw {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.oplog(ns)
	toks := make([]bson.Raw, len(changes))
	for i, c := range changes {
		ts := s.tick()
		d := bson.D{{Key: "operationType", Value: c.Op}, {Key: "clusterTime", Value: ts}, {Key: "wallTime", Value: wallTime(ts)}}
		switch c.Op {
		case "insert", "replace":
			d = append(d, bson.E{Key: "fullDocument", Value: bson.D{{Key: "_id", Value: c.ID}}})
		case "update", "delete":
		default:
			s.tb.Errorf("mongowire: change of unknown operationType %q", c.Op)
		}
		d = append(d, bson.E{Key: "ns", Value: l.nsDoc()}, bson.E{Key: "documentKey", Value: bson.D{{Key: "_id", Value: c.ID}}})
		if c.Op == "update" {
			d = append(d, bson.E{Key: "updateDescription", Value: bson.D{
				{Key: "updatedFields", Value: bson.D{}}, {Key: "removedFields", Value: bson.A{}}, {Key: "truncatedArrays", Value: bson.A{}},
			}})
		}
		toks[i] = l.add(d, ts, false)
	}
	s.notify()
	return toks
}

// Drop drops the collection ns: its documents go, and its change streams get a drop event
// and then an invalidate, which closes them. It returns the two events' tokens.
func (s *Server) Drop(ns string) []bson.Raw {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.colls, ns)
	l := s.oplog(ns)
	ts := s.tick()
	drop := l.add(bson.D{
		{Key: "operationType", Value: "drop"}, {Key: "clusterTime", Value: ts}, {Key: "wallTime", Value: wallTime(ts)},
		{Key: "ns", Value: l.nsDoc()},
	}, ts, false)
	inv := l.add(bson.D{{Key: "operationType", Value: "invalidate"}, {Key: "clusterTime", Value: ts}, {Key: "wallTime", Value: wallTime(ts)}}, ts, true)
	s.notify()
	return []bson.Raw{drop, inv}
}

// Rename renames the collection ns to "db.collection" to: its change streams get a rename
// event and then an invalidate.
func (s *Server) Rename(ns, to string) []bson.Raw {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.colls[ns]; c != nil {
		s.colls[to] = c
		delete(s.colls, ns)
	}
	l := s.oplog(ns)
	toDB, toColl, _ := strings.Cut(to, ".")
	ts := s.tick()
	ren := l.add(bson.D{
		{Key: "operationType", Value: "rename"}, {Key: "clusterTime", Value: ts}, {Key: "wallTime", Value: wallTime(ts)},
		{Key: "ns", Value: l.nsDoc()}, {Key: "to", Value: bson.D{{Key: "db", Value: toDB}, {Key: "coll", Value: toColl}}},
	}, ts, false)
	inv := l.add(bson.D{{Key: "operationType", Value: "invalidate"}, {Key: "clusterTime", Value: ts}, {Key: "wallTime", Value: wallTime(ts)}}, ts, true)
	s.notify()
	return []bson.Raw{ren, inv}
}

// Advance moves the cluster time on without a change to any watched collection (a write
// elsewhere, or the primary's periodic no-op): idle change streams get a newer
// postBatchResumeToken. It returns that token for ns.
func (s *Server) Advance(ns string) bson.Raw {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	return s.oplog(ns).end(s.clock)
}

// HighWaterMark returns the postBatchResumeToken an idle change stream on ns gets now.
func (s *Server) HighWaterMark(ns string) bson.Raw {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oplog(ns).end(s.clock)
}

// LoseHistory makes the oplog roll over: every resume point before now is lost. Resuming
// from an older token, and reading on with a cursor that had not yet returned every change
// before now, fail with ChangeStreamHistoryLost (286).
func (s *Server) LoseHistory(ns string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.oplog(ns)
	l.oldest = s.tick()
	s.notify()
}

// ResumePosition says where a token resumes in the oplog of ns: the number of changes that
// precede the resume point (those the stream will not return again). ok is false for a token
// this server did not issue.
func ResumePosition(token bson.Raw) (pos int, ok bool) {
	_, pos, _, ok = parseToken(token)
	return pos, ok
}

// tick advances the cluster time by one increment. Callers hold s.mu.
func (s *Server) tick() bson.Timestamp {
	s.clock.I++
	return s.clock
}

// notify wakes the getMores waiting for changes. Callers hold s.mu.
func (s *Server) notify() {
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *Server) oplog(ns string) *oplog {
	l := s.logs[ns]
	if l == nil {
		db, coll, _ := strings.Cut(ns, ".")
		l = &oplog{db: db, coll: coll}
		s.logs[ns] = l
	}
	return l
}

func (l *oplog) nsDoc() bson.D {
	return bson.D{{Key: "db", Value: l.db}, {Key: "coll", Value: l.coll}}
}

// add appends an event (without its _id) and returns its resume token.
func (l *oplog) add(d bson.D, ts bson.Timestamp, invalidate bool) bson.Raw {
	kind := tokenEvent
	if invalidate {
		kind = tokenInvalidate
	}
	tok := token(ts, len(l.events)+1, kind)
	l.events = append(l.events, event{doc: append(bson.D{{Key: "_id", Value: tok}}, d...), ts: ts, invalidate: invalidate})
	return tok
}

// end is the token of the oplog's end at cluster time now.
func (l *oplog) end(now bson.Timestamp) bson.Raw {
	return token(now, len(l.events), tokenHighWaterMark)
}

// lost reports whether a stream positioned at pos has lost changes it had not returned yet.
func (l *oplog) lost(pos int) bool {
	return pos < len(l.events) && l.events[pos].ts.Before(l.oldest)
}

// Kinds of resume token. As in mongod, an event's token and the high-water mark of an idle
// stream at the same point differ, and an invalidate's token is marked as such (resuming
// after it is refused).
const (
	tokenHighWaterMark byte = 0x00
	tokenEvent         byte = 0x80
	tokenInvalidate    byte = 0x81
)

// token is a resume token: {_data: <hex string>}, the shape mongod uses. Ours encodes the
// cluster time, the oplog position after the event and the token's kind.
func token(ts bson.Timestamp, pos int, kind byte) bson.Raw {
	raw, _ := bson.Marshal(bson.D{{Key: "_data", Value: fmt.Sprintf("82%08X%08X%016X%02X", ts.T, ts.I, pos, kind)}})
	return raw
}

func parseToken(tok bson.Raw) (ts bson.Timestamp, pos int, kind byte, ok bool) {
	data, isString := tok.Lookup("_data").StringValueOK()
	if !isString || len(data) != 36 || !strings.HasPrefix(data, "82") {
		return bson.Timestamp{}, 0, 0, false
	}
	t, err1 := strconv.ParseUint(data[2:10], 16, 32)
	i, err2 := strconv.ParseUint(data[10:18], 16, 32)
	p, err3 := strconv.ParseUint(data[18:34], 16, 63)
	k, err4 := strconv.ParseUint(data[34:], 16, 8)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return bson.Timestamp{}, 0, 0, false
	}
	return bson.Timestamp{T: uint32(t), I: uint32(i)}, int(p), byte(k), true
}

func wallTime(ts bson.Timestamp) bson.DateTime {
	return bson.NewDateTimeFromTime(time.Unix(int64(ts.T), int64(ts.I)*int64(time.Millisecond)))
}

// aggregate opens a change stream: {aggregate: coll, pipeline: [{$changeStream: {...}},
// ...], cursor: {batchSize}}. The first batch holds the changes already in the oplog after
// the start point.
func (s *Server) aggregate(cmd Command) bson.D {
	var req struct {
		Pipeline []bson.Raw `bson:"pipeline"`
		Cursor   struct {
			BatchSize int32 `bson:"batchSize"`
		} `bson:"cursor"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}
	if len(req.Pipeline) == 0 {
		return s.unsupported(cmd, "aggregation without $changeStream")
	}
	stage, ok := req.Pipeline[0].Lookup("$changeStream").DocumentOK()
	if !ok {
		return s.unsupported(cmd, "aggregation without $changeStream")
	}
	if s.opts.Standalone {
		return errNotReplicaSet.doc()
	}
	var project []string
	for _, st := range req.Pipeline[1:] {
		fields, err := inclusion(st)
		if err != nil {
			return s.unsupported(cmd, "%v", err)
		}
		project = append(project, fields...)
	}
	var opts struct {
		ResumeAfter          bson.Raw        `bson:"resumeAfter"`
		StartAfter           bson.Raw        `bson:"startAfter"`
		StartAtOperationTime *bson.Timestamp `bson:"startAtOperationTime"`
	}
	if err := bson.Unmarshal(stage, &opts); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.oplog(cmd.Namespace())
	var pos int
	switch tok := firstNonNil(opts.ResumeAfter, opts.StartAfter); {
	case tok != nil:
		ts, p, kind, ok := parseToken(tok)
		if !ok || p > len(l.events) {
			return Error(260, "InvalidResumeToken", "malformed resume token").doc()
		}
		if ts.Before(l.oldest) {
			return errHistoryLost.doc()
		}
		if kind == tokenInvalidate && opts.ResumeAfter != nil {
			return errResumeInvalidate.doc()
		}
		pos = p
	case opts.StartAtOperationTime != nil:
		if opts.StartAtOperationTime.Before(l.oldest) {
			return errHistoryLost.doc()
		}
		pos = len(l.events)
		for i, e := range l.events {
			if !e.ts.Before(*opts.StartAtOperationTime) {
				pos = i
				break
			}
		}
	default:
		pos = len(l.events)
	}
	s.cursorSeq++
	c := &streamCursor{id: s.cursorSeq, ns: cmd.Namespace(), pos: pos, project: project, batchSize: int(req.Cursor.BatchSize)}
	s.cursors[c.id] = c
	return s.batch(c, l, "firstBatch")
}

// getMore returns the next changes of a change stream, waiting up to maxTimeMS (capped by
// AwaitCap) for some when there are none.
func (s *Server) getMore(cmd Command) bson.D {
	var req struct {
		ID        int64 `bson:"getMore"`
		MaxTimeMS int64 `bson:"maxTimeMS"`
		BatchSize int32 `bson:"batchSize"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}
	wait := s.opts.AwaitCap
	if req.MaxTimeMS > 0 {
		wait = min(wait, time.Duration(req.MaxTimeMS)*time.Millisecond)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		c := s.cursors[req.ID]
		if c == nil {
			s.mu.Unlock()
			return Error(43, "CursorNotFound", fmt.Sprintf("cursor id %d not found", req.ID)).doc()
		}
		l := s.oplog(c.ns)
		if l.lost(c.pos) {
			delete(s.cursors, c.id)
			s.mu.Unlock()
			return errHistoryLost.doc()
		}
		if c.pos < len(l.events) {
			if req.BatchSize > 0 {
				c.batchSize = int(req.BatchSize)
			}
			defer s.mu.Unlock()
			return s.batch(c, l, "nextBatch")
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-s.done:
			return Error(91, "ShutdownInProgress", "The server is in quiesce mode and will shut down").doc()
		case <-deadline.C:
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.cursors[req.ID] == nil {
				return Error(43, "CursorNotFound", fmt.Sprintf("cursor id %d not found", req.ID)).doc()
			}
			if l.lost(c.pos) {
				delete(s.cursors, c.id)
				return errHistoryLost.doc()
			}
			return s.batch(c, l, "nextBatch") // empty, or what arrived at the last moment
		}
	}
}

// batch returns the cursor's next events and moves it on; an invalidate ends the batch and
// closes the cursor (id 0). Callers hold s.mu.
func (s *Server) batch(c *streamCursor, l *oplog, key string) bson.D {
	docs := bson.A{}
	id := c.id
	for c.pos < len(l.events) && (c.batchSize == 0 || len(docs) < c.batchSize) {
		e := l.events[c.pos]
		c.pos++
		docs = append(docs, projectEvent(e.doc, c.project))
		if e.invalidate {
			delete(s.cursors, c.id)
			id = 0
			break
		}
	}
	// At the end of the oplog the post-batch token is its end at the current cluster time;
	// otherwise (batch full, or closed by an invalidate) it is the last returned event's.
	pbrt := l.end(s.clock)
	if c.pos < len(l.events) || id == 0 {
		pbrt = l.events[c.pos-1].doc[0].Value.(bson.Raw)
	}
	return cursorReply(c.ns, id, key, docs, pbrt)
}

func (s *Server) killCursors(cmd Command) bson.D {
	var req struct {
		Cursors []int64 `bson:"cursors"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	killed, notFound := bson.A{}, bson.A{}
	for _, id := range req.Cursors {
		if _, ok := s.cursors[id]; ok {
			delete(s.cursors, id)
			killed = append(killed, id)
		} else {
			notFound = append(notFound, id)
		}
	}
	return append(bson.D{
		{Key: "cursorsKilled", Value: killed}, {Key: "cursorsNotFound", Value: notFound},
		{Key: "cursorsAlive", Value: bson.A{}}, {Key: "cursorsUnknown", Value: bson.A{}},
	}, ok()...)
}

// inclusion reads a {$project: {field: 1, ...}} stage of top-level inclusions.
func inclusion(stage bson.Raw) ([]string, error) {
	proj, ok := stage.Lookup("$project").DocumentOK()
	if !ok {
		elems, _ := stage.Elements()
		name := "?"
		if len(elems) > 0 {
			name = elems[0].Key()
		}
		return nil, fmt.Errorf("pipeline stage %s after $changeStream", name)
	}
	elems, err := proj.Elements()
	if err != nil {
		return nil, err
	}
	var fields []string
	for _, e := range elems {
		n, isNum := e.Value().AsInt64OK()
		b, isBool := e.Value().BooleanOK()
		if strings.Contains(e.Key(), ".") || !(isNum && n == 1 || isBool && b) {
			return nil, fmt.Errorf("$project of %s: %s (only top-level inclusions)", e.Key(), e.Value())
		}
		fields = append(fields, e.Key())
	}
	return fields, nil
}

// projectEvent keeps _id and the included fields, in the event's order, as an inclusion
// projection does.
func projectEvent(d bson.D, fields []string) bson.D {
	if fields == nil {
		return d
	}
	var out bson.D
	for _, e := range d {
		if e.Key == "_id" || slices.Contains(fields, e.Key) {
			out = append(out, e)
		}
	}
	return out
}

func firstNonNil(a, b bson.Raw) bson.Raw {
	if a != nil {
		return a
	}
	return b
}
