package authentik

import (
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/internal/testlog"
	"log/slog"
	"strings"
	"testing"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/sim/faults"
)

func TestSecretsNeverLogged(t *testing.T) {
	var buf testlog.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, withLogger(logger))
	e.sim.AddUser("owner", ownerEmail)

	const wrongToken = "wrong-secret-9f8e7d"
	bad, err := New(Config{BaseURL: e.srv.URL, Token: wrongToken, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	_, err = integrationstest.Converge(ctx(t), bad, desired())
	errs = append(errs, err)

	e.sim.Faults().Set(faults.Config{ErrorRate: 1})
	_, err = integrationstest.Converge(ctx(t), e.client, desired())
	errs = append(errs, err)
	e.sim.Faults().Clear()

	d := ensured(t, e)
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatal(err)
	}

	for i, err := range errs {
		if err == nil {
			t.Fatalf("failing call %d succeeded", i)
		}
		for _, secret := range []string{testToken, wrongToken} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains a token", err)
			}
		}
	}
	logs := buf.String()
	for _, secret := range []string{testToken, wrongToken, "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	// The logs are not empty by accident: each call is there with its status.
	for _, want := range []string{"status=403", "status=503", "status=201", "status=204", "method=DELETE", "path=/core/groups/"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if !integrations.IsPermanent(errs[0]) || !integrations.IsRetryable(errs[1]) {
		t.Errorf("kinds: %v, %v", errs[0], errs[1])
	}
}
