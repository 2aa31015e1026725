package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dezky/platform-api/internal/platformclient"
)

// policies are the values of spec.managementPolicy.
var policies = []string{"Full", "ObserveOnly"}

func (c *cli) createTenantCmd() *cobra.Command {
	var body platformclient.CreateTenant
	var mailQuota, storageQuota, policy string
	cmd := &cobra.Command{
		Use:   "tenant [SLUG] --name NAME [flags]",
		Short: "Create a tenant; the token's subject becomes its owner",
		Example: `  platformctl create tenant acme --name "Acme GmbH" --plan standard --mail-domain acme.example
  platformctl create tenant legacy --name "Legacy AG" --policy ObserveOnly --storage-quota 200Gi`,
	}
	out := addOutputFlag(cmd, outTable, outJSON, outYAML)
	f := cmd.Flags()
	f.StringVar(&body.Slug, "slug", "", "the tenant's slug (or give it as the argument)")
	f.StringVar(&body.Name, "name", "", "display name (required)")
	f.StringVar(&body.Plan, "plan", "", "starter|standard|business (server default: starter)")
	mailDomain := f.String("mail-domain", "", "mail domain; none skips the mail step")
	f.StringVar(&mailQuota, "mail-quota", "", "mail quota overriding the plan's, e.g. 25Gi (needs --mail-domain)")
	f.StringVar(&storageQuota, "storage-quota", "", "file quota overriding the plan's, e.g. 200Gi or bytes")
	f.StringVar(&body.PartnerID, "partner", "", "partner slug (operators and that partner's admins)")
	f.StringVar(&policy, "policy", "", "management policy: Full|ObserveOnly (server default: Full)")
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) > 1:
			return usagef(cmd, "%q takes at most one slug, got %d arguments", cmd.CommandPath(), len(args))
		case len(args) == 1 && body.Slug != "" && body.Slug != args[0]:
			return usagef(cmd, "the slug is given twice: %q and --slug %q", args[0], body.Slug)
		case len(args) == 1:
			body.Slug = args[0]
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := out.check(cmd); err != nil {
			return err
		}
		if body.Slug == "" || body.Name == "" {
			return usagef(cmd, "a tenant needs a slug (argument or --slug) and --name")
		}
		if policy != "" {
			p, ok := oneOf(policy, policies)
			if !ok {
				return usagef(cmd, "unknown --policy %q (want %s)", policy, strings.Join(policies, " or "))
			}
			body.ManagementPolicy = p
		}
		if *mailDomain != "" {
			body.Mail = &platformclient.Mail{Domain: *mailDomain}
		}
		if mailQuota != "" {
			if body.Mail == nil {
				return usagef(cmd, "--mail-quota needs --mail-domain")
			}
			n, err := parseBytes(mailQuota)
			if err != nil {
				return usagef(cmd, "--mail-quota: %v", err)
			}
			body.Mail.QuotaBytes = n
		}
		if storageQuota != "" {
			n, err := parseBytes(storageQuota)
			if err != nil {
				return usagef(cmd, "--storage-quota: %v", err)
			}
			body.Storage = &platformclient.Storage{QuotaBytes: n}
		}
		t, err := c.client.CreateTenant(cmd.Context(), body)
		if err != nil {
			return err
		}
		if out.machine() {
			return out.printRaw(c.stdout, t.Raw)
		}
		fmt.Fprintf(c.stdout, "tenant/%s created\n", t.Metadata.Slug)
		return nil
	}
	return cmd
}

// oneOf matches v case-insensitively against allowed and returns the canonical spelling.
func oneOf(v string, allowed []string) (string, bool) {
	for _, a := range allowed {
		if strings.EqualFold(a, v) {
			return a, true
		}
	}
	return "", false
}

// byteUnits are the suffixes parseBytes accepts, Kubernetes' binary ones with or without "B".
var byteUnits = []struct {
	suffix string
	shift  uint
}{
	{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10},
	{"Ti", 40}, {"Gi", 30}, {"Mi", 20}, {"Ki", 10},
}

// parseBytes reads a quota: whole bytes ("1073741824") or a whole number of binary units
// ("10Gi", "10GiB"). Decimal units (GB) are refused rather than guessed: upstream quotas are
// binary, and a silent factor of 1.07 is the kind of drift nobody finds.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, shift := s, uint(0)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = strings.TrimSpace(rest), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size: want a positive whole number of bytes or of Ki, Mi, Gi, Ti", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}
