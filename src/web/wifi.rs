//! Wi-Fi set-up over Improv, shown with the app running (the console panel, the install
//! dialog): what the app is, the networks it sees, a password, and how it ended — "Connected
//! to GardenNet" with the address to visit, or the app's error in words.
//!
//! It talks to the app through a [`Link`] to the running console (the engine's console reads
//! go to it; its requests go out between the console's reads), one request at a time with the
//! device layer's client ([`Improv`]). The dialog links it to its engine directly; the page
//! loads it on demand as a module of its own (`wifi/`, `mount`) with a JS bridge, so that it
//! does not weigh on the page's start.

use super::engine::Tap;
use super::job::failure_view;
use super::ports::{now_ms, sleep};
use crate::device::improv::Improv;
use crate::loader::{self, Port, PortError};
use crate::page::improv::{WifiAsk, WifiNews, WifiSetup};
use crate::page::Failure;
use crate::wire::improv::State;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The way to the app's console: `write` sends bytes; `listen` hands over who is told what the
/// console reads (None: no one any more).
#[derive(Clone)]
pub struct Link {
    pub write: Rc<dyn Fn(Vec<u8>)>,
    pub listen: Rc<dyn Fn(Option<Tap>)>,
}

impl PartialEq for Link {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.write, &other.write)
    }
}

/// The console as a port for the Improv client: what it read, waiting to be taken.
struct LinkPort {
    inbox: Rc<RefCell<VecDeque<u8>>>,
    write: Rc<dyn Fn(Vec<u8>)>,
    epoch: f64,
}

impl Port for LinkPort {
    async fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        let until = now_ms() + timeout.as_secs_f64() * 1000.0;
        loop {
            let n = {
                let mut q = self.inbox.borrow_mut();
                let n = q.len().min(buf.len());
                for (b, x) in buf.iter_mut().zip(q.drain(..n)) {
                    *b = x;
                }
                n
            };
            if n > 0 || now_ms() >= until {
                return Ok(n);
            }
            sleep(Duration::from_millis(10)).await;
        }
    }
    async fn write(&mut self, data: &[u8]) -> Result<(), PortError> {
        (self.write)(data.to_vec());
        Ok(())
    }
    async fn set_signals(&mut self, _: bool, _: bool) -> Result<(), PortError> {
        Ok(())
    }
    async fn set_baud(&mut self, _: u32) -> Result<(), PortError> {
        Ok(())
    }
    async fn sleep(&mut self, d: Duration) {
        sleep(d).await
    }
    fn elapsed(&self) -> Duration {
        Duration::from_secs_f64((now_ms() - self.epoch).max(0.0) / 1000.0)
    }
    fn can_reset(&self) -> bool {
        false
    }
}

/// The set-up's state as a Yew reducer.
#[derive(Default, PartialEq)]
struct Store(WifiSetup);

impl Reducible for Store {
    type Action = WifiNews;
    fn reduce(self: Rc<Self>, news: WifiNews) -> Rc<Self> {
        let mut s = self.0.clone();
        s.apply(news);
        Rc::new(Store(s))
    }
}

/// Sends the requests in turn and reports the answers.
#[derive(Clone)]
struct Client {
    link: Link,
    inbox: Rc<RefCell<VecDeque<u8>>>,
    asks: Rc<RefCell<VecDeque<WifiAsk>>>,
    running: Rc<std::cell::Cell<bool>>,
    tell: Rc<dyn Fn(WifiNews)>,
    wait: Duration,
}

impl Client {
    fn ask(&self, ask: WifiAsk) {
        (self.tell)(WifiNews::Asking(ask.clone()));
        self.asks.borrow_mut().push_back(ask);
        if self.running.replace(true) {
            return;
        }
        let me = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let next = me.asks.borrow_mut().pop_front();
                let Some(ask) = next else { break };
                let mut port = LinkPort {
                    inbox: me.inbox.clone(),
                    write: me.link.write.clone(),
                    epoch: now_ms(),
                };
                let mut improv = Improv::new(&mut port).detect_within(me.wait);
                let r = ask_app(&mut improv, &ask, &*me.tell).await;
                let via = loader::Via::Serial(None);
                match r {
                    Ok(()) => {}
                    // No Improv answer to the first request: the app may not speak it.
                    Err(e @ loader::Error::Timeout(_)) if ask == WifiAsk::Hello => {
                        (me.tell)(WifiNews::Silent(Failure::of(&e, via)))
                    }
                    Err(e) => (me.tell)(WifiNews::Failed(ask, Failure::of(&e, via))),
                }
            }
            me.running.set(false);
        });
    }
}

/// One request of the page, as Improv requests: hello is the state and what the app is (and
/// the networks when it is not set up yet).
async fn ask_app<P: Port>(
    improv: &mut Improv<'_, P>,
    ask: &WifiAsk,
    tell: &dyn Fn(WifiNews),
) -> loader::Result<()> {
    match ask {
        WifiAsk::Hello => {
            let (state, url) = improv.current_state().await?;
            let info = improv.info().await?;
            let provisioned = state == State::Provisioned;
            tell(WifiNews::Found {
                info,
                provisioned,
                url,
            });
            if !provisioned {
                tell(WifiNews::Networks(improv.scan().await?));
            }
        }
        WifiAsk::Scan => tell(WifiNews::Networks(improv.scan().await?)),
        WifiAsk::Join { ssid, password } => {
            let url = improv.provision(ssid, password).await?;
            tell(WifiNews::Joined {
                ssid: ssid.clone(),
                url,
            });
        }
    }
    Ok(())
}

#[derive(Properties, PartialEq)]
pub struct WifiProps {
    pub link: Link,
    /// Seconds the app gets to answer at first (10 as ESP Web Tools waits by default).
    #[prop_or(10)]
    pub wait: u32,
}

/// Asks the app at once, then shows the set-up.
#[component]
pub fn WifiPanel(p: &WifiProps) -> Html {
    let store = use_reducer(Store::default);
    let client = {
        let (link, d, wait) = (p.link.clone(), store.dispatcher(), p.wait);
        use_memo((), move |_| Client {
            wait: Duration::from_secs(wait as u64),
            link,
            inbox: Rc::new(RefCell::new(VecDeque::new())),
            asks: Rc::new(RefCell::new(VecDeque::new())),
            running: Rc::new(std::cell::Cell::new(false)),
            tell: Rc::new(move |n| d.dispatch(n)),
        })
    };
    {
        let c = (*client).clone();
        use_effect_with((), move |_| {
            let inbox = c.inbox.clone();
            (c.link.listen)(Some(Rc::new(move |b: &[u8]| {
                inbox.borrow_mut().extend(b.iter().copied())
            })));
            c.ask(WifiAsk::Hello);
            let link = c.link.clone();
            move || (link.listen)(None)
        });
    }
    let w = &store.0;
    wifi_view(w, &client)
}

fn wifi_view(w: &WifiSetup, client: &Client) -> Html {
    let ssid = NodeRef::default();
    let password = NodeRef::default();
    let e = client.clone();
    let asking = w.asking.is_some();
    let on_join = {
        let (e, ssid, password) = (e.clone(), ssid.clone(), password.clone());
        Callback::from(move |ev: SubmitEvent| {
            ev.prevent_default();
            let Some(s) = ssid.cast::<HtmlSelectElement>().map(|s| s.value()) else {
                return;
            };
            let pw = password
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            e.ask(WifiAsk::Join {
                ssid: s,
                password: pw,
            });
        })
    };
    let on_scan = {
        let e = e.clone();
        Callback::from(move |_: MouseEvent| e.ask(WifiAsk::Scan))
    };
    let on_again = Callback::from(move |_: MouseEvent| e.ask(WifiAsk::Hello));
    let asking_words = match &w.asking {
        Some(WifiAsk::Hello) => Some("Asking the app about Wi-Fi…".to_string()),
        Some(WifiAsk::Scan) => Some("Looking for networks…".to_string()),
        Some(WifiAsk::Join { ssid, .. }) => Some(format!("Connecting to {ssid}…")),
        None => None,
    };
    html! {
        <div class="wifi" data-testid="wifi">
            <h3>{"Wi-Fi"}</h3>
            if let Some(i) = &w.info {
                <p data-testid="wifi-device">
                    <strong>{ i.name.clone() }</strong>
                    { format!(" · {} {} on {}", i.firmware, i.version, i.chip) }
                </p>
            }
            if let Some(words) = asking_words {
                <p class="working" data-testid="wifi-asking">{ words }</p>
            }
            if w.silent {
                <p class="warning" data-testid="wifi-silent">{"The app did not answer Improv Wi-Fi: it may not speak it, or it is still starting."}</p>
                <button onclick={on_again.clone()} disabled={asking}>{"Ask again"}</button>
            } else if let Some(f) = &w.failed {
                { failure_view(f, "wifi-failed", None) }
            }
            if let Some(words) = w.joined_words() {
                <p class="done" data-testid="wifi-joined">{ words }</p>
                if let Some(u) = w.joined.as_ref().and_then(|j| j.url.clone()) {
                    <p><a href={u} target="_blank" rel="noopener" class="button" data-testid="wifi-visit">{"Visit device"}</a></p>
                }
            } else if w.info.is_some() {
                <form class="row" onsubmit={on_join}>
                    <label>{"Network "}
                        <select ref={ssid} data-testid="wifi-ssid" disabled={asking}>
                            { for w.networks.iter().map(|n| html!{
                                <option value={n.ssid.clone()}>{ format!("{} ({} dBm{})", n.ssid, n.rssi, if n.secured { "" } else { ", open" }) }</option>
                            }) }
                        </select>
                    </label>
                    <label>{"Password "}
                        <input type="password" ref={password} data-testid="wifi-password" autocomplete="off" disabled={asking} />
                    </label>
                    <button type="submit" data-testid="wifi-connect" disabled={asking || w.networks.is_empty()}>{"Connect"}</button>
                    <button type="button" onclick={on_scan} disabled={asking}>{"Scan again"}</button>
                </form>
            }
        </div>
    }
}

/// The module the page loads on demand (`wifi/`): the panel on `root`, linked to the page's
/// console by `bridge` — `write(bytes)` and `listen(f | null)` (see the page's `wifi_shell`).
pub fn mount(root: web_sys::Element, bridge: wasm_bindgen::JsValue) {
    use js_sys::Uint8Array;
    use wasm_bindgen::prelude::*;
    let get = |k: &str| super::lazy::bridge_fn(&bridge, k);
    let (write, listen) = (get("write"), get("listen"));
    let link = Link {
        write: Rc::new(move |b: Vec<u8>| {
            if let Some(f) = &write {
                let _ = f.call1(&JsValue::NULL, &Uint8Array::from(&b[..]));
            }
        }),
        listen: Rc::new(move |tap: Option<Tap>| {
            let Some(f) = &listen else { return };
            let arg = match tap {
                Some(t) => {
                    let c = Closure::<dyn Fn(Uint8Array)>::new(move |a: Uint8Array| t(&a.to_vec()));
                    let v = c.as_ref().clone();
                    c.forget();
                    v
                }
                None => JsValue::NULL,
            };
            let _ = f.call1(&JsValue::NULL, &arg);
        }),
    };
    yew::Renderer::<WifiPanel>::with_root_and_props(root, WifiProps { link, wait: 10 }).render();
}
