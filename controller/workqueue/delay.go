package workqueue

import (
	"container/heap"
	"sync"
	"time"
)

// delayer holds keys until their time comes, then hands them to fire. One goroutine and one
// timer serve every key (a timer per key would cost a goroutine each under a mass failure).
type delayer[K comparable] struct {
	fire func(K, Flags)

	mu      sync.Mutex
	items   waitHeap[K]
	byKey   map[K]*waitItem[K]
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

type waitItem[K comparable] struct {
	key   K
	at    time.Time
	flags Flags
	index int
}

func newDelayer[K comparable](fire func(K, Flags)) *delayer[K] {
	d := &delayer[K]{
		fire:    fire,
		byKey:   map[K]*waitItem[K]{},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go d.loop()
	return d
}

// add schedules k at at with flags f, or merges f into an already scheduled k and moves it
// earlier if at is earlier.
func (d *delayer[K]) add(k K, at time.Time, f Flags) {
	d.mu.Lock()
	if it, ok := d.byKey[k]; ok {
		it.flags |= f
		if !at.Before(it.at) {
			d.mu.Unlock()
			return
		}
		it.at = at
		heap.Fix(&d.items, it.index)
	} else {
		it := &waitItem[K]{key: k, at: at, flags: f}
		heap.Push(&d.items, it)
		d.byKey[k] = it
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *delayer[K]) loop() {
	defer close(d.stopped)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.mu.Lock()
		now := time.Now()
		var due []*waitItem[K]
		for len(d.items) > 0 && !d.items[0].at.After(now) {
			it := heap.Pop(&d.items).(*waitItem[K])
			delete(d.byKey, it.key)
			due = append(due, it)
		}
		next := time.Hour
		if len(d.items) > 0 {
			next = d.items[0].at.Sub(now)
		}
		d.mu.Unlock()
		for _, it := range due {
			d.fire(it.key, it.flags)
		}
		t.Reset(next)
		select {
		case <-t.C:
		case <-d.wake:
		case <-d.done:
			return
		}
	}
}

// stop ends the loop; pending keys are dropped.
func (d *delayer[K]) stop() {
	d.once.Do(func() { close(d.done) })
	<-d.stopped
}

// waitHeap is a min-heap on at.
type waitHeap[K comparable] []*waitItem[K]

func (h waitHeap[K]) Len() int           { return len(h) }
func (h waitHeap[K]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h waitHeap[K]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *waitHeap[K]) Push(x any) {
	it := x.(*waitItem[K])
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *waitHeap[K]) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}
