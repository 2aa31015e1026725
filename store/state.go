package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Documents of controller_state.
const (
	// StateResyncRequest holds the newest operator request for a full resync
	// (POST /operator/resync); the controller compares it with the last one it served.
	StateResyncRequest = "resync-request"
	// StateTenantsWatch holds the change stream's resume token.
	StateTenantsWatch = "tenants-watch"
)

// RequestResync records an operator's request for a full resync and returns its time. The API
// writes it; the leader's controller picks it up, so the API never calls the controller.
func (s *Store) RequestResync(ctx context.Context) (time.Time, error) {
	now := s.Now()
	_, err := s.db.Collection(CollControllerState).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: StateResyncRequest}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "requestedAt", Value: now}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !isDuplicateKey(err) {
		return time.Time{}, fmt.Errorf("request resync: %w", err)
	}
	return now, nil
}

// ResyncRequestedAt returns the newest resync request (zero when there was none).
func (s *Store) ResyncRequestedAt(ctx context.Context) (time.Time, error) {
	var d struct {
		RequestedAt time.Time `bson:"requestedAt"`
	}
	err := s.db.Collection(CollControllerState).FindOne(ctx, bson.D{{Key: "_id", Value: StateResyncRequest}}).Decode(&d)
	if err != nil {
		if err = notFound(err); err == ErrNotFound {
			return time.Time{}, nil
		}
		return time.Time{}, fmt.Errorf("read resync request: %w", err)
	}
	return d.RequestedAt, nil
}

// ResumeToken returns the stored change-stream resume token (nil when none).
func (s *Store) ResumeToken(ctx context.Context) (bson.Raw, error) {
	var d struct {
		Token bson.Raw `bson:"token"`
	}
	err := s.db.Collection(CollControllerState).FindOne(ctx, bson.D{{Key: "_id", Value: StateTenantsWatch}}).Decode(&d)
	if err != nil {
		if err = notFound(err); err == ErrNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("read resume token: %w", err)
	}
	return d.Token, nil
}

// SaveResumeToken stores the change stream's resume token; nil drops it (history lost).
func (s *Store) SaveResumeToken(ctx context.Context, token bson.Raw) error {
	coll := s.db.Collection(CollControllerState)
	if token == nil {
		if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: StateTenantsWatch}}); err != nil {
			return fmt.Errorf("drop resume token: %w", err)
		}
		return nil
	}
	_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: StateTenantsWatch}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "token", Value: token}, {Key: "savedAt", Value: s.Now()}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("save resume token: %w", err)
	}
	return nil
}
