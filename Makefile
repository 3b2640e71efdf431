# Vigie — routine tasks. `make run` and `make test` work on a fresh Debian machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
VIGIE := $(VENV)/bin/vigie
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: help venv system-deps run serve consumers kafka-start kafka-stop setup demo test test-faults \
        lint format stop clean client java-client chart chart-files contract-files contract-examples config-docs lock sbom bench profile console-assets console-screenshots

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml requirements/dev.lock
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q --require-hashes -r requirements/dev.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

# The Python client generated from the contract, on the environment's path (never committed).
CLIENT := build/clients/python/vigie_client/__init__.py
$(CLIENT): openapi/vigie.yaml tools/clients/python.yaml tools/python_client.py $(VENV)/.installed
	$(PY) tools/python_client.py

venv: $(VENV)/.installed $(CLIENT) ## Python environment from the hashed lock file (requirements/dev.lock), and the generated client

client: $(CLIENT) ## generate the Python client from the contract (build/clients/python/vigie_client)

java-client: system-deps ## generate the Java client from the contract and compile it (build/clients/java)
	mvn -B -q -f tools/clients/java/pom.xml package -DskipTests

LOCK = $(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 --quiet --no-header
lock: venv ## re-resolve requirements/*.lock from pyproject.toml (newest allowed versions, every hash)
	$(LOCK) -o requirements/main.lock
	$(LOCK) --extra dev -o requirements/dev.lock

sbom: venv ## CycloneDX SBOM of what the image installs (requirements/main.lock) in .vigie/sbom/
	mkdir -p .vigie/sbom
	$(VENV)/bin/cyclonedx-py requirements requirements/main.lock --pyproject pyproject.toml \
	  --output-reproducible --of JSON -o .vigie/sbom/vigie.cdx.json
	@echo "wrote .vigie/sbom/vigie.cdx.json"

system-deps: ## Java and Maven from Debian when missing
	tools/system-deps.sh

kafka-start: venv system-deps ## start the local Kafka broker (KRaft, 127.0.0.1:9092)
	$(VIGIE) kafka start

kafka-stop: venv ## stop the local Kafka broker
	$(VIGIE) kafka stop

console-assets: ## the console's design system (DSFR) and axe-core, from npm
	tools/console-assets.sh

setup: kafka-start console-assets ## migrate the database, create keys, topics, demo clients and agents
	$(VIGIE) setup --demo
	$(VIGIE) idp start

run: setup ## set everything up and run the hub and its consumers on http://127.0.0.1:8080
	@echo "Vigie on http://$(HOST):$(PORT) — demo clients in .vigie/dev-clients.json"
	@echo "Console on http://$(HOST):$(PORT)/console — demo agents in .vigie/dev-agents.json"
	@$(VIGIE) consumers & CONSUMERS=$$!; \
	trap "kill $$CONSUMERS 2>/dev/null; wait $$CONSUMERS 2>/dev/null" EXIT INT TERM; \
	$(VIGIE) serve --host $(HOST) --port $(PORT)

demo: venv ## run the information-request exchange against the running hub
	$(VIGIE) demo --url http://$(HOST):$(PORT)

test: venv system-deps ## the whole suite against real Kafka, PostgreSQL and SQLite
	tools/test-stack.sh -m "not faults" $(PYTEST_ARGS)

test-faults: venv system-deps ## kill -9 the broker, consumers and API, crash PostgreSQL, under load
	tools/test-stack.sh -m faults tests/faults $(PYTEST_ARGS)

chart: venv ## helm lint --strict and render the chart with the production-like values
	$$(tools/helm.sh) lint --strict helm/vigie --kube-version 1.31.0 -f helm/vigie/ci/production-values.yaml
	$$(tools/helm.sh) template vigie helm/vigie --kube-version 1.31.0 -f helm/vigie/ci/production-values.yaml

chart-files: venv ## regenerate the chart's dashboards from the exchange registry
	$(PY) tools/chart_files.py

contract-files: venv ## regenerate the contract's event schemas and AsyncAPI messages from the registry
	$(PY) tools/contract_files.py

contract-examples: venv system-deps ## record the contract's response examples from the hub's own answers (tests/openapi)
	VIGIE_RECORD_EXAMPLES=1 tools/test-stack.sh -k sqlite \
	  tests/openapi/test_contract.py::test_examples_are_accepted tests/openapi/test_examples.py

config-docs: venv ## regenerate docs/configuration.md (every environment variable) from Settings
	$(PY) tools/settings_table.py

bench: venv system-deps ## throughput and latency of the hub against raw Kafka and a thin endpoint
	tools/bench.sh $(BENCH_ARGS)

profile: venv system-deps ## one benchmark phase with py-spy on the API and the relay (PROFILE_ARGS)
	$(VENV)/bin/pip install -q py-spy
	VIGIE_VEGETA=$$(tools/vegeta.sh) tools/with-services.sh 29092 $(CURDIR)/.vigie/bench \
	  $(PY) -m bench.profile --py-spy $(VENV)/bin/py-spy $(PROFILE_ARGS)

lint: venv system-deps ## ruff; the contract with Redocly CLI and the AsyncAPI CLI (npm), breaking changes with oasdiff (Go)
	$(VENV)/bin/ruff check .
	$(PY) tools/contract_files.py --check
	$(PY) tools/settings_table.py --check
	tools/contract-lint.sh
	tools/contract-diff.sh

format: venv
	$(VENV)/bin/ruff check --fix .

console-screenshots: venv system-deps ## the README's console screenshots (docs/screenshots)
	VIGIE_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots tools/test-stack.sh -q \
	  tests/services/console/test_browser.py

stop: kafka-stop ## stop the local broker and identity provider
	-$(VIGIE) idp stop

clean: stop
	rm -rf .vigie
