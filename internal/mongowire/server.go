package mongowire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Wire protocol opcodes (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/).
const (
	opReply int32 = 1
	opQuery int32 = 2004
	opMsg   int32 = 2013
)

// OP_MSG flag bits.
const (
	flagChecksumPresent uint32 = 1 << 0
	flagMoreToCome      uint32 = 1 << 1
)

// maxMessageSize is what the server advertises (maxMessageSizeBytes) and accepts.
const maxMessageSize = 48_000_000

// Options configures Start. The zero value is a one-member replica set "rs0".
type Options struct {
	// Standalone makes the server a standalone mongod: no setName in hello, no cluster time,
	// and $changeStream refused with code 40573, as mongod answers.
	Standalone bool
	// ReplicaSet names the replica set. Defaults to "rs0".
	ReplicaSet string
	// MaxWireVersion is advertised in hello. Defaults to 21 (MongoDB 7.0): recent enough for
	// every change-stream feature the driver uses (postBatchResumeToken, startAfter, the
	// ResumableChangeStreamError label).
	MaxWireVersion int32
	// AwaitCap bounds how long a getMore on a change stream waits for events when there are
	// none. A real server waits maxTimeMS (the driver's MaxAwaitTime); returning an empty batch
	// earlier is allowed by the protocol and keeps idle-stream tests fast. Defaults to 50ms.
	AwaitCap time.Duration
}

// Command is one command the server received.
type Command struct {
	// Name is the command's name (its first key), e.g. "aggregate".
	Name string
	// DB is the database it ran in ($db).
	DB string
	// Body is the command document, OP_MSG document sequences included as arrays.
	Body bson.Raw
	// Conn numbers the connection it came on (1, 2, ...).
	Conn int64
}

// Collection returns the collection a collection-level command names (the value of its first
// key when that is a string; getMore's "collection"), or "".
func (c Command) Collection() string {
	key := c.Name
	if key == "getMore" {
		key = "collection"
	}
	s, _ := c.Body.Lookup(key).StringValueOK()
	return s
}

// Namespace returns "db.collection".
func (c Command) Namespace() string { return c.DB + "." + c.Collection() }

// CommandError is a server error reply: {ok: 0, errmsg, code, codeName, errorLabels}.
type CommandError struct {
	Code    int32
	Name    string
	Message string
	Labels  []string
}

// Error builds a CommandError.
func Error(code int32, name, message string, labels ...string) *CommandError {
	return &CommandError{Code: code, Name: name, Message: message, Labels: labels}
}

func (e *CommandError) doc() bson.D {
	d := bson.D{
		{Key: "ok", Value: 0.0},
		{Key: "errmsg", Value: e.Message},
		{Key: "code", Value: e.Code},
		{Key: "codeName", Value: e.Name},
	}
	if len(e.Labels) > 0 {
		d = append(d, bson.E{Key: "errorLabels", Value: e.Labels})
	}
	return d
}

// Fault answers matching commands in place of the server.
type Fault struct {
	// Command is the name of the commands it applies to, e.g. "getMore".
	Command string
	// Match, when set, narrows it further. It runs under the server's lock: it must not call
	// the server.
	Match func(Command) bool
	// Err is the error reply to send. Ignored when CloseConnection is set; with neither, the
	// command is answered as usual once OnHit has run.
	Err *CommandError
	// CloseConnection closes the connection instead of answering: the driver sees a network
	// error.
	CloseConnection bool
	// Times is how many commands it answers: 0 means once, a negative number means until
	// removed.
	Times int
	// OnHit, when set, runs when the fault fires, before the answer is sent and outside the
	// server's lock (it may call the server, e.g. to append changes that the failed command
	// would have returned).
	OnHit func(Command)
}

// FaultHandle tracks an injected fault.
type FaultHandle struct {
	s    *Server
	f    Fault
	left int // remaining answers; <0 forever
	hits int
}

// Hits returns how many commands the fault has answered (counted after OnHit ran, before the
// answer is sent).
func (h *FaultHandle) Hits() int {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.hits
}

// Remove withdraws the fault.
func (h *FaultHandle) Remove() {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.left = 0
}

// Server is a running fake MongoDB server. Safe for concurrent use.
type Server struct {
	tb   testing.TB
	opts Options
	ln   net.Listener
	addr string

	reqID   atomic.Int32
	connSeq atomic.Int64

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	closed    bool
	cmds      []Command
	faults    []*FaultHandle
	onCommand func(Command)
	colls     map[string]*collection // by namespace
	logs      map[string]*oplog      // by namespace
	cursors   map[int64]*streamCursor
	cursorSeq int64
	clock     bson.Timestamp // cluster time of the newest write
	wake      chan struct{}  // closed (and replaced) whenever an oplog changes

	done chan struct{}
	wg   sync.WaitGroup
}

// Start listens on 127.0.0.1 (a free port) and serves until the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.ReplicaSet == "" {
		o.ReplicaSet = "rs0"
	}
	if o.MaxWireVersion == 0 {
		o.MaxWireVersion = 21
	}
	if o.AwaitCap <= 0 {
		o.AwaitCap = 50 * time.Millisecond
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("mongowire: listen: %v", err)
	}
	s := &Server{
		tb: tb, opts: o, ln: ln, addr: ln.Addr().String(),
		conns:     map[net.Conn]struct{}{},
		colls:     map[string]*collection{},
		logs:      map[string]*oplog{},
		cursors:   map[int64]*streamCursor{},
		cursorSeq: 7_000_000_000,
		clock:     bson.Timestamp{T: uint32(time.Now().Unix()), I: 1},
		wake:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.wg.Go(s.accept)
	tb.Cleanup(s.Close)
	return s
}

// Addr is the host:port the server listens on (what hello reports as me, hosts and primary).
func (s *Server) Addr() string { return s.addr }

// URI is a connection string for the server: with replicaSet for a replica set, so the driver
// discovers it as the set's primary as it would a real deployment.
func (s *Server) URI() string {
	if s.opts.Standalone {
		return "mongodb://" + s.addr + "/"
	}
	return "mongodb://" + s.addr + "/?replicaSet=" + s.opts.ReplicaSet
}

// Close stops the server and closes every connection. Idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	_ = s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Commands returns the commands received so far, oldest first; with names, only those.
func (s *Server) Commands(names ...string) []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Command
	for _, c := range s.cmds {
		if len(names) == 0 || slices.Contains(names, c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// OnCommand sets a function called with every command as it arrives, before it is answered,
// on the connection's goroutine: the client that sent it is waiting for the answer, so the
// function sees the client's state as it was when it sent the command.
func (s *Server) OnCommand(fn func(Command)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCommand = fn
}

// Inject adds a fault; faults are tried in the order they were injected.
func (s *Server) Inject(f Fault) *FaultHandle {
	left := f.Times
	if left == 0 {
		left = 1
	}
	h := &FaultHandle{s: s, f: f, left: left}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, h)
	return h
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		id := s.connSeq.Add(1)
		s.wg.Go(func() { s.serve(c, id) })
	}
}

// serve answers one connection's messages in order until it closes.
func (s *Server) serve(c net.Conn, connID int64) {
	defer func() {
		_ = c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	for {
		reqID, opcode, payload, err := readMessage(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !s.isClosed() && !isClosedConn(err) {
				s.tb.Errorf("mongowire: connection %d: %v", connID, err)
			}
			return
		}
		var (
			cmd        Command
			moreToCome bool
		)
		switch opcode {
		case opMsg:
			cmd, moreToCome, err = parseMsg(payload)
		case opQuery:
			cmd, err = parseQuery(payload)
		default:
			err = fmt.Errorf("unsupported opcode %d", opcode)
		}
		if err != nil {
			s.tb.Errorf("mongowire: connection %d: %v", connID, err)
			return
		}
		cmd.Conn = connID
		reply, drop := s.handle(cmd)
		if drop {
			return
		}
		if moreToCome {
			continue // the client asked for no answer
		}
		var msg []byte
		if opcode == opQuery {
			msg = s.replyMessage(reqID, reply)
		} else {
			msg = s.msgMessage(reqID, reply)
		}
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}

func (s *Server) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func isClosedConn(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset")
}

// handle records cmd, applies faults and answers it; drop asks to close the connection.
func (s *Server) handle(cmd Command) (reply bson.D, drop bool) {
	s.mu.Lock()
	s.cmds = append(s.cmds, cmd)
	hook := s.onCommand
	var hit *FaultHandle
	for _, h := range s.faults {
		if h.left != 0 && h.f.Command == cmd.Name && (h.f.Match == nil || h.f.Match(cmd)) {
			hit = h
			if h.left > 0 {
				h.left--
			}
			break
		}
	}
	s.mu.Unlock()
	if hook != nil {
		hook(cmd)
	}
	if hit != nil {
		if hit.f.OnHit != nil {
			hit.f.OnHit(cmd)
		}
		// Counted once OnHit is done: a test that waits for the hit sees what OnHit did.
		s.mu.Lock()
		hit.hits++
		s.mu.Unlock()
		switch {
		case hit.f.CloseConnection:
			return nil, true
		case hit.f.Err != nil:
			return s.withClusterTime(hit.f.Err.doc()), false
		}
	}
	return s.withClusterTime(s.dispatch(cmd)), false
}

// dispatch runs a command against the server's state.
func (s *Server) dispatch(cmd Command) bson.D {
	switch cmd.Name {
	case "hello", "isMaster", "ismaster":
		return s.hello(cmd)
	case "ping", "endSessions":
		return ok()
	case "buildInfo", "buildinfo":
		return append(bson.D{
			{Key: "version", Value: "7.0.14"},
			{Key: "versionArray", Value: bson.A{int32(7), int32(0), int32(14), int32(0)}},
			{Key: "maxBsonObjectSize", Value: int32(16 * 1024 * 1024)},
		}, ok()...)
	case "createIndexes":
		return s.createIndexes(cmd)
	case "dropIndexes":
		return s.dropIndexes(cmd)
	case "find":
		return s.find(cmd)
	case "insert":
		return s.insert(cmd)
	case "update":
		return s.update(cmd)
	case "delete":
		return s.delete(cmd)
	case "aggregate":
		return s.aggregate(cmd)
	case "getMore":
		return s.getMore(cmd)
	case "killCursors":
		return s.killCursors(cmd)
	default:
		return s.unsupported(cmd, "command %q", cmd.Name)
	}
}

// unsupported answers what this fake cannot answer faithfully, and fails the test: a silent
// wrong answer would make the test pass or fail for the wrong reason.
func (s *Server) unsupported(cmd Command, format string, args ...any) bson.D {
	msg := fmt.Sprintf(format, args...)
	s.tb.Errorf("mongowire: unsupported %s in %s", msg, cmd.Body)
	if strings.HasPrefix(msg, "command ") {
		return Error(59, "CommandNotFound", "no such command: '"+cmd.Name+"'").doc()
	}
	return Error(2, "BadValue", "mongowire does not support "+msg).doc()
}

func ok() bson.D { return bson.D{{Key: "ok", Value: 1.0}} }

// withClusterTime adds what a replica-set member adds to every reply.
func (s *Server) withClusterTime(d bson.D) bson.D {
	if s.opts.Standalone {
		return d
	}
	s.mu.Lock()
	ts := s.clock
	s.mu.Unlock()
	return append(d,
		bson.E{Key: "$clusterTime", Value: bson.D{
			{Key: "clusterTime", Value: ts},
			{Key: "signature", Value: bson.D{
				{Key: "hash", Value: bson.Binary{Subtype: 0, Data: make([]byte, 20)}},
				{Key: "keyId", Value: int64(0)},
			}},
		}},
		bson.E{Key: "operationTime", Value: ts},
	)
}

func (s *Server) hello(cmd Command) bson.D {
	primaryKey := "isWritablePrimary"
	if cmd.Name != "hello" {
		primaryKey = "ismaster"
	}
	d := bson.D{
		{Key: "helloOk", Value: true},
		{Key: primaryKey, Value: true},
	}
	if !s.opts.Standalone {
		d = append(d,
			bson.E{Key: "hosts", Value: bson.A{s.addr}},
			bson.E{Key: "setName", Value: s.opts.ReplicaSet},
			bson.E{Key: "setVersion", Value: int32(1)},
			bson.E{Key: "secondary", Value: false},
			bson.E{Key: "primary", Value: s.addr},
			bson.E{Key: "me", Value: s.addr},
			bson.E{Key: "electionId", Value: bson.ObjectID{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1}},
		)
	}
	return append(d,
		bson.E{Key: "maxBsonObjectSize", Value: int32(16 * 1024 * 1024)},
		bson.E{Key: "maxMessageSizeBytes", Value: int32(maxMessageSize)},
		bson.E{Key: "maxWriteBatchSize", Value: int32(100_000)},
		bson.E{Key: "localTime", Value: bson.NewDateTimeFromTime(time.Now())},
		bson.E{Key: "logicalSessionTimeoutMinutes", Value: int32(30)},
		bson.E{Key: "connectionId", Value: int32(cmd.Conn)},
		bson.E{Key: "minWireVersion", Value: int32(0)},
		bson.E{Key: "maxWireVersion", Value: s.opts.MaxWireVersion},
		bson.E{Key: "readOnly", Value: false},
		bson.E{Key: "ok", Value: 1.0},
	)
}

// readMessage reads one wire message: its request id, opcode and what follows the header.
func readMessage(r io.Reader) (reqID, opcode int32, payload []byte, err error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, nil, err
	}
	length := int32(binary.LittleEndian.Uint32(hdr[0:]))
	if length < 16 || length > maxMessageSize {
		return 0, 0, nil, fmt.Errorf("message length %d", length)
	}
	reqID = int32(binary.LittleEndian.Uint32(hdr[4:]))
	opcode = int32(binary.LittleEndian.Uint32(hdr[12:]))
	payload = make([]byte, length-16)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, err
	}
	return reqID, opcode, payload, nil
}

// parseMsg reads an OP_MSG: flagBits, then sections (kind 0: the body; kind 1: a document
// sequence, folded into the body as an array under its identifier).
func parseMsg(p []byte) (Command, bool, error) {
	if len(p) < 5 {
		return Command{}, false, errors.New("short OP_MSG")
	}
	flags := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if flags&flagChecksumPresent != 0 {
		p = p[:len(p)-4]
	}
	var body bson.Raw
	type seq struct {
		id   string
		docs []bson.Raw
	}
	var seqs []seq
	for len(p) > 0 {
		kind := p[0]
		p = p[1:]
		switch kind {
		case 0:
			doc, rest, err := readDoc(p)
			if err != nil {
				return Command{}, false, err
			}
			body, p = doc, rest
		case 1:
			if len(p) < 4 {
				return Command{}, false, errors.New("short document sequence")
			}
			size := int(binary.LittleEndian.Uint32(p))
			if size < 4 || size > len(p) {
				return Command{}, false, fmt.Errorf("document sequence size %d", size)
			}
			sec, rest := p[4:size], p[size:]
			nul := bytes.IndexByte(sec, 0)
			if nul < 0 {
				return Command{}, false, errors.New("document sequence without identifier")
			}
			sq := seq{id: string(sec[:nul])}
			for sec = sec[nul+1:]; len(sec) > 0; {
				doc, r, err := readDoc(sec)
				if err != nil {
					return Command{}, false, err
				}
				sq.docs, sec = append(sq.docs, doc), r
			}
			seqs, p = append(seqs, sq), rest
		default:
			return Command{}, false, fmt.Errorf("OP_MSG section kind %d", kind)
		}
	}
	if body == nil {
		return Command{}, false, errors.New("OP_MSG without a body")
	}
	if len(seqs) > 0 {
		var d bson.D
		if err := bson.Unmarshal(body, &d); err != nil {
			return Command{}, false, err
		}
		for _, sq := range seqs {
			arr := make(bson.A, len(sq.docs))
			for i, doc := range sq.docs {
				arr[i] = doc
			}
			d = append(d, bson.E{Key: sq.id, Value: arr})
		}
		raw, err := bson.Marshal(d)
		if err != nil {
			return Command{}, false, err
		}
		body = raw
	}
	cmd, err := commandOf(body)
	return cmd, flags&flagMoreToCome != 0, err
}

// parseQuery reads an OP_QUERY on <db>.$cmd: what the driver uses for its first hello.
func parseQuery(p []byte) (Command, error) {
	if len(p) < 4 {
		return Command{}, errors.New("short OP_QUERY")
	}
	p = p[4:] // flags
	nul := bytes.IndexByte(p, 0)
	if nul < 0 {
		return Command{}, errors.New("OP_QUERY without a collection name")
	}
	ns := string(p[:nul])
	p = p[nul+1:]
	if len(p) < 8 {
		return Command{}, errors.New("short OP_QUERY")
	}
	doc, _, err := readDoc(p[8:]) // after numberToSkip, numberToReturn
	if err != nil {
		return Command{}, err
	}
	db, ok := strings.CutSuffix(ns, ".$cmd")
	if !ok {
		return Command{}, fmt.Errorf("OP_QUERY on %q: only commands are supported", ns)
	}
	if q, ok := doc.Lookup("$query").DocumentOK(); ok {
		doc = q
	}
	cmd, err := commandOf(doc)
	cmd.DB = db
	return cmd, err
}

func commandOf(body bson.Raw) (Command, error) {
	elems, err := body.Elements()
	if err != nil || len(elems) == 0 {
		return Command{}, fmt.Errorf("bad command document: %v", err)
	}
	db, _ := body.Lookup("$db").StringValueOK()
	return Command{Name: elems[0].Key(), DB: db, Body: body}, nil
}

func readDoc(p []byte) (bson.Raw, []byte, error) {
	if len(p) < 5 {
		return nil, nil, errors.New("short document")
	}
	n := int(binary.LittleEndian.Uint32(p))
	if n < 5 || n > len(p) {
		return nil, nil, fmt.Errorf("document length %d of %d bytes", n, len(p))
	}
	doc := bson.Raw(p[:n])
	if err := doc.Validate(); err != nil {
		return nil, nil, err
	}
	return doc, p[n:], nil
}

// msgMessage builds an OP_MSG reply (flagBits 0, one body section).
func (s *Server) msgMessage(responseTo int32, reply bson.D) []byte {
	doc := s.marshal(reply)
	b := s.header(16+4+1+len(doc), responseTo, opMsg)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, 0)
	return append(b, doc...)
}

// replyMessage builds an OP_REPLY to an OP_QUERY: responseFlags AwaitCapable, cursorID 0,
// startingFrom 0, numberReturned 1, the document.
func (s *Server) replyMessage(responseTo int32, reply bson.D) []byte {
	doc := s.marshal(reply)
	b := s.header(16+20+len(doc), responseTo, opReply)
	b = binary.LittleEndian.AppendUint32(b, 8)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	return append(b, doc...)
}

func (s *Server) header(length int, responseTo, opcode int32) []byte {
	b := make([]byte, 0, length)
	b = binary.LittleEndian.AppendUint32(b, uint32(length))
	b = binary.LittleEndian.AppendUint32(b, uint32(s.reqID.Add(1)))
	b = binary.LittleEndian.AppendUint32(b, uint32(responseTo))
	return binary.LittleEndian.AppendUint32(b, uint32(opcode))
}

func (s *Server) marshal(d bson.D) []byte {
	raw, err := bson.Marshal(d)
	if err != nil {
		s.tb.Errorf("mongowire: marshal reply: %v", err)
		raw, _ = bson.Marshal(Error(1, "InternalError", err.Error()).doc())
	}
	return raw
}
