//! The log and serial console: one timeline of what otaflash did and what the chip printed, with
//! timestamps. The console works without download mode (open the port, reset into the app,
//! watch), takes lines to send, sets up Wi-Fi over Improv while it runs, and from download mode
//! goes back there when stopped, so that flashing again needs no new connect.

use super::engine::download;
use super::panels::PanelProps;
use crate::page::{Action, JobKind, Link, Source};
use web_sys::{HtmlElement, HtmlInputElement, HtmlSelectElement, KeyboardEvent};
use yew::prelude::*;

const CONSOLE_BAUDS: [u32; 7] = [9600, 57_600, 74_880, 115_200, 230_400, 460_800, 921_600];

#[component]
pub fn ConsolePanel(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let d = p.state.dispatcher();
    let baud = use_state(|| 115_200u32);
    let stamps = use_state(|| true);
    let follow = use_state(|| true);
    let line = use_state(String::new);
    let log_ref = use_node_ref();
    let watching = s.job_kind() == Some(JobKind::Console);
    let can_open = matches!(s.link, Link::Idle | Link::Failed(_)) && !s.busy();

    // Autoscroll: the newest line stays in view.
    {
        let (log_ref, follow) = (log_ref.clone(), *follow);
        use_effect_with(
            (s.log.len(), s.log.last().map(|l| l.text.len())),
            move |_| {
                if follow {
                    if let Some(el) = log_ref.cast::<HtmlElement>() {
                        el.set_scroll_top(el.scroll_height() as f64);
                    }
                }
            },
        );
    }
    let on_baud = {
        let b = baud.clone();
        Callback::from(move |e: Event| {
            b.set(
                e.target_unchecked_into::<HtmlSelectElement>()
                    .value()
                    .parse()
                    .unwrap_or(115_200),
            )
        })
    };
    let on_watch = {
        let (e, b, link_baud, off) = (p.engine.clone(), *baud, s.baud, s.table_offset);
        Callback::from(move |_: MouseEvent| e.watch_console(b, link_baud, off))
    };
    let on_open = {
        let (e, kind, url, b) = (p.engine.clone(), s.port_kind, s.ws_url.clone(), *baud);
        Callback::from(move |_: MouseEvent| e.open_console(kind, url.clone(), b, true))
    };
    let on_stop = {
        let e = p.engine.clone();
        Callback::from(move |_: MouseEvent| e.cancel())
    };
    let send = {
        let (e, line) = (p.engine.clone(), line.clone());
        move || {
            if !line.is_empty() {
                e.send_line(&line);
                line.set(String::new());
            }
        }
    };
    let on_send = {
        let send = send.clone();
        Callback::from(move |_: MouseEvent| send())
    };
    let on_key = Callback::from(move |e: KeyboardEvent| {
        if e.key() == "Enter" {
            send();
        }
    });
    let on_line = {
        let line = line.clone();
        Callback::from(move |e: InputEvent| {
            line.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let toggle = |h: &UseStateHandle<bool>| {
        let h = h.clone();
        Callback::from(move |e: Event| {
            h.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let text = s.log.text();
    let on_download = {
        let t = text.clone();
        Callback::from(move |_: MouseEvent| download("otaflash-log.txt", t.as_bytes()))
    };
    let on_clear = Callback::from(move |_: MouseEvent| d.dispatch(Action::ClearLog));
    html! {
        <div class="console">
            <h2>{"Log and serial console"}</h2>
            <div class="row">
                if s.connected() && !watching {
                    <button onclick={on_watch} disabled={s.busy()} data-testid="watch">{"Reset into the app and watch"}</button>
                }
                if can_open {
                    <button onclick={on_open} data-testid="open-console">{"Open the serial console"}</button>
                }
                if watching { <button onclick={on_stop} data-testid="stop-console">{ if s.link == Link::Console { "Close the console" } else { "Stop (back to download mode)" } }</button> }
                <label>{" at "}
                    <select onchange={on_baud} data-testid="console-baud" disabled={watching}>
                        { for CONSOLE_BAUDS.iter().map(|b| html!{ <option value={b.to_string()} selected={*b == *baud}>{ b }</option> }) }
                    </select>{" baud"}
                </label>
            </div>
            if watching {
                <div class="row">
                    <input type="text" size="30" placeholder="a line to send to the app" value={(*line).clone()}
                        oninput={on_line} onkeydown={on_key} data-testid="console-line" aria-label="a line to send" />
                    <button onclick={on_send} data-testid="console-send">{"Send"}</button>
                </div>
                <super::wifi_shell::WifiShell engine={p.engine.clone()} />
            }
            <div class="row">
                <label class="inline"><input type="checkbox" checked={*stamps} onchange={toggle(&stamps)} data-testid="log-stamps" />{" timestamps"}</label>
                <label class="inline"><input type="checkbox" checked={*follow} onchange={toggle(&follow)} data-testid="log-follow" />{" autoscroll"}</label>
                <button onclick={on_clear} disabled={s.log.is_empty()} data-testid="log-clear">{"Clear"}</button>
                <button onclick={on_download} disabled={s.log.is_empty()} data-testid="log-download">{"Download the log"}</button>
            </div>
            if s.log.is_empty() {
                <p class="hint" data-testid="log-empty">{"Nothing yet: what otaflash does and what the chip prints appear here, in order."}</p>
            } else {
                <pre class="log" data-testid="log" ref={log_ref} aria-live="polite">
                    { for s.log.iter().map(|l| html! {
                        <div class={classes!("line", match l.source { Source::Device => "device", Source::Otaflash => "otaflash" })}>
                            if *stamps { <span class="clock">{ format!("{} ", l.clock) }</span> }
                            { &l.text }
                        </div>
                    }) }
                </pre>
            }
        </div>
    }
}
