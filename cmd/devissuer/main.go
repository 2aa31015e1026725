// Command devissuer runs the dev OIDC issuer (httpapi/devissuer) on its own, on a fixed
// address, so that a real upstream can trust it: an oCIS started with OCIS_OIDC_ISSUER set to
// its URL accepts the client_credentials tokens it issues (the live oCIS suite runs that way,
// see docs/ARCHITECTURE.md). Every -client flag registers one machine identity.
//
//	go run ./cmd/devissuer -addr 127.0.0.1:9130 -key-file /tmp/devissuer-key.pem \
//	    -client dezky-platform:secret:ocisAdmin -client dezky-admin2:secret2:ocisAdmin
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dezky/platform-api/httpapi/devissuer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintf(os.Stderr, "devissuer: %v\n", err)
		os.Exit(2)
	}
}

// clientFlags collects repeated -client values.
type clientFlags []devissuer.Client

func (c *clientFlags) String() string { return fmt.Sprint(len(*c), " clients") }

func (c *clientFlags) Set(v string) error {
	cl, err := parseClient(v)
	if err != nil {
		return err
	}
	*c = append(*c, cl)
	return nil
}

// parseClient reads "ID:SECRET[:ROLE,ROLE...]". The id doubles as preferred_username and name,
// and the email is <id>@dezky.test: oCIS autoprovisions its user from these claims.
func parseClient(v string) (devissuer.Client, error) {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return devissuer.Client{}, errors.New("a client is ID:SECRET[:ROLE,ROLE...]")
	}
	claims := map[string]any{
		"preferred_username": parts[0],
		"name":               parts[0],
		"email":              parts[0] + "@dezky.test",
	}
	if len(parts) == 3 && parts[2] != "" {
		claims["roles"] = strings.Split(parts[2], ",")
	}
	return devissuer.Client{ID: parts[0], Secret: parts[1], Claims: claims}, nil
}

// run serves until ctx ends. ready, when set, receives the issuer URL once it listens.
func run(ctx context.Context, args []string, out io.Writer, ready chan<- string) error {
	flags := flag.NewFlagSet("devissuer", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:9130", "listen address")
	ttl := flags.Duration("ttl", time.Hour, "access token lifetime")
	keyFile := flags.String("key-file", "", "PEM file of the RSA signing key, created when missing (keeps the JWKS across restarts)")
	var clients clientFlags
	flags.Var(&clients, "client", "a registered client ID:SECRET[:ROLE,ROLE...] (repeatable)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + ln.Addr().String()
	var key *rsa.PrivateKey
	if *keyFile != "" {
		if key, err = loadOrCreateKey(*keyFile); err != nil {
			ln.Close()
			return err
		}
	}
	iss, err := devissuer.New(devissuer.Options{URL: url, TokenTTL: *ttl, RSAKey: key})
	if err != nil {
		return err
	}
	for _, c := range clients {
		if err := iss.RegisterClient(c); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: iss, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(out, "dev issuer %s (token %s%s, %d clients)\n", url, url, devissuer.TokenPath, len(clients))
	if ready != nil {
		ready <- url
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}

// loadOrCreateKey reads a PKCS #8 RSA key, or generates one and writes it (mode 0600) when the
// file does not exist yet.
func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("encode key: %w", err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("write key: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return rk, nil
}
