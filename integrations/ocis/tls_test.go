package ocis_test

import (
	"encoding/pem"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/ocis"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

// TestCustomCAReachesTheIdP serves the IdP and oCIS over TLS with a certificate only CA_FILE
// trusts: the token request must go through the client built from HTTPOptions too, or it fails
// certificate verification.
func TestCustomCAReachesTheIdP(t *testing.T) {
	sim := ocissim.New(ocissim.Options{ClientID: clientID, ClientSecret: clientSecret})
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := ocis.Config{
		BaseURL: srv.URL, TokenURL: ocissim.TokenURL(srv.URL), ClientID: clientID, ClientSecret: clientSecret,
	}

	untrusting, err := ocis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := integrationstest.Converge(ctx(t), untrusting, desired()); !integrations.IsRetryable(err) || sim.TokensIssued() != 0 {
		t.Fatalf("without the CA: err = %v, %d tokens; want a retryable TLS failure", err, sim.TokensIssued())
	}

	cfg.HTTP.CAFile = caFile
	trusting, err := ocis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := integrationstest.Converge(ctx(t), trusting, desired()); err != nil {
		t.Fatalf("with CA_FILE: %v", err)
	}
	if sim.TokensIssued() != 1 || sim.DriveCount() != 1 {
		t.Errorf("%d tokens, %d spaces", sim.TokensIssued(), sim.DriveCount())
	}
}
