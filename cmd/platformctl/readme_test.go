package main

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

// readme prints the transcript the README's platformctl section shows:
// go test ./cmd/platformctl -run TestREADMEExample -readme -v
var readme = flag.Bool("readme", false, "print the README's platformctl transcript")

// The README's example, run for real against the dev stack: tenant acme, its oCIS quota changed
// and its Authentik group deleted behind the controller's back, then diff, describe, and the
// reconcile that repairs it.
func TestREADMEExample(t *testing.T) {
	if !*readme {
		t.Skip("prints the README transcript; run with -readme")
	}
	tok := userToken(t)
	in := invocation{token: tok}
	var out strings.Builder
	show := func(want int, args ...string) {
		r := in.mustCtl(t, want, args...)
		shown := make([]string, len(args))
		for i, a := range args {
			shown[i] = a
			if strings.Contains(a, " ") {
				shown[i] = `"` + a + `"`
			}
		}
		fmt.Fprintf(&out, "$ platformctl %s\n%s%s", strings.Join(shown, " "), r.stdout, r.stderr)
		if want != exitOK {
			fmt.Fprintf(&out, "$ echo $?\n%d\n", want)
		}
	}
	show(exitOK, "create", "tenant", "acme", "--name", "Acme GmbH", "--plan", "standard", "--mail-domain", "acme.example")
	show(exitOK, "reconcile", "acme", "--wait", "30s")
	tn := getTenant(t, tok, "acme")
	if !stack.OCIS.SetQuota(tn.Status.Steps["ocis"].ExternalID, 10<<30) || !stack.Authentik.DeleteGroupOutOfBand("tenant-acme") {
		t.Fatal("could not change acme's upstream objects")
	}
	show(exitFailed, "diff", "acme")
	show(exitOK, "describe", "tenant", "acme")
	show(exitOK, "reconcile", "acme", "--wait", "30s")
	show(exitOK, "diff", "acme")
	show(exitOK, "get", "tenants")
	fmt.Print(out.String())
}
