# ocsfmap — make help lists the targets.
SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools
MAPPING ?= mappings/zscaler-dspm/security_finding_1.1.0.yaml

.PHONY: help build test race bench bench-large bench-compare bench-rss schemas lint demo tools lambda

# The packages with goroutines of their own: run under the race detector too.
RACE_PKGS := ./engine ./engine/plan ./engine/filter ./engine/ocsf ./engine/lake ./engine/store ./engine/wal ./engine/service ./engine/conformance ./engine/console

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build the CLI into bin/ocsfmap
	$(GO) build -o bin/ocsfmap ./cmd/ocsfmap

# The Lambda function (cmd/ocsfmap-lambda): a static bootstrap for the
# provided.al2023 runtime (without the RPC entry point), and per
# architecture a zip of it with mappings/ and, when LAMBDA_INTEGRATION names
# one, the integration file as integration.yaml (its mapping: path relative
# to the zip's root, e.g. mappings/zscaler-dspm/security_finding_1.1.0.yaml).
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags '-s -w'
LAMBDA_INTEGRATION ?=
lambda: ## build dist/lambda/bootstrap (linux/amd64, for the emulator) and the zips for amd64 and arm64 (LAMBDA_INTEGRATION)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(LAMBDA_FLAGS) -o dist/lambda/bootstrap ./cmd/ocsfmap-lambda
	@set -e; for arch in amd64 arm64; do \
	  rm -rf dist/lambda/$$arch && mkdir -p dist/lambda/$$arch; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build $(LAMBDA_FLAGS) -o dist/lambda/$$arch/bootstrap ./cmd/ocsfmap-lambda; \
	  cp -r mappings dist/lambda/$$arch/; \
	  if [ -n "$(LAMBDA_INTEGRATION)" ]; then cp "$(LAMBDA_INTEGRATION)" dist/lambda/$$arch/integration.yaml; fi; \
	  rm -f dist/lambda/ocsfmap-lambda-$$arch.zip; \
	  (cd dist/lambda/$$arch && zip -q -r -X ../ocsfmap-lambda-$$arch.zip .); \
	done
	@ls -l dist/lambda/bootstrap dist/lambda/*.zip

tools: ## install what the tests need: versitygw, the Lambda emulator, DuckDB, arrow-rs and polars (npm) into .tools/; chromium (apt-get)
	@.ci/tools.sh "$(TOOLS)"

# No test may reach an instance metadata service: the AWS SDK's default
# chain would try one when a test leaves credentials unset.
test: tools ## run every test (installs what they need; tests start the S3 server themselves), then the race detector
	OCSFMAP_TOOLS=$(TOOLS) AWS_EC2_METADATA_DISABLED=true $(GO) test -count=1 ./...
	@$(MAKE) --no-print-directory race

race: tools ## the concurrent packages under the race detector
	OCSFMAP_TOOLS=$(TOOLS) AWS_EC2_METADATA_DISABLED=true $(GO) test -race -count=1 $(RACE_PKGS)

# Per-stage micro-benchmarks on one core, then the whole run (the binary,
# on 1 and 2 cores, with peak RSS) on 200k alerts of one day.
LARGE := 1M|30Days
bench: tools ## benchmarks: every stage on one core, then ocsfmap run and serve end to end (200k alerts)
	GOMAXPROCS=1 OCSFMAP_TOOLS=$(TOOLS) $(GO) test -run '^$$' -bench . -skip '$(LARGE)' -benchmem ./engine/...
	$(GO) test -run '^$$' -bench 'BenchmarkRunOneDay200k|BenchmarkServe' -benchtime 1x -timeout 30m ./cmd/ocsfmap

bench-large: ## the 1M-alert benchmarks (one day and 30 days, ~12,000 partitions); several minutes
	GOMAXPROCS=1 $(GO) test -run '^$$' -bench '$(LARGE)' -benchtime 1x -timeout 60m ./engine/lake
	$(GO) test -run '^$$' -bench 'BenchmarkRun.*1M' -benchtime 1x -timeout 60m ./cmd/ocsfmap

# ocsfmap against DuckDB doing the same mapping in SQL, on the same input in
# the same run (DESIGN §10): medians of alternating rounds, ratios, peak RSS.
# BASE=path/to/other/ocsfmap adds that build, for A/B of a change.
N ?= 200000
DAYS ?= 1
ROUNDS ?= 5
bench-compare: build tools ## ocsfmap run vs DuckDB, same mapping and input, side by side: ratios (N, DAYS, ROUNDS, ORDERED=1, BASE)
	cmd/bench-compare/compare.sh -n $(N) -days $(DAYS) -rounds $(ROUNDS) $(if $(ORDERED),-ordered)

# serve's peak RSS under hostile bodies (issue 20): N clients post each at
# once to a serve with S3 unreachable; it must stay within --memory.
bench-rss: build ## serve's peak RSS under hostile 16 MiB bodies, N (default 8) clients at once (SERVE_FLAGS)
	cmd/ocsfmap/serve_rss.sh bin/ocsfmap

OCSF_SCHEMA_SRC ?= schemas/ocsf/source

schemas: ## regenerate schemas/ocsf from the OCSF source data (OCSF_SCHEMA_SRC, default schemas/ocsf/source)
	$(GO) run ./cmd/ocsf-schemagen -src $(OCSF_SCHEMA_SRC) -out schemas

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The demo's query, run by DuckDB as users would (hive partitioning, the
# partition values as text), printed as a table.
DEMO_SQL := SELECT eventDay, accountId, severity, count(*) AS n FROM read_parquet('out/lake/ext/zscaler-dspm/**/*.parquet', hive_partitioning=true, hive_types_autocast=false) GROUP BY ALL ORDER BY n DESC, 1, 2, 3 LIMIT 10
demo: build ## the main job on a sample: DSPM alerts -> OCSF -> Parquet in out/lake, checked, and a DuckDB query's result
	rm -rf out/lake
	bin/ocsfmap run -m $(MAPPING) -o out/lake testdata/dspm/alerts.ndjson
	@echo
	@echo "Parquet files, laid out like the Security Lake bucket:"
	@find out/lake -name '*.parquet' | sort | head -5; echo "  ..."
	@echo
	@echo "Checked against OCSF and the Security Lake contract (ocsfmap validate out/lake):"
	@bin/ocsfmap validate out/lake
	@echo
	@.ci/tools-duckdb.sh $(TOOLS) || { echo "make demo: the query needs DuckDB's Node client (Node 20 and npm); the lake is in out/lake" >&2; exit 1; }
	@echo "Query them (DuckDB):"
	@echo "  $(DEMO_SQL);"
	@echo
	@DEMO_SQL="$(DEMO_SQL)" node -e 'process.stdout.write(JSON.stringify({top: process.env.DEMO_SQL}))' \
	  | node engine/lake/duckdbtest/duckdb_query.cjs $(TOOLS)/duckdb \
	  | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => { const rows = JSON.parse(s).top, cols = Object.keys(rows[0] || {}); const w = cols.map(c => Math.max(c.length, ...rows.map(r => String(r[c]).length))); const line = r => "  " + cols.map((c, i) => String(r[c]).padEnd(w[i])).join("  "); console.log(line(Object.fromEntries(cols.map(c => [c, c])))); rows.forEach(r => console.log(line(r))); })'
