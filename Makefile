# podstack: `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
# The Podman bindings need these tags to build without cgo libraries
# (gpgme, btrfs): a static binary that talks to Podman's REST API.
TAGS := remote containers_image_openpgp
export CGO_ENABLED := 0
PKG := github.com/podstack/podstack
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
BIN := bin/stack
TEST_TIMEOUT ?= 15m

# WITH_SERVICE runs the rest of a recipe line against a private Podman API
# service (started here, stopped when the line ends, even on failure), with
# STACK_TEST_URL and STACK_BIN set for the tests.
WITH_SERVICE = url=$$(scripts/podman-service.sh start) && trap 'scripts/podman-service.sh stop' EXIT && \
	export STACK_URL=$$url STACK_TEST_URL=$$url STACK_BIN=$(CURDIR)/$(BIN) &&

.DEFAULT_GOAL := help
.PHONY: help build test unit e2e lint fmt bench demo clean setup fuzz fuzz-short

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build the static binary bin/stack
	$(GO) build -trimpath -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/stack

setup: ## install Podman if missing (root), build the test image, probe that containers run
	scripts/setup-podman.sh

test: setup build ## everything CI runs: unit, integration and end-to-end tests on a private Podman service
	@export PODSTACK_PEER_REPORT=$$(mktemp) && $(WITH_SERVICE) echo "Testing against $$url" && \
	  { $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -tags "$(TAGS)" ./...; rc=$$?; scripts/peer-report.sh $$PODSTACK_PEER_REPORT; exit $$rc; }

unit: ## hermetic unit tests only (no Podman needed)
	$(GO) test -short -count=1 -tags "$(TAGS)" ./...

e2e: setup build ## end-to-end tests: the built binary against a private Podman service
	@$(WITH_SERVICE) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -tags "$(TAGS)" ./e2e/

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags "$(TAGS)" ./...

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

bench: setup build ## benchmarks: planning a 1000-service stack, and up/down on real Podman
	@$(WITH_SERVICE) $(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -tags "$(TAGS)" ./stack/ ./planner/ ./e2e/

# Fuzz targets as package:Function. Crashers land in <package>/testdata/fuzz
# and run as seeds with every go test.
FUZZ_TARGETS := stack:FuzzLoadCompose stack:FuzzLoadKube stack:FuzzInterpolation planner:FuzzPlan
FUZZTIME ?= 2m
# Minimizing each new input takes up to 60s by default: time not spent fuzzing.
FUZZMINIMIZETIME ?= 5s
fuzz: ## fuzz loading and planning, FUZZTIME (2m) per target
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t#*:}; echo "fuzz $$fn for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -tags "$(TAGS)" ./$$pkg/; done

fuzz-short: ## every fuzz target for 10s
	@$(MAKE) --no-print-directory fuzz FUZZTIME=10s

DEMO := -f examples/demo/compose.yaml
demo: setup build ## run the offline demo stack (examples/demo), show it, tear it down
	@$(WITH_SERVICE) trap '$(BIN) down -v $(DEMO) --progress quiet; scripts/podman-service.sh stop' EXIT && \
	set -x && \
	$(BIN) up -d --wait --wait-timeout 60s $(DEMO) && \
	$(BIN) ps $(DEMO) && \
	wget -qO- http://127.0.0.1:8088/

clean: ## remove build outputs
	rm -rf bin
