# fleetdeck's two commands. Both install what is missing first (.ci/setup)
# and build once into $(CARGO_TARGET_DIR).
#
#   make run    the console on the built-in simulated fleet
#   make test   the whole test suite

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
export CARGO_TARGET_DIR ?= $(CURDIR)/target
export FLEETDECK_VENV ?= $(HOME)/.cache/fleetdeck/venv
BIN := $(CARGO_TARGET_DIR)/debug/fleetdeck

.PHONY: run test setup ui build

setup:
	@.ci/setup

ui: setup
	npm --prefix ui run build

build: ui
	cargo build --locked

# With no display (a server, CI) the window cannot open: say so, and point
# at the headless commands. `xvfb-run make run` shows it on a virtual one.
run: build
	$(BIN) --demo

# Engine tests (unit, CLI, moto) in a build without Tauri/WebKit, then the
# window test in the desktop build; both share every dependency build.
test: ui
	cargo test --locked --no-default-features
	@# ts-rs rewrote ui/src/bindings from the Rust types during the tests:
	@# a difference from what is committed means the UI was built on stale types.
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  if ! git diff --quiet -- ui/src/bindings || [ -n "$$(git ls-files --others --exclude-standard ui/src/bindings)" ]; then \
	    git status --short ui/src/bindings; echo "ui/src/bindings differs from the Rust types: commit the regenerated files"; exit 1; fi; fi
	cargo test --locked --test window
	@echo "screenshots: $(CARGO_TARGET_DIR)/screenshots/"
