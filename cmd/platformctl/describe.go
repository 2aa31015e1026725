package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dezky/platform-api/internal/platformclient"
)

// describeEvents is how many of the newest events describe shows, as kubectl shows a handful.
const describeEvents = 10

func (c *cli) describeTenantCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "tenant SLUG",
		Aliases: []string{"tenants"},
		Short:   "Show a tenant: metadata, spec, phase, conditions, steps with drift, last drift check, last events",
		Args:    slugArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := c.client.GetTenant(ctx, args[0])
			if err != nil {
				return err
			}
			// Events are history, not the tenant: a failure to read them still shows the
			// tenant, with the reason where the events would be.
			events, evErr := c.client.Events(ctx, args[0], describeEvents)
			return c.renderer().describeTenant(c.stdout, t, events, evErr)
		},
	}
}

// describeTenant renders a tenant like `kubectl describe`: key/value sections, then tables for
// conditions, steps, drift and events. Each section is aligned on its own so one long key does
// not push every table to the right.
func (r renderer) describeTenant(w io.Writer, t *platformclient.Tenant, events []platformclient.Event, eventsErr error) error {
	md, sp, st := t.Metadata, t.Spec, t.Status
	var b strings.Builder

	// One table for the key/value sections, so every value starts in the same column; a
	// section title is a row with an empty value, which keeps the column going.
	kv := newTable(&b)
	row(kv, "Name:", md.Slug)
	row(kv, "Display Name:", sp.Name)
	row(kv, "UID:", md.UID)
	row(kv, "Created:", fmt.Sprintf("%s (%s ago)", md.CreatedAt.UTC().Format(time.RFC3339), r.age(md.CreatedAt)))
	if md.DeletionRequestedAt != nil {
		row(kv, "Deletion Requested:", fmt.Sprintf("%s (%s ago)", md.DeletionRequestedAt.UTC().Format(time.RFC3339), r.age(*md.DeletionRequestedAt)))
	}
	row(kv, "Generation:", strconv.FormatInt(md.Generation, 10))
	row(kv, "Resource Version:", strconv.FormatInt(md.ResourceVersion, 10))
	mapRows(kv, "Labels:", md.Labels)
	mapRows(kv, "Annotations:", md.Annotations)

	row(kv, "Spec:", "")
	row(kv, "  Plan:", sp.Plan)
	row(kv, "  Management Policy:", sp.ManagementPolicy)
	row(kv, "  Owner:", ownerText(sp.Owner))
	row(kv, "  Partner:", orNone(deref(sp.PartnerID)))
	row(kv, "  Suspended:", strconv.FormatBool(sp.Suspended))
	if sp.Mail != nil {
		row(kv, "  Mail Domain:", sp.Mail.Domain)
		row(kv, "  Mail Quota:", quotaText(sp.Mail.QuotaBytes))
	} else {
		row(kv, "  Mail Domain:", "<none> (no mail: the stalwart step is skipped)")
	}
	var storage int64
	if sp.Storage != nil {
		storage = sp.Storage.QuotaBytes
	}
	row(kv, "  Storage Quota:", quotaText(storage))

	row(kv, "Status:", "")
	row(kv, "  Phase:", r.phase(st.Phase))
	row(kv, "  Observed Generation:", strconv.FormatInt(st.ObservedGeneration, 10))
	row(kv, "  Last Reconciled:", agoText(r.agePtr(st.LastReconciledAt)))
	row(kv, "  Last Handled Reconcile:", orNone(deref(st.LastHandledReconcileAt)))
	_ = kv.Flush()

	r.conditions(&b, st.Conditions)
	r.steps(&b, st.Steps)
	r.lastDriftCheck(&b, st.LastDriftCheck)
	r.events(&b, events, eventsErr)
	_, err := io.WriteString(w, b.String())
	return err
}

// mapRows prints a map as "key=value", one per line, sorted, or <none>.
func mapRows(w io.Writer, key string, m map[string]string) {
	if len(m) == 0 {
		row(w, key, "<none>")
		return
	}
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			key = ""
		}
		row(w, key, k+"="+m[k])
	}
}

func ownerText(o platformclient.Owner) string {
	switch {
	case o.Email != "" && o.Sub != "":
		return fmt.Sprintf("%s (%s)", o.Email, o.Sub)
	case o.Sub != "":
		return o.Sub
	}
	return orNone(o.Email)
}

// quotaText: the API sends only an explicit override; without one the plan's quota applies
// (the view does not say which, so neither can describe).
func quotaText(n int64) string {
	if n <= 0 {
		return "plan default"
	}
	return bytesText(n)
}

func agoText(age string) string {
	if strings.HasPrefix(age, "<") {
		return age
	}
	return age + " ago"
}

func (r renderer) conditions(b *strings.Builder, conds []platformclient.Condition) {
	if len(conds) == 0 {
		b.WriteString("Conditions:  <none>\n")
		return
	}
	b.WriteString("Conditions:\n")
	tw := newTable(b)
	row(tw, "  Type", r.header("Status"), "Reason", "Age", "Message")
	row(tw, "  ----", r.header("------"), "------", "---", "-------")
	for _, c := range conds {
		row(tw, "  "+c.Type, r.condStatus(c.Status), c.Reason, r.age(c.LastTransitionTime), c.Message)
	}
	_ = tw.Flush()
}

// steps prints one row per step, then every step's drift (field, want, got) in its own table:
// drift values are long (quotas in bytes, markers) and would make the step table unreadable.
func (r renderer) steps(b *strings.Builder, steps map[string]platformclient.StepStatus) {
	if len(steps) == 0 {
		b.WriteString("Steps:  <none>\n")
		return
	}
	b.WriteString("Steps:\n")
	tw := newTable(b)
	// The external id comes last: ids are long (oCIS's are two UUIDs) and of no fixed length,
	// so in the middle they would push the message off the screen.
	row(tw, "  Step", r.header("State"), "Age", "Attempts", "Message", "External ID")
	row(tw, "  ----", r.header("-----"), "---", "--------", "-------", "-----------")
	var drift []stepDrift
	for _, name := range orderedSteps(steps) {
		s := steps[name]
		row(tw, "  "+name, r.state(s.State), r.agePtr(s.LastTransitionTime), strconv.Itoa(s.Attempts), orNone(oneLine(s.Message)), orNone(s.ExternalID))
		for _, d := range s.Drift {
			drift = append(drift, stepDrift{step: name, Drift: d})
		}
	}
	_ = tw.Flush()
	if len(drift) == 0 {
		b.WriteString("Drift:  <none>\n")
		return
	}
	b.WriteString("Drift:\n")
	driftTable(b, "  ", drift)
}

type stepDrift struct {
	step string
	platformclient.Drift
}

func driftTable(w io.Writer, indent string, drift []stepDrift) {
	tw := newTable(w)
	if indent == "" {
		row(tw, "STEP", "FIELD", "WANT", "GOT")
	} else {
		row(tw, indent+"Step", "Field", "Want", "Got")
		row(tw, indent+"----", "-----", "----", "---")
	}
	for _, d := range drift {
		row(tw, indent+d.step, d.Field, d.Want, d.Got)
	}
	_ = tw.Flush()
}

// checkDrift flattens a drift check's steps in the controller's order.
func checkDrift(dc *platformclient.DriftCheck) (drift []stepDrift, messages []string) {
	for _, name := range orderedSteps(dc.Steps) {
		s := dc.Steps[name]
		for _, d := range s.Drift {
			drift = append(drift, stepDrift{step: name, Drift: d})
		}
		if s.Message != "" {
			messages = append(messages, name+": "+s.Message)
		}
	}
	return drift, messages
}

func (r renderer) lastDriftCheck(b *strings.Builder, dc *platformclient.DriftCheck) {
	if dc == nil {
		b.WriteString("Last Drift Check:  <none>\n")
		return
	}
	if dc.InSync {
		fmt.Fprintf(b, "Last Drift Check:  %s ago: in sync\n", r.age(dc.CheckedAt))
		return
	}
	drift, messages := checkDrift(dc)
	fmt.Fprintf(b, "Last Drift Check:  %s ago: out of sync\n", r.age(dc.CheckedAt))
	if len(drift) > 0 {
		driftTable(b, "  ", drift)
	}
	for _, m := range messages {
		fmt.Fprintf(b, "  %s\n", m)
	}
}

func (r renderer) events(b *strings.Builder, events []platformclient.Event, err error) {
	switch {
	case err != nil:
		fmt.Fprintf(b, "Events:  <cannot read them: %s>\n", oneLine(err.Error()))
		return
	case len(events) == 0:
		b.WriteString("Events:  <none>\n")
		return
	}
	b.WriteString("Events:\n")
	tw := newTable(b)
	row(tw, "  Age", "Type", "Reason", "Step", "Message")
	row(tw, "  ---", "----", "------", "----", "-------")
	for _, e := range events {
		row(tw, "  "+r.age(e.Time), e.Type, e.Reason, orNone(e.Step), oneLine(e.Message))
	}
	_ = tw.Flush()
}
