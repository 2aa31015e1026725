package app

import (
	"fmt"
	"log/slog"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/authentik"
	"github.com/dezky/platform-api/integrations/ocis"
	"github.com/dezky/platform-api/integrations/stalwart"
	"github.com/dezky/platform-api/internal/config"
)

// The steps are built in integrations.StepNames() order (teardown runs in reverse).
const (
	StepAuthentik = integrations.StepAuthentik
	StepStalwart  = integrations.StepStalwart
	StepOCIS      = integrations.StepOCIS
)

// BuildSteps makes one Step per upstream, in reconcile order; an upstream whose URL is empty
// becomes an integrations.Skipped step so its state reads "skipped", not "pending". Each
// upstream gets its own request limit (one limiter per upstream, whatever the number of
// workers) and its requests are counted in metrics (nil: not counted).
func BuildSteps(c config.Config, logger *slog.Logger, metrics *integrations.UpstreamMetrics) ([]integrations.Step, error) {
	opts := func(upstream string, rps float64) integrations.HTTPOptions {
		return integrations.HTTPOptions{CAFile: c.CAFile, Limiter: integrations.NewLimiter(rps), Upstream: upstream, Metrics: metrics}
	}
	steps := make([]integrations.Step, 0, 3)

	if c.AuthentikAPIURL == "" {
		steps = append(steps, integrations.Skipped{StepName: StepAuthentik, Reason: "AUTHENTIK_API_URL not configured"})
	} else {
		s, err := authentik.New(authentik.Config{
			BaseURL: c.AuthentikAPIURL, Token: c.AuthentikAPIToken, GroupPrefix: c.AuthentikGroupPrefix,
			HTTP: opts(StepAuthentik, c.AuthentikMaxRPS), Logger: logger.With("step", StepAuthentik),
		})
		if err != nil {
			return nil, fmt.Errorf("authentik step: %w", err)
		}
		steps = append(steps, s)
	}

	if c.StalwartAPIURL == "" {
		steps = append(steps, integrations.Skipped{StepName: StepStalwart, Reason: "STALWART_API_URL not configured"})
	} else {
		s, err := stalwart.New(stalwart.Config{
			BaseURL: c.StalwartAPIURL, Token: c.StalwartAPIToken,
			HTTP: opts(StepStalwart, c.StalwartMaxRPS), Logger: logger.With("step", StepStalwart),
		})
		if err != nil {
			return nil, fmt.Errorf("stalwart step: %w", err)
		}
		steps = append(steps, s)
	}

	if c.OCISAPIURL == "" {
		steps = append(steps, integrations.Skipped{StepName: StepOCIS, Reason: "OCIS_API_URL not configured"})
	} else {
		s, err := ocis.New(ocis.Config{
			BaseURL: c.OCISAPIURL, TokenURL: c.OCISTokenURL, ClientID: c.OCISClientID, ClientSecret: c.OCISClientSecret,
			Scopes: c.OCISTokenScopes, GroupPrefix: c.AuthentikGroupPrefix,
			HTTP: opts(StepOCIS, c.OCISMaxRPS), Logger: logger.With("step", StepOCIS),
		})
		if err != nil {
			return nil, fmt.Errorf("ocis step: %w", err)
		}
		steps = append(steps, s)
	}
	return steps, nil
}
