package integrations_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/authentik"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/integrations/ocis"
	authentiksim "github.com/dezky/platform-api/integrations/sim/authentik"
	"github.com/dezky/platform-api/integrations/sim/faults"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/integrations/stalwart"
)

// maxInAnySecond is the most requests recorded in any one-second window.
func maxInAnySecond(reqs []faults.Request) int {
	at := make([]time.Time, len(reqs))
	for i, r := range reqs {
		at[i] = r.At
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	most := 0
	for lo, hi := 0, 0; hi < len(at); hi++ {
		for at[hi].Sub(at[lo]) >= time.Second {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

// TestRequestLimitHoldsUnderACreateStorm creates 500 tenants in all three upstreams at once
// (16 workers, as a controller would) with each upstream limited to rps requests per second,
// and counts, at the simulators, the requests that arrived in every one-second window: none
// holds more than the limit. The limiter spaces the requests it releases; their arrival adds
// a few milliseconds of loopback scheduling jitter, hence the 10 % slack (unlimited, the same
// storm reaches about five times the limit here). Every tenant still gets its objects.
func TestRequestLimitHoldsUnderACreateStorm(t *testing.T) {
	const tenants, workers, rps = 500, 16, 250
	ak := authentiksim.New(authentiksim.Options{Token: "t"})
	sw := stalwartsim.New(stalwartsim.Options{Token: "t"})
	oc := ocissim.New(ocissim.Options{ClientID: "c", ClientSecret: "s", TokenTTL: time.Hour})
	urls := map[string]string{}
	for name, h := range map[string]interface {
		ServeHTTP(w http.ResponseWriter, r *http.Request)
	}{"authentik": ak, "stalwart": sw, "ocis": oc} {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	opts := func(upstream string) integrations.HTTPOptions {
		return integrations.HTTPOptions{Limiter: integrations.NewLimiter(rps), Upstream: upstream}
	}
	a, err := authentik.New(authentik.Config{BaseURL: urls["authentik"], Token: "t", HTTP: opts("authentik")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := stalwart.New(stalwart.Config{BaseURL: urls["stalwart"], Token: "t", HTTP: opts("stalwart")})
	if err != nil {
		t.Fatal(err)
	}
	o, err := ocis.New(ocis.Config{BaseURL: urls["ocis"], TokenURL: ocissim.TokenURL(urls["ocis"]), ClientID: "c", ClientSecret: "s", HTTP: opts("ocis")})
	if err != nil {
		t.Fatal(err)
	}
	steps := []integrations.Step{a, s, o}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, tenants*len(steps))
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for i := range work {
				d := integrations.Desired{TenantID: fmt.Sprintf("%024x", i+1), Slug: fmt.Sprintf("storm-%03d", i), Name: "Storm",
					MailDomain: fmt.Sprintf("storm-%03d.example", i), MailQuotaBytes: 1 << 30, StorageQuotaBytes: 1 << 30}
				for _, st := range steps {
					if _, err := integrationstest.Converge(ctx, st, d); err != nil {
						errs <- fmt.Errorf("%s %s: %w", st.Name(), d.Slug, err)
					}
				}
			}
		})
	}
	for i := 0; i < tenants; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for name, reqs := range map[string][]faults.Request{
		"authentik": ak.Faults().Requests(), "stalwart": sw.Faults().Requests(), "ocis": oc.Faults().Requests(),
	} {
		most := maxInAnySecond(reqs)
		t.Logf("%s: %d requests, at most %d in one second (limit %d/s)", name, len(reqs), most, rps)
		if most > rps+rps/10 {
			t.Errorf("%s: %d requests in one second, over the limit of %d/s", name, most, rps)
		}
	}
	if ak.GroupCount() != tenants || sw.DomainCount() != tenants || oc.DriveCount() != tenants {
		t.Errorf("objects: %d groups, %d domains, %d spaces; want %d each", ak.GroupCount(), sw.DomainCount(), oc.DriveCount(), tenants)
	}
}
