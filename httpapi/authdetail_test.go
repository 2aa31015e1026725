package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/httpapi/devissuer"
	"github.com/dezky/platform-api/store"
)

// TestTokenProblemsSayWhatIsWrong: a token without exp is told so (not "expired"), and a
// subject longer than a tenant owner can be is a 401 at the door, never a 422 about owner.sub,
// a field the caller did not send; nothing is written either way.
func TestTokenProblemsSayWhatIsWrong(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("s", store.MaxSubjectLen+1)
	cases := map[string]struct {
		reason string
		token  string
		detail string
	}{
		"no expiry": {"exp missing", e.mint(map[string]any{"sub": "u1", "aud": audPortal}, devissuer.WithoutExpiry()),
			"the token has no expiry"},
		"expired": {"exp in the past", e.mint(map[string]any{"sub": "u1", "aud": audPortal}, devissuer.WithExpiry(time.Now().Add(-time.Minute))),
			"the token has expired"},
		"long subject": {"256 characters: no tenant could hold it as owner", e.mint(map[string]any{"sub": long, "aud": audPortal}),
			"the token's subject is too long"},
		"long multibyte subject": {"200 runes, 400 bytes: the store's limit is in bytes", e.mint(map[string]any{"sub": strings.Repeat("ü", 200), "aud": audPortal}),
			"the token's subject is too long"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := snapshot(t, e.st)
			r := e.post("/tenants", tc.token, map[string]any{"slug": "sub-test", "name": "Sub"})
			p := requireProblem(t, r, http.StatusUnauthorized)
			if p["detail"] != tc.detail {
				t.Errorf("%s: detail %q, want %q", tc.reason, p["detail"], tc.detail)
			}
			if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, tc.detail[:10]) {
				t.Errorf("%s: WWW-Authenticate %q", tc.reason, ch)
			}
			if diff := cmp.Diff(before, snapshot(t, e.st)); diff != "" {
				t.Errorf("%s: something was written (-before +after):\n%s", tc.reason, diff)
			}
			requireProblem(t, e.get("/me", tc.token), http.StatusUnauthorized)
		})
	}

	// The longest subject the store holds is accepted.
	edge := strings.Repeat("s", store.MaxSubjectLen)
	r := e.post("/tenants", e.mint(map[string]any{"sub": edge, "aud": audPortal}), map[string]any{"slug": "sub-edge", "name": "Edge"})
	if r.code != http.StatusCreated || dig(r.obj(t), "spec", "owner", "sub") != edge {
		t.Fatalf("a %d-character subject: %d %s", store.MaxSubjectLen, r.code, r.body)
	}
}
