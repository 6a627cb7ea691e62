#!/usr/bin/env bash
# Makes a static folder anyone can host: the page, its modules loaded on demand, the stubs and
# a service worker that keeps all of it working offline after the first visit.
#   scripts/build-site.sh OUT [--base /tools/otaflash/]
# The page uses relative addresses only, so OUT works at any path; --base (where it will be
# served, "/" by default) sets the installed app's start URL and scope to it, and is printed.
# Serve OUT with any static server (GitHub Pages, nginx, python -m http.server).
set -euo pipefail
source "$(dirname "$0")/env.sh"
out=${1:?usage: scripts/build-site.sh OUT [--base /path/]}
base=/
if [ "${2:-}" = "--base" ]; then base=${3:?--base needs a path such as /tools/otaflash/}; fi
case "$base" in /*/|/) ;; *) echo "--base must start and end with / (e.g. /tools/otaflash/)" >&2; exit 1;; esac
cd "$ROOT"
if [ "${OTAFLASH_SITE_NO_BUILD:-}" != 1 ]; then
  trunk build --release >&2
fi
out_abs=$(mkdir -p "$out" && cd "$out" && pwd)
rm -rf "${out_abs:?}"/*
cp -r dist/. "$out_abs/"
cd "$out_abs"
# Every file of the site, for the service worker to keep (precache.json), and a cache name
# that changes with the content, so a new build replaces the old one in visitors' browsers.
find . -type f ! -name sw.js ! -name precache.json ! -name .files | sed 's|^\./||' | LC_ALL=C sort > .files
python3 - "$base" <<'PY'
import hashlib, json, sys
base = sys.argv[1]
files = open('.files').read().split()
h = hashlib.sha256()
for f in files:
    h.update(f.encode()); h.update(open(f, 'rb').read())
json.dump(files, open('precache.json', 'w'), indent=0)
sw = open('sw.js').read().replace("const CACHE = 'otaflash-v1';", "const CACHE = 'otaflash-%s';" % h.hexdigest()[:16])
open('sw.js', 'w').write(sw)
m = json.load(open('manifest.webmanifest'))
m['start_url'] = base
m['scope'] = base
json.dump(m, open('manifest.webmanifest', 'w'), indent=2, ensure_ascii=False)
PY
rm .files
echo "install button: <script type=\"module\" src=\"https://YOUR-HOST${base}install-button.js\"></script>"
echo "site in $out_abs ($(du -sh . | cut -f1)), for https://YOUR-HOST$base — $(wc -l < <(python3 -c "import json;print('\n'.join(json.load(open('precache.json'))))")) files kept offline"
