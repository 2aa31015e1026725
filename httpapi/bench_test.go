package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dezky/platform-api/store"
)

// benchClients is the number of concurrent clients of BenchmarkAPI.
const benchClients = 16

// benchTenants are created before measuring, so GET reads a table of a known size: on the
// embedded FerretDB (SQLite) only lookups by _id avoid a scan, so costs that miss the store's
// slug cache grow with it.
// BENCH_TENANTS overrides it.
const benchTenants = 500

// BenchmarkAPI measures POST /tenants and GET /tenants/:slug over loopback HTTP against the
// embedded FerretDB (or MONGO_URI), with 16 concurrent clients, and reports req/s, p50 and p99.
// GET runs first on a table of benchTenants tenants; POST then adds b.N more.
// Run: go test -run '^$' -bench BenchmarkAPI -benchtime 1000x ./httpapi/
func BenchmarkAPI(b *testing.B) {
	e := newEnv(b)
	tok := e.user("bench")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients}}
	var seq atomic.Int64

	request := func(method, path string, body []byte, want int) error {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		r, err := http.NewRequest(method, e.url+path, rd)
		if err != nil {
			return err
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(r)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode != want {
			return fmt.Errorf("%s %s: %d, want %d", method, path, res.StatusCode, want)
		}
		return nil
	}

	ctx := context.Background()
	seeded := benchTenants
	if v, err := strconv.Atoi(os.Getenv("BENCH_TENANTS")); err == nil && v >= 0 {
		seeded = v
	}
	b.Logf("%d tenants before GET; POST adds b.N more", seeded+1)
	for i := 0; i < seeded; i++ {
		if _, err := e.st.CreateTenant(ctx, store.NewTenant{Slug: fmt.Sprintf("seed-%d", i), Spec: store.Spec{
			Name: "Seed", Owner: store.Owner{Sub: "someone-else"},
		}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := request(http.MethodPost, "/tenants", []byte(`{"slug":"bench-get","name":"Get me"}`), http.StatusCreated); err != nil {
		b.Fatal(err)
	}
	b.Run("GET_tenant", func(b *testing.B) {
		runConcurrent(b, func() error { return request(http.MethodGet, "/tenants/bench-get", nil, http.StatusOK) })
	})
	b.Run("POST_tenants", func(b *testing.B) {
		runConcurrent(b, func() error {
			slug := fmt.Sprintf("bench-%d", seq.Add(1))
			return request(http.MethodPost, "/tenants", []byte(`{"slug":"`+slug+`","name":"Bench","plan":"standard"}`), http.StatusCreated)
		})
	})
}

// runConcurrent runs b.N calls of do over benchClients goroutines and reports throughput and
// latency percentiles.
func runConcurrent(b *testing.B, do func() error) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := do(); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
