#!/usr/bin/env bash
# Builds the parts of the page loaded on demand — the NVS editor (nvs/), the fleet view (fleet/),
# the simulated chip (sim/), install or recover (install/), files offline (files/), the install
# button's dialog (dialog/), Wi-Fi set-up (wifi/) and the otadata editor (otadata/), each a wasm module of its own — into the
# page's directory. trunk runs this after each build (Trunk.toml, post_build hook:
# TRUNK_STAGING_DIR is the page being assembled); by hand: scripts/build-lazy.sh DIR. Same
# tools and profile as the page.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
page=${1:-${TRUNK_STAGING_DIR:?give the page directory}}
for name in nvs fleet sim install files dialog wifi otadata; do
  cargo build --quiet --offline --locked --profile web --target wasm32-unknown-unknown --bin "otaflash-$name"
  mkdir -p "$page/$name"
  wasm-bindgen --target web --no-typescript --out-dir "$page/$name" \
    "target/wasm32-unknown-unknown/web/otaflash-$name.wasm"
  wasm-opt -Oz "$page/$name/otaflash-${name}_bg.wasm" -o "$page/$name/otaflash-${name}_bg.wasm"
done
# The install button's dialog has its own styles (it lives in the button's shadow root).
cp static/dialog.css "$page/dialog/dialog.css"
# The JS wasm-bindgen writes, minified (names of exports and imports are kept).
for js in "$page/otaflash-web.js" "$page"/*/otaflash-*.js "$page/install-button.js"; do
  if [ -f "$js" ]; then
    esbuild "$js" --minify --format=esm --log-level=warning --allow-overwrite --outfile="$js"
  fi
done
