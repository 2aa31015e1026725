package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func (c *cli) diffCmd() *cobra.Command {
	wait := 30 * time.Second
	cmd := &cobra.Command{
		Use:   "diff SLUG",
		Short: "Drift check: what differs upstream from the desired state (exit 1 when anything does)",
		Long: `Ask the controller for a drift check of a tenant: it observes every upstream and writes
nothing, whatever the tenant's management policy. Prints the drift (STEP FIELD WANT GOT) or
"in sync". Like diff(1): exit 0 when in sync, 1 when something differs (or the check failed).`,
		Args: slugArg,
	}
	out := addOutputFlag(cmd, outTable, outJSON, outYAML)
	cmd.Flags().DurationVar(&wait, "wait", wait, "how long to wait for the controller's answer (the server allows at most 60s)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := out.check(cmd); err != nil {
			return err
		}
		if wait <= 0 {
			return usagef(cmd, "--wait must be positive: diff prints the controller's answer")
		}
		slug := args[0]
		c.progress("Waiting up to %s for the controller's drift check of tenant/%s...", wait, slug)
		start := time.Now()
		res, err := c.client.DriftCheck(cmd.Context(), slug, wait)
		if err != nil {
			return err
		}
		if !res.Answered {
			return &exitErr{code: exitFailed, msg: fmt.Sprintf("tenant/%s: the drift check requested at %s was not answered within %s",
				slug, res.RequestedAt, time.Since(start).Round(time.Second))}
		}
		dc := res.Check
		drifted := &exitErr{code: exitFailed}
		if out.machine() {
			if err := out.printRaw(c.stdout, dc.Raw); err != nil {
				return err
			}
			if dc.InSync {
				return nil
			}
			return drifted
		}
		if dc.InSync {
			fmt.Fprintf(c.stdout, "tenant/%s: in sync\n", slug)
			return nil
		}
		drift, messages := checkDrift(dc)
		if len(drift) > 0 {
			driftTable(c.stdout, "", drift)
		}
		for _, m := range messages {
			fmt.Fprintln(c.stdout, m)
		}
		if len(drift) == 0 && len(messages) == 0 {
			fmt.Fprintf(c.stdout, "tenant/%s: out of sync (the check gave no details)\n", slug)
		}
		return drifted
	}
	return cmd
}
