//go:build tools

// Package tools pins the modules the project is built on (DESIGN §2) while the packages that
// import them are written, so go mod tidy keeps them in go.mod and go.sum.
package tools

import (
	_ "github.com/FerretDB/FerretDB/ferretdb"
	_ "github.com/cenkalti/backoff/v4"
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/labstack/echo/v4"
	_ "github.com/labstack/echo/v4/middleware"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "go.mongodb.org/mongo-driver/v2/mongo"
	_ "golang.org/x/oauth2/clientcredentials"
)
