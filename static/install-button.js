// otaflash's install button: a drop-in for ESP Web Tools' <esp-web-install-button> (the same
// element, and <otaflash-install-button>), written from ESP Web Tools' documented behaviour
// (docs/esp-web-tools-notes.md): attributes manifest, erase-first, hide-progress, show-log;
// slots activate, unsupported, not-allowed; host attributes install-supported /
// install-unsupported / active; CSS variables --esp-tools-button-color,
// --esp-tools-button-text-color, --esp-tools-button-border-radius; the state-changed event.
//
// This script is all an embedding page loads at start. The dialog (otaflash's update, a wasm
// module) loads on click — fetched ahead when the pointer comes near — from this script's own
// folder, wherever the page is. otaflash's own attribute `port` (or the page address's
// ?otaflash-port=) names a board that is not a USB port: sim, sim:CHIP, ws://…, rfc2217+ws://….

const here = new URL('./', import.meta.url);

let loading;
/** The dialog's module, loaded once (a failed load is tried again on the next click). */
function load() {
  loading ??= (async () => {
    const m = await import(new URL('dialog/otaflash-dialog.js', here).href);
    await m.default({ module_or_path: new URL('dialog/otaflash-dialog_bg.wasm', here) });
    return m;
  })().catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

let sheet;
/** The button's styles (a constructed sheet: no inline style for the page's CSP to refuse). */
function styles() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(`
      :host { display: inline-block; }
      button.connect {
        font: inherit; font-weight: 500; letter-spacing: .03em; cursor: pointer;
        padding: .6em 1.4em; border: none;
        background: var(--esp-tools-button-color, #03a9f4);
        color: var(--esp-tools-button-text-color, #fff);
        border-radius: var(--esp-tools-button-border-radius, 9999px);
      }
      :host([active]) button.connect { opacity: .5; cursor: progress; }
      .message { color: #b00020; }
      dialog { max-width: min(44rem, calc(100vw - 2rem)); width: 100%; box-sizing: border-box;
        padding: 0; border: none; border-radius: 10px; }
      dialog::backdrop { background: rgba(0, 0, 0, .45); }
      dialog > .loading { padding: 1.25rem; font-family: system-ui, sans-serif; }
    `);
  }
  return sheet;
}

const WORDS = {
  'not-allowed': 'Installing on a board needs a secure page: open this page over HTTPS (or on localhost).',
  unsupported: 'This browser cannot reach a board over USB: open this page in Chrome or Edge on a computer.',
};

function boolAttr(name) {
  return {
    get() { return this.hasAttribute(name); },
    set(v) { this.toggleAttribute(name, !!v); },
  };
}

class InstallButton extends HTMLElement {
  /** Where the board is when it is not a USB port (otaflash's own). */
  get device() {
    return this.getAttribute('port') ?? new URLSearchParams(location.search).get('otaflash-port');
  }

  connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [styles()];
    // ESP Web Tools' order: an insecure page first, then a browser without Web Serial.
    const why = !window.isSecureContext ? 'not-allowed'
      : !('serial' in navigator) && !this.device ? 'unsupported' : null;
    if (why) {
      this.toggleAttribute('install-unsupported', true);
      const slot = document.createElement('slot');
      slot.name = why;
      const span = document.createElement('span');
      span.className = 'message';
      span.textContent = WORDS[why];
      slot.append(span);
      root.append(slot);
      return;
    }
    this.toggleAttribute('install-supported', true);
    const slot = document.createElement('slot');
    slot.name = 'activate';
    const button = document.createElement('button');
    button.className = 'connect';
    button.part = 'button';
    button.textContent = 'Connect';
    slot.append(button);
    root.append(slot);
    slot.addEventListener('click', () => this.open());
    const ahead = () => load().catch(() => {});
    this.addEventListener('pointerenter', ahead, { once: true });
    this.addEventListener('focusin', ahead, { once: true });
  }

  say(state, message, chipFamily, details) {
    this.state = state;
    const build = this._manifest?.builds?.find((b) => b.chipFamily === chipFamily);
    this.dispatchEvent(new CustomEvent('state-changed', {
      bubbles: true,
      composed: true,
      detail: { state, message, manifest: this._manifest, build, chipFamily, details },
    }));
  }

  async open() {
    if (this.hasAttribute('active') || !this.manifest) return;
    const device = this.device;
    const module = load();
    let port = null;
    if (!device) {
      // Asked in the click itself (the browser wants a user gesture), before anything loads.
      try {
        port = await navigator.serial.requestPort();
      } catch {
        return; // the chooser was closed
      }
    }
    this.toggleAttribute('active', true);
    const manifest = new URL(this.manifest, location.href).href;
    const dialog = document.createElement('dialog');
    dialog.dataset.testid = 'otaflash-dialog';
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = new URL('dialog/dialog.css', here).href;
    const box = document.createElement('div');
    box.className = 'loading';
    box.textContent = 'Loading…';
    dialog.append(css, box);
    this.shadowRoot.append(dialog);
    // A modal dialog: Escape does not close it (a write may be running); its × does.
    dialog.addEventListener('cancel', (e) => e.preventDefault());
    dialog.showModal();
    let handle;
    const close = () => {
      handle?.close();
      handle = undefined;
      dialog.close();
      dialog.remove();
      this.removeAttribute('active');
    };
    // What stops the dialog before it runs, said in its place with a way out.
    const stopped = (text, e) => {
      box.textContent = text;
      const b = document.createElement('button');
      b.textContent = 'Close';
      b.addEventListener('click', close);
      box.append(' ', b);
      this.say('error', text, undefined, { error: 'failed_initialize', details: String(e) });
    };
    let m;
    try {
      [m, this._manifest] = await Promise.all([
        module,
        fetch(manifest).then((r) => r.json()).catch(() => undefined),
      ]);
    } catch (e) {
      stopped(`The installer did not load: ${e.message ?? e}. Check the connection and try again.`, e);
      return;
    }
    const root = document.createElement('div');
    box.after(root);
    try {
      handle = m.open(root, {
        manifest,
        name: [this._manifest?.name, this._manifest?.version].filter((x) => typeof x === 'string').join(' ') || undefined,
        base: here.href,
        eraseFirst: this.eraseFirst,
        hideProgress: this.hideProgress,
        showLog: this.showLog,
        port,
        device,
        emit: (state, message, chipFamily, details) => this.say(state, message, chipFamily, details),
        close,
      });
      box.remove();
    } catch (e) {
      root.remove();
      stopped(String(e), e);
    }
  }
}

Object.defineProperties(InstallButton.prototype, {
  manifest: {
    get() { return this.getAttribute('manifest'); },
    set(v) { this.setAttribute('manifest', v); },
  },
  eraseFirst: boolAttr('erase-first'),
  hideProgress: boolAttr('hide-progress'),
  showLog: boolAttr('show-log'),
});

for (const name of ['esp-web-install-button', 'otaflash-install-button']) {
  if (!customElements.get(name)) customElements.define(name, class extends InstallButton {});
}
