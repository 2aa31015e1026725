package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// watchPipeline is the tenants change stream's pipeline. It must stay the same across restarts
// (a stored resume token belongs to it) and keeps only what the controller uses: the tenant's
// id. _id (the resume token) survives the inclusion projection.
var watchPipeline = mongo.Pipeline{{{Key: "$project", Value: bson.D{
	{Key: "operationType", Value: 1}, {Key: "documentKey", Value: 1},
}}}}

// WatchTenants opens a change stream on tenants, resuming after token when there is one.
// maxAwait bounds each getMore, so an idle stream still returns (with a post-batch token)
// regularly. A server without change streams answers with an error the caller classifies.
func (s *Store) WatchTenants(ctx context.Context, token bson.Raw, maxAwait time.Duration) (*mongo.ChangeStream, error) {
	opts := options.ChangeStream().SetMaxAwaitTime(maxAwait)
	if token != nil {
		opts.SetResumeAfter(token)
	}
	cs, err := s.db.Collection(CollTenants).Watch(ctx, watchPipeline, opts)
	if err != nil {
		return nil, fmt.Errorf("watch tenants: %w", err)
	}
	return cs, nil
}
