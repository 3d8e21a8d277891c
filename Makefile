# ostinato: two commands do everything. `make repro` builds the DAG; `make test` runs the tests.
# Every target is idempotent: a second run with nothing changed takes seconds.

SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export PREFECT_HOME ?= $(abspath .prefect)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
STAMP := $(VENV)/.installed

.PHONY: setup repro test format test-all bench ui status clean-venv fluidsynth chromium

setup: $(STAMP) fluidsynth chromium

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,dask,demo]'
	@touch $@

# libfluidsynth is a system library: install it when missing and we are root.
fluidsynth:
	@if ! ldconfig -p 2>/dev/null | grep -q libfluidsynth; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libfluidsynth3 (Debian package)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfluidsynth3 >/dev/null; \
	  else \
	    echo "libfluidsynth is missing: run 'sudo apt-get install libfluidsynth3' (Debian/Ubuntu) or 'brew install fluid-synth' (macOS)"; exit 1; \
	  fi; \
	fi
	@if [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] && [ ! -f /usr/share/soundfonts/FluidR3_GM.sf2 ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing fluid-soundfont-gm (FluidR3 piano for render_audio's piano_room condition)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluid-soundfont-gm >/dev/null; \
	  else \
	    echo "FluidR3_GM.sf2 is missing: run 'sudo apt-get install fluid-soundfont-gm' (Debian/Ubuntu), or point render_audio.conditions.piano_room.soundfont at a .sf2 file"; exit 1; \
	  fi; \
	fi

# Optional: headless Chromium for the report's browser test (tests/unit/test_report.py skips
# without it). Installed only when missing and we are root; never fails setup.
# The UI browser test (tests/e2e/test_ui_browser.py) drives the same binary over its DevTools
# protocol (no chromedriver/selenium) and also skips without it.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium (Debian package, optional: report browser test)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: the report browser test will be skipped"; \
	  else \
	    echo "optional: 'sudo apt-get install chromium' enables the report browser test"; \
	  fi; \
	fi

# `ostinato repro` validates params.yaml as a whole first (DVC deletes a stage's outputs before the
# stage reads them), then runs dvc repro with all stages on one loopback Prefect server
repro: setup
	ostinato repro

test: setup
	ruff format --check .
	ruff check .
	pytest -q

format: setup
	ruff format .
	ruff check --fix .

test-all: setup
	pytest -q -m "unit or pipeline or slow"

# Every benchmarks/bench_*.py (names that shadow no package); BENCH_ARGS=--quick for a smoke run.
BENCH_ARGS ?=
bench: setup
	@set -e; for b in benchmarks/bench_*.py; do echo "== python $$b $(BENCH_ARGS)"; python $$b $(BENCH_ARGS); done

ui: setup
	ostinato serve

status: setup
	dvc status

clean-venv:
	rm -rf $(VENV)
