package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CreatePartner inserts a partner; a taken slug is ErrAlreadyExists. An empty status is active.
func (s *Store) CreatePartner(ctx context.Context, p Partner) (*Partner, error) {
	if p.Status == "" {
		p.Status = PartnerActive
	}
	if err := ValidatePartner(p); err != nil {
		return nil, err
	}
	now := s.Now()
	p.ID, p.ResourceVersion, p.CreatedAt, p.UpdatedAt = bson.NewObjectID(), 1, now, now
	if _, err := s.db.Collection(CollPartners).InsertOne(ctx, p); err != nil {
		if isDuplicateKey(err) {
			return nil, fmt.Errorf("partner %q: %w", p.Slug, ErrAlreadyExists)
		}
		return nil, fmt.Errorf("insert partner: %w", err)
	}
	return &p, nil
}

// GetPartner reads a partner by slug.
func (s *Store) GetPartner(ctx context.Context, slug string) (*Partner, error) {
	var p Partner
	if err := s.db.Collection(CollPartners).FindOne(ctx, bson.D{{Key: "slug", Value: slug}}).Decode(&p); err != nil {
		return nil, fmt.Errorf("get partner: %w", notFound(err))
	}
	return &p, nil
}

// ListPartners pages partners in _id order (same cursor scheme as tenants).
func (s *Store) ListPartners(ctx context.Context, cursor string, limit int) ([]Partner, string, error) {
	if limit <= 0 {
		limit = 50
	}
	if limit > MaxPageSize {
		limit = MaxPageSize
	}
	filter := bson.D{}
	if cursor != "" {
		after, err := DecodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	cur, err := s.db.Collection(CollPartners).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)+1))
	if err != nil {
		return nil, "", fmt.Errorf("list partners: %w", err)
	}
	var out []Partner
	if err := cur.All(ctx, &out); err != nil {
		return nil, "", fmt.Errorf("list partners: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = EncodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// UpdatePartner applies mutate (slug stays) and writes when something changed, compare-and-set
// on resourceVersion (expectedRV > 0: stale → ErrConflict).
func (s *Store) UpdatePartner(ctx context.Context, slug string, expectedRV int64, mutate func(*Partner) error) (*Partner, error) {
	mu := s.lockFor("partner/" + slug)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		p, err := s.GetPartner(ctx, slug)
		if err != nil {
			return nil, err
		}
		if expectedRV > 0 && p.ResourceVersion != expectedRV {
			return nil, fmt.Errorf("partner %q: %w", slug, ErrConflict)
		}
		next := *p
		if err := mutate(&next); err != nil {
			return nil, err
		}
		next.Slug = p.Slug
		if err := ValidatePartner(next); err != nil {
			return nil, err
		}
		if next.Name == p.Name && next.Contact == p.Contact && next.Status == p.Status {
			return p, nil
		}
		next.ResourceVersion, next.UpdatedAt = p.ResourceVersion+1, s.Now()
		res, err := s.db.Collection(CollPartners).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: p.ID}, {Key: "resourceVersion", Value: p.ResourceVersion}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "name", Value: next.Name}, {Key: "contact", Value: next.Contact}, {Key: "status", Value: next.Status},
				{Key: "resourceVersion", Value: next.ResourceVersion}, {Key: "updatedAt", Value: next.UpdatedAt},
			}}})
		if err != nil {
			return nil, fmt.Errorf("update partner: %w", err)
		}
		if res.MatchedCount == 1 {
			return &next, nil
		}
		if expectedRV > 0 {
			return nil, fmt.Errorf("partner %q: %w", slug, ErrConflict)
		}
	}
	return nil, fmt.Errorf("partner %q kept changing: %w", slug, ErrConflict)
}

// DeletePartner removes a partner (missing → ErrNotFound).
func (s *Store) DeletePartner(ctx context.Context, slug string) error {
	res, err := s.db.Collection(CollPartners).DeleteOne(ctx, bson.D{{Key: "slug", Value: slug}})
	if err != nil {
		return fmt.Errorf("delete partner: %w", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("partner %q: %w", slug, ErrNotFound)
	}
	return nil
}

// CountPartnerTenants counts a partner's tenants (a partner with tenants is not deleted).
func (s *Store) CountPartnerTenants(ctx context.Context, slug string) (int64, error) {
	return s.db.Collection(CollTenants).CountDocuments(ctx, bson.D{{Key: "spec.partnerId", Value: slug}})
}
