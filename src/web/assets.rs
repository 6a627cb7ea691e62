//! Where otaflash's own files are (stubs, the parts loaded on demand, the simulated chip): the
//! page's folder on otaflash's page; on a vendor's page, the folder of the install button's
//! script, which may be another path than the page's (set by the dialog when it opens).

use std::cell::RefCell;

thread_local! {
    static BASE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// otaflash's files are under `base` (an absolute URL ending in '/').
pub fn set_base(base: &str) {
    BASE.with(|b| *b.borrow_mut() = Some(base.to_string()));
}

/// The folder otaflash's files are in: as set, else the page's own base.
pub fn base() -> String {
    BASE.with(|b| b.borrow().clone()).unwrap_or_else(|| {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.base_uri().ok().flatten())
            .unwrap_or_default()
    })
}

/// The address of otaflash's file `path` ("stub/esp32.json").
pub fn url(path: &str) -> String {
    web_sys::Url::new_with_base(path, &base())
        .map(|u| u.href())
        .unwrap_or_else(|_| path.to_string())
}
