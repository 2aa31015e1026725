package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// AppendEvent records one reconcile event.
func (s *Store) AppendEvent(ctx context.Context, ev Event) error {
	if ev.ID.IsZero() {
		ev.ID = bson.NewObjectID()
	}
	if ev.Time.IsZero() {
		ev.Time = s.Now()
	}
	if _, err := s.db.Collection(CollEvents).InsertOne(ctx, ev); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}

// AppendEvents records several events in one insert.
func (s *Store) AppendEvents(ctx context.Context, evs []Event) error {
	docs := make([]any, len(evs))
	for i, ev := range evs {
		if ev.ID.IsZero() {
			ev.ID = bson.NewObjectID()
		}
		if ev.Time.IsZero() {
			ev.Time = s.Now()
		}
		docs[i] = ev
	}
	if _, err := s.db.Collection(CollEvents).InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	return nil
}

// ListEvents returns a tenant's newest events first, at most limit.
func (s *Store) ListEvents(ctx context.Context, tenantID bson.ObjectID, limit int) ([]Event, error) {
	opts := options.Find().SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit))
	cur, err := s.db.Collection(CollEvents).Find(ctx, bson.D{{Key: "tenantId", Value: tenantID}}, opts)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	var out []Event
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// TrimEvents keeps a tenant's newest keep events and deletes the rest. It deletes by id rather
// than by a time bound so events with equal times are trimmed exactly.
func (s *Store) TrimEvents(ctx context.Context, tenantID bson.ObjectID, keep int) error {
	opts := options.Find().SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(int64(keep)).SetProjection(bson.D{{Key: "_id", Value: 1}})
	cur, err := s.db.Collection(CollEvents).Find(ctx, bson.D{{Key: "tenantId", Value: tenantID}}, opts)
	if err != nil {
		return fmt.Errorf("trim events: %w", err)
	}
	var old []struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &old); err != nil {
		return fmt.Errorf("trim events: %w", err)
	}
	if len(old) == 0 {
		return nil
	}
	ids := make([]bson.ObjectID, len(old))
	for i, o := range old {
		ids[i] = o.ID
	}
	if _, err := s.db.Collection(CollEvents).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
		return fmt.Errorf("trim events: %w", err)
	}
	return nil
}
