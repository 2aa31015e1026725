package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseClient(t *testing.T) {
	c, err := parseClient("svc:secret:ocisAdmin,ocisSpaceAdmin")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"preferred_username": "svc", "name": "svc", "email": "svc@dezky.test",
		"roles": []string{"ocisAdmin", "ocisSpaceAdmin"}}
	if diff := cmp.Diff(want, c.Claims); diff != "" || c.ID != "svc" || c.Secret != "secret" {
		t.Errorf("client %s/%s claims (-want +got):\n%s", c.ID, c.Secret, diff)
	}
	for _, bad := range []string{"", "svc", "svc:", ":secret"} {
		if _, err := parseClient(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestRunServesTokens(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-client", "svc:secret:ocisAdmin"}, io.Discard, ready)
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("issuer did not start")
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tr)
	res.Body.Close()
	if res.StatusCode != 200 || tr.AccessToken == "" {
		t.Fatalf("token: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestKeyFileIsCreatedThenReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	first, err := loadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, err %v: want mode 0600", st, err)
	}
	second, err := loadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Equal(second) {
		t.Fatal("the second load did not return the stored key")
	}
	if err := os.WriteFile(path, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateKey(path); err == nil {
		t.Fatal("a corrupt key file was accepted")
	}
}
