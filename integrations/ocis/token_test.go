package ocis_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

func TestTokenIsCached(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	for i := 0; i < 5; i++ {
		mustEnsure(t, e, &d)
	}
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.TokensIssued(); n != 1 {
		t.Errorf("%d tokens issued for 5 Ensure calls and a Delete, want 1", n)
	}
	if diff := cmp.Diff([]string{"openid", "profile"}, e.sim.LastTokenScopes()); diff != "" {
		t.Errorf("default scopes (-want +got):\n%s", diff)
	}
}

func TestTokenIsSharedByConcurrentCalls(t *testing.T) {
	e := newEnv(t, envOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := desired()
			d.TenantID = fmt.Sprintf("65f0c0ffee0000000000100%d", i)
			d.Slug = fmt.Sprintf("t%d", i)
			if _, err := integrationstest.Converge(ctx(t), e.client, d); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.sim.TokensIssued(); n != 1 {
		t.Errorf("%d tokens issued to 8 concurrent workers, want 1", n)
	}
	if n := e.sim.DriveCount(); n != 8 {
		t.Errorf("%d spaces for 8 tenants", n)
	}
}

// TestTokenIsRefreshedBeforeExpiry uses a token living 11 s: the oauth2 rule counts it expired
// 10 s early, so it is used for about one second and then replaced before the API would refuse
// it. No Ensure may fail on the way.
func TestTokenIsRefreshedBeforeExpiry(t *testing.T) {
	e := newEnv(t, envOptions{sim: ocissim.Options{TokenTTL: 11 * time.Second}})
	d := desired()
	mustEnsure(t, e, &d)
	if n := e.sim.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens after the first Ensure", n)
	}
	eventually(t, 5*time.Second, "a second token is fetched before the first expires", func() bool {
		mustEnsure(t, e, &d)
		return e.sim.TokensIssued() == 2
	})
	for _, r := range e.sim.Faults().Requests() {
		if r.Path != ocissim.TokenPath && r.Header.Get("Authorization") == "" {
			t.Errorf("%s %s sent without a token", r.Method, r.Path)
		}
	}
	if n := e.countRequests("GET", "/drives/"+d.ExternalID); n < 2 {
		t.Errorf("only %d reads: the refresh was not exercised by API calls", n)
	}
}

// TestRefusedTokenIsReplaced covers a token the API stops accepting before its expiry (an IdP
// restart, a key rotation): the call is repeated once with a fresh token.
func TestRefusedTokenIsReplaced(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	mustEnsure(t, e, &d)
	e.sim.ExpireTokens()
	obs, err := integrationstest.Converge(ctx(t), e.client, d)
	if err != nil || obs.Action != integrations.ActionUnchanged {
		t.Fatalf("Ensure after the token was revoked: %+v, %v", obs, err)
	}
	if n := e.sim.TokensIssued(); n != 2 {
		t.Errorf("%d tokens issued, want 2", n)
	}
}
