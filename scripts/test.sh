#!/usr/bin/env bash
# Installs what is missing, then runs every test: native (unit, vectors, power cut, CLI with
# esptool cross-checks) and the browser suite (wasm-bindgen-test in headless Chromium), and
# builds the release page with trunk. Fails if any part fails. CI runs exactly this.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
step() { printf '\n==> %s\n' "$*"; }

step "set-up"
scripts/setup.sh

step "native tests"
cargo test --locked --offline

step "browser tests (headless Chromium)"
cargo test --locked --offline --target wasm32-unknown-unknown --test web

step "release page (trunk, offline)"
trunk build --release

step "all tests passed"
