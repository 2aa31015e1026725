package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// DefaultPageSize is the resync's page: 500 tenants and their statuses in two round trips.
const DefaultPageSize = 500

// TenantAndStatus is one tenant with its observed state (nil before the controller's first
// write).
type TenantAndStatus struct {
	Tenant Tenant
	Status *Status
}

// TenantPages calls fn with every tenant and its status, a page at a time: the tenants come
// through one cursor in _id order in batches of size, and each page's statuses through one
// find by _id: {$in: [page ids]}. Memory holds one page, whatever the number of tenants. fn
// must not keep the page: it is reused.
func (s *Store) TenantPages(ctx context.Context, size int, fn func(page []TenantAndStatus) error) error {
	if size <= 0 {
		size = DefaultPageSize
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(int32(size))
	cur, err := s.db.Collection(CollTenants).Find(ctx, bson.D{}, opts)
	if err != nil {
		return fmt.Errorf("page tenants: %w", err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	page := make([]TenantAndStatus, 0, size)
	ids := make([]bson.ObjectID, 0, size)
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		statuses, err := s.GetStatuses(ctx, ids)
		if err != nil {
			return fmt.Errorf("page statuses: %w", err)
		}
		for i := range page {
			if st, ok := statuses[page[i].Tenant.ID]; ok {
				page[i].Status = &st
			}
		}
		err = fn(page)
		page, ids = page[:0], ids[:0]
		return err
	}
	for cur.Next(ctx) {
		var t Tenant
		if err := cur.Decode(&t); err != nil {
			return fmt.Errorf("page tenants: %w", err)
		}
		page = append(page, TenantAndStatus{Tenant: t})
		ids = append(ids, t.ID)
		if len(page) == size {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("page tenants: %w", err)
	}
	return flush()
}
