# The two commands a fresh machine needs (both do all set-up themselves):
#   make lab    bring the lab up and run the main job on it
#   make test   run every test (what .ci/run calls)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export LGTM_CACHE ?= $(HOME)/.cache/observability-lgtm
VENV := $(LGTM_CACHE)/venv
COLLECTIONS := $(LGTM_CACHE)/collections
# ansible-test needs the collection at ansible_collections/observability/lgtm as
# a real directory (it resolves links), so sanity runs on a synced copy.
SANITY_TREE := $(LGTM_CACHE)/sanity/ansible_collections/observability/lgtm
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0
# Longest first, so that three at a time finish together (the longest-processing-time rule): the
# order of their wall times in CI's warm make test at ed8d841 (kubernetes 830 s, upgrade 429,
# tls 422, distributed 416, victorialogs 412, default 355, prometheus 272, jaeger 258,
# otel_collector 226, lab 122). reliability (1249 s), mostly a 7-minute wait, starts first in a
# place of its own beside the three (MOLECULE_APART in lab/molecule_all.sh), which takes the next
# scenario once it is done. The
# Grafana-stack scenarios (grafana tempo mimir loki default_lgtm distributed_lgtm) run only where
# their upstream release files were imported into the mirror.
SCENARIOS ?= reliability kubernetes upgrade tls distributed victorialogs default prometheus jaeger otel_collector lab \
  grafana tempo mimir loki default_lgtm distributed_lgtm
export MOLECULE_JOBS ?= 3

.PHONY: help setup setup-tools lab test lint sanity units specs molecule soak test-benchmarks benchmarks bench-collector bench-profile bench-agent bench-stack

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install everything: packages, Docker engine, Python tools, lab images, stack binaries, mirror
	bash lab/setup.sh

setup-tools:
	bash lab/setup.sh --no-build

lab: setup ## bring the lab up and run the main job on it
	bash lab/up.sh

# The phases in this order, each timed; a table of their wall times ends the output.
# Lint and sanity need only the Python tools (setup-tools), so they run beside the rest of
# set-up (lab/test_phases.sh, A+B+C): on a fresh machine its Go builds leave 12 % of the
# cores idle (cold run at 3562479: set-up 2321 s at 88 % CPU, lint 37 s, sanity 135 s at 48 %).
TEST_PHASES := setup-tools setup+lint+sanity units molecule test-benchmarks
test: ## run every test, then print each phase's wall time
	MAKE="$(MAKE)" bash lab/test_phases.sh $(TEST_PHASES)
	@echo "make test: all suites passed"

lint: setup-tools ## ansible-lint, production profile
	ansible-lint --profile production --offline

# The pip version ansible-test 2.19 bootstraps into its sanity venvs.
ANSIBLE_TEST_PIP := 24_2

sanity: setup-tools ## ansible-test sanity on a synced copy of the collection
	install -D -m 0644 lab/ansible_test_get_pip.py $(HOME)/.ansible/test/cache/get_pip_$(ANSIBLE_TEST_PIP).py
	# A fresh copy each time: rsync --files-from never deletes files gone from the repo.
	rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	git ls-files -co --exclude-standard | rsync -a --files-from=- ./ $(SANITY_TREE)/
	cd $(SANITY_TREE) && git init -q 2>/dev/null; cd $(SANITY_TREE) && git add -A >/dev/null && \
	  ansible-test sanity --venv --python 3.11 --color no

# The Grafana-stack config schema tests render the roles through Ansible's collection
# finder (the roles call observability.lgtm.* filters); once other tests have imported
# the collection as a plain package that finder cannot load its plugins, so they run
# in a process of their own.
SCHEMA_TESTS := tests/unit/roles/test_config_schemas.py
# Two workers, one per core, each taking whole test files (a file's module fixtures are built
# once, on one worker): 307 s -> 188 s on this machine.
UNIT_WORKERS ?= 2
units: setup-tools ## unit and property tests (pytest, ansible-test units layout)
	PYTHONPATH=$(COLLECTIONS) LGTM_OTELCOL_BIN=$$($(VENV)/bin/python lab/mirror.py path otel_collector) \
	  pytest -p no:cacheprovider -n $(UNIT_WORKERS) --dist loadfile tests/unit tests/lab --ignore $(SCHEMA_TESTS)
	PYTHONPATH=$(COLLECTIONS) pytest -p no:cacheprovider $(SCHEMA_TESTS)

# Each component role's meta/argument_specs.yml is generated from its meta/argument_specs_source.yml,
# roles/common/meta/generic_options.yml and its defaults/main.yml; `make units` fails while one is stale.
specs: ## write the roles' meta/argument_specs.yml from their sources and the generic options
	$(VENV)/bin/python lab/generate_argument_specs.py

molecule: setup ## every Molecule scenario: converge, idempotence, check mode, verify
	bash lab/molecule_all.sh $(SCENARIOS)

# Outside make test (issue 18): the reliability scenario's long-outage proof alone, the outage
# SOAK_OUTAGE_S long (30 minutes by default) with the collectors restarted in it. Bounded in traffic
# (the same sends as in make test: 900 spans, log records and metric points per collector) and in
# time (the run is stopped after the outage plus SOAK_SPARE_S); its FIGURES-RELIABILITY lines are in
# $(LGTM_CACHE)/logs/molecule-reliability.log.
SOAK_OUTAGE_S ?= 1800
SOAK_SPARE_S ?= 1500
soak: setup ## nothing lost through a 30-minute backend outage with a restart (figures; about 35 minutes)
	LGTM_RELIABILITY_LONG_OUTAGE_S=$(SOAK_OUTAGE_S) PYTEST_ADDOPTS="-k long_outage" \
	  timeout $$(( $(SOAK_OUTAGE_S) + $(SOAK_SPARE_S) )) bash lab/molecule_all.sh reliability

# Benchmarks print figures and are never timed tests: a slow run passes. One fails
# only when a measurement is unreliable: a config refused by `validate`, a process
# that died, a span lost or duplicated.
BENCH_COLLECTOR_ARGS ?=
bench-collector: setup-tools ## collector throughput: the stack's rendered config vs a pass-through (figures)
	$(VENV)/bin/python lab/mirror.py build otel_collector telemetrygen
	$(VENV)/bin/python benchmarks/collector_throughput.py $(BENCH_COLLECTOR_ARGS)

bench-profile: setup-tools ## where the rendered collector config's CPU goes: a CPU profile under load (figures)
	$(VENV)/bin/python lab/mirror.py build otel_collector telemetrygen
	$(VENV)/bin/python benchmarks/collector_profile.py

bench-agent: setup-tools ## a host agent's CPU, memory and series, idle and at 1,000 and 10,000 log lines/s (figures)
	$(VENV)/bin/python lab/mirror.py build otel_collector
	$(VENV)/bin/python benchmarks/agent_bench.py

bench-stack: setup ## converge, re-run and request-to-trace of the all-in-one stack on a fresh lab host (figures)
	$(VENV)/bin/python benchmarks/stack_bench.py --orders 30

# make test runs the collector's two after the scenarios. bench-stack is not among them: the
# default scenario, which make test runs, converges, re-runs and times the same orders and
# prints the same FIGURES line (beside two other scenarios); bench-stack measures them again
# on a fresh host of an otherwise idle machine, for the README's figures. Nor is bench-agent:
# what an agent must do (every line once across restarts and rotations, metrics per host) is
# the default and distributed scenarios' tests; its figures are for the README.
# One round each: make test proves that every benchmark runs and loses nothing; the README's
# figures come from `make bench-collector` (5 rounds) on an otherwise idle machine.
test-benchmarks:
	$(MAKE) bench-collector BENCH_COLLECTOR_ARGS="--rounds 1"
	$(MAKE) bench-profile

benchmarks: test-benchmarks ## every benchmark, printing its figures (make test runs the collector's)
	$(MAKE) bench-agent
	$(MAKE) bench-stack
