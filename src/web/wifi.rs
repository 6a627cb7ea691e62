//! Wi-Fi set-up over Improv, shown with the app running (the console panel, the install
//! dialog): what the app is, the networks it sees, a password, and how it ended — "Connected
//! to GardenNet" with the address to visit, or the app's error in words.

use super::engine::Engine;
use super::job::failure_view;
use crate::page::improv::{WifiAsk, WifiSetup};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct WifiProps {
    pub wifi: Option<WifiSetup>,
    pub engine: Engine,
}

#[component]
pub fn WifiPanel(p: &WifiProps) -> Html {
    let ssid = use_node_ref();
    let password = use_node_ref();
    let e = p.engine.clone();
    let Some(w) = &p.wifi else {
        let on_start = Callback::from(move |_: MouseEvent| e.ask_wifi(WifiAsk::Hello));
        return html! {
            <div class="wifi" data-testid="wifi">
                <button onclick={on_start} data-testid="wifi-start">{"Set up Wi-Fi"}</button>
                <span class="hint">{" over Improv, when the app speaks it"}</span>
            </div>
        };
    };
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
            e.ask_wifi(WifiAsk::Join {
                ssid: s,
                password: pw,
            });
        })
    };
    let on_scan = {
        let e = e.clone();
        Callback::from(move |_: MouseEvent| e.ask_wifi(WifiAsk::Scan))
    };
    let on_again = Callback::from(move |_: MouseEvent| e.ask_wifi(WifiAsk::Hello));
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
