# fastio — see README.md. `make run` and `make test` are the whole set-up on a fresh machine.
GO        ?= go
BIN       := bin/fastio
E2E_DIR   := test/e2e
DEMO_WEB  := internal/demo/web
CLIENT_JS := $(DEMO_WEB)/static/vendor/socket.io.min.js
BROWSER_DIR := test/browser
CLUSTER_DIR := test/cluster
CHROMIUM  ?= /usr/bin/chromium
FUZZTIME  ?= 20s
PORT      ?= 3000

.PHONY: all build run test test-go test-e2e e2e-deps demo-client chromium test-browser test-cluster lint bench microbench fuzz clean

all: build

build: demo-client
	$(GO) build -o $(BIN) ./cmd/fastio

# The official socket.io-client browser bundle, embedded in the binary for the demo page (/socket.io.min.js):
# taken from npm at build time, git-ignored, never committed. npm ci only when the lockfile changed.
$(DEMO_WEB)/node_modules/.installed: $(DEMO_WEB)/package-lock.json
	cd $(DEMO_WEB) && npm ci --no-audit --no-fund
	touch $@

$(CLIENT_JS): $(DEMO_WEB)/node_modules/.installed
	mkdir -p $(dir $@)
	cp $(DEMO_WEB)/node_modules/socket.io-client/dist/socket.io.min.js $@

demo-client: $(CLIENT_JS)

## run: build and start the demo app (the seed's chat server) on $(PORT).
run: build
	./$(BIN) demo --port $(PORT)

## test: lint, Go unit and conformance tests under the race detector, then the Node.js end-to-end tests.
test: lint test-go test-e2e test-browser test-cluster

test-go: build e2e-deps
	$(GO) test -race -count=1 ./...
	# The Socket.IO codec against the Node.js parser and JSON.stringify (socket.io-parser from test/e2e's packages).
	SIO_NODE_PARSER="$(CURDIR)/$(E2E_DIR)" $(GO) test -count=1 -run 'NodeOracle|NodeStringify' ./codec/sio
	# The allocation gates again without -race (the race detector makes sync.Pool drop items).
	$(GO) test -count=1 -run 'Alloc' ./...
	# The conformance tests again, with the endpoints mounted in net/http instead of the event loops.
	FASTIO_SERVER="$(CURDIR)/$(BIN) testserver --stdhttp" $(GO) test -count=1 ./test/conformance

# npm ci only when the lockfile changed since the last install.
$(E2E_DIR)/node_modules/.installed: $(E2E_DIR)/package-lock.json
	cd $(E2E_DIR) && npm ci --no-audit --no-fund
	touch $@

e2e-deps: $(E2E_DIR)/node_modules/.installed

test-e2e: build e2e-deps
	cd $(E2E_DIR) && FASTIO_SERVER="$(CURDIR)/$(BIN) testserver" FASTIO_DEMO="$(CURDIR)/$(BIN) demo" FASTIO_E2E_RELAXED=1 npm test
	# The whole suite again through net/http (server.Server as an http.Handler, goroutine transports).
	cd $(E2E_DIR) && FASTIO_SERVER="$(CURDIR)/$(BIN) testserver --stdhttp" FASTIO_DEMO="$(CURDIR)/$(BIN) demo" FASTIO_E2E_RELAXED=1 npm test

# Debian's Chromium for the browser test, installed when missing (as root, like CI).
chromium:
	@test -x $(CHROMIUM) || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

$(BROWSER_DIR)/node_modules/.installed: $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund
	touch $@

## test-browser: the demo page in headless Chromium, two pages (one on long-polling) chatting through bin/fastio,
## on the event loops and over HTTPS (net/http).
test-browser: build chromium $(BROWSER_DIR)/node_modules/.installed
	$(GO) run ./internal/selfsigned/gencert $(BROWSER_DIR)/artifacts/tls
	cd $(BROWSER_DIR) && FASTIO_BIN="$(CURDIR)/$(BIN)" CHROMIUM="$(CHROMIUM)" FASTIO_TLS_DIR="$(CURDIR)/$(BROWSER_DIR)/artifacts/tls" \
		NODE_EXTRA_CA_CERTS="$(CURDIR)/$(BROWSER_DIR)/artifacts/tls/cert.pem" npm test

# Redis interop: two fastio nodes and a Node.js socket.io node with @socket.io/redis-adapter, both emitters.
# Each test starts its own redis-server (test/cluster/start-redis.sh installs Debian's package when missing).
$(CLUSTER_DIR)/node_modules/.installed: $(CLUSTER_DIR)/package-lock.json
	cd $(CLUSTER_DIR) && npm ci --no-audit --no-fund
	touch $@

test-cluster: $(CLUSTER_DIR)/node_modules/.installed
	$(GO) build -o bin/fastionode ./test/cluster/fastionode
	cd $(CLUSTER_DIR) && FASTIO_CLUSTER_NODE=$(CURDIR)/bin/fastionode npm test

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/e2e/node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: fastio against Node.js socket.io (and the bare baseline) with the load generator, in one run of about
## 5 minutes; regenerates BENCHMARKS.md and bench/charts/.
bench: build e2e-deps
	./$(BIN) bench suite --out BENCHMARKS.md --charts bench/charts

## microbench: Go micro-benchmarks of the hot paths, with allocation counts.
microbench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## fuzz: run every fuzz target for $(FUZZTIME).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list='^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin $(DEMO_WEB)/static/vendor
