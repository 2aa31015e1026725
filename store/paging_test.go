package store_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// Paging while another goroutine inserts must show every tenant that existed before the first
// page exactly once.
func TestCursorPagingUnderConcurrentInserts(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	const existing = 1000
	coll := storetest.DB(t, st).Collection(store.CollTenants)
	docs := make([]any, 0, existing)
	before := map[string]bool{}
	for i := 0; i < existing; i++ {
		slug := fmt.Sprintf("pre-%04d", i)
		before[slug] = true
		docs = append(docs, newDoc(st, slug))
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	inserted := 0
	go func() {
		defer wg.Done()
		// Bounded: ids only grow, so an unbounded inserter faster than the pager would keep
		// handing it new pages forever.
		for i := 0; i < 300; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := st.CreateTenant(ctx, newTenant(fmt.Sprintf("new-%05d", i))); err != nil {
				t.Error(err)
				return
			}
			inserted++
		}
	}()

	seen := map[string]int{}
	cursor := ""
	pages := 0
	for {
		page, next, err := st.ListTenants(ctx, store.ListOptions{Cursor: cursor, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tn := range page {
			seen[tn.Metadata.Slug]++
		}
		if next == "" {
			break
		}
		cursor = next
	}
	close(stop)
	wg.Wait()

	for slug := range before {
		if seen[slug] != 1 {
			t.Errorf("pre-existing tenant %s seen %d times, want once", slug, seen[slug])
		}
	}
	for slug, n := range seen {
		if n != 1 {
			t.Errorf("tenant %s repeated %d times", slug, n)
		}
	}
	t.Logf("%d pages; %d tenants inserted concurrently", pages, inserted)
}

func newDoc(st *store.Store, slug string) store.Tenant {
	now := st.Now()
	return store.Tenant{
		ID:       newID(),
		Metadata: store.Metadata{Slug: slug, Generation: 1, ResourceVersion: 1, CreatedAt: now, UpdatedAt: now},
		Spec:     store.Spec{Name: slug, Plan: "starter", Owner: store.Owner{Sub: "s"}},
	}
}

// The API writes tenants, the controller writes tenant_status: the same tenant written on both
// sides at the same time loses neither write, even on FerretDB.
func TestStatusAndSpecWritesBothSurvive(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	tn, err := st.CreateTenant(ctx, newTenant("acme"))
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 1; i <= rounds; i++ {
			if _, err := st.UpdateSpec(ctx, "acme", 0, func(s *store.Spec) error { s.Name = fmt.Sprintf("name %d", i); return nil }); err != nil {
				t.Error(err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 1; i <= rounds; i++ {
			if err := st.PutStatus(ctx, &store.Status{ID: tn.ID, Slug: "acme", Phase: store.PhasePending, ObservedGeneration: int64(i), Steps: map[string]store.StepStatus{}}); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	got, err := st.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Name != fmt.Sprintf("name %d", rounds) || got.Metadata.Generation != rounds+1 {
		t.Errorf("spec side lost writes: name %q generation %d, want %q/%d", got.Spec.Name, got.Metadata.Generation, fmt.Sprintf("name %d", rounds), rounds+1)
	}
	status, err := st.GetStatus(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if status.ObservedGeneration != rounds {
		t.Errorf("status side lost writes: observedGeneration %d, want %d", status.ObservedGeneration, rounds)
	}
}

// Several goroutines of one process updating one tenant without an expected version all land:
// the store serialises them per tenant and compare-and-sets on resourceVersion.
func TestConcurrentSpecUpdatesInOneProcessLoseNothing(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	if _, err := st.CreateTenant(ctx, newTenant("acme")); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := st.SetAnnotation(ctx, "acme", fmt.Sprintf("w%d", w), fmt.Sprint(i)); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	got, err := st.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata.ResourceVersion != 1+writers*each {
		t.Errorf("resourceVersion %d, want %d (a write was lost)", got.Metadata.ResourceVersion, 1+writers*each)
	}
	for w := 0; w < writers; w++ {
		if v := got.Metadata.Annotations[fmt.Sprintf("w%d", w)]; v != fmt.Sprint(each-1) {
			t.Errorf("annotation w%d = %q, want %q", w, v, fmt.Sprint(each-1))
		}
	}
}
