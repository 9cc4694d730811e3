# mediumnet: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mediumnet-installed
DEMO_DIR ?= data/demo

.PHONY: help install test test-fast lint demo clean

help:
	@echo "make demo   - create $(VENV), install mediumnet, synth, split, explore, train two branches"
	@echo "make test   - create $(VENV), install mediumnet with test extras, run the test suite"
	@echo "make lint   - ruff"
	@echo "make clean  - remove $(VENV), build files, the demo data and the local MLflow store"

# The environment: created when missing, reinstalled when the package definition changes.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

test-fast: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

# What exists today: synthetic data, split, feature study, the composition and texture
# branches. Stacking and serving join this target as their issues land.
MEDIUMNET = PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/mediumnet
demo: $(STAMP)
	@echo "[1/5] synth: synthetic art set in $(DEMO_DIR) (demo preset)"
	$(MEDIUMNET) synth $(DEMO_DIR) --preset demo
	@echo "[2/5] split: train/val/test grouped by artist"
	$(MEDIUMNET) split $(DEMO_DIR) --preset demo
	@echo "[3/5] explore: the visual feature study"
	$(MEDIUMNET) explore $(DEMO_DIR) --preset demo
	@echo "[4/5] train composition"
	$(MEDIUMNET) train composition $(DEMO_DIR) --preset demo --quiet
	@echo "[5/5] train texture"
	$(MEDIUMNET) train texture $(DEMO_DIR) --preset demo --quiet
	@echo
	@echo "Demo done: data in $(DEMO_DIR) (report: $(DEMO_DIR)/explore/report.md); runs and models"
	@echo "in ./mlflow.db (artifacts ./mlruns). Look at them:"
	@echo "  $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db"
	@echo "Not yet in the demo: the EfficientNet branch, stacking and serving (later issues)."

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache $(DEMO_DIR) mlflow.db mlruns
