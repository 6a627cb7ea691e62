#!/usr/bin/env bash
# The page's weight as a browser downloads it: wasm + JS + CSS (+ the tiny loader), gzip -9,
# from the release build in dist/. Budget: at most 300 KB for what the page loads at start (the
# flasher stub, 9 KB, is fetched only when a device is connected). And the install button's:
# what a vendor's page embedding it fetches before a click (install-button.js alone: its dialog
# loads on click; tests/e2e_button.rs checks that nothing else is fetched), at most 15 KB.
# Exits non-zero above either.
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
for name in nvs fleet sim install files dialog wifi otadata; do
  if [ -f "$name/otaflash-${name}_bg.wasm" ]; then
    printf '%-24s %8d bytes gzipped, loaded on demand\n' "$name" \
      $(( $(gzip -9c "$name/otaflash-${name}_bg.wasm" | wc -c) + $(gzip -9c "$name/otaflash-$name.js" | wc -c) ))
  fi
done
button=$(gzip -9c install-button.js | wc -c)
printf '%-24s %8d bytes gzipped (budget 15360 = 15 KB): what a page with the install button loads at start\n' "install-button.js" "$button"
[ "$total" -le 307200 ] && [ "$button" -le 15360 ]
