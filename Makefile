# valuerx: the two commands a newcomer needs are `make run` and `make test`.
GO       ?= go
PKGS     := ./...
MODULE   := valuerx
FUZZTIME ?= 5s

AGENCY   ?= /work/shared/data/agency

.PHONY: catalog catalog-data run build test test-go lint fmt vet imports fuzz bench conform load load-smoke measures-demo measures-bench clean

## run: start the gateway on its embedded defaults (demo patients, sample contracts, dev client key)
run:
	$(GO) run ./cmd/valuerx serve

## catalog: rebuild the embedded catalog snapshot from the files shipped in catalog/data
catalog:
	$(GO) run ./cmd/valuerx catalog import -reproducible -from catalog/data/agency -from catalog/data/supplementary -out catalog/data/snapshot.json.gz > /dev/null

## catalog-data: copy the agency files the product needs from AGENCY (CPT codes dropped), then make catalog
catalog-data:
	$(GO) run ./catalog/internal/shipdata -from $(AGENCY) -to catalog/data/agency
	$(MAKE) catalog

## build: the valuerx gateway and the valuerx-conform suite in bin/
build:
	$(GO) build -o bin/valuerx ./cmd/valuerx
	$(GO) build -o bin/valuerx-conform ./cmd/valuerx-conform

## test: everything CI runs: lint, import rules, unit and integration tests with the race detector,
## short fuzz runs of every decoder, the conformance self-test and a load smoke run
test: lint imports test-go fuzz

test-go:
	$(GO) test -race -count=1 $(PKGS)

## lint: gofmt and go vet must be clean
lint: fmt vet

fmt:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

## imports: the architecture's arrows (docs/architecture.md): scoring, clinical, measures and fhir
## import nothing of the project and scoring and clinical stay free of net/http; cdshooks imports fhir at most (so conformance
## and loadtest, which use cdshooks, reach fhir through it); conformance
## never imports gateway or scoring; only cmd imports gateway; the gateway binary does not link the
## conformance suite's strict FHIR validator (github.com/google/fhir: ~40 MiB resident at start).
imports:
	@set -e; fail=0; \
	check() { pkg=$$1; shift; deps="$$($(GO) list -deps ./$$pkg | grep -E "$$1" || true)"; \
	  if [ -n "$$deps" ]; then echo "import rule broken: $$pkg reaches $$(echo $$deps)"; fail=1; fi; }; \
	check scoring '^($(MODULE)/(gateway|cdshooks|fhir|store|conformance|demo)|net/http)$$'; \
	check clinical '^($(MODULE)/(gateway|cdshooks|scoring|fhir|store|conformance|demo|loadtest|config|measures|catalog|internal/.*|cmd/.*)|net/http)$$'; \
	check fhir '^$(MODULE)/(gateway|cdshooks|scoring|store|conformance|demo)$$'; \
	check catalog '^($(MODULE)/(gateway|cdshooks|fhir|store|conformance|demo|clinical|measures)|net/http)$$'; \
	check measures '^($(MODULE)/(gateway|cdshooks|scoring|fhir|store|conformance|demo|loadtest|population|catalog|clinical|tracking|web|internal/.*|cmd/.*)|net/http)$$'; \
	check tracking '^($(MODULE)/(gateway|cdshooks|fhir|conformance|demo|clinical|catalog|loadtest|web|config|internal/.*|cmd/.*)|net/http)$$'; \
	check web '^$(MODULE)/(gateway|cdshooks|fhir|conformance|demo|clinical|catalog|loadtest|cmd/.*)$$'; \
	check cdshooks '^$(MODULE)/(gateway|scoring|store|conformance|demo)$$'; \
	check conformance '^$(MODULE)/(gateway|scoring|store|demo)$$'; \
	check store '^$(MODULE)/(gateway|cdshooks|scoring|fhir|conformance)$$'; \
	check loadtest '^$(MODULE)/(gateway|scoring|store|conformance)$$'; \
	check measures/synth '^($(MODULE)/(gateway|cdshooks|scoring|fhir|store|conformance|demo|population)|net/http)$$'; \
	check attribution '^($(MODULE)/(gateway|cdshooks|scoring|fhir|store|conformance|demo|measures|population|internal/.*)|net/http)$$'; \
	check population '^$(MODULE)/(gateway|cdshooks|scoring|store|conformance|demo|cmd/.*)$$'; \
	check gateway '^$(MODULE)/(conformance|cmd/.*)$$'; \
	check csvcell '^$(MODULE)/(gateway|cdshooks|scoring|fhir|store|tracking|web|population|measures|clinical|catalog|config|internal/.*|cmd/.*)$$'; \
	check cmd/valuerx '^($(MODULE)/conformance|github.com/google/fhir/.*)$$'; \
	if [ $$fail = 1 ]; then exit 1; fi; echo "import rules hold"

## fuzz: each fuzz target for FUZZTIME (CI: a few seconds each)
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t"; \
	    if ! $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg >/tmp/valuerx-fuzz.log 2>&1; then \
	      cat /tmp/valuerx-fuzz.log; \
	      echo "fuzz $$t failed; running it again: a crasher was saved to testdata/fuzz and fails again, a starved worker on a busy machine does not"; \
	      $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	    fi; \
	  done; \
	done

## bench: benchmarks of the hot path with allocations
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./scoring ./cdshooks ./gateway ./fhir

## conform: run the conformance suite against the running demo (make run in another shell), signing
## with the development client key the demo trusts
conform:
	$(GO) run ./cmd/valuerx-conform -url http://localhost:8080 -key var/dev-client-key.pem -issuer urn:valuerx:dev-client -no-jku

## load: valuerx against the floor, full prefetch, at 4 and 32 connections (docs/performance.md)
load: build
	bin/valuerx load -scenario prefetch -c 4,32 -n 20000 -rounds 8 -duration 10m

## load-smoke: the seconds-long version CI runs inside `go test` (asserts answers, not speed)
load-smoke:
	$(GO) test -count=1 -run TestLoadSmoke ./cmd/valuerx

## measures-demo: a synthetic population (20,000 patients, fills through Sep 30) and its adherence
## rates and worklist as of Oct 1: var/measures-demo/export -> var/measures-demo/out
measures-demo:
	$(GO) run ./cmd/valuerx synth -out var/measures-demo/export -patients 20000 -seed 1 -year 2026 -through 2026-09-30
	$(GO) run ./cmd/valuerx measures -from var/measures-demo/export -year 2026 -out var/measures-demo/out

## measures-bench: the README's million-patient figure (about 4 GB of NDJSON in var/measures-bench;
## time and peak memory from /usr/bin/time -v). Long: run it on a quiet machine.
measures-bench: build
	bin/valuerx synth -out var/measures-bench/export -patients 1000000 -seed 1 -year 2026
	/usr/bin/time -v bin/valuerx measures -from var/measures-bench/export -year 2026 -asof 2026-10-01 -out var/measures-bench/out

clean:
	rm -rf bin var
