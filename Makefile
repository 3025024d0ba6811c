# fleetdeck's commands. Each installs what is missing first (.ci/setup)
# and builds once into $(CARGO_TARGET_DIR).
#
#   make run    the console on the built-in simulated fleet
#   make test   the whole test suite
#   make deb    the Debian package of the console (release build; prints
#               where the .deb is). `make deb DEB_PROFILE=debug` is quicker.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
export CARGO_TARGET_DIR ?= $(CURDIR)/target
export FLEETDECK_VENV ?= $(HOME)/.cache/fleetdeck/venv
BIN := $(CARGO_TARGET_DIR)/debug/fleetdeck
DEB_PROFILE ?= release
TAURI := ui/node_modules/.bin/tauri

.PHONY: run test setup ui build deb

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

# The whole suite, in one build: formatting, lints and rustdoc with warnings
# as errors, then every test of every crate (unit, CLI, moto, simulator,
# boto3 against fleetdeck-sim, and the window under Xvfb). One `cargo test
# --workspace` builds every crate once with one set of features, so no AWS
# SDK crate is compiled twice; clippy and rustdoc share one check build.
# (No doc-tests: there are none, and their empty runs would close the log.)
test: ui
	cargo fmt --all --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps
	cargo test --locked --workspace --lib --bins --tests
	@# ts-rs rewrote ui/src/bindings from the Rust types during the tests:
	@# a difference from what is committed means the UI was built on stale types.
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  if ! git diff --quiet -- ui/src/bindings || [ -n "$$(git ls-files --others --exclude-standard ui/src/bindings)" ]; then \
	    git status --short ui/src/bindings; echo "ui/src/bindings differs from the Rust types: commit the regenerated files"; exit 1; fi; fi
	@echo "screenshots: $(CARGO_TARGET_DIR)/screenshots/"

# The Tauri bundler (the CLI from ui/node_modules, its own binary) builds the
# desktop binary and packs it with the .desktop entry and the icons; a deb
# needs no download (only AppImage would fetch tools). `ui` has built
# ui/dist already, so the config's beforeBuildCommand is dropped (null
# removes a key when the CLI merges -c); --locked goes to cargo.
deb: ui
	$(TAURI) build --ci --bundles deb $(if $(filter debug,$(DEB_PROFILE)),--debug) \
	  --config '{"build":{"beforeBuildCommand":null}}' -- --locked
	@deb=$$(ls -t $(CARGO_TARGET_DIR)/$(DEB_PROFILE)/bundle/deb/fleetdeck_*.deb | head -n 1); \
	  echo "deb: $$deb ($$(du -h "$$deb" | cut -f1))"; \
	  echo "install: sudo apt install $$deb   (or: sudo dpkg -i $$deb && sudo apt-get install -f)"
