package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dezky/platform-api/store"
)

// errLeaseLost: another replica holds a newer term, or our term's document is gone.
var errLeaseLost = errors.New("controller lease lost")

// errLeaseExpiring: renewals failed for so long that the term could expire soon; the leader
// stops before it does, so two leaders never overlap.
var errLeaseExpiring = errors.New("controller lease not renewed in time")

// keepTerms is how many old term documents survive cleanup (for an operator's curiosity).
const keepTerms = 5

// lease is the leader election on the store's lease terms: one document per term, arbitrated
// by unique inserts, so it works on any Mongo-wire server.
type lease struct {
	st       *store.Store
	name     string
	holder   string
	duration time.Duration

	// held is the last term this lease (this controller) acquired, 0 before any. Only the
	// campaign loop of its controller touches it.
	held int64
}

func newLease(st *store.Store, name, holder string, d time.Duration) *lease {
	return &lease{st: st, name: name, holder: holder, duration: d}
}

func (l *lease) id(term int64) string { return store.LeaseTermID(l.name, term) }

// newest returns the highest term, nil when there is none.
func (l *lease) newest(ctx context.Context) (*store.LeaseTerm, error) {
	return l.st.NewestLeaseTerm(ctx, l.name)
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
	now := l.st.Now()
	own := cur != nil && cur.Holder == l.holder && cur.Term == l.held
	if cur != nil && cur.ExpiresAt.After(now) && !own {
		return cur.Term, false, nil
	}
	next := int64(1)
	if cur != nil {
		next = cur.Term + 1
	}
	err = l.st.InsertLeaseTerm(ctx, store.LeaseTerm{ID: l.id(next), Name: l.name, Term: next, Holder: l.holder,
		AcquiredAt: now, RenewedAt: now, ExpiresAt: now.Add(l.duration)})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return next, false, nil // another candidate took this term first
	case err != nil:
		return 0, false, err
	}
	l.held = next
	return next, true, nil
}

// renew extends our term. errLeaseLost when our document is gone or a newer term exists
// (we were deemed expired: stop at once).
func (l *lease) renew(ctx context.Context, term int64) error {
	now := l.st.Now()
	err := l.st.RenewLeaseTerm(ctx, l.id(term), l.holder, now, now.Add(l.duration))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("term %d document gone: %w", term, errLeaseLost)
	case err != nil:
		return err
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
	return l.st.ReleaseLeaseTerm(ctx, l.id(term), l.holder, l.st.Now())
}

// cleanup deletes term documents older than the last keepTerms.
func (l *lease) cleanup(ctx context.Context, term int64) error {
	if term <= keepTerms {
		return nil
	}
	return l.st.DeleteLeaseTermsUpTo(ctx, l.name, term-keepTerms)
}
