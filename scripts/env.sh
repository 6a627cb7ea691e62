# Sourced by the scripts: the environment every build and test runs in.
# A RUSTFLAGS variable would replace .cargo/config.toml's rustflags (and drop the
# web_sys_unstable_apis cfg the Serial API needs), so it is never set.
unset RUSTFLAGS
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# `cargo install` puts trunk and wasm-bindgen in $CARGO_HOME/bin (~/.cargo/bin by default).
export PATH="$ROOT/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Python tools (esptool), when set-up had to put them in a project venv (see setup.sh).
if [ -x "$ROOT/.tools/venv/bin/python3" ]; then export PATH="$ROOT/.tools/venv/bin:$PATH"; fi
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
