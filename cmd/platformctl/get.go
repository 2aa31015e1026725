package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dezky/platform-api/internal/platformclient"
)

// phases are the values of status.phase, for --phase.
var phases = []string{"Pending", "Active", "Degraded", "Suspended", "Deleting"}

func (c *cli) getTenantsCmd() *cobra.Command {
	var phase string
	var chunk int
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "List the tenants the token may see (every page)",
		Args:  noArgs,
	}
	out := addOutputFlag(cmd, outTable, outWide, outJSON, outYAML)
	cmd.Flags().StringVar(&phase, "phase", "", "only tenants in this phase: "+strings.Join(phases, "|"))
	cmd.Flags().IntVar(&chunk, "chunk-size", 500, "tenants per request (1-500); every page is read")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.check(cmd); err != nil {
			return err
		}
		if phase != "" {
			i := slices.IndexFunc(phases, func(p string) bool { return strings.EqualFold(p, phase) })
			if i < 0 {
				return usagef(cmd, "unknown phase %q (want %s)", phase, strings.Join(phases, ", "))
			}
			phase = phases[i]
		}
		if chunk < 1 || chunk > 500 {
			return usagef(cmd, "--chunk-size must be from 1 to 500")
		}
		var tenants []platformclient.Tenant
		cursor := ""
		for {
			page, err := c.client.ListTenants(cmd.Context(), platformclient.ListOptions{Limit: chunk, Cursor: cursor, Phase: phase})
			if err != nil {
				return err
			}
			tenants = append(tenants, page.Items...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if out.machine() {
			raws := make([]json.RawMessage, len(tenants))
			for i, t := range tenants {
				raws[i] = t.Raw
			}
			return out.printRaw(c.stdout, listDocument(raws))
		}
		if len(tenants) == 0 {
			fmt.Fprintln(c.stderr, "No tenants found.")
			return nil
		}
		return c.renderer().tenantTable(c.stdout, tenants, out.format == outWide)
	}
	return cmd
}

func (c *cli) getTenantCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant SLUG",
		Short: "Show one tenant as a table row, or its whole document with -o json|yaml",
		Args:  slugArg,
	}
	out := addOutputFlag(cmd, outTable, outWide, outJSON, outYAML)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := out.check(cmd); err != nil {
			return err
		}
		t, err := c.client.GetTenant(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if out.machine() {
			return out.printRaw(c.stdout, t.Raw)
		}
		return c.renderer().tenantTable(c.stdout, []platformclient.Tenant{*t}, out.format == outWide)
	}
	return cmd
}

func (c *cli) getPartnersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "partners",
		Aliases: []string{"partner"},
		Short:   "List partners (operators)",
		Args:    noArgs,
	}
	out := addOutputFlag(cmd, outTable, outJSON, outYAML)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.check(cmd); err != nil {
			return err
		}
		var partners []platformclient.Partner
		cursor := ""
		for {
			page, err := c.client.ListPartners(cmd.Context(), 500, cursor)
			if err != nil {
				return err
			}
			partners = append(partners, page.Items...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if out.machine() {
			raws := make([]json.RawMessage, len(partners))
			for i, p := range partners {
				raws[i] = p.Raw
			}
			return out.printRaw(c.stdout, listDocument(raws))
		}
		if len(partners) == 0 {
			fmt.Fprintln(c.stderr, "No partners found.")
			return nil
		}
		return c.renderer().partnerTable(c.stdout, partners)
	}
	return cmd
}
