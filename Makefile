# dezky platform-api. `make run` starts the whole dev stack; `make test` is what CI runs.
GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
BENCHTIME ?= 1x

.PHONY: build run test test-short soak bench fuzz lint fmt clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/platform-api ./cmd/platform-api
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/devstack ./cmd/devstack
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/platformctl ./cmd/platformctl

run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/devstack

# deploy/ is a module of its own (its checks pull compose, kustomize, Kubernetes and PromQL
# libraries the service must not depend on): every target that covers the code covers both.
test:
	$(GO) test -race -timeout 20m ./...
	cd deploy && $(GO) test -race -timeout 5m ./...

test-short:
	$(GO) test -short ./...
	cd deploy && $(GO) test -short ./...

# The operational drills at full size (300 tenants, production lease timings, 30 s of load):
# real processes killed with SIGKILL. `make test` runs them in their CI size. Figures are the
# lines starting with "DRILL ".
soak:
	DRILL_SOAK=1 $(GO) test -count=1 -v -timeout 40m -run 'TestDrill' ./internal/drill

bench:
	$(GO) run ./cmd/benchtable

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCreateTenantBody -fuzztime 60s ./httpapi
	$(GO) test -run '^$$' -fuzz FuzzPatchTenantBody -fuzztime 60s ./httpapi

# staticcheck is pinned and run through the module proxy, so a fresh machine needs nothing else.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...
	$(STATICCHECK) ./...
	cd deploy && $(STATICCHECK) ./...

# The upstream API documents the spec tests read (pinned with their sha256 in
# internal/upstreamspecs/specs.txt), for a clone without ../shared: written into $(UPSTREAM_SPECS)
# when set (e.g. make specs UPSTREAM_SPECS=.upstream-specs), else ../shared/upstreams.
.PHONY: specs
specs:
	$(GO) run ./cmd/fetchspecs

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .devdata
