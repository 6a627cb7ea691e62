#!/usr/bin/env bash
# Installs what is missing, then serves the page on http://127.0.0.1:8080 (release build,
# rebuilt on change). Extra arguments go to `trunk serve` (e.g. --port 9000).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/setup.sh --build
echo "otaflash: open http://127.0.0.1:8080/?port=sim for the simulated ESP32 (or without ?port=sim to use a USB serial port)"
exec trunk serve --release --no-autoreload "$@"
