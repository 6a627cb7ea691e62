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
source scripts/env.sh   # again: set-up may have made the .tools/venv that carries esptool

step "release page (trunk, offline; the end-to-end tests use it)"
trunk build --release
scripts/page-weight.sh

step "native tests (unit, vectors, power cut, CLI, loader and simulator, esptool, end to end)"
rm -rf target/screenshots   # the end-to-end tests save fresh ones for review
cargo test --locked --offline

step "browser tests (headless Chromium)"
# The WebSocket port test talks to a real `otaflash sim --ws`; started here, stopped on exit.
sim_dir=$(mktemp -d)
cargo build --locked --offline --quiet --bin otaflash
target/debug/otaflash sim --flash "$sim_dir/flash.bin" --ws 127.0.0.1:0 --timing none > "$sim_dir/out" &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null; rm -rf "$sim_dir"' EXIT
for _ in $(seq 50); do grep -q '^ws ' "$sim_dir/out" 2>/dev/null && break; sleep 0.1; done
# It prints the URL the page takes: rfc2217+ws://ADDR (RFC 2217 in binary frames).
export OTAFLASH_TEST_WS="$(sed -n 's/^ws //p' "$sim_dir/out")"
cargo test --locked --offline --target wasm32-unknown-unknown --test web

step "all tests passed"
