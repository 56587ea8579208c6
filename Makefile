# The set-up in two commands, on a machine with only Python 3.11+ and make (see README, "Start here"):
#   make dev    the venv, then the service on embedded PostgreSQL and Valkey (`bonus-engine dev`)
#   make test   the venv, then everything CI checks: ruff, mypy, promtool, the whole suite
# `.ci/run` runs `make check` once and `make suite` twice (local servers, then embedded ones).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv
# touched after a complete install: older than pyproject.toml means the dependencies may have changed
STAMP := $(VENV)/.installed
DEV_ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

# a venv whose interpreter is gone (never made, half deleted, or its python uninstalled) is made again
VENV_BROKEN := $(shell [ -x $(VENV)/bin/python ] || echo venv-broken)

# $(call apt_install,COMMAND,DEBIAN_PACKAGE): install the package when the command is missing (as root)
apt_install = command -v $(1) >/dev/null || { apt-get update -qq \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null; }

.PHONY: help dev test check suite bench venv venv-broken native

help:
	@echo "make dev     venv in $(VENV) (made or updated as needed), then the service on http://127.0.0.1:8000"
	@echo "             with embedded PostgreSQL and Valkey; options: make dev DEV_ARGS='--port 8001'"
	@echo "make test    the same venv, then ruff, mypy, promtool and the whole suite (= make check suite)"
	@echo "make check   ruff, mypy on rules and app, lint-imports, promtool; installs promtool and chromium when missing"
	@echo "make native  the rule engine compiled by mypyc (rules/_native.py); dev, suite, bench run it first"
	@echo "make suite   pytest, against DATABASE_URL/REDIS_URL when set, embedded servers otherwise;"
	@echo "             options: make suite PYTEST_ARGS='tests/unit -x'"
	@echo "make bench   python -m loadtests.bench (BENCH_ARGS='--baseline REF')"
	@echo "make citus-test  Citus built from ../shared/citus when missing, then CITUS_TESTS on a cluster (cache on a Redis Cluster)"

venv: $(STAMP)
venv-broken: ;

$(STAMP): pyproject.toml $(VENV_BROKEN)
	@if ! $(VENV)/bin/python -m pip --version >/dev/null 2>&1; then \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	    || { echo "$(PYTHON) is $$($(PYTHON) --version 2>&1); the bonus engine needs Python 3.11+ (make PYTHON=python3.11 ...)" >&2; exit 1; }; \
	  echo "== venv: $(PYTHON) -m venv $(VENV)"; \
	  rm -rf $(VENV); \
	  $(PYTHON) -m venv $(VENV); \
	fi
	@echo "== venv: installing the project and its dev dependencies (pip install -e '.[dev]')"
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	@touch $@

# the rule engine's hot modules compiled by mypyc for the sources as they are (rules/_native.py): made once per
# change of rules/, in about 20 s; without a C compiler the engine runs as plain Python, the same code
native: $(STAMP)
	@$(VENV)/bin/python -m rules.compile >/dev/null 2>&1 \
	  || echo "== rules: not compiled (python -m rules.compile failed: no C compiler?); the engine runs as plain Python"

dev: $(STAMP) native
	exec $(VENV)/bin/bonus-engine dev $(DEV_ARGS)

test: check suite

check: $(STAMP)
	$(VENV)/bin/ruff check app rules tests migrations loadtests deploy
	$(VENV)/bin/mypy rules app
	$(VENV)/bin/lint-imports --no-cache
	@echo "== promtool: alert rules and Prometheus config (Debian package prometheus provides promtool)"
	@$(call apt_install,promtool,prometheus)
	promtool check rules deploy/prometheus/alerts.yml
	promtool check config deploy/prometheus/prometheus.yml
	@echo "== Chromium: tests/test_reports_page.py opens GET /reports in it, headless (Debian package chromium)"
	@$(call apt_install,chromium,chromium)

# `make suite` alone installs chromium too when it is missing (`make check` has done it before `make test`'s suite)
suite: $(STAMP) native
	@command -v chromium >/dev/null || echo "== Chromium: missing, installing Debian's chromium for tests/test_reports_page.py"
	@$(call apt_install,chromium,chromium)
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP) native
	$(VENV)/bin/python -m loadtests.bench $(BENCH_ARGS)

# the image built with a private dockerd and run on this machine (deploy/image_test.sh, docs/image.md): needs root
# and Debian (it installs docker.io and debootstrap when missing); `.ci/run` runs it after the suites
.PHONY: image-test
image-test: $(STAMP)
	deploy/image_test.sh

# The suite's chosen modules on a Citus cluster the tests start on this machine (a coordinator and two workers;
# BONUS_TEST_CITUS=1 puts every test database there), with the tests marked `citus`: Citus built into Debian's
# PostgreSQL 15 from ../shared/citus when it is missing (3-4 minutes, as root); the cache on a Redis Cluster of
# three masters the tests start too (BONUS_TEST_REDIS_CLUSTER=1); `.ci/run` runs it after the image
CITUS ?= ../shared/citus
CITUS_TESTS ?= tests/test_citus.py tests/test_smoke_api.py tests/test_receipts_api.py \
  tests/test_coupons_certificates_api.py tests/test_storm.py tests/test_citus_birthdays.py \
  tests/test_birthday_bonus.py tests/test_reports_api.py tests/test_reports_recompute.py \
  tests/test_simulations_api.py tests/test_segments_api.py tests/test_segments_incremental.py
.PHONY: citus-test
citus-test: $(STAMP) native
	$(CITUS)/build.sh
	BONUS_TEST_CITUS=1 BONUS_TEST_REDIS_CLUSTER=1 $(VENV)/bin/pytest -q -p no:cacheprovider $(CITUS_TESTS)
