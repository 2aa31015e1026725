package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/store"
)

// errLeaseLost: another replica holds a newer term, or our term's document is gone.
var errLeaseLost = errors.New("controller lease lost")

// errLeaseExpiring: renewals failed for so long that the term could expire soon; the leader
// stops before it does, so two leaders never overlap.
var errLeaseExpiring = errors.New("controller lease not renewed in time")

// keepTerms is how many old term documents survive cleanup (for an operator's curiosity).
const keepTerms = 5

// leaseDoc is one term of the lease: `leases` holds one document per term, _id
// "<name>/<term>". Each document has exactly one writer, its holder (insert, renewals,
// release), so FerretDB's lost updates cannot bite; terms are arbitrated by the unique _id,
// which every Mongo-wire server enforces race-free.
type leaseDoc struct {
	ID         string     `bson:"_id"`
	Name       string     `bson:"name"`
	Term       int64      `bson:"term"`
	Holder     string     `bson:"holder"`
	AcquiredAt time.Time  `bson:"acquiredAt"`
	RenewedAt  time.Time  `bson:"renewedAt"`
	ExpiresAt  time.Time  `bson:"expiresAt"`
	ReleasedAt *time.Time `bson:"releasedAt,omitempty"`
}

// lease is the Mongo side of leader election (DESIGN §6).
type lease struct {
	coll     *mongo.Collection
	now      func() time.Time
	name     string
	holder   string
	duration time.Duration

	// held is the last term this lease (this controller) acquired, 0 before any. Only the
	// campaign loop of its controller touches it.
	held int64
}

func newLease(st *store.Store, name, holder string, d time.Duration) *lease {
	return &lease{coll: st.Collection(store.CollLeases), now: st.Now, name: name, holder: holder, duration: d}
}

func (l *lease) id(term int64) string { return fmt.Sprintf("%s/%d", l.name, term) }

// newest returns the highest term's document, nil when there is none.
func (l *lease) newest(ctx context.Context) (*leaseDoc, error) {
	var d leaseDoc
	err := l.coll.FindOne(ctx, bson.D{{Key: "name", Value: l.name}},
		options.FindOne().SetSort(bson.D{{Key: "term", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lease: %w", err)
	}
	return &d, nil
}

// tryAcquire takes the next term when the newest one has expired (or there is none), or when
// the newest one is our own. ok is false when someone else holds an unexpired term or won the
// race for the next one. Expiry is judged on expiresAt, written by the holder's clock: the
// holder stops LeaseRenew before expiresAt by its own clock, so clocks may differ by up to
// LeaseRenew.
//
// Our own term, expired or not, is no reason to wait: tryAcquire runs only while this
// controller does not lead (its workers of that term have stopped), and the expiry exists to
// keep *another* controller from leading beside a holder that may still be working. Without
// this a leader that stepped down because the database was unreachable sat out the rest of its
// own term after the database came back, with nobody else able to take over meanwhile. "Own"
// means the term this very lease acquired, not merely one carrying our holder name: another
// controller configured with the same identity (or a second one in the same process) is
// someone else.
func (l *lease) tryAcquire(ctx context.Context) (term int64, ok bool, err error) {
	cur, err := l.newest(ctx)
	if err != nil {
		return 0, false, err
	}
	now := l.now()
	own := cur != nil && cur.Holder == l.holder && cur.Term == l.held
	if cur != nil && cur.ExpiresAt.After(now) && !own {
		return cur.Term, false, nil
	}
	next := int64(1)
	if cur != nil {
		next = cur.Term + 1
	}
	doc := leaseDoc{ID: l.id(next), Name: l.name, Term: next, Holder: l.holder,
		AcquiredAt: now, RenewedAt: now, ExpiresAt: now.Add(l.duration)}
	if _, err := l.coll.InsertOne(ctx, doc); err != nil {
		if isDuplicateKey(err) {
			return next, false, nil // another candidate took this term first
		}
		return 0, false, fmt.Errorf("acquire lease term %d: %w", next, err)
	}
	l.held = next
	return next, true, nil
}

// renew extends our term. errLeaseLost when our document is gone or a newer term exists
// (we were deemed expired: stop at once).
func (l *lease) renew(ctx context.Context, term int64) error {
	now := l.now()
	res, err := l.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: l.id(term)}, {Key: "holder", Value: l.holder}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: now.Add(l.duration)}, {Key: "renewedAt", Value: now}}}})
	if err != nil {
		return fmt.Errorf("renew lease term %d: %w", term, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("term %d document gone: %w", term, errLeaseLost)
	}
	cur, err := l.newest(ctx)
	if err != nil {
		return err
	}
	if cur != nil && cur.Term > term {
		return fmt.Errorf("term %d taken by %s while we held %d: %w", cur.Term, cur.Holder, term, errLeaseLost)
	}
	return nil
}

// release ends our term now, so a standby takes over at its next look instead of waiting for
// the term to expire.
func (l *lease) release(ctx context.Context, term int64) error {
	now := l.now()
	_, err := l.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: l.id(term)}, {Key: "holder", Value: l.holder}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: now}, {Key: "releasedAt", Value: now}}}})
	if err != nil {
		return fmt.Errorf("release lease term %d: %w", term, err)
	}
	return nil
}

// isDuplicateKey recognises a unique-key violation: 11000 on MongoDB; FerretDB reports some as
// code 1 with "duplicate" in the message (DESIGN §8).
func isDuplicateKey(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(1) && strings.Contains(strings.ToLower(err.Error()), "duplicate")
}

// cleanup deletes term documents older than the last keepTerms.
func (l *lease) cleanup(ctx context.Context, term int64) error {
	if term <= keepTerms {
		return nil
	}
	_, err := l.coll.DeleteMany(ctx, bson.D{{Key: "name", Value: l.name}, {Key: "term", Value: bson.D{{Key: "$lte", Value: term - keepTerms}}}})
	if err != nil {
		return fmt.Errorf("clean up lease terms: %w", err)
	}
	return nil
}
