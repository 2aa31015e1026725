package workqueue

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// drain takes every waiting key in the order Get hands them out, marking each Done.
func drain(q *Queue[string]) []string {
	var out []string
	for q.Len() > 0 {
		k, _, shut := q.Get()
		if shut {
			break
		}
		out = append(out, k)
		q.Done(k)
	}
	return out
}

type add struct {
	key string
	p   Priority
}

func TestOrder(t *testing.T) {
	cases := map[string]struct {
		reason string
		adds   []add
		want   []string
	}{
		"dedup": {
			reason: "a key queued twice is processed once",
			adds:   []add{{"a", High}, {"b", High}, {"a", High}},
			want:   []string{"a", "b"},
		},
		"fifo within a priority": {
			reason: "keys of one priority are served in arrival order",
			adds:   []add{{"c", Low}, {"a", Low}, {"b", Low}},
			want:   []string{"c", "a", "b"},
		},
		"high before low": {
			reason: "a real change is served before queued resync items",
			adds:   []add{{"r1", Low}, {"r2", Low}, {"r3", Low}, {"new", High}},
			want:   []string{"new", "r1", "r2", "r3"},
		},
		"promotion": {
			reason: "a resync item that then changes for real jumps the Low line, once",
			adds:   []add{{"r1", Low}, {"r2", Low}, {"r2", High}},
			want:   []string{"r2", "r1"},
		},
		"no demotion": {
			reason: "a resync of a key already queued for a change leaves it at High",
			adds:   []add{{"r1", Low}, {"x", High}, {"x", Low}},
			want:   []string{"x", "r1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			q := New[string](Options{})
			defer q.ShutDown()
			for _, a := range tc.adds {
				q.Add(a.key, a.p, 0)
			}
			if diff := cmp.Diff(tc.want, drain(q)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
			if q.LenLow() != 0 {
				t.Errorf("LenLow = %d after draining, want 0", q.LenLow())
			}
		})
	}
}

func TestAddWhileProcessingRunsOnceMoreAfterDone(t *testing.T) {
	q := New[string](Options{})
	defer q.ShutDown()
	q.Add("a", High, 0)
	k, _, _ := q.Get()
	q.Add("a", Low, 0)
	q.Add("a", High, 0)
	q.Add("a", High, 0)
	if n := q.Len(); n != 0 {
		t.Fatalf("a key being processed was queued again before Done: Len = %d", n)
	}
	q.Add("b", Low, 0)
	q.Done(k)
	// "a" was re-added at High while processing, so it comes back at High, before "b".
	if diff := cmp.Diff([]string{"a", "b"}, drain(q)); diff != "" {
		t.Errorf("after Done (-want +got):\n%s", diff)
	}
	if got := drain(q); len(got) != 0 {
		t.Errorf("processed %v more: a key re-added while processing must run exactly once more", got)
	}
}

func TestNoTwoWorkersOnOneKey(t *testing.T) {
	q := New[string](Options{})
	const workers, keys, adds = 8, 5, 2000
	var inFlight [keys]atomic.Int32
	var overlaps, processed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, _, shut := q.Get()
				if shut {
					return
				}
				var i int
				_, _ = fmt.Sscanf(k, "k%d", &i)
				if inFlight[i].Add(1) > 1 {
					overlaps.Add(1)
				}
				processed.Add(1)
				runtime.Gosched() // give a second worker the chance to grab the same key
				inFlight[i].Add(-1)
				q.Done(k)
			}
		}()
	}
	for i := 0; i < adds; i++ {
		q.Add(fmt.Sprintf("k%d", i%keys), Priority(i%2), 0)
	}
	eventually(t, 10*time.Second, func() bool { return q.Len() == 0 && q.processingLen() == 0 })
	q.ShutDown()
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatalf("%d times a key was processed by two workers at once", overlaps.Load())
	}
	if processed.Load() < keys || processed.Load() > adds {
		t.Fatalf("processed %d items for %d adds of %d keys", processed.Load(), adds, keys)
	}
}

func TestBackoffGrowsCapsAndResets(t *testing.T) {
	const initial, max = 100 * time.Millisecond, 2 * time.Second
	q := New[string](Options{BackoffInitial: initial, BackoffMax: max})
	defer q.ShutDown()
	var prev time.Duration
	for i := 0; i < 10; i++ {
		d := q.AddRateLimited("a", 0, 0)
		base := initial << i
		if base > max {
			base = max
		}
		lo, hi := time.Duration(float64(base)*0.75), time.Duration(float64(base)*1.25)
		if hi > max {
			hi = max
		}
		if d < lo || d > hi {
			t.Errorf("retry %d: delay %v outside [%v, %v]", i+1, d, lo, hi)
		}
		if base < max/2 && d <= prev {
			t.Errorf("retry %d: delay %v did not grow from %v", i+1, d, prev)
		}
		prev = d
	}
	if n := q.NumRequeues("a"); n != 10 {
		t.Errorf("NumRequeues = %d, want 10", n)
	}
	q.Forget("a")
	if n := q.NumRequeues("a"); n != 0 {
		t.Errorf("NumRequeues after Forget = %d, want 0", n)
	}
	if d := q.AddRateLimited("a", 0, 0); d > time.Duration(float64(initial)*1.25) {
		t.Errorf("after Forget the delay is %v, want about %v", d, initial)
	}
	if d := q.AddRateLimited("b", 700*time.Millisecond, 0); d != 700*time.Millisecond {
		t.Errorf("a Retry-After of 700ms gave delay %v", d)
	}
}

func TestAddAfterDelaysTheKey(t *testing.T) {
	q := New[string](Options{})
	defer q.ShutDown()
	start := time.Now()
	q.AddAfter("late", 150*time.Millisecond, 0)
	q.AddAfter("later", 300*time.Millisecond, 0)
	q.AddAfter("later", 10*time.Second, 0) // a later delay for a waiting key keeps the earlier one
	if q.Len() != 0 {
		t.Fatal("a delayed key is available at once")
	}
	for _, want := range []struct {
		key string
		min time.Duration
	}{{"late", 150 * time.Millisecond}, {"later", 300 * time.Millisecond}} {
		k, _, _ := q.Get()
		if el := time.Since(start); k != want.key || el < want.min {
			t.Fatalf("got %q after %v, want %q after at least %v", k, el, want.key, want.min)
		}
		q.Done(k)
	}
}

func TestAddWaitBlocksWhileLowIsFull(t *testing.T) {
	q := New[string](Options{LowLimit: 2})
	defer q.ShutDown()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "a"} { // "a" again merges without waiting
		if err := q.AddWait(ctx, k, 0); err != nil {
			t.Fatal(err)
		}
	}
	added := make(chan error, 1)
	go func() { added <- q.AddWait(ctx, "c", 0) }()
	select {
	case err := <-added:
		t.Fatalf("AddWait returned (%v) while %d Low keys were waiting", err, q.LenLow())
	case <-time.After(100 * time.Millisecond): // proving something does NOT happen needs a window
	}
	q.Add("h", High, 0) // High keys are never held back
	k, _, _ := q.Get()
	q.Done(k)
	k, _, _ = q.Get() // takes "a": one Low slot frees
	q.Done(k)
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b", "c"}, drain(q)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	cctx, cancel := context.WithCancel(ctx)
	_ = q.AddWait(ctx, "x", 0)
	_ = q.AddWait(ctx, "y", 0)
	cancel()
	if err := q.AddWait(cctx, "z", 0); err == nil {
		t.Error("AddWait with a cancelled context on a full queue returned nil")
	}
}

func TestShutDownDrainsInFlightWork(t *testing.T) {
	q := New[string](Options{})
	q.Add("a", High, 0)
	q.Add("b", High, 0)
	k, _, _ := q.Get()
	drained := make(chan struct{})
	go func() {
		q.ShutDownWithDrain()
		close(drained)
	}()
	eventually(t, 5*time.Second, q.ShuttingDown)
	if _, _, shut := q.Get(); !shut {
		t.Fatal("Get handed out a key after ShutDown")
	}
	select {
	case <-drained:
		t.Fatal("ShutDownWithDrain returned while a key was still being processed")
	default:
	}
	q.Add("c", High, 0) // ignored after shutdown
	q.Done(k)
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("ShutDownWithDrain did not return after the last Done")
	}
	if err := q.AddWait(context.Background(), "d", 0); err != ErrShutDown {
		t.Errorf("AddWait after shutdown = %v, want ErrShutDown", err)
	}
}

func TestFlags(t *testing.T) {
	const resync, retry Flags = 1, 2
	q := New[string](Options{})
	defer q.ShutDown()

	q.Add("a", Low, resync)
	q.Add("a", High, 0)
	if k, f, _ := q.Get(); k != "a" || f != resync {
		t.Fatalf("got %q flags %b: flags must merge on dedup and survive a promotion", k, f)
	}
	// Added while processing: the flags wait for the next run, not this one.
	q.Add("a", High, retry)
	q.Done("a")
	if k, f, _ := q.Get(); k != "a" || f != retry {
		t.Fatalf("re-run got %q flags %b, want retry", k, f)
	}
	q.Done("a")

	// A delayed add's flags reach the run it was for, not an earlier run of the same key.
	q.AddAfter("b", 200*time.Millisecond, retry)
	q.Add("b", High, 0)
	if k, f, _ := q.Get(); k != "b" || f != 0 {
		t.Fatalf("immediate run got %q flags %b, want none", k, f)
	}
	q.Done("b")
	if k, f, _ := q.Get(); k != "b" || f != retry {
		t.Fatalf("delayed run got %q flags %b, want retry", k, f)
	}
	q.Done("b")
}

// processingLen is for tests: keys handed out and not yet Done.
func (q *Queue[K]) processingLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.processing)
}

func eventually(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}
