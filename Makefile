# The two commands: `make run` and `make test`. Both find or start Postgres and Redis through
# deploy/dev/services.sh, so they work on a fresh machine with nothing running.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# A build cache outside the clone: CI clones afresh each time and would otherwise rebuild all.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/openclaw-target
SERVICES := deploy/dev/services.sh
BIN := $(CARGO_TARGET_DIR)/debug/openclaw

.PHONY: run test bench fmt lint services stop-services migrate

## Serve on :18789 with a development tenant (prints its API key and a curl line).
run:
	@env="$$($(SERVICES) up)" || exit 1; eval "$$env"; \
	cargo build -p openclaw; \
	$(BIN) dev-setup; \
	echo; \
	OPENCLAW_BIND="$${OPENCLAW_BIND:-127.0.0.1}" exec $(BIN) serve --with-worker

## The whole suite against real Postgres and Redis.
test:
	@env="$$($(SERVICES) up --require-redis)" || exit 1; eval "$$env"; \
	if cargo nextest --version >/dev/null 2>&1; then \
	  cargo nextest run --workspace --no-fail-fast; \
	else \
	  cargo test --workspace --no-fail-fast; \
	fi

## Benchmarks, from one run each (see README): the middleware stack; then, with real
## processes, /v1/chat/completions overhead against mock-llm, memory per open SSE stream, job
## throughput and enqueue-to-start latency with two workers, memory search latency over
## 1 000 000 memories (loaded once into a database of its own: minutes the first time), and
## memory per idle WebSocket connection (10 000) and chat.delta latency with 1 000 chats.
bench:
	@env="$$($(SERVICES) up --require-redis)" || exit 1; eval "$$env"; \
	cargo build --release -q -p openclaw -p openclaw-mock-llm -p openclaw-tests --bins; \
	cargo run --release -q -p openclaw-tests --bin bench; \
	echo; \
	cargo run --release -q -p openclaw-tests --bin bench_runs; \
	echo; \
	cargo run --release -q -p openclaw-tests --bin bench_jobs; \
	echo; \
	cargo run --release -q -p openclaw-tests --bin bench_memory; \
	echo; \
	cargo run --release -q -p openclaw-tests --bin bench_ws

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## Print the exports for the local Postgres and Redis (eval "$(make -s services)").
services:
	@$(SERVICES) up

stop-services:
	@$(SERVICES) stop

migrate:
	@env="$$($(SERVICES) up)" || exit 1; eval "$$env"; cargo run -q -p openclaw -- migrate
