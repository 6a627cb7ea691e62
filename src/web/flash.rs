//! The flash panel: pick or drop an image (or an ESP Web Tools manifest with its files, or a
//! manifest URL on this site), see what it is and what would stop it, write it into a slot
//! with one progress bar, then boot it next.

use super::job::JobBar;
use super::panels::PanelProps;
use super::views::image_view;
use crate::formats::numbers::human_size;
use crate::formats::otadata::OtaState;
use crate::loader::Refusal;
use crate::page::{Action, JobKind};
use web_sys::{HtmlElement, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The jobs whose progress shows in this panel (the rest show in their own panels).
const FLASH_PANEL_JOBS: [JobKind; 5] = [
    JobKind::Connect,
    JobKind::ReadLayout,
    JobKind::Flash,
    JobKind::Verify,
    JobKind::Otadata,
];

/// A rollback state in words, for "Boot app1 next …".
fn boot_state_words(st: OtaState) -> &'static str {
    match st {
        OtaState::New => "as new: rolls back unless the app confirms itself",
        OtaState::Valid => "as valid: no rollback",
        _ => "with no rollback state (as without rollback)",
    }
}

#[component]
pub fn FlashPanel(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let d = p.state.dispatcher();
    let boot_state = use_state(|| OtaState::Undefined);
    let dragging = use_state(|| false);
    let chip = s.board.as_ref().map(|b| b.chip.pretty);
    let write_only = use_state(|| false);
    use_offer_the_firmware_app(s, d.clone());
    let pick = picker(d.clone(), p.engine.clone(), chip);
    let locked = s.writing();
    let on_file = {
        let pick = picker(d.clone(), p.engine.clone(), chip);
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(l) = input.files() {
                pick(l);
            }
            input.set_value("");
        })
    };
    let (on_drop, on_drag_over, on_drag_leave) = super::files_app::drop_zone(&dragging, move |l| {
        if !locked {
            pick(l)
        }
    });
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
        // As esp_ota_set_boot_partition does: "new" when the app must confirm itself.
        let boot_next = (!*write_only).then_some(if s.rollback {
            OtaState::New
        } else {
            OtaState::Undefined
        });
        Callback::from(move |_: MouseEvent| {
            if let (Some(t), Some(target), Some(img)) = (t.clone(), target.clone(), img.clone()) {
                e.flash(
                    t,
                    target,
                    img.bytes.clone(),
                    img.name.clone(),
                    slots.clone(),
                    boot_next,
                );
            }
        })
    };
    let on_write_only = {
        let w = write_only.clone();
        Callback::from(move |e: Event| {
            w.set(e.target_unchecked_into::<HtmlInputElement>().checked())
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

    let [cancel_ref, boot_ref, flash_ref, target_ref] = use_focus_follows_the_work(s.job_kind());

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
            { picked_view(s) }
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
                    <button class="primary" data-testid="flash" ref={flash_ref} onclick={on_flash} disabled={!s.can_flash()}>{ if *write_only { "Write only" } else { "Flash and boot it next" } }</button>
                    <label class="option"><input type="checkbox" checked={*write_only} onchange={on_write_only} data-testid="flash-write-only" disabled={s.busy()} />{" write only (what boots now keeps booting)"}</label>
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
            <JobBar state={p.state.clone()} kinds={FLASH_PANEL_JOBS.to_vec()} />
            if let Some(slot) = &offer {
                { boot_next_row(s, slot, on_set_boot, on_state, *boot_state, boot_ref) }
            }
        </div>
    }
}

/// What to try about a refusal: the bootloader's own hint for each image problem, then the
/// refusal's.
fn refusal_hints(r: &Refusal) -> Vec<&'static str> {
    let mut out = vec![];
    if let Refusal::Image(ps) = r {
        out.extend(ps.iter().filter_map(|p| p.hint()));
    }
    out.extend(r.hints().into_iter().map(|h| h.text()));
    out
}

/// Reads picked or dropped files: a manifest among them is the firmware for every panel, one
/// file is the image to flash.
fn picker(
    d: UseReducerDispatcher<super::panels::Store>,
    engine: super::engine::Engine,
    chip: Option<&'static str>,
) -> impl Fn(web_sys::FileList) + Clone + 'static {
    move |list: web_sys::FileList| {
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        if files.is_empty() {
            return;
        }
        let (d, engine) = (d.clone(), engine.clone());
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
                .any(|(n, _)| crate::formats::manifest::is_manifest_name(n));
            if json {
                // A manifest is the firmware for every panel (Update above).
                engine.load_firmware_files(read, chip);
            } else if read.len() == 1 {
                let (n, b) = read.remove(0);
                d.dispatch(Action::ImagePicked(n, b));
            } else {
                d.dispatch(Action::ImageFailed(format!(
                    "{} files picked and no manifest.json among them: pick one app image (or a manifest together with its .bin files)",
                    read.len()
                )));
            }
        });
    }
}

/// Keyboard focus follows the work: Cancel while writing, then "Boot … next" (or Flash, or the
/// slot choice) when the write or the switch ends. Refs for: cancel, boot next, flash, slot.
#[hook]
fn use_focus_follows_the_work(kind: Option<JobKind>) -> [NodeRef; 4] {
    let refs = [
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
    ];
    let before = use_mut_ref(|| None::<JobKind>);
    {
        let refs = refs.clone();
        use_effect_with(kind, move |kind| {
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
                    focus(&refs[0]);
                }
                None if matches!(was, Some(JobKind::Flash) | Some(JobKind::Otadata)) => {
                    let _ = refs[1..].iter().any(focus);
                }
                _ => {}
            }
            *before.borrow_mut() = *kind;
        });
    }
    refs
}

/// The picked image: what it is, and everything that stops it going into the target slot.
fn picked_view(s: &crate::page::PageState) -> Html {
    let Some(img) = &s.image else {
        return html! {};
    };
    let problems = s.image_problems();
    html! {
        <div class="picked" data-testid="picked">
            <p><strong data-testid="picked-name">{ &img.name }</strong>{ format!(" · {} bytes", img.bytes.len()) }</p>
            if let Ok(i) = &img.image { { image_view(i) } }
            if !problems.is_empty() {
                <ul class="warnings" data-testid="image-problems">
                    { for problems.iter().map(|m| html!{ <li>{ format!("Not flashable: {}", m.message()) }
                        { for refusal_hints(m).into_iter().map(|h| html!{ <span class="hint">{ format!(" — {h}") }</span> }) }
                    </li> }) }
                </ul>
            }
        </div>
    }
}

/// "Boot SLOT next" with its rollback state, and what the slot holds.
fn boot_next_row(
    s: &crate::page::PageState,
    slot: &crate::formats::partition::Partition,
    on_set_boot: Callback<MouseEvent>,
    on_state: Callback<Event>,
    boot_state: OtaState,
    boot_ref: NodeRef,
) -> Html {
    html! {
                <div class="row boot-next">
                    <button class="primary" data-testid="set-boot" ref={boot_ref} onclick={on_set_boot}>{ format!("Boot {} next", slot.name()) }</button>
                    <select onchange={on_state} data-testid="set-boot-state" aria-label="rollback state">
                        { for [OtaState::Undefined, OtaState::New, OtaState::Valid].iter().map(|st| html!{ <option value={st.name()} selected={*st == boot_state}>{ boot_state_words(*st) }</option> }) }
                    </select>
                    <span class="hint" data-testid="set-boot-what">{
                        match (s.written_to(slot), s.slots.get(slot)) {
                            (Some(w), Some(img)) => format!(" {} holds {} from {}, written and verified (MD5) just now. Booting it next writes both otadata sectors (the idle one first) and reads them back.", slot.name(), img.summary(), w.file),
                            (None, Some(img)) => format!(" {} holds {}, read back and checked whole. Booting it next writes both otadata sectors (the idle one first) and reads them back.", slot.name(), img.summary()),
                            _ => String::new(),
                        }
                    }</span>
                </div>
    }
}

/// The firmware loaded for every panel (Update above): its app is offered as the image to
/// flash.
#[hook]
fn use_offer_the_firmware_app(
    s: &crate::page::PageState,
    d: UseReducerDispatcher<super::panels::Store>,
) {
    let app = s
        .firmware
        .as_ref()
        .and_then(|f| f.build.as_ref())
        .and_then(|b| {
            b.app(s.table())
                .map(|p| (p.name.clone(), p.bytes.as_ref().clone()))
        });
    use_effect_with(app, move |app| {
        if let Some((name, bytes)) = app.clone() {
            d.dispatch(Action::ImageOffered(name, bytes));
        }
    });
}
