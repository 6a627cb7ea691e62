//! Back up or erase (in the module loaded with Install or recover): a partition, otadata or
//! the whole flash downloaded (named by chip, MAC and date); the whole flash, a partition or a
//! range erased after a yes that says what is lost. The page's shell runs the jobs.

use super::install::{call, InstallProps};
use crate::formats::numbers::{human_size, parse_u32};
use crate::formats::partition::PartitionTable;
use wasm_bindgen::JsValue;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// What to erase.
#[derive(Debug, Clone, PartialEq)]
enum EraseWhat {
    All,
    Partition(PartitionTable, String),
    Range(u32, u32),
}

/// Back up a partition or the whole flash; erase the whole flash, a partition or a range, after
/// saying what is lost and a yes.
#[component]
pub fn BackupPanel(p: &InstallProps) -> Html {
    let s = &*p.view;
    let choice = use_state(|| "otadata".to_string());
    let erase_choice = use_state(|| "*flash".to_string());
    let range = use_state(|| (String::new(), String::new()));
    let erase_ok = use_state(|| false);
    let Some(board) = s.board.as_ref().filter(|_| s.connected) else {
        return html! {};
    };
    let t = s.table.as_ref();
    let entries: Vec<crate::formats::partition::Partition> =
        t.map(|t| t.entries.clone()).unwrap_or_default();
    let flash_size = board.flash_size;
    let pick = |h: &UseStateHandle<String>| {
        let (h, ok) = (h.clone(), erase_ok.clone());
        Callback::from(move |e: Event| {
            h.set(e.target_unchecked_into::<HtmlSelectElement>().value());
            ok.set(false);
        })
    };
    let choice_now = if *choice != "*flash" && t.and_then(|t| t.find(&choice)).is_none() {
        "*flash".to_string()
    } else {
        (*choice).clone()
    };
    let region = if choice_now == "*flash" {
        Some(("flash".to_string(), 0, flash_size))
    } else {
        t.and_then(|t| t.find(&choice_now))
            .map(|p| (p.name(), p.offset, p.size))
    };
    let on_save = {
        let bridge = p.bridge.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some((what, o, sz)) = region.clone() {
                call(&bridge, "backup", &[what.into(), o.into(), sz.into()]);
            }
        })
    };
    // What to erase, and what that loses.
    let what = match erase_choice.as_str() {
        "*flash" => Some(EraseWhat::All),
        "*range" => match (parse_u32(&range.0), parse_u32(&range.1)) {
            (Some(o), Some(n)) if n > 0 => Some(EraseWhat::Range(o, n)),
            _ => None,
        },
        label => t.map(|t| EraseWhat::Partition(t.clone(), label.to_string())),
    };
    let span = match &what {
        Some(EraseWhat::All) => Some((0, flash_size as u64)),
        Some(EraseWhat::Range(o, n)) => Some((*o, *n as u64)),
        Some(EraseWhat::Partition(t, l)) => t.find(l).map(|p| (p.offset, p.size as u64)),
        None => None,
    };
    let loses = span.map(|(o, n)| {
        crate::device::erase_losses(t, board.chip.bootloader_offset, s.table_offset, o, n)
    });
    let on_range = |first: bool| {
        let (range, ok) = (range.clone(), erase_ok.clone());
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlInputElement>().value();
            let (a, b) = (*range).clone();
            range.set(if first { (v, b) } else { (a, v) });
            ok.set(false);
        })
    };
    let on_erase_ok = {
        let ok = erase_ok.clone();
        Callback::from(move |e: Event| {
            ok.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let on_erase = {
        let (bridge, what, ok) = (p.bridge.clone(), what.clone(), erase_ok.clone());
        Callback::from(move |_: MouseEvent| {
            // (kind, partition label, offset, size): 0 the whole flash, 1 a partition, 2 a range.
            let args: [JsValue; 4] = match &what {
                Some(EraseWhat::All) => [0.into(), "".into(), 0.into(), 0.into()],
                Some(EraseWhat::Partition(_, l)) => {
                    [1.into(), l.as_str().into(), 0.into(), 0.into()]
                }
                Some(EraseWhat::Range(o, n)) => [2.into(), "".into(), (*o).into(), (*n).into()],
                None => return,
            };
            call(&bridge, "erase", &args);
            ok.set(false);
        })
    };
    let busy = s.busy;
    if board.security.secure_download {
        return html! {
            <div class="backup">
                <h2>{"Back up or erase"}</h2>
                <p class="hint" data-testid="backup-unavailable">{"Secure download mode: the ROM refuses to read flash, and erasing needs the flasher stub, which cannot run — no backup or erase from here."}</p>
            </div>
        };
    }
    html! {
        <div class="backup">
            <h2>{"Back up or erase"}</h2>
            <div class="row">
                <select onchange={pick(&choice)} data-testid="backup-what">
                    { for entries.iter().map(|e| html!{ <option value={e.name()} selected={e.name() == choice_now}>{ format!("{} ({})", e.name(), human_size(e.size as u64)) }</option> }) }
                    <option value="*flash" selected={choice_now == "*flash"}>{ format!("the whole flash ({})", human_size(flash_size as u64)) }</option>
                </select>
                <button onclick={on_save} disabled={busy} data-testid="backup">{"Download"}</button>
            </div>
            <p class="hint">{ format!("Saved as {}-{}-…-DATE-TIME.bin, so boards never overwrite each other's files.", board.chip.name, board.mac.replace(':', "")) }</p>
            if board.security.flash_encrypted() {
                <p class="note" data-testid="backup-ciphertext">{"Flash encryption is on: a backup holds the bytes as stored — ciphertext where the chip encrypts — and restores to this chip only."}</p>
            }
            <div class="row">
                <label>{"Erase "}
                    <select onchange={pick(&erase_choice)} data-testid="erase-what" disabled={busy}>
                        <option value="*flash" selected={*erase_choice == "*flash"}>{ format!("the whole flash ({})", human_size(flash_size as u64)) }</option>
                        { for entries.iter().map(|e| html!{ <option value={e.name()} selected={e.name() == *erase_choice}>{ format!("partition {} (0x{:x}, {})", e.name(), e.offset, human_size(e.size as u64)) }</option> }) }
                        <option value="*range" selected={*erase_choice == "*range"}>{"a range…"}</option>
                    </select>
                </label>
                if *erase_choice == "*range" {
                    <input type="text" size="9" placeholder="0x9000" value={range.0.clone()} onchange={on_range(true)} data-testid="erase-offset" aria-label="offset" disabled={busy} />
                    <input type="text" size="9" placeholder="0x5000" value={range.1.clone()} onchange={on_range(false)} data-testid="erase-size" aria-label="size" disabled={busy} />
                }
            </div>
            if let Some(l) = &loses {
                <div class="warnings" data-testid="erase-loses">
                    <p>{ format!("Erasing loses: {}.", if l.is_empty() { "nothing the partition table names".to_string() } else { l.join(", ") }) }</p>
                    <label><input type="checkbox" checked={*erase_ok} onchange={on_erase_ok} data-testid="erase-confirm" disabled={busy} />{" Yes, erase it"}</label>
                </div>
            }
            <button data-testid="erase" onclick={on_erase} disabled={busy || what.is_none() || !*erase_ok}>{"Erase"}</button>
        </div>
    }
}
