// otaflash service worker: the page's own files, network first (always fresh when online),
// from the cache when offline. Nothing else is fetched or cached.
const CACHE = 'otaflash-v1';
const SHELL = ['./', 'index.html', 'init.js', 'otaflash-web.js', 'otaflash-web_bg.wasm', 'style.css',
  'manifest.webmanifest', 'icon-192.png', 'icon-512.png', 'stub/esp32.json',
  // The simulated chip, loaded on demand, but wanted offline too (the page's default board).
  'sim/otaflash-sim.js', 'sim/otaflash-sim_bg.wasm'];

// A site built by scripts/build-site.sh lists all its files (precache.json): kept at install,
// so every panel, module and stub works offline after the first visit.
const listed = () => fetch('precache.json', { cache: 'no-store' })
  .then((r) => (r.ok ? r.json() : []))
  .catch(() => []);

self.addEventListener('install', (e) => {
  e.waitUntil(listed()
    .then((all) => caches.open(CACHE).then((c) => c.addAll([...new Set([...SHELL, ...all])])))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  e.respondWith(fetch(e.request).then((resp) => {
    if (resp.ok) {
      const copy = resp.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return resp;
  }).catch(() => caches.match(e.request, { ignoreSearch: true })));
});
