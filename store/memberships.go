package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Memberships and subscriptions belong to a tenant by its id (tenantId), never by its slug: a
// slug is freed when its tenant is deleted and may be taken by a stranger, and a membership
// left behind by a teardown that crashed half-way must not grant anyone access to the new
// tenant. tenantSlug is kept on both for display and for operators reading the database.

// PutMembership creates or updates the (tenant, subject) membership; repeating it is harmless.
func (s *Store) PutMembership(ctx context.Context, m Membership) error {
	if m.Role != RoleOwner && m.Role != RoleAdmin && m.Role != RoleMember {
		return &ValidationError{Fields: []FieldError{{Field: "role", Message: "must be owner, admin or member"}}}
	}
	filter := bson.D{{Key: "tenantId", Value: m.TenantID}, {Key: "subject", Value: m.Subject}}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "role", Value: m.Role}, {Key: "email", Value: m.Email}, {Key: "tenantSlug", Value: m.TenantSlug}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "createdAt", Value: s.Now()}}},
	}
	_, err := s.db.Collection(CollMemberships).UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if err != nil && !isDuplicateKey(err) { // a concurrent identical upsert already created it
		return fmt.Errorf("put membership: %w", err)
	}
	return nil
}

// MembershipsOf lists a subject's memberships.
func (s *Store) MembershipsOf(ctx context.Context, subject string) ([]Membership, error) {
	return s.findMemberships(ctx, bson.D{{Key: "subject", Value: subject}})
}

// MembershipsIn lists a tenant's memberships.
func (s *Store) MembershipsIn(ctx context.Context, tenantID bson.ObjectID) ([]Membership, error) {
	return s.findMemberships(ctx, bson.D{{Key: "tenantId", Value: tenantID}})
}

// GetMembership reads one subject's membership of a tenant.
func (s *Store) GetMembership(ctx context.Context, tenantID bson.ObjectID, subject string) (*Membership, error) {
	var m Membership
	err := s.db.Collection(CollMemberships).FindOne(ctx, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "subject", Value: subject}}).Decode(&m)
	if err != nil {
		return nil, fmt.Errorf("get membership: %w", notFound(err))
	}
	return &m, nil
}

func (s *Store) findMemberships(ctx context.Context, filter bson.D) ([]Membership, error) {
	cur, err := s.db.Collection(CollMemberships).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "tenantSlug", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	var out []Membership
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	return out, nil
}

// PutSubscription creates or updates a tenant's subscription (one per tenant).
func (s *Store) PutSubscription(ctx context.Context, sub Subscription) error {
	filter := bson.D{{Key: "tenantId", Value: sub.TenantID}}
	if sub.PeriodEnd.IsZero() {
		sub.PeriodEnd = s.Now().AddDate(0, 1, 0)
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "tenantSlug", Value: sub.TenantSlug}, {Key: "plan", Value: sub.Plan}, {Key: "status", Value: sub.Status},
			{Key: "seats", Value: sub.Seats}, {Key: "updatedAt", Value: s.Now()},
		}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "periodEnd", Value: sub.PeriodEnd.UTC().Truncate(time.Millisecond)}}},
	}
	_, err := s.db.Collection(CollSubscriptions).UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("put subscription: %w", err)
	}
	return nil
}

// GetSubscription reads a tenant's subscription.
func (s *Store) GetSubscription(ctx context.Context, tenantID bson.ObjectID) (*Subscription, error) {
	var sub Subscription
	if err := s.db.Collection(CollSubscriptions).FindOne(ctx, bson.D{{Key: "tenantId", Value: tenantID}}).Decode(&sub); err != nil {
		return nil, fmt.Errorf("get subscription: %w", notFound(err))
	}
	return &sub, nil
}

// deleteOwnedBy removes a tenant's memberships and subscription (DeleteTenant).
func (s *Store) deleteOwnedBy(ctx context.Context, tenantID bson.ObjectID) error {
	byID := bson.D{{Key: "tenantId", Value: tenantID}}
	if _, err := s.db.Collection(CollMemberships).DeleteMany(ctx, byID); err != nil {
		return fmt.Errorf("delete memberships: %w", err)
	}
	if _, err := s.db.Collection(CollSubscriptions).DeleteMany(ctx, byID); err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	return nil
}

// Index names and codes of the move from slug-keyed to id-keyed memberships and subscriptions.
const (
	codeNamespaceNotFound = 26
	codeIndexNotFound     = 27
)

// dropSlugKeyedIndexes removes the unique indexes that keyed memberships and subscriptions by
// slug, which databases written by earlier builds still have: left in place they would refuse
// the owner membership of a new tenant that reuses a slug while an old one's leftover exists.
func (s *Store) dropSlugKeyedIndexes(ctx context.Context) error {
	for coll, name := range map[string]string{CollMemberships: "tenant_subject_unique", CollSubscriptions: "tenant_unique"} {
		err := s.db.Collection(coll).Indexes().DropOne(ctx, name)
		var se mongo.ServerError
		if err != nil && !(errors.As(err, &se) && (se.HasErrorCode(codeIndexNotFound) || se.HasErrorCode(codeNamespaceNotFound))) {
			return fmt.Errorf("drop index %s.%s: %w", coll, name, err)
		}
	}
	return nil
}
