# One entry point for building, testing and trying danube-connect.
#   make demo   run an HTTP sink pipeline end to end on the embedded test broker
#   make test   install what is missing, build everything, run every test
#   make bench  run the benchmarks recorded in BENCHMARKS.md

CARGO      ?= cargo
JOBS       ?= 2
# Product connectors in guests/, test fixtures in guests/fixtures/.
CONNECTORS := -p sink-http -p source-mqtt -p sink-clickhouse -p source-postgres -p bridge-kafka -p source-webhook
FIXTURES   := -p passthrough -p chaos-sink -p counter-source
GUESTS     := $(CONNECTORS) $(FIXTURES)
NATIVE     := -p danube-connect-host -p danube-connect-tests -p danube-connect-sdk -p sink-http -p counter-source -p source-mqtt -p sink-clickhouse -p source-postgres -p bridge-kafka -p source-webhook
WASM_DIR   := target/wasm32-wasip2/guest
export DANUBE_CONNECT_CACHE_DIR ?= $(CURDIR)/target/component-cache

.PHONY: all build guests host tools deps demo-deps apt-install test unit e2e lint fmt demo bench clean image

all: build

## Tools the build needs on a fresh Debian machine: protoc (danube-core), OpenSSL headers and
## pkg-config (librdkafka, built from source, uses them for TLS and SCRAM), Mosquitto,
## ClickHouse and PostgreSQL (the MQTT source's, the ClickHouse sink's and the Postgres
## source's tests start their own), openssl
## (certificates for the TLS tests), tinyproxy (the HTTP proxy test), stunnel4 (TLS in front of
## the Kafka tests' broker), curl (an HTTPS client for the webhook tests) and the wasm target.
APT_NEEDS := $(if $(shell command -v protoc),,protobuf-compiler) $(if $(wildcard /usr/include/openssl/ssl.h),,libssl-dev) $(if $(shell command -v pkg-config),,pkg-config) $(if $(wildcard /usr/sbin/mosquitto),,mosquitto) $(if $(shell command -v mosquitto_pub),,mosquitto-clients) $(if $(wildcard /usr/sbin/clickhouse-server),,clickhouse-server) $(if $(shell command -v openssl),,openssl) $(if $(shell command -v tinyproxy),,tinyproxy) $(if $(wildcard /usr/lib/postgresql/*/bin/postgres),,postgresql) $(if $(shell command -v stunnel4),,stunnel4) $(if $(shell command -v curl),,curl)

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(strip $(APT_NEEDS))"
	@rustup target list --installed 2>/dev/null | grep -q '^wasm32-wasip2$$' || rustup target add wasm32-wasip2

## What the demo needs: protoc and the wasm target, no test servers.
demo-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(if $(shell command -v protoc),,protobuf-compiler)"
	@rustup target list --installed 2>/dev/null | grep -q '^wasm32-wasip2$$' || rustup target add wasm32-wasip2

apt-install:
	@if [ -n "$(PACKAGES)" ]; then \
	  echo "installing $(PACKAGES)"; \
	  SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(PACKAGES) >/dev/null; fi

guests: deps polyglot
	$(CARGO) build -j$(JOBS) --profile guest --target wasm32-wasip2 -p sink-http --features sink-http/build-marker
	cp $(WASM_DIR)/sink_http.wasm $(WASM_DIR)/sink_http_marker.wasm
	$(CARGO) build -j$(JOBS) --profile guest --target wasm32-wasip2 $(GUESTS)

host: deps
	$(CARGO) build -j$(JOBS) -p danube-connect-host -p danube-connect-tests --bins

build: guests host

## The Kafka-API broker the Kafka bridge's tests start: tansu from crates.io (its in-memory
## storage needs the dynostore feature), installed once into target/tools.
TOOLS         := target/tools
TANSU         := $(TOOLS)/bin/tansu
TANSU_VERSION := 0.6.0

tools: $(TANSU)

$(TANSU):
	CARGO_TARGET_DIR=$(TOOLS)/build $(CARGO) install -q --locked tansu@$(TANSU_VERSION) \
	  --features dynostore --root $(TOOLS) -j$(JOBS)
	rm -rf $(TOOLS)/build

unit: build
	$(CARGO) test -j$(JOBS) $(NATIVE) --lib --bins

e2e: build tools
	$(CARGO) test -j$(JOBS) -p danube-connect-tests --tests

test: deps
	@# tansu builds in its own target dir beside the workspace's build.
	$(MAKE) -j2 --no-print-directory build tools
	$(CARGO) test -j$(JOBS) $(NATIVE)

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -j$(JOBS) $(NATIVE) --all-targets -- -D warnings
	$(CARGO) clippy -j$(JOBS) --target wasm32-wasip2 $(GUESTS) -p danube-connect-sdk -- -D warnings

fmt:
	$(CARGO) fmt --all

## The demo builds only what it runs: the HTTP sink component (unoptimised, without Avro
## decoding: Cranelift still compiles it in a moment), the
## host (without the Kafka capability, whose librdkafka takes minutes to compile, and without
## JSON Schema and Avro validation) and the demo itself.
demo: demo-deps
	$(CARGO) build -j$(JOBS) --profile demo --target wasm32-wasip2 -p sink-http --no-default-features
	$(CARGO) build -j$(JOBS) --profile demo --no-default-features -p danube-connect-host \
	  -p danube-connect-tests --bin danube-connect-host --bin danube-connect-demo
	target/demo/danube-connect-demo --host target/demo/danube-connect-host \
	  --component target/wasm32-wasip2/demo/sink_http.wasm

bench: guests tools
	$(CARGO) build -j$(JOBS) --release -p danube-connect-host -p danube-connect-tests --bins
	./scripts/bench.sh

clean:
	$(CARGO) clean

## The container image (Dockerfile): podman where it exists, else docker.
ENGINE ?= $(shell command -v podman || command -v docker)
image:
	$(ENGINE) build -t danube-connect:latest .

## ---- Connectors in Python and JavaScript ------------------------------------------------
## guests/sink-python (componentize-py) and guests/source-js (jco + componentize-js) are built
## against wit/ with their own toolchains, installed on first use at the versions the guests
## pin: componentize-py into a venv, jco into node_modules, both under target/polyglot, with
## their download caches there too.

POLYGLOT        := target/polyglot
SINK_PYTHON     := guests/sink-python
SOURCE_JS       := guests/source-js
COMPONENTIZE_PY := $(POLYGLOT)/venv/bin/componentize-py
JCO             := $(POLYGLOT)/node/node_modules/.bin/jco
POLYGLOT_APT    := $(if $(shell command -v python3),,python3 python3-venv) $(if $(shell command -v npm),,nodejs npm)

.PHONY: polyglot polyglot-deps

polyglot: $(WASM_DIR)/sink_python.wasm $(WASM_DIR)/source_js.wasm

polyglot-deps:
	@if [ -n "$(strip $(POLYGLOT_APT))" ]; then \
	  echo "installing $(strip $(POLYGLOT_APT))"; \
	  SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(POLYGLOT_APT) >/dev/null; fi

$(COMPONENTIZE_PY): $(SINK_PYTHON)/requirements.txt | polyglot-deps
	python3 -m venv $(POLYGLOT)/venv
	$(POLYGLOT)/venv/bin/pip install -q --no-cache-dir --disable-pip-version-check -r $<
	touch $@

$(JCO): $(SOURCE_JS)/package.json $(SOURCE_JS)/package-lock.json | polyglot-deps
	mkdir -p $(POLYGLOT)/node
	cp $^ $(POLYGLOT)/node/
	cd $(POLYGLOT)/node && npm ci --no-audit --no-fund --cache $(CURDIR)/$(POLYGLOT)/npm-cache
	touch $@

$(WASM_DIR)/sink_python.wasm: $(COMPONENTIZE_PY) $(wildcard $(SINK_PYTHON)/*.py $(SINK_PYTHON)/wit/*.wit wit/*.wit)
	@# Built from a copy: componentize-py leaves __pycache__ folders beside the sources.
	rm -rf $(POLYGLOT)/sink-python && mkdir -p $(POLYGLOT)/sink-python $(WASM_DIR)
	cp $(SINK_PYTHON)/*.py $(POLYGLOT)/sink-python/
	$(COMPONENTIZE_PY) -q -d wit -d $(SINK_PYTHON)/wit -w danube:connect/sink-connector \
	  componentize -i danube:sink-python/sink-python -p $(POLYGLOT)/sink-python -o $@ app

$(WASM_DIR)/source_js.wasm: $(JCO) $(wildcard $(SOURCE_JS)/src/*.js $(SOURCE_JS)/wit/*.wit wit/*.wit)
	cd $(SOURCE_JS) && PATH=$(CURDIR)/$(dir $(JCO)):$$PATH npm_config_cache=$(CURDIR)/$(POLYGLOT)/npm-cache \
	  npm run -s build
