package authentik

import (
	"encoding/pem"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations"
	authentiksim "github.com/dezky/platform-api/integrations/sim/authentik"
)

func TestCustomCA(t *testing.T) {
	sim := authentiksim.New(authentiksim.Options{Token: testToken})
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	d := desired()
	d.OwnerEmail = ""

	t.Run("without CA_FILE", func(t *testing.T) {
		c, err := New(Config{BaseURL: srv.URL, Token: testToken, HTTP: integrations.HTTPOptions{Timeout: 2 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = integrationstest.Converge(ctx(t), c, d)
		if !integrations.IsRetryable(err) {
			t.Fatalf("err = %v, want a retryable transport error", err)
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error %q does not mention the certificate", err)
		}
		if sim.GroupCount() != 0 {
			t.Error("a group was created over an untrusted connection")
		}
	})

	t.Run("with CA_FILE", func(t *testing.T) {
		c, err := New(Config{BaseURL: srv.URL, Token: testToken, HTTP: integrations.HTTPOptions{CAFile: caFile, Timeout: 2 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		obs, err := integrationstest.Converge(ctx(t), c, d)
		if err != nil {
			t.Fatal(err)
		}
		if obs.Action != integrations.ActionCreated || sim.GroupCount() != 1 {
			t.Errorf("observed %+v, GroupCount %d", obs, sim.GroupCount())
		}
	})

	t.Run("unreadable CA_FILE", func(t *testing.T) {
		_, err := New(Config{BaseURL: srv.URL, Token: testToken, HTTP: integrations.HTTPOptions{CAFile: filepath.Join(t.TempDir(), "missing.pem")}})
		if err == nil {
			t.Fatal("New accepted a missing CA file")
		}
	})
}
