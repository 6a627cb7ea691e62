#!/usr/bin/env bash
# The page's weight as a browser downloads it: wasm + JS + CSS (+ the tiny loader), gzip -9,
# from the release build in dist/. Budget: at most 300 KB for what the page loads at start (the
# flasher stub, 9 KB, is fetched only when a device is connected). Exits non-zero above it.
set -euo pipefail
cd "$(dirname "$0")/../dist"
total=0
for f in otaflash-web_bg.wasm otaflash-web.js style.css init.js; do
  n=$(gzip -9c "$f" | wc -c)
  printf '%-24s %8d bytes gzipped (%d raw)\n' "$f" "$n" "$(wc -c < "$f")"
  total=$((total + n))
done
printf '%-24s %8d bytes gzipped (budget 307200 = 300 KB)\n' "page" "$total"
# Loaded only when opened (not part of the budget): the NVS editor, the fleet view and the
# simulated chip.
for name in nvs fleet sim install files; do
  if [ -f "$name/otaflash-${name}_bg.wasm" ]; then
    printf '%-24s %8d bytes gzipped, loaded on demand\n' "$name" \
      $(( $(gzip -9c "$name/otaflash-${name}_bg.wasm" | wc -c) + $(gzip -9c "$name/otaflash-$name.js" | wc -c) ))
  fi
done
[ "$total" -le 307200 ]
