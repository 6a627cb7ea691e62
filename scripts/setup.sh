#!/usr/bin/env bash
# Installs what otaflash needs to build, serve and test, from the package registries only
# (crates.io, PyPI, npm, Debian). Idempotent: every step first checks what is present and
# skips itself. Safe to run before every build; a warm run takes about a second.
#
#   scripts/setup.sh            everything (build + browser tests + esptool cross-checks)
#   scripts/setup.sh --build    only what `trunk build` needs (no chromium, no esptool)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

TRUNK_VERSION=0.21.14
ESBUILD_VERSION=0.24.2
BINARYEN_VERSION=132
ESPTOOL_VERSION=5.6.0
NVS_GEN_VERSION=0.3.0         # esp-idf-nvs-partition-gen (PyPI): ESP-IDF's nvs_partition_gen.py
WEBSOCKIFY_VERSION=0.13.0     # websockify (PyPI): the standard WebSocket-to-TCP bridge
# The esptool 5.6.0 source distribution on PyPI, which carries the flasher stub
# (esp-flasher-stub v1.4.1, MIT OR Apache-2.0) under esptool/targets/stub_flasher/2/.
ESPTOOL_SDIST_SHA256=86c7249e9cc3a824e032ede9ba20abad057a2c49e231418cc4f02b177bb36f42
TOOLS=$ROOT/.tools            # project-local tools (npm binaryen, the esptool stub), git-ignored

want_browser=1
[ "${1:-}" = "--build" ] && want_browser=0

say() { printf '[setup] %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else say "need root for: $*"; return 1; fi; }

# 1. Rust target for the page.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli at exactly the version Cargo.lock pins (trunk and the test runner need it).
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  say "installing wasm-bindgen-cli $WB_VERSION"
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked
fi

# 3. trunk 0.21.x (0.22 needs a newer Rust). A debug build halves its compile time.
case "$(trunk --version 2>/dev/null)" in
  "trunk 0.21."*) ;;
  *) say "installing trunk $TRUNK_VERSION (debug build, a few minutes)"
     cargo install trunk --version "$TRUNK_VERSION" --locked --debug ;;
esac

# 4. wasm-opt from npm binaryen (Debian's is too old to read Rust 1.95 output), and esbuild to
#    minify the JS that wasm-bindgen writes (the page's start budget counts it). Project-local,
#    installed together (an npm install without a package.json drops what it was not given).
if [ "$("$TOOLS/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" != "$BINARYEN_VERSION" ] ||
   [ "$("$TOOLS/node_modules/.bin/esbuild" --version 2>/dev/null)" != "$ESBUILD_VERSION" ]; then
  say "installing npm binaryen@$BINARYEN_VERSION and esbuild@$ESBUILD_VERSION into .tools/"
  mkdir -p "$TOOLS"
  npm install --no-save --no-fund --no-audit --loglevel=error --prefix "$TOOLS" \
    "binaryen@$BINARYEN_VERSION" "esbuild@$ESBUILD_VERSION"
fi

# 5. Crate sources, so that every later build can run --offline.
cargo fetch --locked >/dev/null 2>&1 || cargo fetch --locked

# Python packages go into a project venv (.tools/venv, first on PATH via env.sh when it exists):
# Debian's python3 is "externally managed" (PEP 668) and refuses pip installs.
VENV=$TOOLS/venv
esptool_ok() { [ "$("$1" -m esptool version 2>/dev/null | tail -n1)" = "$ESPTOOL_VERSION" ]; }
venv_python() { # prints the venv's python3, making the venv (with pip) on first use
  if ! "$VENV/bin/python3" -m pip --version >/dev/null 2>&1; then
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
      say "installing Debian python3-venv"
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      rm -rf "$VENV"
      python3 -m venv "$VENV" >&2
    fi
  fi
  echo "$VENV/bin/python3"
}

# 6. The flasher stub, from the pinned esptool sdist (checked by SHA-256), with its licences.
#    Never committed; the CLI embeds it at build time, the page loads it when needed.
STUB_DIR=$TOOLS/stub
if [ ! -f "$STUB_DIR/esp32.json" ] || [ ! -f "$STUB_DIR/LICENSE-MIT" ]; then
  say "fetching the flasher stub from esptool==$ESPTOOL_VERSION (PyPI sdist)"
    tmp=$(mktemp -d)
  py=$(venv_python)
  "$py" -m pip download --quiet --no-deps --no-binary :all: "esptool==$ESPTOOL_VERSION" -d "$tmp"
  echo "$ESPTOOL_SDIST_SHA256  $tmp/esptool-$ESPTOOL_VERSION.tar.gz" | sha256sum -c --quiet
  mkdir -p "$STUB_DIR"
  tar xzf "$tmp/esptool-$ESPTOOL_VERSION.tar.gz" -C "$STUB_DIR" --strip-components=5 \
    "esptool-$ESPTOOL_VERSION/esptool/targets/stub_flasher/2/"
  rm -rf "$tmp"
fi

if [ "$want_browser" = 1 ]; then
  # 7. Headless Chromium + ChromeDriver for browser tests (Debian packages).
  if ! have chromium || ! have chromedriver; then
    say "installing Debian chromium + chromium-driver"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  fi
  # 8. ESP-IDF's NVS partition generator from PyPI, for the NVS reference images the tests
  #    make. Always in the venv (whose python3 then comes first on PATH, see step 9).
  nvs_gen_ok() { [ "$("$VENV/bin/python3" -c 'import importlib.metadata as m; print(m.version("esp-idf-nvs-partition-gen"))' 2>/dev/null)" = "$NVS_GEN_VERSION" ]; }
  if ! nvs_gen_ok; then
    say "installing esp-idf-nvs-partition-gen==$NVS_GEN_VERSION from PyPI into .tools/venv"
    py=$(venv_python)
    "$py" -m pip install --quiet --disable-pip-version-check "esp-idf-nvs-partition-gen==$NVS_GEN_VERSION"
  fi
  # 9. esptool from PyPI, for cross-checks and for the stub flasher it carries.
    #    The tests run `python3 -m esptool`: the system's python3 if it has this esptool and no
  #    venv exists, else the venv's (which then must carry it).
  if [ -x "$VENV/bin/python3" ] || ! esptool_ok python3; then
    if ! esptool_ok "$VENV/bin/python3"; then
      say "installing esptool==$ESPTOOL_VERSION from PyPI into .tools/venv"
      py=$(venv_python)
      "$py" -m pip install --quiet --disable-pip-version-check "esptool==$ESPTOOL_VERSION"
    fi
  fi
  # 10. websockify from PyPI: the browser tests reach the simulator's RFC 2217 and raw TCP
  #     servers through it. Without its declared extras (numpy only speeds up unmasking;
  #     requests, jwcrypto and redis serve token plugins the tests do not use).
  websockify_ok() { [ "$("$VENV/bin/python3" -c 'import importlib.metadata as m; print(m.version("websockify"))' 2>/dev/null)" = "$WEBSOCKIFY_VERSION" ]; }
  if ! websockify_ok; then
    say "installing websockify==$WEBSOCKIFY_VERSION from PyPI into .tools/venv"
    py=$(venv_python)
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps "websockify==$WEBSOCKIFY_VERSION"
  fi
fi
say "ok"
