# `make run` and `make test` do all the set-up on a fresh machine, then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION := 2.13.0
STAMP := $(VENV)/.installed
APT_PACKAGES := xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-shape0 libxcb-randr0 \
	libegl1 libgl1 libopengl0 libegl-mesa0 libgl1-mesa-dri libglx-mesa0 libfontconfig1 libdbus-1-3

# Project-local caches in tests; the app uses the user's cache folder.
TEST_ENV := HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=xcb POSEBOOTH_CACHE_DIR=$(CURDIR)/.cache \
	PYTHONDONTWRITEBYTECODE=1

.PHONY: run test setup system-deps bench screenshot clean

run: setup
	$(PY) main.py

test: setup
	$(TEST_ENV) $(PY) -m pytest -q -ra

bench: setup
	for b in benchmarks/bench_*.py; do $(TEST_ENV) $(PY) $$b || exit 1; done

screenshot: setup
	$(TEST_ENV) $(PY) scripts/screenshot.py docs/screenshot.png

setup: system-deps $(STAMP)

# apt only when root and something is missing (a user install without root skips it).
system-deps:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then echo "apt: installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned: an unpinned one pulls several GB of CUDA packages.
	$(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .cache .pytest_cache
