# shopstream: two commands from a fresh clone, `make demo` and `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Local settings (see .env.example); the environment wins over the file.
-include .env
export

CLI := node cli/shopstream.cjs
NODE_STAMP := node_modules/.package-lock.json
# Generated schema code, rebuilt whenever a .proto file changed (a pull that changes the schema).
GEN_STAMP := schemas/generated/events.d.ts
PROTOS := $(shell find schemas -name '*.proto' 2>/dev/null)

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(NODE_STAMP): package.json package-lock.json
	@# npm install, not npm ci: this registry does not serve other platforms' optional packages, so the
	@# lock file cannot list them and npm ci would call it out of sync.
	npm install --no-audit --no-fund
	@touch $@

$(GEN_STAMP): $(PROTOS) infra/scripts/gen-schemas.sh | $(NODE_STAMP)
	npm run --silent gen

install: $(NODE_STAMP) $(GEN_STAMP) ## node modules, generated schema code, and the servers' binaries into .tools/
	$(CLI) stack install

up: install ## start NATS (JetStream) and Temporal; idempotent
	$(CLI) stack up
	$(CLI) topology apply

down: ## stop exactly what `make up` and `make demo` started
	@if [ -f cli/shopstream.cjs ] && [ -d node_modules ]; then $(CLI) stack down; else echo "nothing to stop (not installed)"; fi

status: ## what is running
	$(CLI) stack status

demo: up ## the whole pipeline on simulated shop traffic, then a report from ClickHouse
	$(CLI) demo

gen: ## rebuild schemas/generated from the .proto files
	npm run gen

typecheck: $(NODE_STAMP) $(GEN_STAMP)
	npm run --silent typecheck

lint: $(NODE_STAMP)
	npm run --silent lint

format: $(NODE_STAMP)
	npm run --silent format

format-check: $(NODE_STAMP)
	npm run --silent format:check

chromium: ## Chromium for the chat widget's browser test (test/int/widget.int.test.ts): apt-get as root, else how
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; } || \
	    echo "could not install chromium: the widget's browser test will be skipped"; \
	else echo "/usr/bin/chromium is absent: the widget's browser test will be skipped; install it with: sudo apt-get install -y chromium"; fi

test-unit: $(NODE_STAMP) $(GEN_STAMP) ## unit tests only (no servers)
	npx jest --selectProjects unit

test-workflows: install ## Temporal workflow tests (time-skipping server) and history replays
	npx jest --selectProjects workflows

test: install chromium ## typecheck, lint, format check, then every test (unit, integration, end-to-end)
	npm run --silent typecheck
	npm run --silent lint
	npm run --silent format:check
	@mkdir -p .data
	@# two test files at once: most integration tests wait on servers and timers, not on the CPU
	npx jest --ci --maxWorkers=2 --json --outputFile=.data/test-results.json

fuzz: install ## property-based fuzzing: 100,000 cases per parser property and 100,000 events through the pipeline
	FUZZ_RUNS=$${FUZZ_RUNS:-100000} FUZZ_EVENTS=$${FUZZ_EVENTS:-100000} npx jest --ci test/unit/fuzz- test/int/fuzz-

bench: install ## one run: the machine's limits, the pipeline (1 and 2 instances), conversations, workflows, memory, against the targets -> bench-results.json (BENCHMARKS.md)
	npx tsx bench/run.ts

bench-ingest: install ## producer publish rate and sink drain rate on a throwaway NATS + ClickHouse
	npx tsx bench/ingest.ts

bench-freshness: install ## publish -> queryable in ClickHouse p50/p95/p99 at a steady 2,000 events/s -> bench-results.json
	npx tsx bench/freshness.ts

chaos: install ## fault suite: process kills, Temporal restart, ClickHouse outage, NATS node and site lost (SCENARIOS, EVENTS, KILLS) -> chaos-results.json
	npx tsx chaos/run.ts

bench-limits: install ## the machine's raw limits with the pipeline's messages: JetStream publish, consume, KV CAS, ClickHouse insert -> bench-results.json
	npx tsx bench/limits-run.ts

bench-durability: install ## JetStream publish rate with the default sync_interval and with sync_interval always -> bench-results.json
	npx tsx bench/durability.ts

bench-interest: install ## interest processor throughput (events applied and stored per second)
	npx tsx bench/interest.ts

bench-quality: install ## interest and recommendation quality on simulated shoppers -> quality-results.json
	npx tsx bench/quality.ts

bench-recommend: install ## recommendation latency (library and NATS request-reply, warm cache)
	npx tsx bench/recommend.ts

bench-rules: install ## association-rule mining time on 20,000 baskets
	npx tsx bench/rules.ts

train-nlu: install ## train the bot's intent model from bot/nlu/data (cached; the service also does it at start)
	node cli/shopstream.cjs nlu train

bench-chat: install ## the bot under 10,000 concurrent conversations: first-response p50/p95/p99, turns/s -> bench-results.json
	npx tsx bench/chat.ts

bench-flows: install ## cart-recovery flows through one worker and the local Temporal dev server -> bench-flows.json
	npx tsx bench/flows.ts

clean: down ## stop, then delete local data (.data/)
	rm -rf .data

.PHONY: help install up down status demo chaos bench gen typecheck lint format format-check chromium test-unit test-workflows test fuzz bench-ingest bench-freshness bench-limits bench-durability bench-interest bench-quality bench-recommend bench-rules bench-flows bench-chat train-nlu clean
