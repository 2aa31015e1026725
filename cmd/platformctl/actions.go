package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dezky/platform-api/internal/platformclient"
)

func (c *cli) deleteTenantCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tenant SLUG",
		Short: "Delete a tenant: the controller tears its upstream objects down, then it is gone",
		Args:  slugArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := c.client.DeleteTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "tenant/%s deletion requested (phase %s)\n", t.Metadata.Slug, t.Status.Phase)
			return nil
		},
	}
}

// tenantActionCmd is one of the one-call lifecycle commands (pause, unpause, suspend, resume):
// POST, then say what the tenant's desired state now is.
func (c *cli) tenantActionCmd(use, short, done string, call func(*platformclient.Client, context.Context, string) (*platformclient.Tenant, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use + " SLUG",
		Short: short,
		Args:  slugArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := call(c.client, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "tenant/%s %s\n", t.Metadata.Slug, done)
			return nil
		},
	}
}

func (c *cli) resyncCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resync",
		Short: "Ask the controller to resync every tenant now (operators)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			at, err := c.client.Resync(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "resync requested at %s\n", at.UTC().Format(time.RFC3339))
			return nil
		},
	}
}

func (c *cli) versionCmd() *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print platformctl's version and the server's (from GET /health)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(c.stdout, "Client Version: %s\n", version)
			if clientOnly {
				return nil
			}
			h, err := c.client.Health(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Server Version: %s\n", h.Version)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print the client's version only (no request)")
	return cmd
}
