// Package plan is the one table that maps a plan name to its quotas (docs/ARCHITECTURE.md, "Plans"). The API
// validates plan names against it; the controller resolves effective quotas from it.
package plan

import "sort"

// GiB and TiB in bytes.
const (
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

// Default is the plan a tenant gets when the request names none.
const Default = "starter"

// Quotas of one plan, in bytes.
type Quotas struct {
	StorageBytes int64
	MailBytes    int64
}

var table = map[string]Quotas{
	"starter":  {StorageBytes: 10 * GiB, MailBytes: 5 * GiB},
	"standard": {StorageBytes: 100 * GiB, MailBytes: 25 * GiB},
	"business": {StorageBytes: 1 * TiB, MailBytes: 100 * GiB},
}

// Lookup returns the quotas of a plan and whether the plan exists.
func Lookup(name string) (Quotas, bool) {
	q, ok := table[name]
	return q, ok
}

// Names lists the known plans, sorted (for error messages and the OpenAPI enum).
func Names() []string {
	out := make([]string, 0, len(table))
	for n := range table {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Effective returns the quotas a tenant gets: the plan's row, each overridden by a non-zero
// explicit value.
func Effective(name string, storageOverride, mailOverride int64) Quotas {
	q := table[name]
	if storageOverride > 0 {
		q.StorageBytes = storageOverride
	}
	if mailOverride > 0 {
		q.MailBytes = mailOverride
	}
	return q
}
