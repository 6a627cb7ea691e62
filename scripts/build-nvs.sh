#!/usr/bin/env bash
# Builds the NVS editor, the wasm module the page loads on demand, into the page's nvs/ folder.
# trunk runs this after each build (Trunk.toml, post_build hook: TRUNK_STAGING_DIR is the page
# being assembled); by hand: scripts/build-nvs.sh DIR. Same tools and profile as the page.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
out=${1:-${TRUNK_STAGING_DIR:?give the page directory}}/nvs
cargo build --quiet --offline --locked --profile web --target wasm32-unknown-unknown --bin otaflash-nvs
mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" \
  target/wasm32-unknown-unknown/web/otaflash-nvs.wasm
wasm-opt -Oz "$out/otaflash-nvs_bg.wasm" -o "$out/otaflash-nvs_bg.wasm"
