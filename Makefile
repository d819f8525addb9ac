# ocsfmap — make help lists the targets.
SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)

.PHONY: help build test bench schemas lint demo tools

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build the CLI into bin/ocsfmap
	$(GO) build -o bin/ocsfmap ./cmd/ocsfmap

tools: ## install what the tests need (S3 server, DuckDB for interop) into .tools/
	@.ci/tools.sh "$(TOOLS)"

test: tools ## run every test (installs and starts what they need)
	OCSFMAP_TOOLS=$(TOOLS) $(GO) test -count=1 ./...

bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

schemas: ## regenerate schemas/ from the OCSF source data in ../shared/ocsf-schema
	$(GO) run ./cmd/ocsf-schemagen -src ../shared/ocsf-schema -out schemas

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
