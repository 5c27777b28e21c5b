# fastio — see README.md. `make run` and `make test` are the whole set-up on a fresh machine.
GO        ?= go
BIN       := bin/fastio
E2E_DIR   := test/e2e
FUZZTIME  ?= 20s
PORT      ?= 3000

.PHONY: all build run test test-go test-e2e e2e-deps lint bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/fastio

## run: build and start the demo app (the seed's chat server) on $(PORT).
run: build
	./$(BIN) demo --port $(PORT)

## test: lint, Go unit and conformance tests under the race detector, then the Node.js end-to-end tests.
test: lint test-go test-e2e

test-go:
	$(GO) test -race -count=1 ./...
	# The allocation gates again without -race (the race detector makes sync.Pool drop items).
	$(GO) test -count=1 -run 'Alloc' ./...

# npm ci only when the lockfile changed since the last install.
$(E2E_DIR)/node_modules/.installed: $(E2E_DIR)/package-lock.json
	cd $(E2E_DIR) && npm ci --no-audit --no-fund
	touch $@

e2e-deps: $(E2E_DIR)/node_modules/.installed

test-e2e: build e2e-deps
	cd $(E2E_DIR) && FASTIO_SERVER="$(CURDIR)/$(BIN) testserver" FASTIO_DEMO="$(CURDIR)/$(BIN) demo" FASTIO_E2E_RELAXED=1 npm test

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/e2e/node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: Go micro-benchmarks of the hot paths, with allocation counts.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## fuzz: run every fuzz target for $(FUZZTIME).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list='^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin
