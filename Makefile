# Set-up, the default experiment, tests and checks. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Pinned for reproducibility; override for another platform, e.g. make TORCH="torch torchvision".
TORCH ?= torch==2.14.1 torchvision==0.29.1
CORES ?= all
SNAKEMAKE := $(BIN)/snakemake

.PHONY: help setup data run test test-extra mutants lint format tiny bench report slurm-test clean browser plan

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/.installed data ## venv, packages and (where apt exists) the Fashion-MNIST package

data: ## Debian's Fashion-MNIST files; elsewhere torchvision downloads them at run time
	@if [ -d /usr/share/datasets/fashion-mnist ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
	  || echo "apt could not install dataset-fashion-mnist; torchvision will download the data"; \
	else echo "no Debian data package; torchvision will download Fashion-MNIST at run time"; fi

browser: ## Debian's Chromium, for the report's browser test (skipped without it)
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "apt could not install chromium; the report's browser test will be skipped"; \
	else echo "no chromium: the report's browser test will be skipped"; fi

run: setup ## set up, then run the default experiment (config.yaml) and print the main table
	$(SNAKEMAKE) --cores $(CORES) all table --forcerun table

tiny: setup ## the tiny experiment of the tests, in about a minute
	$(SNAKEMAKE) --cores $(CORES) --configfile tests/configs/tiny.yaml

test: setup ## set up, then run the test suite (about 6 min on 2 cores)
	$(BIN)/pytest -q

test-extra: setup ## the two slow end-to-end paths `make test` leaves out (CI runs both)
	$(BIN)/pytest -q -m extra

mutants: setup ## each science bug of scripts/mutants.py injected into a scratch copy: the suite must fail
	$(BIN)/python scripts/mutants.py

lint: setup ## ruff, formatting (ruff format, snakefmt) and snakemake --lint; fails on any finding
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules/
	@out=$$($(SNAKEMAKE) --lint 2>&1); if echo "$$out" | grep -q "Lints for"; then \
	  echo "$$out"; exit 1; fi; echo "snakemake --lint: clean"

format: setup ## format every Python and Snakemake file in place
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile rules/

bench: setup ## the benchmark (run `make run` first for all sections)
	$(BIN)/python bench/bench.py

plan: setup ## what a run would do, per rule, and its time from earlier runs (TARGET=ablations CONFIG="a.yaml b.yaml")
	$(BIN)/python -m pdiff.plan $(TARGET) $(if $(CONFIG),--configfile $(CONFIG))

report: setup ## results/<experiment>/report.html: every table and plot made so far, for the browser (CONFIG="a.yaml b.yaml" for another experiment)
	$(SNAKEMAKE) --cores $(CORES) html_report --forcerun html_report $(if $(CONFIG),--configfile $(CONFIG))

$(BIN)/.slurm-plugin: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[slurm]'
	touch $@

slurm-test: $(BIN)/.slurm-plugin ## root on Debian: a one-node SLURM cluster, the tiny experiment through profiles/slurm
	SNAKEMAKE=$(SNAKEMAKE) scripts/slurm_cluster.sh

clean: ## remove results (not the venv or data)
	rm -rf results .snakemake
