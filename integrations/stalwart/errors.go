package stalwart

// Operations, used as the Op of every error this package returns.
const (
	errSession       = "cannot get stalwart jmap session"
	errGetDomain     = "cannot get stalwart domain"
	errFindDomain    = "cannot find stalwart domain"
	errCreateDomain  = "cannot create stalwart domain"
	errUpdateDomain  = "cannot update stalwart domain"
	errDeleteDomain  = "cannot delete stalwart domain"
	errFindAccount   = "cannot find stalwart team account"
	errCreateAccount = "cannot create stalwart team account"
	errUpdateAccount = "cannot update stalwart team account"
	errDeleteAccount = "cannot delete stalwart team account"
	errDeleteDkim    = "cannot delete stalwart dkim signatures"
)

// Messages for rule violations the client finds itself.
const (
	msgForeignDomain   = "domain %s carries another tenant's marker; not adopted"
	msgForeignAccount  = "account %s carries another tenant's marker; not adopted"
	msgAccountNotGroup = "account %s exists as a %s account, not a Group"
	msgAliasTaken      = "domain name %s is taken by domain %s (as an alias)"
	msgVanished        = "object %s disappeared during the update"
	msgLinked          = "domain %s is still linked to %s"
	msgNoMailDomain    = "no mail domain"
	msgSuspended       = "mail domain disabled (tenant suspended)"
	msgOldDomain       = "recorded domain %s (%s) no longer matches spec; left in place"
	msgBadResponse     = "unexpected jmap response"
)
