//! Presentational components: they render decoded formats and own no state.

use crate::formats::bootable::{Coverage, Holds, Loads, Slots};
use crate::formats::image::Image;
use crate::formats::numbers::{approx_size, decimals, human_size};
use crate::formats::otadata::{self, Boot, Otadata};
use crate::formats::partition::{Partition, PartitionTable, TABLE_SECTOR_SIZE};
use yew::prelude::*;

fn hex32(v: u32) -> String {
    format!("0x{v:x}")
}

pub fn warnings(items: &[String]) -> Html {
    if items.is_empty() {
        return html! {};
    }
    html! {
        <ul class="warnings" data-testid="warnings">
            { for items.iter().map(|w| html! { <li>{ w }</li> }) }
        </ul>
    }
}

/// The table with its MD5 state, a map of the flash, and its warnings; `booted` is marked.
pub fn partition_table(
    t: &PartitionTable,
    warnings_: &[String],
    booted: Option<&str>,
    flash_size: Option<u32>,
) -> Html {
    html! {
        <div class="ptable">
            <p class="meta">
                { format!("{} partitions · MD5 ", t.entries.len()) }
                <span class={classes!("md5", t.md5.as_str())} data-testid="table-md5">{ t.md5.as_str() }</span>
            </p>
            { flash_map(t, flash_size, booted) }
            <div class="scroll-x">
            <table>
                <thead><tr>
                    <th>{"label"}</th><th>{"type"}</th><th>{"subtype"}</th>
                    <th class="num">{"offset"}</th><th class="num">{"size"}</th><th>{"flags"}</th>
                </tr></thead>
                <tbody>
                { for t.entries.iter().map(|e| {
                    let name = e.name();
                    let boots = booted == Some(name.as_str());
                    let mut flags = vec![];
                    if e.encrypted() { flags.push("encrypted"); }
                    if e.readonly() { flags.push("readonly"); }
                    html! {
                        <tr data-testid="partition-row" data-label={name.clone()} class={classes!(boots.then_some("boots"))}>
                            <td>{ name }{ if boots { html!{ <span class="badge">{"boots next"}</span> } } else { html!{} } }</td>
                            <td>{ e.type_name() }</td>
                            <td>{ e.subtype_words() }</td>
                            <td class="num mono">{ hex32(e.offset) }</td>
                            <td class="num mono" title={hex32(e.size)}>{ human_size(e.size as u64) }</td>
                            <td>{ flags.join(", ") }</td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            </div>
            { warnings(warnings_) }
        </div>
    }
}

/// The flash drawn to scale (SVG: no inline styles, so a strict CSP holds): bootloader area,
/// table, then each partition; the slot that boots next is marked.
pub fn flash_map(table: &PartitionTable, flash_size: Option<u32>, booted: Option<&str>) -> Html {
    const W: f64 = 1000.0;
    let end = table.entries.iter().map(|e| e.end()).max().unwrap_or(0);
    let total = flash_size.map(|f| f as u64).unwrap_or(end).max(end).max(1);
    let x = |n: u64| n as f64 * W / total as f64;
    let mut parts: Vec<(u64, u64, String, &'static str)> =
        vec![(0, 0x8000, "boot".into(), "reserved")];
    parts.push((0x8000, TABLE_SECTOR_SIZE as u64, "table".into(), "reserved"));
    for e in &table.entries {
        let kind = if e.is_app() {
            "app"
        } else if e.is_otadata() {
            "otadata"
        } else {
            "data"
        };
        parts.push((e.offset as u64, e.size as u64, e.name(), kind));
    }
    html! {
        <svg class="flashmap" data-testid="flash-map" viewBox="0 0 1000 40" preserveAspectRatio="none"
             role="img" aria-label={format!("flash map, {}", human_size(total))}>
            { for parts.into_iter().map(|(off, size, name, kind)| {
                let boots = booted == Some(name.as_str());
                let (x0, w) = (x(off), x(size).max(0.5));
                html! {
                    <g class={classes!("seg", kind, boots.then_some("boots"))}>
                        <title>{ format!("{name}: 0x{off:x}, {}", human_size(size)) }</title>
                        <rect x={decimals(x0, 2)} y="0" width={decimals(w, 2)} height="40" />
                        { if w > 40.0 { html!{ <text x={decimals(x0 + w / 2.0, 2)} y="25">{ name }</text> } } else { html!{} } }
                    </g>
                }
            }) }
        </svg>
    }
}

/// Both sectors, which slot otadata selects, and which app will really boot (with the reason
/// when they differ, and a note when it rests on an image not read whole).
/// `boot`: the prediction when a table is known (Err: why none); `prefix` goes before the test
/// ids (a preview must not look like the device's own sectors).
pub fn otadata_view(
    otadata: &Otadata,
    boot: Option<Result<&Boot, &str>>,
    table: Option<&PartitionTable>,
    prefix: &str,
) -> Html {
    let id = |s: &str| format!("{prefix}{s}");
    let (seen, active) = match &boot {
        Some(Ok(b)) => (b.seen, b.active),
        _ => (otadata.entries(), otadata.active()),
    };
    html! {
        <div class="otadata">
            <div class="sectors">
            { for seen.iter().enumerate().map(|(i, e)| {
                let state = otadata::state_name(e.state);
                html! {
                    <div data-testid={id("otadata-sector")} data-seq={e.seq.to_string()} data-state={state}
                         class={classes!("sector", (active == Some(i)).then_some("active"), (!e.valid()).then_some("invalid"))}>
                        <h4>{ format!("sector {i}") }{ if active == Some(i) { html!{ <span class="badge">{"active"}</span> } } else { html!{} } }</h4>
                        <dl>
                            <dt>{"seq"}</dt><dd class="mono">{ if e.seq == otadata::SEQ_ERASED { "erased".to_string() } else { e.seq.to_string() } }</dd>
                            <dt>{"state"}</dt><dd>{ state }{ otadata::OtaState::from_raw(e.state).map(|st| html!{ <span class="hint">{ format!(" — {}", st.meaning()) }</span> }).unwrap_or_default() }</dd>
                            <dt>{"CRC"}</dt><dd class="mono">{ format!("0x{:08x} ", e.crc) }{ if e.crc_ok() { "ok" } else { "bad" } }</dd>
                            <dt>{"valid"}</dt><dd>{ if e.valid() { "yes" } else { "no" } }</dd>
                        </dl>
                    </div>
                }
            }) }
            </div>
            {
                match (boot, table) {
                    (Some(Ok(b)), Some(t)) => boot_lines(b, t, &id),
                    (Some(Err(e)), _) => html! { <p class="boot error">{ e }</p> },
                    _ => html! { <p class="hint">{"Open the partition table (or a flash dump) too, to see which slot boots."}</p> },
                }
            }
        </div>
    }
}

fn boot_lines(b: &Boot, t: &PartitionTable, id: &dyn Fn(&str) -> String) -> Html {
    let selected = b.selected_partition(t).map(|p| p.name());
    let why = b.fallback_reason(t);
    html! {
        <>
        <p class="selects">{"otadata selects: "}
            <span data-testid={id("selected-slot")}>{ selected.clone().unwrap_or_else(|| "no partition".into()) }</span>
        </p>
        {
            match b.booted_partition(t) {
                Some(p) => html! {
                    <p class="boot">{"Boots next: "}<strong data-testid={id("boot-slot")}>{ p.name() }</strong>
                        { format!(" at 0x{:x}", p.offset) }
                        if let Some(w) = why.clone() { <span class="why" data-testid={id("boot-why")}>{ format!(" — {w}") }</span> }
                        if b.unverified { <span class="note" data-testid={id("boot-unverified")}>{ format!(" — if its image is intact: {} was not read whole", p.name()) }</span> }
                        if !b.writes.is_empty() { <span class="note">{" (the bootloader rewrites otadata while booting)"}</span> }
                    </p>
                },
                None => html! {
                    <p class="boot error" data-testid={id("boot-slot")}>{"Nothing bootable"}
                        if let Some(w) = why { <span class="why" data-testid={id("boot-why")}>{ format!(" — {w}") }</span> }
                    </p>
                },
            }
        }
        </>
    }
}

pub fn image_view(i: &Image) -> Html {
    let chip = i.chip().map_or_else(
        || format!("unknown chip (id {})", i.header.chip_id),
        |c| c.pretty.to_string(),
    );
    let ok = |b: bool| if b { "ok" } else { "MISMATCH" };
    html! {
        <div class="image">
            <dl>
                { match &i.app {
                    Some(a) => html! { <>
                        <dt>{"project"}</dt><dd data-testid="image-project">{ &a.project_name }</dd>
                        <dt>{"version"}</dt><dd>{ &a.version }</dd>
                        <dt>{"ESP-IDF"}</dt><dd>{ &a.idf_ver }</dd>
                        <dt>{"built"}</dt><dd>{ format!("{} {}", a.date, a.time) }</dd>
                    </> },
                    None if i.is_app() => html! { <><dt>{"app"}</dt><dd data-testid="image-kind">{"no ESP-IDF app description (e.g. an older Arduino build)"}</dd></> },
                    None => html! { <><dt>{"kind"}</dt><dd data-testid="image-kind">{"RAM-only image: a second-stage bootloader, not an app"}</dd></> },
                } }
                <dt>{"chip"}</dt><dd data-testid="image-chip">{ chip }</dd>
                <dt>{"chip revision"}</dt><dd>{ rev_range(i.header.min_rev_full, i.header.max_rev_full) }</dd>
                <dt>{"size"}</dt><dd>{ format!("{} bytes ({})", i.len, approx_size(i.len as u64)) }</dd>
                <dt>{"flash"}</dt><dd>{ format!("{} {} {}", i.flash_mode_name(), i.flash_freq_name().unwrap_or("?"), i.flash_size_name().unwrap_or("?")) }</dd>
                <dt>{"segments"}</dt><dd>{ i.segments.len() }</dd>
                <dt>{"checksum"}</dt><dd data-testid="image-checksum">{ ok(i.checksum_ok()) }</dd>
                <dt>{"SHA-256"}</dt><dd>{ i.sha256_ok().map_or("not appended", ok) }</dd>
            </dl>
        </div>
    }
}

fn rev_range(min: u16, max: u16) -> String {
    let v = |r: u16| format!("v{}.{}", r / 100, r % 100);
    match max {
        0 | 0xFFFF => format!("{} or newer", v(min)),
        m => format!("{} to {}", v(min), v(m)),
    }
}

/// What each app slot holds and whether the bootloader loads it.
/// `boot` marks the slot otadata selects and the one that boots; `on_verify` (on a device, not
/// busy) reads a slot whole.
pub fn slots_view(
    t: &PartitionTable,
    slots: &Slots,
    boot: Option<&Boot>,
    on_verify: Option<Callback<Partition>>,
) -> Html {
    let index_of = |x: &Partition| t.entries.iter().position(|e| e == x);
    html! {
        <div class="scroll-x">
        <table class="slots">
            <thead><tr><th>{"slot"}</th><th>{"holds"}</th><th>{"loads?"}</th><th></th></tr></thead>
            <tbody>
            { for t.entries.iter().filter(|e| e.is_app()).map(|e| {
                let s = slots.get(e);
                let i = index_of(e);
                let booted = boot.is_some_and(|b| b.booted == i);
                let selected = boot.is_some_and(|b| b.selected_partition == i && b.booted != i);
                let (holds, verdict, loads) = match s {
                    None => ("not read".to_string(), "not known".to_string(), "unknown"),
                    Some(s) => (
                        s.summary(),
                        match s.loads() {
                            Loads::Yes => "yes — whole image checked".to_string(),
                            Loads::No(_) if s.holds() == Holds::Empty => "no — nothing there".to_string(),
                            Loads::No(why) => format!("no — {}", why.message()),
                            Loads::Unknown => "headers look right; not verified".to_string(),
                        },
                        match s.loads() { Loads::Yes => "yes", Loads::No(_) => "no", Loads::Unknown => "unknown" },
                    ),
                };
                let holds_kind = s.map_or("unknown", |s| match s.holds() {
                    Holds::Empty => "empty", Holds::App => "app", Holds::NotAnApp => "not-an-app", Holds::Damaged => "damaged",
                });
                let verify = on_verify.clone().filter(|_| s.is_none_or(|s| s.coverage == Coverage::Headers && s.loads() == Loads::Unknown)).map(|cb| {
                    let part = e.clone();
                    html! { <button data-testid="verify-slot" data-label={e.name()} onclick={Callback::from(move |_| cb.emit(part.clone()))}>{"Verify"}</button> }
                });
                html! {
                    <tr data-testid="slot-row" data-label={e.name()} data-holds={holds_kind} data-loads={loads}
                        class={classes!(booted.then_some("boots"))}>
                        <td>{ e.name() }
                            if booted { <span class="badge">{"boots next"}</span> }
                            if selected { <span class="badge warn">{"selected, skipped"}</span> }
                        </td>
                        <td>{ holds }</td>
                        <td>{ verdict }</td>
                        <td>{ for verify }</td>
                    </tr>
                }
            }) }
            </tbody>
        </table>
        </div>
    }
}
