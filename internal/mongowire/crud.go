package mongowire

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// collection is a namespace's documents (in insertion order) and index names.
type collection struct {
	docs    []bson.D
	indexes []string
}

// coll returns the namespace's collection, created on first use as MongoDB does. Callers
// hold s.mu.
func (s *Server) coll(ns string) *collection {
	c := s.colls[ns]
	if c == nil {
		c = &collection{indexes: []string{"_id_"}}
		s.colls[ns] = c
	}
	return c
}

// Documents returns a copy of a namespace's documents ("db.collection"), in insertion order.
func (s *Server) Documents(ns string) []bson.Raw {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bson.Raw
	if c := s.colls[ns]; c != nil {
		for _, d := range c.docs {
			raw, _ := bson.Marshal(d)
			out = append(out, raw)
		}
	}
	return out
}

// dropIndexes drops one index by name, as MongoDB does: 26 NamespaceNotFound for a collection
// that does not exist, 27 IndexNotFound for an index it does not have.
func (s *Server) dropIndexes(cmd Command) bson.D {
	var req struct {
		Index string `bson:"index"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, exists := s.colls[cmd.Namespace()]
	switch {
	case !exists:
		return Error(26, "NamespaceNotFound", "ns not found "+cmd.Namespace()).doc()
	case !slices.Contains(c.indexes, req.Index):
		return Error(27, "IndexNotFound", "index not found with name ["+req.Index+"]").doc()
	}
	before := len(c.indexes)
	c.indexes = slices.DeleteFunc(c.indexes, func(n string) bool { return n == req.Index })
	return append(bson.D{{Key: "nIndexesWas", Value: int32(before)}}, ok()...)
}

func (s *Server) createIndexes(cmd Command) bson.D {
	var req struct {
		Indexes []struct {
			Name string `bson:"name"`
		} `bson:"indexes"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, existed := s.colls[cmd.Namespace()]
	c := s.coll(cmd.Namespace())
	before := len(c.indexes)
	for _, ix := range req.Indexes {
		if !slices.Contains(c.indexes, ix.Name) {
			c.indexes = append(c.indexes, ix.Name)
		}
	}
	d := bson.D{
		{Key: "numIndexesBefore", Value: int32(before)},
		{Key: "numIndexesAfter", Value: int32(len(c.indexes))},
		{Key: "createdCollectionAutomatically", Value: !existed},
	}
	if !s.opts.Standalone {
		d = append(d, bson.E{Key: "commitQuorum", Value: "votingMembers"})
	}
	return append(d, ok()...)
}

// find answers with every match in the first batch and a closed cursor (id 0). Sort and
// projection are not applied: the fake's collections are tiny, and a test that needs them
// should use a real server.
func (s *Server) find(cmd Command) bson.D {
	var req struct {
		Filter bson.D `bson:"filter"`
		Limit  int64  `bson:"limit"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}
	s.mu.Lock()
	var batch bson.A
	var bad error
	if c := s.colls[cmd.Namespace()]; c != nil {
		for _, d := range c.docs {
			m, err := matches(d, req.Filter)
			if err != nil {
				bad = err
				break
			}
			if m {
				batch = append(batch, cloneD(d))
				if req.Limit > 0 && int64(len(batch)) == req.Limit {
					break
				}
			}
		}
	}
	s.mu.Unlock()
	if bad != nil {
		return s.unsupported(cmd, "%v", bad)
	}
	if batch == nil {
		batch = bson.A{}
	}
	return cursorReply(cmd.Namespace(), 0, "firstBatch", batch, nil)
}

func (s *Server) insert(cmd Command) bson.D {
	var req struct {
		Documents []bson.D `bson:"documents"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(cmd.Namespace())
	n := 0
	var writeErrs bson.A
	for i, d := range req.Documents {
		if _, ok := lookup(d, "_id"); !ok {
			d = append(bson.D{{Key: "_id", Value: bson.NewObjectID()}}, d...)
		}
		id, _ := lookup(d, "_id")
		if c.find(id) >= 0 {
			writeErrs = append(writeErrs, bson.D{
				{Key: "index", Value: int32(i)}, {Key: "code", Value: int32(11000)},
				{Key: "errmsg", Value: fmt.Sprintf("E11000 duplicate key error collection: %s index: _id_ dup key: { _id: %v }", cmd.Namespace(), id)},
			})
			break // ordered: stop at the first error
		}
		c.docs = append(c.docs, d)
		n++
	}
	r := bson.D{{Key: "n", Value: int32(n)}}
	if writeErrs != nil {
		r = append(r, bson.E{Key: "writeErrors", Value: writeErrs})
	}
	return append(r, ok()...)
}

func (s *Server) update(cmd Command) bson.D {
	var req struct {
		Updates []struct {
			Q      bson.D `bson:"q"`
			U      bson.D `bson:"u"`
			Upsert bool   `bson:"upsert"`
			Multi  bool   `bson:"multi"`
		} `bson:"updates"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return s.unsupported(cmd, "update form: %v", err) // e.g. a pipeline update
	}
	s.mu.Lock()
	c := s.coll(cmd.Namespace())
	var n, modified int32
	var upserted bson.A
	var bad error
	for i, u := range req.Updates {
		matched := 0
		for j, d := range c.docs {
			m, err := matches(d, u.Q)
			if err != nil {
				bad = err
				break
			}
			if !m {
				continue
			}
			nd, err := applyUpdate(d, u.U, false)
			if err != nil {
				bad = err
				break
			}
			matched++
			if !equalDocs(d, nd) {
				modified++
				c.docs[j] = nd
			}
			if !u.Multi {
				break
			}
		}
		if bad != nil {
			break
		}
		n += int32(matched)
		if matched == 0 && u.Upsert {
			seed, err := equalityFields(u.Q)
			if err == nil {
				seed, err = applyUpdate(seed, u.U, true)
			}
			if err != nil {
				bad = err
				break
			}
			if _, ok := lookup(seed, "_id"); !ok {
				seed = append(bson.D{{Key: "_id", Value: bson.NewObjectID()}}, seed...)
			}
			id, _ := lookup(seed, "_id")
			c.docs = append(c.docs, seed)
			n++
			upserted = append(upserted, bson.D{{Key: "index", Value: int32(i)}, {Key: "_id", Value: id}})
		}
	}
	s.mu.Unlock()
	if bad != nil {
		return s.unsupported(cmd, "%v", bad)
	}
	r := bson.D{{Key: "n", Value: n}, {Key: "nModified", Value: modified}}
	if upserted != nil {
		r = append(r, bson.E{Key: "upserted", Value: upserted})
	}
	return append(r, ok()...)
}

func (s *Server) delete(cmd Command) bson.D {
	var req struct {
		Deletes []struct {
			Q     bson.D `bson:"q"`
			Limit int32  `bson:"limit"`
		} `bson:"deletes"`
	}
	if err := bson.Unmarshal(cmd.Body, &req); err != nil {
		return Error(9, "FailedToParse", err.Error()).doc()
	}
	s.mu.Lock()
	c := s.coll(cmd.Namespace())
	var n int32
	var bad error
	for _, del := range req.Deletes {
		kept := c.docs[:0:0]
		removed := 0
		for _, d := range c.docs {
			m, err := matches(d, del.Q)
			if err != nil {
				bad = err
				break
			}
			if m && (del.Limit == 0 || removed < int(del.Limit)) {
				removed++
				continue
			}
			kept = append(kept, d)
		}
		if bad != nil {
			break
		}
		c.docs = kept
		n += int32(removed)
	}
	s.mu.Unlock()
	if bad != nil {
		return s.unsupported(cmd, "%v", bad)
	}
	return append(bson.D{{Key: "n", Value: n}}, ok()...)
}

func (c *collection) find(id any) int {
	for i, d := range c.docs {
		if v, ok := lookup(d, "_id"); ok && equalValues(v, id) {
			return i
		}
	}
	return -1
}

// cursorReply is {cursor: {<batchKey>: batch, [postBatchResumeToken], id, ns}, ok: 1}.
func cursorReply(ns string, id int64, batchKey string, batch bson.A, pbrt bson.Raw) bson.D {
	cur := bson.D{{Key: batchKey, Value: batch}}
	if pbrt != nil {
		cur = append(cur, bson.E{Key: "postBatchResumeToken", Value: pbrt})
	}
	cur = append(cur, bson.E{Key: "id", Value: id}, bson.E{Key: "ns", Value: ns})
	return append(bson.D{{Key: "cursor", Value: cur}}, ok()...)
}

// matches evaluates a query of conditions on top-level or dotted fields: a value (equality)
// or a document of $eq, $gt, $gte, $lt, $lte on values of one type (numbers, strings, dates);
// anything else is an error.
func matches(doc, filter bson.D) (bool, error) {
	for _, e := range filter {
		if strings.HasPrefix(e.Key, "$") {
			return false, fmt.Errorf("query operator %s", e.Key)
		}
		got, found := lookup(doc, e.Key)
		ops, isOps := e.Value.(bson.D)
		if !isOps || len(ops) == 0 || !strings.HasPrefix(ops[0].Key, "$") {
			if !found || !equalValues(got, e.Value) {
				return false, nil
			}
			continue
		}
		for _, op := range ops {
			if op.Key == "$eq" {
				if !found || !equalValues(got, op.Value) {
					return false, nil
				}
				continue
			}
			want, ok := map[string]func(int) bool{
				"$gt": func(c int) bool { return c > 0 }, "$gte": func(c int) bool { return c >= 0 },
				"$lt": func(c int) bool { return c < 0 }, "$lte": func(c int) bool { return c <= 0 },
			}[op.Key]
			if !ok {
				return false, fmt.Errorf("query operator %s", op.Key)
			}
			if !found {
				return false, nil
			}
			c, comparable := compareValues(got, op.Value)
			if !comparable || !want(c) {
				return false, nil // MongoDB compares within a type only
			}
		}
	}
	return true, nil
}

// compareValues orders two numbers, two strings or two dates.
func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case bson.DateTime:
		y, ok := b.(bson.DateTime)
		return cmp.Compare(x, y), ok
	case string:
		y, ok := b.(string)
		return cmp.Compare(x, y), ok
	}
	x, okA := number(a)
	y, okB := number(b)
	return cmp.Compare(x, y), okA && okB
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// equalityFields is the document an upsert starts from: the query's equality fields.
func equalityFields(q bson.D) (bson.D, error) {
	var out bson.D
	for _, e := range q {
		if strings.Contains(e.Key, ".") || strings.HasPrefix(e.Key, "$") {
			return nil, fmt.Errorf("upsert seeded from %q", e.Key)
		}
		v := e.Value
		if op, ok := v.(bson.D); ok && len(op) == 1 && op[0].Key == "$eq" {
			v = op[0].Value
		}
		out = append(out, bson.E{Key: e.Key, Value: v})
	}
	return out, nil
}

// applyUpdate applies an update document ($set, $unset, $setOnInsert on top-level fields)
// or a replacement (which keeps _id) to doc and returns the new document.
func applyUpdate(doc, u bson.D, inserting bool) (bson.D, error) {
	if len(u) == 0 || !strings.HasPrefix(u[0].Key, "$") {
		out := bson.D{}
		if id, ok := lookup(doc, "_id"); ok {
			out = append(out, bson.E{Key: "_id", Value: id})
		}
		for _, e := range u {
			if e.Key != "_id" {
				out = append(out, e)
			}
		}
		return out, nil
	}
	out := cloneD(doc)
	for _, op := range u {
		fields, ok := op.Value.(bson.D)
		if !ok {
			return nil, fmt.Errorf("update operator %s with a non-document argument", op.Key)
		}
		for _, f := range fields {
			if strings.Contains(f.Key, ".") {
				return nil, fmt.Errorf("update of dotted field %q", f.Key)
			}
			switch op.Key {
			case "$set":
				out = setField(out, f.Key, f.Value)
			case "$setOnInsert":
				if inserting {
					out = setField(out, f.Key, f.Value)
				}
			case "$unset":
				out = unsetField(out, f.Key)
			default:
				return nil, fmt.Errorf("update operator %s", op.Key)
			}
		}
	}
	return out, nil
}

func setField(d bson.D, key string, v any) bson.D {
	for i := range d {
		if d[i].Key == key {
			d[i].Value = v
			return d
		}
	}
	return append(d, bson.E{Key: key, Value: v})
}

func unsetField(d bson.D, key string) bson.D {
	out := d[:0:0]
	for _, e := range d {
		if e.Key != key {
			out = append(out, e)
		}
	}
	return out
}

// lookup finds a top-level or dotted field.
func lookup(d bson.D, path string) (any, bool) {
	head, rest, dotted := strings.Cut(path, ".")
	for _, e := range d {
		if e.Key != head {
			continue
		}
		if !dotted {
			return e.Value, true
		}
		switch sub := e.Value.(type) {
		case bson.D:
			return lookup(sub, rest)
		case bson.Raw:
			var sd bson.D
			if bson.Unmarshal(sub, &sd) != nil {
				return nil, false
			}
			return lookup(sd, rest)
		}
		return nil, false
	}
	return nil, false
}

// equalValues compares two values as BSON (type and bytes), as an equality query on a single
// type does.
func equalValues(a, b any) bool {
	ta, da, errA := bson.MarshalValue(a)
	tb, db, errB := bson.MarshalValue(b)
	return errA == nil && errB == nil && ta == tb && bytes.Equal(da, db)
}

func equalDocs(a, b bson.D) bool {
	ra, errA := bson.Marshal(a)
	rb, errB := bson.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ra, rb)
}

func cloneD(d bson.D) bson.D { return append(bson.D(nil), d...) }
