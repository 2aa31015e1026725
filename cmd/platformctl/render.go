package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dezky/platform-api/internal/platformclient"
)

// renderer turns API values into text. Its clock is injected so the same tenant always renders
// the same way against the same "now" (ages are relative), which is what the golden files rely
// on.
type renderer struct {
	now   time.Time
	color bool
}

// table is kubectl's table layout (columns padded with at least three spaces) without the
// padding tabwriter leaves after a row's last non-empty cell: trailing blanks are invisible on
// a terminal but not in a file or a diff.
type table struct {
	*tabwriter.Writer
	buf bytes.Buffer
	out io.Writer
}

func newTable(w io.Writer) *table {
	t := &table{out: w}
	t.Writer = tabwriter.NewWriter(&t.buf, 6, 4, 3, ' ', 0)
	return t
}

// Flush aligns what was written and passes it on, each line without trailing blanks.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	lines := strings.SplitAfter(t.buf.String(), "\n")
	for i, l := range lines {
		if body, ok := strings.CutSuffix(l, "\n"); ok {
			lines[i] = strings.TrimRight(body, " ") + "\n"
		}
	}
	t.buf.Reset()
	_, err := io.WriteString(t.out, strings.Join(lines, ""))
	return err
}

// row writes one tab-separated table row.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// age is kubectl's short age of t: "5s", "3m", "2h", "4d", "2y"; "<unknown>" for a zero time.
func (r renderer) age(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return shortDuration(r.now.Sub(t))
}

func (r renderer) agePtr(t *time.Time) string {
	if t == nil {
		return "<none>"
	}
	return r.age(*t)
}

// shortDuration is kubectl's ShortHumanDuration: the largest whole unit only. A time slightly
// in the future (clock skew between this machine and the server) reads 0s, not a negative
// age.
func shortDuration(d time.Duration) string {
	switch s := int64(d.Round(time.Second) / time.Second); {
	case s < -1:
		return "<invalid>"
	case s < 0:
		return "0s"
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 60*60:
		return fmt.Sprintf("%dm", s/60)
	case s < 24*60*60:
		return fmt.Sprintf("%dh", s/3600)
	case s < 365*24*60*60:
		return fmt.Sprintf("%dd", s/86400)
	default:
		return fmt.Sprintf("%dy", s/(365*86400))
	}
}

// ANSI colours. Every code has the same length, and paint wraps every cell of a coloured
// column (the neutral ones in "default"), so tabwriter, which counts bytes, still aligns the
// columns.
const (
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiRed     = "\x1b[31m"
	ansiDefault = "\x1b[39m"
	ansiReset   = "\x1b[0m"
)

// paint colours s for a terminal; without colour it returns s unchanged.
func (r renderer) paint(s, code string) string {
	if !r.color {
		return s
	}
	return code + s + ansiReset
}

func (r renderer) phase(p string) string {
	switch p {
	case "Active":
		return r.paint(p, ansiGreen)
	case "Degraded":
		return r.paint(p, ansiRed)
	case "Pending", "Deleting", "Suspended":
		return r.paint(p, ansiYellow)
	}
	return r.paint(p, ansiDefault)
}

func (r renderer) state(s string) string {
	switch s {
	case "ok":
		return r.paint(s, ansiGreen)
	case "error":
		return r.paint(s, ansiRed)
	case "pending":
		return r.paint(s, ansiYellow)
	}
	return r.paint(s, ansiDefault)
}

func (r renderer) condStatus(s string) string {
	switch s {
	case "True":
		return r.paint(s, ansiGreen)
	case "False":
		return r.paint(s, ansiRed)
	}
	return r.paint(s, ansiYellow)
}

// header keeps a coloured column's header as wide (in bytes) as its painted cells.
func (r renderer) header(s string) string { return r.paint(s, ansiDefault) }

// tenantTable prints tenants as `get tenants` does. wide adds the Ready condition, partner and
// mail domain.
func (r renderer) tenantTable(w io.Writer, tenants []platformclient.Tenant, wide bool) error {
	tw := newTable(w)
	if wide {
		row(tw, "NAME", r.header("PHASE"), "READY", "PLAN", "POLICY", "PARTNER", "DOMAIN", "AGE")
	} else {
		row(tw, "NAME", r.header("PHASE"), "PLAN", "POLICY", "AGE")
	}
	for _, t := range tenants {
		if wide {
			row(tw, t.Metadata.Slug, r.phase(t.Status.Phase), readyOf(t.Status), t.Spec.Plan, t.Spec.ManagementPolicy,
				orNone(deref(t.Spec.PartnerID)), orNone(mailDomain(t.Spec)), r.age(t.Metadata.CreatedAt))
		} else {
			row(tw, t.Metadata.Slug, r.phase(t.Status.Phase), t.Spec.Plan, t.Spec.ManagementPolicy, r.age(t.Metadata.CreatedAt))
		}
	}
	return tw.Flush()
}

func (r renderer) partnerTable(w io.Writer, partners []platformclient.Partner) error {
	tw := newTable(w)
	row(tw, "NAME", "DISPLAY NAME", "STATUS", "CONTACT", "AGE")
	for _, p := range partners {
		row(tw, p.Slug, p.Name, p.Status, orNone(p.Contact), r.age(p.CreatedAt))
	}
	return tw.Flush()
}

// readyOf is the Ready condition's status, "Unknown" before the controller wrote one.
func readyOf(s platformclient.Status) string {
	if c := s.Condition("Ready"); c != nil {
		return c.Status
	}
	return "Unknown"
}

func mailDomain(s platformclient.Spec) string {
	if s.Mail == nil {
		return ""
	}
	return s.Mail.Domain
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// stepOrder is the order the controller runs the steps in; steps it adds later follow, by name.
var stepOrder = []string{"authentik", "stalwart", "ocis"}

func orderedSteps[V any](steps map[string]V) []string {
	names := slices.Sorted(maps.Keys(steps))
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	return names
}

func rank(step string) int {
	if i := slices.Index(stepOrder, step); i >= 0 {
		return i
	}
	return len(stepOrder)
}

// bytesText renders a quota for people: binary units when exact ("100 GiB"), else the bytes.
func bytesText(n int64) string {
	units := []string{"TiB", "GiB", "MiB", "KiB"}
	for i, u := range units {
		size := int64(1) << (10 * (len(units) - i))
		if n >= size && n%size == 0 {
			return strconv.FormatInt(n/size, 10) + " " + u
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
