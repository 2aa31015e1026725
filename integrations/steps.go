package integrations

// Step names, the keys of status.steps, in reconcile order (teardown runs in reverse: the last
// step set up may depend on the earlier ones, oCIS sharing the Authentik group's name).
const (
	StepAuthentik = "authentik"
	StepStalwart  = "stalwart"
	StepOCIS      = "ocis"
)

// StepNames returns every step name in reconcile order. It is the one list of steps: the
// clients name themselves from the constants above, and the wiring and the API take it from here.
func StepNames() []string { return []string{StepAuthentik, StepStalwart, StepOCIS} }

// UpstreamNoun is how a tenant owner reads a step's upstream in a status message ("mail
// server"): owners do not need to know which product runs it.
func UpstreamNoun(step string) string {
	switch step {
	case StepAuthentik:
		return "identity provider"
	case StepStalwart:
		return "mail server"
	case StepOCIS:
		return "file server"
	default:
		return step
	}
}

// Drift fields, the stable names Observation.Drift uses (docs/ARCHITECTURE.md, "Drift
// fields"). Several steps share a name where the meaning is the same.
const (
	FieldGroup        = "group"        // authentik: the group (or its name); ocis: the tenant's group
	FieldAttributes   = "attributes"   // authentik: dezkyTenantId and dezkyTenantSlug
	FieldOwner        = "owner"        // authentik: the owner's account is a member
	FieldSuspended    = "suspended"    // authentik: the dezkySuspended attribute
	FieldDomain       = "domain"       // stalwart: the mail domain
	FieldDescription  = "description"  // stalwart, ocis: the object carries this tenant's marker
	FieldEnabled      = "enabled"      // stalwart, ocis: enabled unless the tenant is suspended
	FieldGroupAccount = "groupAccount" // stalwart: team@<domain> is our Group account
	FieldQuota        = "quota"        // stalwart, ocis: the plan's quota in bytes
	FieldSpace        = "space"        // ocis: the project space
	FieldName         = "name"         // ocis: the space name derived from spec.name
	FieldGrant        = "grant"        // ocis: the group holds the Manager role on the space
)

// DriftFields lists the fields a step may report, in a stable order (for metrics and docs).
func DriftFields(step string) []string {
	switch step {
	case StepAuthentik:
		return []string{FieldGroup, FieldAttributes, FieldOwner, FieldSuspended}
	case StepStalwart:
		return []string{FieldDomain, FieldDescription, FieldEnabled, FieldGroupAccount, FieldQuota}
	case StepOCIS:
		return []string{FieldSpace, FieldName, FieldDescription, FieldQuota, FieldEnabled, FieldGroup, FieldGrant}
	}
	return nil
}
