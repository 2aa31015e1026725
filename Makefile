# dezky platform-api. `make run` starts the whole dev stack; `make test` is what CI runs.
GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
BENCHTIME ?= 1x

.PHONY: build run test test-short soak bench fuzz lint fmt clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/platform-api ./cmd/platform-api
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/devstack ./cmd/devstack

run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/devstack

test:
	$(GO) test -race -timeout 20m ./...

test-short:
	$(GO) test -short ./...

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

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .devdata
