// Loads the page (wasm) without inline script, so the Content-Security-Policy can forbid it,
// and registers the service worker that keeps the page working offline once loaded.
import init from './otaflash-web.js';

await init({ module_or_path: new URL('otaflash-web_bg.wasm', import.meta.url) });

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  navigator.serviceWorker.register('sw.js').catch(() => {});
}
