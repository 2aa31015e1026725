package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dezky/platform-api/internal/platformclient"
)

// Exit codes. 1 doubles as "drift found" for diff, as diff(1) uses it for "files differ".
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitNotReady = 3
)

const (
	defaultServer  = "http://localhost:3001"
	envServer      = "PLATFORM_URL"
	envToken       = "PLATFORM_TOKEN"
	defaultTimeout = 30 * time.Second
)

// env is everything platformctl takes from its process, so tests run it in-process with their
// own streams, environment and clock.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// now is the clock ages are computed against.
	now func() time.Time
	// terminal: stdout is a terminal. Only then is output coloured and progress shown.
	terminal bool
}

// cli holds the state of one invocation: the global flags and the client built from them.
type cli struct {
	env
	server  string
	token   string
	timeout time.Duration
	client  *platformclient.Client
}

// run executes one command line and returns the process's exit code. Errors are printed here,
// once, as one line on stderr.
func run(ctx context.Context, args []string, e env) int {
	c := &cli{env: e}
	root := c.rootCmd()
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	return c.report(err)
}

// report turns the error a command returned into its line on stderr and an exit code.
func (c *cli) report(err error) int {
	var ue *usageError
	var ee *exitErr
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "error: %s\n", oneLine(ue.msg))
		if ue.cmd != "" {
			fmt.Fprintf(c.stderr, "See '%s --help' for usage.\n", ue.cmd)
		}
		return exitUsage
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(c.stderr, "error: %s\n", oneLine(ee.msg))
		}
		return ee.code
	default:
		fmt.Fprintf(c.stderr, "error: %s\n", oneLine(explain(err)))
		return exitFailed
	}
}

// explain adds what an operator should check to the errors whose cause is on their side.
func explain(err error) string {
	msg := err.Error()
	switch platformclient.StatusCode(err) {
	case 401:
		return "unauthorized: " + msg + "; check " + envToken + " or --token"
	case 403:
		return "forbidden: " + msg
	}
	return msg
}

// usageError is a command line that cannot run: exit 2. cmd names the command whose help
// explains the right usage.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd *cobra.Command, format string, a ...any) error {
	return &usageError{cmd: cmd.CommandPath(), msg: fmt.Sprintf(format, a...)}
}

// exitErr ends with a specific code; msg (if any) is printed as the error line. Commands use
// it when their output already said what happened (diff found drift) or when the outcome is
// not a failure of the call itself (a tenant not Ready).
type exitErr struct {
	code int
	msg  string
}

func (e *exitErr) Error() string { return e.msg }

// oneLine keeps an error to one line whatever the server or a library put in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// rootCmd builds the command tree.
func (c *cli) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "platformctl",
		Short: "Operate dezky platform-api: tenants, drift, reconciles, partners",
		Long: `platformctl operates dezky platform-api over its HTTP API.

The server is PLATFORM_URL (default ` + defaultServer + `) or --server; the bearer token is
PLATFORM_TOKEN or --token. Exit codes: 0 success; 1 error, or drift found by diff; 2 usage;
3 not Ready after reconcile --wait.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRun,
		// groupRun suggests commands within this edit distance ("gett" → get).
		SuggestionsMinimumDistance: 2,
		// Completion is a shell nicety that would need its own documentation; leave it out.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return c.connect(cmd) },
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd.CommandPath(), msg: err.Error()}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&c.server, "server", "", "platform-api base URL (default $"+envServer+", else "+defaultServer+")")
	pf.StringVar(&c.token, "token", "", "bearer token (default $"+envToken+")")
	pf.DurationVar(&c.timeout, "request-timeout", defaultTimeout, "time limit of one request, on top of any --wait")

	get := group("get", "List or show tenants and partners")
	get.AddCommand(c.getTenantsCmd(), c.getTenantCmd(), c.getPartnersCmd())
	describe := group("describe", "Show a tenant in detail: spec, conditions, steps, drift, events")
	describe.AddCommand(c.describeTenantCmd())
	create := group("create", "Create a tenant")
	create.AddCommand(c.createTenantCmd())
	del := group("delete", "Delete a tenant")
	del.AddCommand(c.deleteTenantCmd())

	root.AddCommand(get, describe, create, del,
		c.reconcileCmd(), c.diffCmd(), c.resyncCmd(), c.versionCmd(),
		c.tenantActionCmd("pause", "Make the controller leave a tenant alone (operators)", "paused", (*platformclient.Client).Pause),
		c.tenantActionCmd("unpause", "Hand a paused tenant back to the controller (operators)", "unpaused", (*platformclient.Client).Unpause),
		c.tenantActionCmd("suspend", "Suspend a tenant: its upstream objects are disabled", "suspended", (*platformclient.Client).Suspend),
		c.tenantActionCmd("resume", "Resume a suspended tenant", "resumed", (*platformclient.Client).Resume),
	)
	return root
}

// group is a command that only holds subcommands. Cobra would print help and succeed for an
// unknown subcommand of such a command; groupRun makes that a usage error instead.
func group(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: groupRun, SuggestionsMinimumDistance: 2}
}

func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		if !cmd.HasParent() {
			return cmd.Help()
		}
		return usagef(cmd, "%q needs a resource: %s", cmd.CommandPath(), strings.Join(subcommandNames(cmd), ", "))
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef(cmd, "%s", msg)
}

func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return names
}

// connect builds the client from the flags and the environment, before any command runs.
func (c *cli) connect(cmd *cobra.Command) error {
	server := firstNonEmpty(c.server, c.getenv(envServer), defaultServer)
	token := firstNonEmpty(c.token, c.getenv(envToken))
	if c.timeout <= 0 {
		return usagef(cmd, "--request-timeout must be positive")
	}
	cl, err := platformclient.New(platformclient.Options{
		BaseURL: server, Token: token, Timeout: c.timeout, UserAgent: "platformctl/" + version,
	})
	if err != nil {
		return usagef(cmd, "%v", err)
	}
	c.client = cl
	return nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// slugArg accepts exactly one argument, the tenant's slug; anything else is a usage error.
func slugArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usagef(cmd, "%q needs the tenant's slug", cmd.CommandPath())
	case len(args) > 1:
		return usagef(cmd, "%q takes one tenant slug, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef(cmd, "%q takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// renderer is the output side of this invocation: its clock and whether to colour. Colour
// only reaches a terminal, and not even that when NO_COLOR is set (no-color.org) or the
// terminal says it cannot show it.
func (c *cli) renderer() renderer {
	color := c.terminal && c.getenv("NO_COLOR") == "" && c.getenv("TERM") != "dumb"
	return renderer{now: c.now(), color: color}
}

// progress tells a person at a terminal that platformctl is waiting; scripts and pipes get
// nothing.
func (c *cli) progress(format string, a ...any) {
	if c.terminal {
		fmt.Fprintf(c.stderr, format+"\n", a...)
	}
}
