package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// CreateMembership inserts a membership that should not exist yet (the owner of a tenant just
// created); a (tenant, subject) pair already present is ErrAlreadyExists. It exists beside the
// upserting PutMembership because an insert is decided by the unique index alone, while an
// upsert's filter scans the collection on servers that push down only _id (FerretDB/SQLite).
func (s *Store) CreateMembership(ctx context.Context, m Membership) error {
	if m.Role != RoleOwner && m.Role != RoleAdmin && m.Role != RoleMember {
		return &ValidationError{Fields: []FieldError{{Field: "role", Message: "must be owner, admin or member"}}}
	}
	m.ID, m.CreatedAt = bson.NewObjectID(), s.Now()
	if _, err := s.db.Collection(CollMemberships).InsertOne(ctx, m); err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("membership %s/%s: %w", m.TenantSlug, m.Subject, ErrAlreadyExists)
		}
		return fmt.Errorf("insert membership: %w", err)
	}
	return nil
}

// CreateSubscription inserts the subscription of a tenant that has none yet; one already
// present is ErrAlreadyExists (then PutSubscription updates it). See CreateMembership for why.
func (s *Store) CreateSubscription(ctx context.Context, sub Subscription) error {
	now := s.Now()
	if sub.PeriodEnd.IsZero() {
		sub.PeriodEnd = now.AddDate(0, 1, 0)
	}
	sub.ID, sub.UpdatedAt = bson.NewObjectID(), now
	sub.PeriodEnd = sub.PeriodEnd.UTC().Truncate(time.Millisecond)
	if _, err := s.db.Collection(CollSubscriptions).InsertOne(ctx, sub); err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("subscription of %s: %w", sub.TenantSlug, ErrAlreadyExists)
		}
		return fmt.Errorf("insert subscription: %w", err)
	}
	return nil
}
