package controller

import "github.com/dezky/platform-api/store"

// The annotations the controller reads (written by the API or by an operator's hand; the
// controller never writes tenants).

// reconcileToken is the tenant's force-reconcile token ("" when never set). A token the status
// has not echoed in lastHandledReconcileAt asks for a full reconcile.
func reconcileToken(t *store.Tenant) string {
	return t.Metadata.Annotations[store.AnnotationReconcileRequestedAt]
}

// driftCheckToken is the tenant's drift-check token ("" when never set).
func driftCheckToken(t *store.Tenant) string {
	return t.Metadata.Annotations[store.AnnotationDriftCheckRequestedAt]
}

// driftCheckPending reports a drift-check token the status has not answered yet.
func driftCheckPending(t *store.Tenant, prev *store.Status) bool {
	tok := driftCheckToken(t)
	if tok == "" {
		return false
	}
	return prev == nil || prev.LastDriftCheck == nil || prev.LastDriftCheck.Token != tok
}

// isPaused reports the paused annotation.
func isPaused(t *store.Tenant) bool {
	return t.Metadata.Annotations[store.AnnotationPaused] == "true"
}
