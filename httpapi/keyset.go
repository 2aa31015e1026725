package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// defaultKeyRefetch is the least time between two JWKS fetches a token can cause. 10s:
	// an unauthenticated stream of tokens with made-up key ids costs the IdP at most six
	// requests a minute, and a key the IdP has just started signing with is picked up within
	// 10s even while such a stream goes on.
	defaultKeyRefetch = 10 * time.Second
	// maxJWKSBytes caps a JWKS response; real ones are a few KiB.
	maxJWKSBytes = 1 << 20
)

// Error texts of the key set. go-oidc flattens the key set's error into its own message, so
// authenticate and tokenErrorDetail recognise these by text.
const (
	errKeysUnavailable = "the issuer's key set cannot be fetched"
	errUnknownKeyID    = "no key of the issuer's key set has the token's key id"
	errNoKeyVerifies   = "no key of the issuer's key set verifies the token's signature"
)

// keySet is the verifier's oidc.KeySet: the issuer's JWKS, cached in memory. go-oidc's own
// RemoteKeySet re-reads the JWKS for every token naming a key id it does not hold, so anyone
// can make the API hammer the IdP with made-up key ids. This one re-reads it at most once per
// refetch interval: a token with an unknown key id (or, without a key id, one no cached key
// verifies) waits for a fetch already running, or starts one if the interval has passed since
// the last, and otherwise fails at once. The first successful load does not count against
// the interval, so a key rotated just after start-up is picked up at once; a failed load does,
// so an unreachable IdP is asked once per interval, not once per request.
type keySet struct {
	url    string
	client *http.Client
	every  time.Duration
	now    func() time.Time
	log    *slog.Logger
	// algs are the algorithms a token may be parsed with (the verifier checks them again).
	algs []jose.SignatureAlgorithm

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	loaded   bool          // a fetch has succeeded once
	next     time.Time     // earliest start of the next fetch
	inflight chan struct{} // closed when the running fetch ends; nil when none runs
	lastErr  error         // the last fetch's error, nil after a success
}

func newKeySet(url string, client *http.Client, every time.Duration, now func() time.Time, algs []string, log *slog.Logger) *keySet {
	ks := &keySet{url: url, client: client, every: every, now: now, log: log}
	for _, a := range algs {
		ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
	}
	return ks
}

// VerifySignature implements oidc.KeySet: it returns the payload of jwt if a published key
// verifies its signature.
func (ks *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, ks.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("malformed jwt: not exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	candidates := ks.candidates(kid)
	if payload, ok := verifyWith(jws, candidates); ok {
		return payload, nil
	}
	// A key id we hold whose key does not verify is a bad signature: the JWKS would not say
	// otherwise, so it is not asked.
	if kid != "" && len(candidates) > 0 {
		return nil, errors.New(errNoKeyVerifies)
	}
	if err := ks.refresh(ctx); err != nil {
		return nil, err
	}
	candidates = ks.candidates(kid)
	if payload, ok := verifyWith(jws, candidates); ok {
		return payload, nil
	}
	if kid != "" && len(candidates) == 0 {
		return nil, errors.New(errUnknownKeyID)
	}
	return nil, errors.New(errNoKeyVerifies)
}

func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey) ([]byte, bool) {
	for i := range keys {
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// candidates are the cached keys with key id kid, or all of them for a token without one.
func (ks *keySet) candidates(kid string) []jose.JSONWebKey {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if kid == "" {
		return ks.keys
	}
	var out []jose.JSONWebKey
	for _, k := range ks.keys {
		if k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out
}

// refresh makes the cache as fresh as the rate limit allows: it waits for a fetch already
// running, starts one if the interval has passed, and otherwise returns at once (an error only
// while nothing was ever loaded: then no token can be verified, and the caller says the IdP
// is unreachable rather than blaming the token).
func (ks *keySet) refresh(ctx context.Context) error {
	ks.mu.Lock()
	done := ks.inflight
	if done == nil {
		if ks.now().Before(ks.next) {
			err := ks.lastErr
			loaded := ks.loaded
			ks.mu.Unlock()
			if !loaded && err != nil {
				return fmt.Errorf("%s: %w", errKeysUnavailable, err)
			}
			return nil
		}
		done = make(chan struct{})
		ks.inflight = done
		if ks.loaded {
			// A refetch: it counts from its start, so a slow IdP is not asked again meanwhile.
			ks.next = ks.now().Add(ks.every)
		}
		// The fetch is the key set's, not the request's: one impatient client must not fail
		// it for everyone waiting on it.
		go ks.fetch(done)
	}
	ks.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("wait for the issuer's key set: %w", ctx.Err())
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !ks.loaded && ks.lastErr != nil {
		return fmt.Errorf("%s: %w", errKeysUnavailable, ks.lastErr)
	}
	return nil
}

// fetch reads the JWKS once and records the outcome; done is closed when it ends.
func (ks *keySet) fetch(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), discoveryTimeout)
	defer cancel()
	keys, err := ks.get(ctx)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	defer close(done)
	ks.inflight = nil
	if err != nil {
		ks.lastErr = err
		if !ks.loaded {
			ks.next = ks.now().Add(ks.every)
		}
		ks.log.Warn("JWKS fetch failed; keeping the keys cached before", "url", ks.url, "cached_keys", len(ks.keys), "error", err)
		return
	}
	ks.keys, ks.loaded, ks.lastErr = keys, true, nil
	ks.log.Debug("JWKS fetched", "url", ks.url, "keys", len(keys))
}

// get fetches and parses the JWKS. Keys of a type or curve go-jose does not know, keys for
// encryption and anything that is not a public key are skipped (RFC 7517 §5: ignore what is
// not understood), so one odd key does not cost every other.
func (ks *keySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	// Past any cache: the point of asking is a key the cached copy does not have yet.
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get jwks: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read jwks: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get jwks: %s", resp.Status)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks larger than %d bytes", maxJWKSBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			ks.log.Debug("JWKS key skipped", "url", ks.url, "error", err)
			continue
		}
		if !k.IsPublic() || !k.Valid() || k.Use == "enc" {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks holds no usable signing key")
	}
	return keys, nil
}
