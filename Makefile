# `make run` and `make test` do all the set-up on a fresh machine, then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION := 2.13.0
# Where pip looks for torch. Empty: pip's configured index (PyPI by default,
# whose Linux x86_64 wheel is the CUDA build). For the CPU-only build:
#   make run TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
APT_PACKAGES := xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-shape0 libxcb-randr0 \
	libegl1 libgl1 libopengl0 libegl-mesa0 libgl1-mesa-dri libglx-mesa0 libfontconfig1 libdbus-1-3

# Project-local caches in tests; the app uses the user's cache folder.
TEST_ENV := HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=xcb POSEBOOTH_CACHE_DIR=$(CURDIR)/.cache \
	PYTHONDONTWRITEBYTECODE=1

.PHONY: run test setup system-deps test-system-deps bench screenshot clean

run: system-deps $(RUN_STAMP)
	$(PY) main.py

test: system-deps test-system-deps $(TEST_STAMP)
	$(TEST_ENV) $(PY) -m pytest -q -ra

bench: system-deps $(TEST_STAMP)
	for b in benchmarks/bench_*.py; do $(TEST_ENV) $(PY) $$b || exit 1; done

screenshot: system-deps $(TEST_STAMP)
	$(TEST_ENV) $(PY) scripts/screenshot.py docs/screenshot.png

setup: system-deps $(TEST_STAMP)

# apt only when root and something is missing (a user install without root skips it).
system-deps:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then echo "apt: installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi

# What only the tests use: desktop-file-validate checks packaging/posebooth.desktop.
test-system-deps:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null && ! dpkg -s desktop-file-utils >/dev/null 2>&1; then \
		echo "apt: installing desktop-file-utils"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq desktop-file-utils >/dev/null; \
	fi

# Run dependencies only (`make run`); the test extras come on top (`make test`).
$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned: an unpinned one can pull a newer release.
	$(PIP) install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install -q -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(PIP) install -q -e '.[dev]'
	# xtcocotools' wheel is built against numpy 1 and fails to import under
	# numpy 2: build it here against the installed numpy (needs a C compiler).
	$(PIP) install -q --force-reinstall --no-deps --no-binary xtcocotools --no-build-isolation xtcocotools
	touch $(TEST_STAMP)

clean:
	rm -rf $(VENV) .cache .pytest_cache
