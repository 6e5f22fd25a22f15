# skprob's commands, each creating the virtualenv .venv on first use:
#
#   make demo    the lecture's galaxy-cluster demo (python -m skprob.demo)
#   make test    the test suite (python -m pytest)
#   make lint    ruff
#   make docs    the documentation, gallery on shrunken data, as CI builds it
#
# On first use `make` creates .venv with $(PYTHON), installs the CPU build of
# PyTorch first (a plain `pip install torch` may pull a multi-GB CUDA build),
# then skprob in editable mode with its dev extras; `make docs` adds the docs
# extras. A change to setup.cfg reinstalls. .ci/run calls these targets.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
PIP    := $(BIN)/python -m pip --quiet

.PHONY: help demo test lint docs clean-venv

help:
	@sed -n '3,6s/^#   //p' Makefile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.dev-installed: $(BIN)/python setup.cfg pyproject.toml
	@echo "Installing $(TORCH) (CPU) and skprob with its dev extras into $(VENV)..."
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[dev]"
	@touch $@

$(VENV)/.docs-installed: $(VENV)/.dev-installed
	$(PIP) install -e ".[docs]"
	@touch $@

demo: $(VENV)/.dev-installed
	$(BIN)/python -m skprob.demo

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

docs: $(VENV)/.docs-installed
	PATH="$(CURDIR)/$(BIN):$$PATH" SKPROB_EXAMPLES_FAST=1 $(MAKE) -C docs html

clean-venv:
	rm -rf $(VENV)
