# mertool — every set-up and reproduction step is a target here.
#   make demo   install (if needed) and run the whole pipeline on the embedded synthetic dataset
#   make test   install (if needed) and run the test suite
# Everything lives in .venv; nothing outside the checkout is touched.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
MERTOOL := $(VENV)/bin/mertool
STAMP := $(VENV)/.mertool-installed
OPENCV_CONTRIB := $(shell grep -E '^opencv-contrib-python==' constraints.txt | cut -d= -f3)
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

# Offline-safe settings for ultralytics and matplotlib (no downloads, no writes to $HOME).
export YOLO_OFFLINE := 1
export YOLO_CONFIG_DIR := $(CURDIR)/.cache/ultralytics
export MPLBACKEND := Agg
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib

DEMO_DIR ?= demo
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: help install test lint format completions demo clean freeze doctor bench docs-figures

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'
	@echo "Also: install lint format completions doctor bench docs-figures clean; paper tables: make tables-list"

install: $(STAMP)

# The stamp depends on the files that decide what gets installed, so a second run takes seconds.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, from the pinned releases (a plain `torch` would pull a multi-GB CUDA build from PyPI).
	$(PIP) install -q $(TORCH_PINS)
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	# ultralytics pulls opencv-python, which overwrites opencv-contrib-python's cv2 and loses
	# cv2.optflow (TV-L1). Repair it as the last step; `mertool doctor` checks it at start-up.
	$(PIP) uninstall -q -y opencv-python opencv-python-headless || true
	$(PIP) install -q --force-reinstall --no-deps opencv-contrib-python==$(OPENCV_CONTRIB)
	@mkdir -p $(YOLO_CONFIG_DIR) $(MPLCONFIGDIR)
	$(MERTOOL) doctor --quiet
	@touch $(STAMP)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check mertool tests benchmarks
	$(VENV)/bin/ruff format --check mertool tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format mertool tests benchmarks
	$(VENV)/bin/ruff check --fix mertool tests benchmarks

completions: install
	$(PY) -m mertool.cli.completions completions/

doctor: install
	$(MERTOOL) doctor

freeze: install
	{ sed -n '/^#/p' constraints.txt; $(PIP) freeze --exclude-editable | grep -vE '^(cuda-|nvidia-|triton)'; } \
		> constraints.txt.new && mv constraints.txt.new constraints.txt

# Speed and memory measurements (not timed tests); each writes bench-out/<name>.md.
bench: bench-face bench-flow bench-apex bench-train bench-infer bench-detector bench-recognition bench-video

# Figures in the docs, drawn by code from bundled photos and synthetic data.
docs-figures: synth-sheet docs-rois

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .cache build *.egg-info

include make/demo.mk
-include make/*.part.mk
