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
TEST_TIMEOUT ?= 25m
# How many end-to-end tests marked parallel run at once (scripts/leg.sh reads
# it too): most of such a test is waiting on containers.
export PARALLEL ?= 3

# WITH_SERVICE runs the rest of a recipe line against a private Podman API
# service (started here, stopped when the line ends, even on failure), with
# STACK_TEST_URL and STACK_BIN set for the tests.
WITH_SERVICE = url=$$(scripts/podman-service.sh start) && trap 'scripts/podman-service.sh stop' EXIT && \
	export STACK_URL=$$url STACK_TEST_URL=$$url STACK_BIN=$(CURDIR)/$(BIN) &&

# The test matrix. A leg runs the integration and end-to-end tests (the test
# binaries of LEG_PKGS) against its own Podman service; see scripts/leg.sh.
# LEGS run one after another (they share the host's ports); ISOLATED_LEGS run
# in their own network namespace, beside them. To add a leg, write its
# test-NAME target (with the legs, below) and name it here:
LEGS := test-podman test-rootless test-kube
ISOLATED_LEGS := test-podman5
LEG_PKGS := podmanapi e2e cluster cmd/stack
TESTBIN := bin/test
export TESTBIN TEST_TIMEOUT
# What a leg needs built first. `make test` builds it once and runs the legs
# with NODEPS=1, so no leg rebuilds a binary another leg is running.
BUILT = $(if $(NODEPS),,build test-binaries)

.DEFAULT_GOAL := help
.PHONY: help build test check unit e2e lint fmt bench demo clean setup test-binaries podman5 registry \
	test-podman test-podman5 test-rootless test-kube fuzz fuzz-short

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build the static binary bin/stack
	$(GO) build -trimpath -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/stack

setup: ## install Podman if missing (root), build the test image, probe that containers run
	scripts/setup-podman.sh

test-binaries: ## compile the integration and e2e test binaries once, for every leg
	@mkdir -p $(TESTBIN)
	@# one binary per package, named after its directory (cmd/stack: cmd-stack.test)
	for p in $(LEG_PKGS); do $(GO) test -c -tags "$(TAGS)" -o $(TESTBIN)/$$(echo $$p | tr / -).test ./$$p || exit 1; done

podman5: ## build Podman 5 from the Go module proxy (cached outside the clone, per version)
	scripts/podman5.sh build

registry: ## build the test registry from the Go module proxy (cached outside the clone, per version)
	scripts/registry.sh build

test: setup build test-binaries podman5 registry ## everything CI runs: lint, unit tests, then every leg of the matrix
	@export LEG_SUMMARY=$$(mktemp) iso=$$(mktemp) && t0=$$SECONDS && \
	$(MAKE) --no-print-directory lint unit fuzz-short || exit 1; \
	{ $(MAKE) --no-print-directory -k NODEPS=1 $(ISOLATED_LEGS) >$$iso 2>&1; } & bg=$$!; \
	$(MAKE) --no-print-directory -k NODEPS=1 $(LEGS); rc=$$?; \
	wait $$bg || rc=1; \
	echo "=== output of $(ISOLATED_LEGS) (ran beside the others):"; cat $$iso; rm -f $$iso; \
	echo; echo "=== matrix: $$((SECONDS - t0))s in all"; cat $$LEG_SUMMARY; rm -f $$LEG_SUMMARY; \
	[ $$rc = 0 ] && echo "=== all legs passed" || echo "=== FAILED"; exit $$rc

check: lint unit test-podman ## the quick everyday run: lint, unit tests, and the machine's own Podman

test-podman: $(if $(NODEPS),,setup registry) $(BUILT) ## leg: the machine's Podman (rootful as root, rootless as a user)
	@scripts/leg.sh podman

test-podman5: $(BUILT) $(if $(NODEPS),,podman5 registry) ## leg: Podman 5 rootful, isolated beside the machine's Podman (root)
	@scripts/leg.sh podman5

test-rootless: $(BUILT) $(if $(NODEPS),,registry) ## leg: the machine's Podman rootless, as a created user (root)
	@scripts/leg.sh rootless

test-kube: $(BUILT) ## leg: every export dry-run on a real kube-apiserver, one applied and deleted (built once per machine)
	@scripts/leg.sh kube

unit: ## hermetic unit tests only (no Podman needed)
	$(GO) test -short -count=1 -tags "$(TAGS)" ./...

e2e: setup build ## end-to-end tests: the built binary against a private Podman service
	@$(WITH_SERVICE) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -parallel $(PARALLEL) -tags "$(TAGS)" ./e2e/

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags "$(TAGS)" ./...

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

# The side-by-side comparison: rounds per tool and row (medians), passes
# (quiet, and busy: one core kept busy by a bounded CPU burner), and rows
# (all by default; see internal/peerbench). It rewrites docs/bench.
BENCH_ROUNDS ?= 3
BENCH_MODES ?= quiet,busy
BENCH_ROWS ?=
bench: setup build ## benchmarks: planning 1000 services; stack beside bare REST calls and kube play (writes docs/bench)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -tags "$(TAGS)" ./stack/ ./planner/
	@$(WITH_SERVICE) $(GO) run ./internal/peerbench -stack $(BIN) -rounds $(BENCH_ROUNDS) -modes $(BENCH_MODES) \
		$(if $(BENCH_ROWS),-rows $(BENCH_ROWS)) -out docs/bench

# Fuzz targets as package:Function. Crashers land in <package>/testdata/fuzz
# and run as seeds with every go test.
FUZZ_TARGETS := stack:FuzzLoadCompose stack:FuzzLoadKube stack:FuzzInterpolation planner:FuzzPlan
FUZZTIME ?= 2m
# Minimizing each new input takes up to 60s by default: time not spent fuzzing.
FUZZMINIMIZETIME ?= 5s
fuzz: ## fuzz loading and planning, FUZZTIME (2m) per target
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t#*:}; echo "fuzz $$fn for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -tags "$(TAGS)" ./$$pkg/; done

# fuzz-short counts executions instead of timing them: with a duration, Go
# before 1.27 can fail a target with a bare "context deadline exceeded" as
# the time runs out (golang/go#75804), no input at fault; a count has no
# deadline to race.
fuzz-short: ## every fuzz target for 3000 inputs (seconds each), as make test runs them
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3000x

DEMO := -f examples/demo/compose.yaml
demo: setup build ## run the offline demo stack (examples/demo), show it, tear it down
	@$(WITH_SERVICE) trap '$(BIN) down -v $(DEMO) --progress quiet; scripts/podman-service.sh stop' EXIT && \
	set -x && \
	$(BIN) up -d --wait --wait-timeout 60s $(DEMO) && \
	$(BIN) ps $(DEMO) && \
	wget -qO- http://127.0.0.1:8088/

clean: ## remove build outputs
	rm -rf bin
