//! Update: the firmware the technician was sent (a manifest from `?manifest=`, the address box
//! or picked files; or one app image) — one for every panel — and one button that puts it on
//! the connected board as the device layer decides: already up to date, a slot update that
//! keeps settings and the previous app, or a full install after a yes. Done means running.

use super::job::JobBar;
use super::panels::{url_param, PanelProps};
use crate::device::update::Verdict;
use crate::page::JobKind;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[component]
pub fn UpdatePanel(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let url = use_state(|| url_param("manifest").unwrap_or_default());
    let chip = s.board.as_ref().map(|b| b.chip.pretty);

    use_firmware(p, chip);

    let on_url = {
        let url = url.clone();
        Callback::from(move |e: InputEvent| {
            url.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    // A change without typing (the field emptied by a script or an autofill) is taken too:
    // the next render would otherwise put the old address back.
    let on_url_change = {
        let url = url.clone();
        Callback::from(move |e: Event| {
            url.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    // The address as the box holds it when Load is clicked (its change event may not have
    // been rendered yet).
    let url_box = use_node_ref();
    let on_load = {
        let (url_box, url, e) = (url_box.clone(), url.clone(), p.engine.clone());
        Callback::from(move |_: MouseEvent| {
            let typed = url_box
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_else(|| (*url).clone());
            e.load_firmware_url(typed, chip)
        })
    };
    let on_files = {
        let e = p.engine.clone();
        Callback::from(move |ev: Event| {
            let input: HtmlInputElement = ev.target_unchecked_into();
            let Some(list) = input.files() else { return };
            let files: Vec<web_sys::File> =
                (0..list.length()).filter_map(|i| list.get(i)).collect();
            input.set_value("");
            let e = e.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let mut read = vec![];
                for f in &files {
                    match super::read_file(f).await {
                        Ok(b) => read.push((f.name(), b)),
                        Err(why) => {
                            return e.send(crate::page::Action::FirmwareFailed(
                                crate::page::FirmwareStage::Parts,
                                why,
                            ));
                        }
                    }
                }
                e.load_firmware_files(read, chip);
            });
        })
    };
    let locked = s.writing();
    html! {
        <div class="update" data-testid="update-panel">
            <h2>{"Update"}</h2>
            if let Some(f) = &s.firmware {
                <p class="firmware" data-testid="firmware">
                    <strong data-testid="firmware-label">{ f.label() }</strong>
                    if f.from != f.label() { <span class="hint">{ format!(" · from {}", f.from) }</span> }
                </p>
            } else {
                <p class="hint">{"The firmware to put on the board: the link you were sent loads it, or give a manifest address on this site, or pick a manifest.json with its .bin files (or one app image)."}</p>
            }
            <div class="row">
                <label>{"Manifest "}
                    <input type="text" size="30" placeholder="firmware/manifest.json" value={(*url).clone()} oninput={on_url} onchange={on_url_change} ref={url_box} data-testid="manifest-url" disabled={locked} />
                </label>
                <button onclick={on_load} disabled={url.is_empty() || locked} data-testid="manifest-load">{"Load"}</button>
                <label class={classes!("button", locked.then_some("disabled"))}>{"Choose files"}
                    <input type="file" multiple=true accept=".bin,.json,application/octet-stream,application/json"
                        data-testid="firmware-files" onchange={on_files} disabled={locked} />
                </label>
            </div>
            <UpdateOffer state={p.state.clone()} engine={p.engine.clone()} />
        </div>
    }
}

/// The firmware from `?manifest=` (once, at start), resolved for the chip once it is known.
#[hook]
fn use_firmware(p: &PanelProps, chip: Option<&'static str>) {
    {
        let e = p.engine.clone();
        use_effect_with((), move |_| {
            if let Some(u) = url_param("manifest") {
                e.load_firmware_url(u, None);
            }
        });
    }
    {
        let e = p.engine.clone();
        use_effect_with(chip, move |chip| {
            if let Some(c) = *chip {
                e.resolve_firmware(c);
            }
        });
    }
}

/// The plan for the connected board and the loaded firmware (made, reading the board and
/// writing nothing, whenever there is a build, a board with its layout read, no plan yet and
/// no job running), what it loses with a yes to tick (taken back with each new plan), the
/// button, the progress and how it ended. The page's update panel and the install dialog.
#[component]
pub fn UpdateOffer(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let confirmed = use_state(|| false);
    {
        let e = p.engine.clone();
        let build = s.firmware.as_ref().and_then(|f| f.build.clone());
        let want =
            build.filter(|_| s.connected() && s.table.is_some() && s.plan.is_none() && !s.busy());
        let offset = s.table_offset;
        use_effect_with(want, move |want| {
            if let Some(b) = want {
                e.plan_update(b.clone(), offset);
            }
        });
    }
    {
        let confirmed = confirmed.clone();
        let said = s.plan.as_ref().map(|p| p.sentence.clone());
        use_effect_with(said, move |_| confirmed.set(false));
    }
    let on_confirm = {
        let c = confirmed.clone();
        Callback::from(move |e: Event| {
            c.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let offer = s.update_offer();
    let to_run = s.update_to_run();
    let needs_yes = offer.as_ref().is_some_and(|o| !o.needs_yes.is_empty());
    let on_update = {
        let (e, to_run, yes, offset, needs_yes) = (
            p.engine.clone(),
            to_run.clone(),
            *confirmed,
            s.table_offset,
            needs_yes,
        );
        Callback::from(move |_: MouseEvent| {
            if let Some((build, plan)) = to_run.clone() {
                if needs_yes && !yes {
                    return;
                }
                e.update(build, plan, yes, offset);
            }
        })
    };
    let busy = s.busy();
    let enabled = offer.as_ref().is_some_and(|o| o.enabled) && (!needs_yes || *confirmed);
    html! {
        <>
            if let Some(o) = &offer {
                <p class="plan" data-testid="update-plan">{ &o.sentence }</p>
                if o.detail.iter().any(|d| !o.needs_yes.contains(d)) {
                    <ul class="plan-detail" data-testid="update-detail">
                        { for o.detail.iter().filter(|d| !o.needs_yes.contains(d)).map(|d| html!{ <li>{ d.clone() }</li> }) }
                    </ul>
                }
                if !o.needs_yes.is_empty() {
                    <div class="warnings" data-testid="update-losses">
                        <ul>{ for o.needs_yes.iter().map(|c| html!{ <li>{ c.clone() }</li> }) }</ul>
                        <label><input type="checkbox" checked={*confirmed} onchange={on_confirm} data-testid="update-confirm" disabled={busy} />{" I understand: this is lost"}</label>
                    </div>
                }
                <div class="row">
                    <button class="primary" data-testid="update" onclick={on_update} disabled={!enabled}>
                        { if s.job_kind() == Some(JobKind::Update) { "Updating…".to_string() } else { o.button.clone() } }
                    </button>
                </div>
            }
            <JobBar state={p.state.clone()} kinds={vec![JobKind::Update]} />
            { finished_view(s) }
        </>
    }
}

/// How the last update ended, and what to try when it stopped on a failure.
pub(super) fn finished_view(s: &crate::page::PageState) -> Html {
    let Some(f) = &s.finished else {
        return html! {};
    };
    let tone = match f.verdict {
        Verdict::Running => "done",
        Verdict::Unconfirmed => "warning",
        Verdict::NotRunning => "error",
    };
    html! {
        <>
            <p class={classes!("update-result", tone)} data-testid="update-result" data-verdict={tone}>{ &f.words }</p>
            if !f.hints.is_empty() {
                <ul class="hint" data-testid="hints">{ for f.hints.iter().map(|h| html!{ <li>{ h.text() }</li> }) }</ul>
            }
        </>
    }
}
