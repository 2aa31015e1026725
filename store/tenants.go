package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/plan"
)

// ErrDeleting: the tenant's deletion was requested; its spec no longer changes.
var ErrDeleting = errors.New("tenant is being deleted")

// maxCASAttempts bounds the re-read loop of an update without an expected resourceVersion when
// another process keeps writing the same tenant.
const maxCASAttempts = 8

// NewTenant is what a caller supplies to create a tenant.
type NewTenant struct {
	Slug   string
	Spec   Spec
	Labels map[string]string
}

// CreateTenant inserts a tenant with generation 1 and resourceVersion 1. An empty plan becomes
// the default and the mail domain is stored lowercase. Unique indexes decide races, across
// processes too: a taken slug is ErrAlreadyExists, a mail domain another tenant holds is
// ErrDomainTaken; either way nothing is written.
func (s *Store) CreateTenant(ctx context.Context, n NewTenant) (*Tenant, error) {
	if n.Spec.Plan == "" {
		n.Spec.Plan = plan.Default
	}
	if n.Spec.ManagementPolicy == "" {
		n.Spec.ManagementPolicy = PolicyFull
	}
	n.Spec = normalizeInput(n.Spec)
	ve := &ValidationError{}
	checkSlug(ve, "slug", n.Slug)
	if err := ValidateSpec(n.Spec); err != nil {
		ve.Fields = append(ve.Fields, err.(*ValidationError).Fields...)
	}
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	now := s.Now()
	t := &Tenant{
		ID: bson.NewObjectID(),
		Metadata: Metadata{
			Slug: n.Slug, Generation: 1, ResourceVersion: 1,
			CreatedAt: now, UpdatedAt: now, Labels: n.Labels,
		},
		Spec: n.Spec,
	}
	for attempt := 1; ; attempt++ {
		_, err := s.db.Collection(CollTenants).InsertOne(ctx, t)
		if err == nil {
			break
		}
		if !isDuplicateKey(err) {
			return nil, fmt.Errorf("insert tenant: %w", err)
		}
		taken, err := s.takenKey(ctx, n.Slug, n.Spec.Mail)
		if err != nil {
			return nil, err
		}
		if taken != nil || attempt == maxInsertAttempts {
			if taken == nil {
				taken = ErrAlreadyExists
			}
			return nil, fmt.Errorf("tenant %q: %w", n.Slug, taken)
		}
		// Whoever held the key is gone already (a tenant deleted meanwhile): try again.
	}
	s.slugs.put(t.Metadata.Slug, t.ID)
	return t, nil
}

// maxInsertAttempts bounds CreateTenant's retries when the key that collided was released
// before it could be named.
const maxInsertAttempts = 3

// takenKey names which unique key of a new tenant collided: the slug (ErrAlreadyExists, asked
// first, as before mail domains were unique) or the mail domain (ErrDomainTaken); nil when
// neither is held any more. The server's duplicate-key error cannot say: FerretDB's names no
// index.
func (s *Store) takenKey(ctx context.Context, slug string, mail *MailSpec) (taken, err error) {
	exists := func(filter bson.D) (bool, error) {
		err := s.db.Collection(CollTenants).FindOne(ctx, filter,
			options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("find the tenant holding a unique key: %w", err)
		}
		return true, nil
	}
	if held, err := exists(bson.D{{Key: "metadata.slug", Value: slug}}); err != nil || held {
		return ErrAlreadyExists, err
	}
	if mail == nil || mail.Domain == "" {
		return nil, nil
	}
	if held, err := exists(bson.D{{Key: "spec.mail.domain", Value: mail.Domain}}); err != nil || held {
		return ErrDomainTaken, err
	}
	return nil, nil
}

// GetTenant reads a tenant by slug, through the slug → id cache when it can (see slugCache).
func (s *Store) GetTenant(ctx context.Context, slug string) (*Tenant, error) {
	if id, ok := s.slugs.get(slug); ok {
		t, err := s.GetTenantByID(ctx, id)
		switch {
		case err == nil && t.Metadata.Slug == slug:
			return t, nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return nil, err
		}
		s.slugs.drop(slug)
	}
	t, err := s.findTenant(ctx, bson.D{{Key: "metadata.slug", Value: slug}})
	if err != nil {
		return nil, err
	}
	s.slugs.put(slug, t.ID)
	return t, nil
}

// GetTenantByID reads a tenant by id.
func (s *Store) GetTenantByID(ctx context.Context, id bson.ObjectID) (*Tenant, error) {
	return s.findTenant(ctx, bson.D{{Key: "_id", Value: id}})
}

func (s *Store) findTenant(ctx context.Context, filter bson.D) (*Tenant, error) {
	var t Tenant
	if err := s.db.Collection(CollTenants).FindOne(ctx, filter).Decode(&t); err != nil {
		return nil, fmt.Errorf("get tenant: %w", notFound(err))
	}
	return &t, nil
}

// Visibility restricts a listing to what a caller may see: tenants they own, tenants whose
// ids are in TenantIDs (their memberships: by id, so a reused slug grants nothing), tenants of
// the partners in PartnerIDs. A nil *Visibility sees all.
type Visibility struct {
	OwnerSub   string
	TenantIDs  []bson.ObjectID
	PartnerIDs []string
}

// ListOptions pages through tenants in _id order.
type ListOptions struct {
	// Cursor is the opaque nextCursor of the previous page; empty starts at the beginning.
	Cursor string
	// Limit caps the page; 0 means 50, the maximum is 500.
	Limit int
	// PartnerID keeps only one partner's tenants.
	PartnerID string
	// Visible, when set, keeps only what the caller may see.
	Visible *Visibility
}

// MaxPageSize caps ListOptions.Limit.
const MaxPageSize = 500

// ErrInvalidCursor: the cursor was not produced by ListTenants.
var ErrInvalidCursor = &ValidationError{Fields: []FieldError{{Field: "cursor", Message: "is not a cursor this server issued"}}}

// ListTenants returns one page and the cursor of the next ("" at the end). Ordering by _id keeps
// paging stable while others insert: a page starts strictly after the last id seen, so nothing
// that existed is skipped or repeated.
func (s *Store) ListTenants(ctx context.Context, o ListOptions) ([]Tenant, string, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > MaxPageSize {
		limit = MaxPageSize
	}
	filter := bson.D{}
	if o.Cursor != "" {
		after, err := DecodeCursor(o.Cursor)
		if err != nil {
			return nil, "", err
		}
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	if o.PartnerID != "" {
		filter = append(filter, bson.E{Key: "spec.partnerId", Value: o.PartnerID})
	}
	if v := o.Visible; v != nil {
		or := bson.A{}
		if v.OwnerSub != "" {
			or = append(or, bson.D{{Key: "spec.owner.sub", Value: v.OwnerSub}})
		}
		if len(v.TenantIDs) > 0 {
			or = append(or, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: v.TenantIDs}}}})
		}
		if len(v.PartnerIDs) > 0 {
			or = append(or, bson.D{{Key: "spec.partnerId", Value: bson.D{{Key: "$in", Value: v.PartnerIDs}}}})
		}
		if len(or) == 0 {
			return nil, "", nil
		}
		filter = append(filter, bson.E{Key: "$or", Value: or})
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit) + 1)
	cur, err := s.db.Collection(CollTenants).Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	var out []Tenant
	if err := cur.All(ctx, &out); err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = EncodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// EncodeCursor makes the opaque cursor that resumes after id.
func EncodeCursor(id bson.ObjectID) string {
	return base64.RawURLEncoding.EncodeToString([]byte("t1:" + id.Hex()))
}

// DecodeCursor reverses EncodeCursor; anything else is ErrInvalidCursor.
func DecodeCursor(c string) (bson.ObjectID, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), "t1:") {
		return bson.ObjectID{}, ErrInvalidCursor
	}
	id, err := bson.ObjectIDFromHex(strings.TrimPrefix(string(raw), "t1:"))
	if err != nil {
		return bson.ObjectID{}, ErrInvalidCursor
	}
	return id, nil
}

// change is what one tenant update sets and unsets besides resourceVersion and updatedAt.
type change struct {
	set   bson.D
	unset bson.D
}

func (c change) empty() bool { return len(c.set) == 0 && len(c.unset) == 0 }

// modify is the one read-modify-write path for tenants: read, let fn decide the change (fn
// also applies it to t, so the caller gets the new state without another read), then write
// with a compare-and-set on resourceVersion. With expectedRV > 0 a stale version is
// ErrConflict; without it a lost race re-reads and tries again. fn returning an empty change
// writes nothing at all.
func (s *Store) modify(ctx context.Context, slug string, expectedRV int64, fn func(t *Tenant) (change, error)) (*Tenant, error) {
	mu := s.lockFor(slug)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		t, err := s.GetTenant(ctx, slug)
		if err != nil {
			return nil, err
		}
		rv := t.Metadata.ResourceVersion
		if expectedRV > 0 && rv != expectedRV {
			return nil, fmt.Errorf("tenant %q at resourceVersion %d, not %d: %w", slug, rv, expectedRV, ErrConflict)
		}
		ch, err := fn(t)
		if err != nil {
			return nil, err
		}
		if ch.empty() {
			return t, nil
		}
		now := s.Now()
		set := append(ch.set, bson.E{Key: "metadata.resourceVersion", Value: rv + 1}, bson.E{Key: "metadata.updatedAt", Value: now})
		update := bson.D{{Key: "$set", Value: set}}
		if len(ch.unset) > 0 {
			update = append(update, bson.E{Key: "$unset", Value: ch.unset})
		}
		res, err := s.db.Collection(CollTenants).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: t.ID}, {Key: "metadata.resourceVersion", Value: rv}}, update)
		if err != nil {
			return nil, fmt.Errorf("update tenant: %w", err)
		}
		if res.MatchedCount == 1 {
			t.Metadata.ResourceVersion = rv + 1
			t.Metadata.UpdatedAt = now
			return t, nil
		}
		if expectedRV > 0 {
			return nil, fmt.Errorf("tenant %q changed concurrently: %w", slug, ErrConflict)
		}
	}
	return nil, fmt.Errorf("tenant %q kept changing: %w", slug, ErrConflict)
}

// UpdateSpec applies mutate to a copy of the spec, validates it and writes it when it differs:
// generation +1 only then. expectedRV > 0 makes a stale version ErrConflict. A spec that comes
// out equal writes nothing. A mail domain another tenant holds is ErrDomainTaken, decided by
// the unique index in the same write that releases the tenant's old domain, so a crash can
// never leave a domain held by nobody or by two tenants.
func (s *Store) UpdateSpec(ctx context.Context, slug string, expectedRV int64, mutate func(*Spec) error) (*Tenant, error) {
	t, err := s.modify(ctx, slug, expectedRV, func(t *Tenant) (change, error) {
		if t.Metadata.DeletionRequestedAt != nil {
			return change{}, fmt.Errorf("tenant %q: %w", slug, ErrDeleting)
		}
		next := cloneSpec(t.Spec)
		if err := mutate(&next); err != nil {
			return change{}, err
		}
		next = normalizeInput(next)
		if err := ValidateSpec(next); err != nil {
			return change{}, err
		}
		if reflect.DeepEqual(normalizeSpec(next), normalizeSpec(t.Spec)) {
			return change{}, nil
		}
		t.Spec = next
		t.Metadata.Generation++
		return change{set: bson.D{
			{Key: "spec", Value: next},
			{Key: "metadata.generation", Value: t.Metadata.Generation},
		}}, nil
	})
	if isDuplicateKey(err) {
		// The only unique key a spec write can collide on is the mail domain.
		return nil, fmt.Errorf("tenant %q: %w", slug, ErrDomainTaken)
	}
	return t, err
}

// SetAnnotation sets (value != "") or removes (value == "") one annotation: resourceVersion
// +1, generation unchanged. Setting the value already there writes nothing.
func (s *Store) SetAnnotation(ctx context.Context, slug, key, value string) (*Tenant, error) {
	if key == "" || strings.ContainsAny(key, ".$") {
		return nil, &ValidationError{Fields: []FieldError{{Field: "annotation", Message: "key must be non-empty without '.' or '$'"}}}
	}
	return s.modify(ctx, slug, 0, func(t *Tenant) (change, error) {
		cur, had := t.Metadata.Annotations[key]
		path := "metadata.annotations." + key
		switch {
		case value == "" && !had, value != "" && had && cur == value:
			return change{}, nil
		case value == "":
			delete(t.Metadata.Annotations, key)
			return change{unset: bson.D{{Key: path, Value: ""}}}, nil
		default:
			if t.Metadata.Annotations == nil {
				t.Metadata.Annotations = StringMap{}
			}
			t.Metadata.Annotations[key] = value
			return change{set: bson.D{{Key: path, Value: value}}}, nil
		}
	})
}

// RequestDeletion stamps deletionRequestedAt (once; a repeated request changes nothing) and
// reports whether the deletion had already been requested.
func (s *Store) RequestDeletion(ctx context.Context, slug string) (t *Tenant, already bool, err error) {
	t, err = s.modify(ctx, slug, 0, func(t *Tenant) (change, error) {
		if t.Metadata.DeletionRequestedAt != nil {
			already = true
			return change{}, nil
		}
		now := s.Now()
		t.Metadata.DeletionRequestedAt = &now
		return change{set: bson.D{{Key: "metadata.deletionRequestedAt", Value: now}}}, nil
	})
	return t, already, err
}

// DeleteTenant removes a tenant and everything hanging off it: memberships, subscription,
// events, status, and last the tenant itself, so a crash half-way leaves the tenant (still
// marked for deletion) for the controller to finish.
func (s *Store) DeleteTenant(ctx context.Context, id bson.ObjectID) error {
	if err := s.deleteOwnedBy(ctx, id); err != nil {
		return err
	}
	if _, err := s.db.Collection(CollEvents).DeleteMany(ctx, bson.D{{Key: "tenantId", Value: id}}); err != nil {
		return fmt.Errorf("delete events: %w", err)
	}
	if err := s.DeleteStatus(ctx, id); err != nil {
		return err
	}
	if _, err := s.db.Collection(CollTenants).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("delete tenant: %w", err)
	}
	return nil
}

// StreamTenantIDs calls fn with every tenant id, read through a cursor in batches so memory
// does not grow with the number of tenants (the controller's resync).
func (s *Store) StreamTenantIDs(ctx context.Context, fn func(bson.ObjectID) error) error {
	opts := options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(1000)
	cur, err := s.db.Collection(CollTenants).Find(ctx, bson.D{}, opts)
	if err != nil {
		return fmt.Errorf("stream tenant ids: %w", err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		id, ok := cur.Current.Lookup("_id").ObjectIDOK()
		if !ok {
			continue
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("stream tenant ids: %w", err)
	}
	return nil
}

// TenantVersion identifies one written state of a tenant for the poll source: a hand-written
// update that only touches updatedAt still changes the pair.
type TenantVersion struct {
	ID              bson.ObjectID
	ResourceVersion int64
	UpdatedAt       time.Time
}

// TenantsUpdatedSince streams the version of every tenant whose metadata.updatedAt >= since.
func (s *Store) TenantsUpdatedSince(ctx context.Context, since time.Time, fn func(TenantVersion) error) error {
	opts := options.Find().SetProjection(bson.D{
		{Key: "_id", Value: 1}, {Key: "metadata.resourceVersion", Value: 1}, {Key: "metadata.updatedAt", Value: 1},
	}).SetBatchSize(1000)
	filter := bson.D{{Key: "metadata.updatedAt", Value: bson.D{{Key: "$gte", Value: since}}}}
	cur, err := s.db.Collection(CollTenants).Find(ctx, filter, opts)
	if err != nil {
		return fmt.Errorf("poll tenants: %w", err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var d struct {
			ID       bson.ObjectID `bson:"_id"`
			Metadata struct {
				ResourceVersion int64     `bson:"resourceVersion"`
				UpdatedAt       time.Time `bson:"updatedAt"`
			} `bson:"metadata"`
		}
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("poll tenants: %w", err)
		}
		if err := fn(TenantVersion{ID: d.ID, ResourceVersion: d.Metadata.ResourceVersion, UpdatedAt: d.Metadata.UpdatedAt}); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("poll tenants: %w", err)
	}
	return nil
}

// CountTenants counts every tenant (metrics, benchmarks).
func (s *Store) CountTenants(ctx context.Context) (int64, error) {
	return s.db.Collection(CollTenants).CountDocuments(ctx, bson.D{})
}

func cloneSpec(s Spec) Spec {
	out := s
	if s.Mail != nil {
		m := *s.Mail
		out.Mail = &m
	}
	if s.Storage != nil {
		st := *s.Storage
		out.Storage = &st
	}
	return out
}

// normalizeInput puts what a caller wrote into the one spelling the store keeps: the mail
// domain in lowercase (see NormalizeDomain).
func normalizeInput(s Spec) Spec {
	if s.Mail != nil {
		m := *s.Mail
		m.Domain = NormalizeDomain(m.Domain)
		s.Mail = &m
	}
	return s
}

// normalizeSpec makes equal meaning compare equal: an empty storage override is no override,
// and no policy is the Full policy.
func normalizeSpec(s Spec) Spec {
	s = cloneSpec(s)
	if s.Storage != nil && s.Storage.QuotaBytes == 0 {
		s.Storage = nil
	}
	s.ManagementPolicy = s.Policy()
	return s
}
