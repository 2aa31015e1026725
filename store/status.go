package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// GetStatus reads a tenant's observed state; ErrNotFound before the controller's first write.
func (s *Store) GetStatus(ctx context.Context, id bson.ObjectID) (*Status, error) {
	var st Status
	if err := s.db.Collection(CollTenantStatus).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&st); err != nil {
		return nil, fmt.Errorf("get status: %w", notFound(err))
	}
	return &st, nil
}

// GetStatuses reads the statuses of a page of tenants in one query (no N+1); tenants without a
// status are absent from the map.
func (s *Store) GetStatuses(ctx context.Context, ids []bson.ObjectID) (map[bson.ObjectID]Status, error) {
	out := make(map[bson.ObjectID]Status, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	// One batch for the whole page: a page's statuses in one round trip, no getMore.
	cur, err := s.db.Collection(CollTenantStatus).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetBatchSize(int32(len(ids))))
	if err != nil {
		return nil, fmt.Errorf("get statuses: %w", err)
	}
	var list []Status
	if err := cur.All(ctx, &list); err != nil {
		return nil, fmt.Errorf("get statuses: %w", err)
	}
	for _, st := range list {
		out[st.ID] = st
	}
	return out, nil
}

// PutStatus writes a tenant's status, fenced by leader term: it replaces the stored document
// only if that was written under the same or an older term. A newer term's document makes the
// filter miss, the upsert then collides on _id, and the write is refused with ErrFenced — so a
// deposed leader cannot overwrite its successor's observations.
func (s *Store) PutStatus(ctx context.Context, st *Status) error {
	filter := bson.D{{Key: "_id", Value: st.ID}, {Key: "leaderTerm", Value: bson.D{{Key: "$lte", Value: st.LeaderTerm}}}}
	_, err := s.db.Collection(CollTenantStatus).ReplaceOne(ctx, filter, st, options.Replace().SetUpsert(true))
	if err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("status of %s at term %d: %w", st.ID.Hex(), st.LeaderTerm, ErrFenced)
		}
		return fmt.Errorf("put status: %w", err)
	}
	return nil
}

// DeleteStatus removes a tenant's status (missing is fine).
func (s *Store) DeleteStatus(ctx context.Context, id bson.ObjectID) error {
	if _, err := s.db.Collection(CollTenantStatus).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("delete status: %w", err)
	}
	return nil
}
