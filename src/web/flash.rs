//! The flash panel: pick or drop an image (or an ESP Web Tools manifest with its files, or a
//! manifest URL on this site), see what it is and what would stop it, write it into a slot
//! with one progress bar, then boot it next.

use super::manifest;
use super::panels::{url_param, PanelProps};
use super::views::image_view;
use crate::formats::numbers::{approx_size, decimals, human_size};
use crate::formats::otadata::OtaState;
use crate::loader::{Phase, Progress};
use crate::page::{Action, Job, JobKind, PageState, Problem};
use std::rc::Rc;
use web_sys::{DragEvent, HtmlElement, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Where the picked image came from, to resolve it again once the chip is known.
#[derive(Clone, PartialEq)]
enum Origin {
    Url(String),
    Files(Rc<Vec<u8>>, Rc<Vec<(String, Vec<u8>)>>),
}

fn chip_family(s: &PageState) -> Option<String> {
    s.board.as_ref().map(|b| b.chip.pretty.to_string())
}

/// Resolves a manifest for `chip` and reports the image (or why not) to the page.
fn resolve(origin: Origin, chip: Option<String>, d: UseReducerDispatcher<super::panels::Store>) {
    let from = match &origin {
        Origin::Url(u) => u.clone(),
        Origin::Files(..) => "the manifest".into(),
    };
    d.dispatch(Action::ImageLoading(from));
    wasm_bindgen_futures::spawn_local(async move {
        let source = match origin {
            Origin::Url(u) => manifest::Source::url(&u).await,
            Origin::Files(m, files) => {
                manifest::Source::files("the manifest", &m, files.as_ref().clone())
            }
        };
        let r = match source {
            Ok(src) => src.app(chip.as_deref()).await,
            Err(e) => Err(e),
        };
        match r {
            Ok((name, bytes)) => d.dispatch(Action::ImagePicked(name, bytes)),
            Err(e) => d.dispatch(Action::ImageFailed(format!("manifest: {e}"))),
        }
    });
}

/// "writing 600.0 KB of 600.0 KB · 45 % · 430 kbit/s effective, 260 kbit/s on the wire · 3 s
/// left", with the bytes already on the board said apart.
fn progress_text(p: &Progress, image_len: Option<u64>) -> String {
    let pct = p.done as f64 * 100.0 / p.total.max(1) as f64;
    let rate = p.rate_text();
    let there = match image_len {
        Some(n) if p.phase == Phase::Writing && n > p.total => {
            format!(
                " (the other {} are already there)",
                approx_size(n - p.total)
            )
        }
        _ => String::new(),
    };
    format!(
        "{}: {} of {}{there} · {} % · {rate}{}",
        p.phase.name(),
        approx_size(p.done),
        approx_size(p.total),
        decimals(pct, 0),
        p.eta()
            .map(|e| format!(" · {} s left", decimals(e.as_secs_f64(), 0)))
            .unwrap_or_default()
    )
}

#[component]
pub fn FlashPanel(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let d = p.state.dispatcher();
    let boot_state = use_state(|| OtaState::Undefined);
    let dragging = use_state(|| false);
    let chip = chip_family(s);
    let manifest_url = use_state(|| url_param("manifest").unwrap_or_default());
    let origin = use_mut_ref(|| url_param("manifest").map(Origin::Url));
    // A manifest is resolved again for the chip once it is known.
    {
        let (origin, d) = (origin.clone(), d.clone());
        use_effect_with(chip.clone(), move |chip| {
            if let Some(o) = origin.borrow().clone() {
                resolve(o, chip.clone(), d);
            }
        });
    }
    let pick = {
        let (d, chip, origin) = (d.clone(), chip.clone(), origin.clone());
        move |list: web_sys::FileList| {
            let files: Vec<web_sys::File> =
                (0..list.length()).filter_map(|i| list.get(i)).collect();
            if files.is_empty() {
                return;
            }
            let (d, chip, origin) = (d.clone(), chip.clone(), origin.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let mut read = vec![];
                for f in &files {
                    match super::read_file(f).await {
                        Ok(b) => read.push((f.name(), b)),
                        Err(e) => return d.dispatch(Action::ImageFailed(e)),
                    }
                }
                let json = read
                    .iter()
                    .position(|(n, _)| n.to_ascii_lowercase().ends_with(".json"));
                match json {
                    Some(i) => {
                        let (_, m) = read.remove(i);
                        let o = Origin::Files(Rc::new(m), Rc::new(read));
                        *origin.borrow_mut() = Some(o.clone());
                        resolve(o, chip, d);
                    }
                    None if read.len() == 1 => {
                        *origin.borrow_mut() = None;
                        let (n, b) = read.remove(0);
                        d.dispatch(Action::ImagePicked(n, b));
                    }
                    None => d.dispatch(Action::ImageFailed(format!(
                        "{} files picked and no manifest.json among them: pick one app image (or a manifest together with its .bin files)",
                        read.len()
                    ))),
                }
            });
        }
    };
    let locked = s.writing();
    let on_file = {
        let pick = pick.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(l) = input.files() {
                pick(l);
            }
            input.set_value("");
        })
    };
    let on_drop = {
        let dragging = dragging.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            dragging.set(false);
            if locked {
                return;
            }
            if let Some(l) = e.data_transfer().and_then(|t| t.files()) {
                pick(l);
            }
        })
    };
    let on_drag_over = {
        let dragging = dragging.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            if !*dragging {
                dragging.set(true);
            }
        })
    };
    let on_drag_leave = {
        let dragging = dragging.clone();
        Callback::from(move |_: DragEvent| dragging.set(false))
    };
    let on_manifest_url = {
        let m = manifest_url.clone();
        Callback::from(move |e: Event| m.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_manifest = {
        let (m, chip, origin, d) = (
            manifest_url.clone(),
            chip.clone(),
            origin.clone(),
            d.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let o = Origin::Url((*m).clone());
            *origin.borrow_mut() = Some(o.clone());
            resolve(o, chip.clone(), d.clone());
        })
    };
    let on_target = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            d.dispatch(Action::SetTarget(
                e.target_unchecked_into::<HtmlSelectElement>().value(),
            ))
        })
    };
    let on_flash = {
        let (e, t, target, img, slots) = (
            p.engine.clone(),
            s.table().cloned(),
            s.target.clone(),
            s.image.clone(),
            s.slots.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            if let (Some(t), Some(target), Some(img)) = (t.clone(), target.clone(), img.clone()) {
                e.flash(
                    t,
                    target,
                    img.bytes.clone(),
                    img.name.clone(),
                    slots.clone(),
                );
            }
        })
    };
    let on_cancel = {
        let e = p.engine.clone();
        Callback::from(move |_: MouseEvent| e.cancel())
    };
    let on_state = {
        let b = boot_state.clone();
        Callback::from(move |e: Event| {
            b.set(
                OtaState::parse(&e.target_unchecked_into::<HtmlSelectElement>().value())
                    .unwrap_or(OtaState::Undefined),
            )
        })
    };
    let offer = s.boot_next_offer();
    let on_set_boot = {
        let (e, t, offer, st, slots) = (
            p.engine.clone(),
            s.table().cloned(),
            offer.clone(),
            *boot_state,
            s.slots.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            if let (Some(t), Some(o)) = (t.clone(), offer.clone()) {
                e.set_boot(t, o.name(), st, slots.clone());
            }
        })
    };

    // Keyboard focus follows the work: Cancel while writing, then "Boot … next" (or Flash).
    let (cancel_ref, boot_ref, flash_ref, target_ref) = (
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
    );
    {
        let refs = [boot_ref.clone(), flash_ref.clone(), target_ref.clone()];
        let cancel = cancel_ref.clone();
        let before = use_mut_ref(|| None::<JobKind>);
        use_effect_with(s.job_kind(), move |kind| {
            // The first of these that is there and enabled.
            let focus = |r: &NodeRef| {
                r.cast::<HtmlElement>()
                    .filter(|el| !el.has_attribute("disabled"))
                    .map(|el| el.focus().is_ok())
                    .unwrap_or(false)
            };
            let was = *before.borrow();
            match kind {
                Some(JobKind::Flash) => {
                    focus(&cancel);
                }
                None if matches!(was, Some(JobKind::Flash) | Some(JobKind::Otadata)) => {
                    let _ = refs.iter().any(focus);
                }
                _ => {}
            }
            *before.borrow_mut() = *kind;
        });
    }

    let problems = s.image_problems();
    let image_len = s.image.as_ref().map(|i| i.bytes.len() as u64);
    html! {
        <div class={classes!("flash", (*dragging).then_some("dragging"))} data-testid="flash-panel"
             ondragover={on_drag_over} ondragleave={on_drag_leave} ondrop={on_drop}>
            <h2>{"Flash a slot"}</h2>
            <p>{"Pick or drop an app image (.bin), or an ESP Web Tools manifest.json together with its .bin files. "}
                <label class={classes!("button", locked.then_some("disabled"))}>{"Choose files"}
                    <input type="file" multiple=true accept=".bin,.json,application/octet-stream,application/json"
                        data-testid="image-file" onchange={on_file} disabled={locked} />
                </label>
            </p>
            <div class="row">
                <label>{"or a manifest URL on this site "}
                    <input type="text" size="30" placeholder="firmware/manifest.json" value={(*manifest_url).clone()} onchange={on_manifest_url} data-testid="manifest-url" disabled={locked} />
                </label>
                <button onclick={on_manifest} disabled={manifest_url.is_empty() || locked} data-testid="manifest-load">{"Load"}</button>
            </div>
            if let Some(img) = &s.image {
                <div class="picked" data-testid="picked">
                    <p><strong data-testid="picked-name">{ &img.name }</strong>{ format!(" · {} bytes", img.bytes.len()) }</p>
                    if let Ok(i) = &img.image { { image_view(i) } }
                    if !problems.is_empty() {
                        <ul class="warnings" data-testid="image-problems">
                            { for problems.iter().map(|m| html!{ <li>{ format!("Not flashable: {}", m.message()) }
                                { match m { Problem::Image(ip) => ip.hint().map(|h| html!{ <span class="hint">{ format!(" — {h}") }</span> }).unwrap_or_default(), _ => html!{} } }
                            </li> }) }
                        </ul>
                    }
                </div>
            }
            if let Some(n) = s.flash_notice().filter(|_| s.image.is_some()) {
                <p class="notice" data-testid="flash-notice">{ n }</p>
            }
            if s.connected() && s.table().is_some() {
                <div class="row">
                    <label>{"Into slot "}
                        <select data-testid="target-slot" ref={target_ref} onchange={on_target} disabled={s.busy()}>
                            { for s.app_slots().iter().map(|sl| {
                                let n = sl.name();
                                let note = if Some(&n) == s.booted().as_ref() { " (boots next)" } else { "" };
                                html!{ <option value={n.clone()} selected={Some(&n) == s.target.as_ref()}>{ format!("{n} · 0x{:x} · {}{note}", sl.offset, human_size(sl.size as u64)) }</option> }
                            }) }
                        </select>
                    </label>
                    <button class="primary" data-testid="flash" ref={flash_ref} onclick={on_flash} disabled={!s.can_flash()}>{"Flash"}</button>
                    if s.busy() && matches!(s.job_kind(), Some(JobKind::Flash)) {
                        <button data-testid="cancel" ref={cancel_ref} onclick={on_cancel}>{"Cancel"}</button>
                    }
                </div>
            } else if s.connected() {
                <p class="hint" data-testid="flash-needs-table">{
                    match s.table_problem() {
                        Some(e) => format!("Flashing a slot needs the partition table: {}. See Layout above.", e.message()),
                        None => "Reading the partition table…".to_string(),
                    }
                }</p>
            } else {
                <p class="hint">{"Connect a board to flash: the file is checked against its chip and slots first."}</p>
            }
            if let Job::Busy { what, progress: pr, kind } = &s.job {
                if !matches!(kind, JobKind::Console) {
                    <div class="job" data-testid="job">
                        { match s.progress() {
                            Some(p) => html!{ <progress data-testid="progress" max={p.total.max(1).to_string()} value={p.done.to_string()} /> },
                            None => html!{ <progress data-testid="progress" /> },
                        } }
                        <span data-testid="progress-text">{ match s.progress() {
                            Some(p) => progress_text(p, image_len.filter(|_| *kind == JobKind::Flash)),
                            None => format!("{what}{}", pr.map(|p| format!(" ({})", p.phase.name())).unwrap_or_default()),
                        } }</span>
                    </div>
                }
            }
            if let Some(slot) = &offer {
                <div class="row boot-next">
                    <button class="primary" data-testid="set-boot" ref={boot_ref} onclick={on_set_boot}>{ format!("Boot {} next", slot.name()) }</button>
                    <label>{" as "}
                        <select onchange={on_state} data-testid="set-boot-state">
                            { for [OtaState::Undefined, OtaState::New, OtaState::Valid].iter().map(|st| html!{ <option value={st.name()} selected={*st == *boot_state}>{ st.name() }</option> }) }
                        </select>
                    </label>
                    <span class="hint" data-testid="set-boot-what">{
                        match (s.written_to(slot), s.slots.get(slot)) {
                            (Some(w), Some(img)) => format!(" {} holds {} from {}, written and verified (MD5) just now; both otadata sectors are written (the idle one first) and read back.", slot.name(), img.summary(), w.file),
                            (None, Some(img)) => format!(" {} holds {}, read back and checked whole; both otadata sectors are written (the idle one first) and read back.", slot.name(), img.summary()),
                            _ => String::new(),
                        }
                    }</span>
                </div>
            }
        </div>
    }
}
