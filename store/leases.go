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

// LeaseTerm is one term of a leader lease: `leases` holds one document per term, _id
// "<name>/<term>". Each document has exactly one writer, its holder (insert, renewals,
// release), so FerretDB's lost updates cannot bite; terms are arbitrated by the unique _id,
// which every Mongo-wire server enforces race-free.
type LeaseTerm struct {
	ID         string     `bson:"_id"`
	Name       string     `bson:"name"`
	Term       int64      `bson:"term"`
	Holder     string     `bson:"holder"`
	AcquiredAt time.Time  `bson:"acquiredAt"`
	RenewedAt  time.Time  `bson:"renewedAt"`
	ExpiresAt  time.Time  `bson:"expiresAt"`
	ReleasedAt *time.Time `bson:"releasedAt,omitempty"`
}

// LeaseTermID is the _id of one term of the lease name.
func LeaseTermID(name string, term int64) string { return fmt.Sprintf("%s/%d", name, term) }

// NewestLeaseTerm returns the highest term of the lease name, nil when there is none.
func (s *Store) NewestLeaseTerm(ctx context.Context, name string) (*LeaseTerm, error) {
	var d LeaseTerm
	err := s.db.Collection(CollLeases).FindOne(ctx, bson.D{{Key: "name", Value: name}},
		options.FindOne().SetSort(bson.D{{Key: "term", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lease: %w", err)
	}
	return &d, nil
}

// InsertLeaseTerm claims a new term; ErrAlreadyExists when another candidate took it first.
func (s *Store) InsertLeaseTerm(ctx context.Context, t LeaseTerm) error {
	if _, err := s.db.Collection(CollLeases).InsertOne(ctx, t); err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("lease term %s: %w", t.ID, ErrAlreadyExists)
		}
		return fmt.Errorf("acquire lease term %s: %w", t.ID, err)
	}
	return nil
}

// RenewLeaseTerm moves the term's expiry; ErrNotFound when the holder's document is gone.
func (s *Store) RenewLeaseTerm(ctx context.Context, id, holder string, renewedAt, expiresAt time.Time) error {
	res, err := s.db.Collection(CollLeases).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: expiresAt}, {Key: "renewedAt", Value: renewedAt}}}})
	if err != nil {
		return fmt.Errorf("renew lease term %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("lease term %s: %w", id, ErrNotFound)
	}
	return nil
}

// ReleaseLeaseTerm ends the term at once, so a standby takes over at its next look.
func (s *Store) ReleaseLeaseTerm(ctx context.Context, id, holder string, at time.Time) error {
	_, err := s.db.Collection(CollLeases).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: at}, {Key: "releasedAt", Value: at}}}})
	if err != nil {
		return fmt.Errorf("release lease term %s: %w", id, err)
	}
	return nil
}

// DeleteLeaseTermsUpTo removes the lease's terms up to and including term.
func (s *Store) DeleteLeaseTermsUpTo(ctx context.Context, name string, term int64) error {
	_, err := s.db.Collection(CollLeases).DeleteMany(ctx, bson.D{{Key: "name", Value: name}, {Key: "term", Value: bson.D{{Key: "$lte", Value: term}}}})
	if err != nil {
		return fmt.Errorf("clean up lease terms: %w", err)
	}
	return nil
}
