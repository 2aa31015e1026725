package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dezky/platform-api/internal/platformclient"
)

func (c *cli) reconcileCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "reconcile SLUG",
		Short: "Force a reconcile; with --wait, wait for it and exit 3 unless the tenant is Ready",
		Long: `Force a reconcile of a tenant (annotations.reconcileRequestedAt).

Without --wait it returns at once and prints the request's token. With --wait D it waits up
to D (the server allows at most 60s) for the controller to handle the request, prints the
tenant's phase and Ready condition, and exits 3 if the tenant is not Ready or the wait ran out.`,
		Example: `  platformctl reconcile acme
  platformctl reconcile acme --wait 30s`,
		Args: slugArg,
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the controller (e.g. 30s); 0 returns at once")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if wait < 0 {
			return usagef(cmd, "--wait must not be negative")
		}
		slug := args[0]
		if wait > 0 {
			c.progress("Waiting up to %s for the controller to reconcile tenant/%s...", wait, slug)
		}
		start := time.Now()
		res, err := c.client.Reconcile(cmd.Context(), slug, wait)
		if err != nil {
			return err
		}
		switch {
		case !res.Handled && wait == 0:
			fmt.Fprintf(c.stdout, "tenant/%s reconcile requested: %s\n", slug, res.RequestedAt)
			return nil
		case !res.Handled:
			return &exitErr{code: exitNotReady, msg: fmt.Sprintf("tenant/%s: the reconcile requested at %s was not handled within %s",
				slug, res.RequestedAt, time.Since(start).Round(time.Second))}
		}
		return c.reportReconciled(res.Tenant)
	}
	return cmd
}

// reportReconciled prints how a handled reconcile left the tenant; a tenant that is not Ready
// also gets its unhealthy steps and exit code 3, so a script can tell "the reconcile ran" from
// "the tenant is fine".
func (c *cli) reportReconciled(t *platformclient.Tenant) error {
	r := c.renderer()
	st := t.Status
	line := fmt.Sprintf("tenant/%s reconciled: phase %s, Ready %s", t.Metadata.Slug, r.phase(st.Phase), r.condStatus(readyOf(st)))
	if cond := st.Condition("Ready"); cond != nil && cond.Status != "True" {
		line += fmt.Sprintf(" (%s: %s)", cond.Reason, oneLine(cond.Message))
	}
	fmt.Fprintln(c.stdout, line)
	if st.Ready() {
		return nil
	}
	tw := newTable(c.stdout)
	for _, name := range orderedSteps(st.Steps) {
		s := st.Steps[name]
		if s.State != "ok" && s.State != "skipped" {
			row(tw, "  "+name, r.state(s.State), oneLine(s.Message))
		}
	}
	_ = tw.Flush()
	return &exitErr{code: exitNotReady, msg: fmt.Sprintf("tenant/%s is not Ready after the reconcile", t.Metadata.Slug)}
}
