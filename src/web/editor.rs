//! The otadata editor: choose the boot slot and state, mark the running entry valid or
//! invalid, erase, or undo. Every change is previewed (both sectors, the slot otadata selects
//! and the app that will really boot, as far as the slots are known) before it is applied:
//! written to the device, or downloaded when offline. On a device, a previewed slot whose
//! image was not read whole is checked first; one that would not load needs a confirmation.

use super::views::otadata_view;
use crate::formats::bootable::{Loads, SlotLoads};
use crate::formats::otadata::{self, OtaState, Otadata};
use crate::formats::partition::{Partition, PartitionTable};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    pub table: PartitionTable,
    pub current: Otadata,
    /// What was read at connect (or opened): "undo" returns to it.
    #[prop_or_default]
    pub original: Option<Otadata>,
    pub rollback: bool,
    /// Whether each app slot loads, as far as known (a dump's, or the device's).
    #[prop_or_default]
    pub slots: SlotLoads,
    /// On a device: read a slot's whole image to check it.
    #[prop_or_default]
    pub on_check: Option<Callback<Partition>>,
    /// Apply a previewed otadata image; the flag: the technician confirmed a selected app that
    /// does not load.
    pub on_apply: Callback<(Otadata, bool)>,
    /// "Write to the device" or "Download".
    pub apply_label: AttrValue,
    #[prop_or_default]
    pub disabled: bool,
}

#[component]
pub fn OtadataEditor(p: &EditorProps) -> Html {
    let slot = use_state(|| None::<String>);
    let state = use_state(|| OtaState::Undefined);
    let draft = use_state(|| None::<Result<Otadata, String>>);
    let confirmed = use_state(|| false);
    let asked = use_mut_ref(|| None::<(Otadata, u32)>);

    let slots: Vec<String> = p
        .table
        .entries
        .iter()
        .filter(|e| e.ota_index().is_some() || e.is_factory())
        .map(|e| e.name())
        .collect();
    let chosen = (*slot).clone().or_else(|| slots.first().cloned());

    let propose = |f: Box<dyn Fn() -> Result<Otadata, String>>| {
        let (draft, confirmed) = (draft.clone(), confirmed.clone());
        Callback::from(move |_: MouseEvent| {
            confirmed.set(false);
            draft.set(Some(f()));
        })
    };
    let (t, cur, known) = (p.table.clone(), p.current.clone(), p.slots.clone());
    let on_set_boot = {
        let (t, cur, chosen, st) = (t.clone(), cur.clone(), chosen.clone(), *state);
        propose(Box::new(move || {
            let label = chosen.clone().ok_or("no OTA slot in this table")?;
            otadata::set_boot(&t, &cur, &label, st).map_err(|e| e.to_string())
        }))
    };
    let on_valid = {
        let cur = cur.clone();
        propose(Box::new(move || {
            otadata::mark_running_valid(&cur).map_err(|e| e.to_string())
        }))
    };
    let on_invalid = {
        let (t, cur, known) = (t.clone(), cur.clone(), known.clone());
        propose(Box::new(move || {
            otadata::mark_running_invalid(&t, &cur, &|p| known.loads(p)).map_err(|e| e.to_string())
        }))
    };
    let on_erase = propose(Box::new(|| Ok(otadata::erase())));
    let on_undo = {
        let orig = p.original.clone();
        propose(Box::new(move || {
            orig.clone()
                .ok_or_else(|| "nothing to go back to".to_string())
        }))
    };
    let on_slot = {
        let slot = slot.clone();
        Callback::from(move |e: Event| {
            let s: HtmlSelectElement = e.target_unchecked_into();
            slot.set(Some(s.value()));
        })
    };
    let on_state = {
        let state = state.clone();
        Callback::from(move |e: Event| {
            let s: HtmlSelectElement = e.target_unchecked_into();
            state.set(OtaState::parse(&s.value()).unwrap_or(OtaState::Undefined));
        })
    };

    // What the previewed otadata selects, and whether it loads as far as known.
    let preview = match &*draft {
        Some(Ok(o)) => {
            let boot = otadata::predict_boot(&p.table, o, p.rollback, &|x| p.slots.loads(x));
            let selected = boot.selected_partition(&p.table).cloned();
            let loads = selected.as_ref().map(|s| p.slots.loads(s));
            Some((o.clone(), boot, selected, loads))
        }
        _ => None,
    };
    use_check_the_selected_slot(p, &preview, asked.clone());
    let wont_load = matches!(preview, Some((_, _, _, Some(Loads::No(_)))));
    let checking = p.on_check.is_some() && matches!(preview, Some((_, _, _, Some(Loads::Unknown))));
    let apply = {
        let (draft, on_apply, confirmed) = (draft.clone(), p.on_apply.clone(), confirmed.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(Ok(o)) = &*draft {
                on_apply.emit((o.clone(), *confirmed));
                draft.set(None);
                confirmed.set(false);
            }
        })
    };
    let cancel = {
        let draft = draft.clone();
        Callback::from(move |_: MouseEvent| draft.set(None))
    };
    let on_confirm = {
        let confirmed = confirmed.clone();
        Callback::from(move |e: Event| {
            confirmed.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let dis = p.disabled;
    html! {
        <div class="editor" data-testid="otadata-editor">
            <div class="row">
                <label>{"Boot slot "}
                    <select data-testid="editor-slot" onchange={on_slot} disabled={dis}>
                        { for slots.iter().map(|s| html!{ <option value={s.clone()} selected={Some(s) == chosen.as_ref()}>{ s }</option> }) }
                    </select>
                </label>
                <label>{" state "}
                    <select data-testid="editor-state" onchange={on_state} disabled={dis}>
                        { for OtaState::ALL.iter().map(|s| html!{ <option value={s.name()} selected={*s == *state}>{ s.name() }</option> }) }
                    </select>
                </label>
                <button data-testid="editor-set-boot" onclick={on_set_boot} disabled={dis}>{"Preview"}</button>
            </div>
            <div class="row">
                <button data-testid="editor-mark-valid" onclick={on_valid} disabled={dis}>{"Mark running valid"}</button>
                <button data-testid="editor-mark-invalid" onclick={on_invalid} disabled={dis}>{"Mark running invalid (roll back)"}</button>
                <button data-testid="editor-erase" onclick={on_erase} disabled={dis}>{"Erase (factory / ota_0)"}</button>
                <button data-testid="editor-undo" onclick={on_undo} disabled={dis || p.original.is_none()}>{"Undo to what was read"}</button>
            </div>
            {
                match (&*draft, preview) {
                    (None, _) => html! {},
                    (Some(Err(e)), _) => html! { <p class="error" data-testid="editor-error">{ e.clone() }</p> },
                    (Some(Ok(_)), Some(pre)) => preview_view(p, pre, checking, wont_load, *confirmed, on_confirm, apply, cancel),
                    (Some(Ok(_)), None) => html! {},
                }
            }
        </div>
    }
}

/// What the previewed otadata selects: the sectors, the boot it predicts, the selected slot and
/// whether it loads as far as known.
type Preview = (
    Otadata,
    crate::formats::otadata::Boot,
    Option<crate::formats::partition::Partition>,
    Option<Loads>,
);

/// On a device, an unknown selected slot is read whole once, as soon as it is previewed.
#[hook]
fn use_check_the_selected_slot(
    p: &EditorProps,
    preview: &Option<Preview>,
    asked: std::rc::Rc<std::cell::RefCell<Option<(Otadata, u32)>>>,
) {
    {
        let on_check = p.on_check.clone();
        let want = preview.as_ref().and_then(|(o, _, sel, loads)| {
            (loads == &Some(Loads::Unknown))
                .then(|| (o.clone(), sel.clone()))
                .and_then(|(o, s)| Some((o, s?)))
        });
        let disabled = p.disabled;
        use_effect_with((want, disabled), move |(want, disabled)| {
            if let (Some((o, part)), Some(cb), false) = (want, on_check, *disabled) {
                let key = (o.clone(), part.offset);
                if asked.borrow().as_ref() != Some(&key) {
                    *asked.borrow_mut() = Some(key);
                    cb.emit(part.clone());
                }
            }
        });
    }
}

/// The otadata after the change, what it boots, and Apply (held back while the selected slot
/// is being checked, and when it would not load unless the technician says so).
#[allow(clippy::too_many_arguments)]
fn preview_view(
    p: &EditorProps,
    (o, boot, selected, loads): Preview,
    checking: bool,
    wont_load: bool,
    confirmed: bool,
    on_confirm: Callback<Event>,
    apply: Callback<MouseEvent>,
    cancel: Callback<MouseEvent>,
) -> Html {
    let sel_name = selected.as_ref().map(|s| s.name()).unwrap_or_default();
    html! {
        <div class="preview" data-testid="editor-preview">
            <h4>{"After the change"}</h4>
            { otadata_view(&o, Some(Ok(&boot)), Some(&p.table), "preview-") }
            if checking {
                <p class="hint" data-testid="editor-checking">{ format!("Reading {sel_name}'s whole image to check that it loads…") }</p>
            }
            if let Some(Loads::No(why)) = &loads {
                <div class="warnings" data-testid="editor-wont-load">
                    <p>{ format!("{sel_name} would not load: it is {}. The bootloader would skip it{}.", why.message(),
                        boot.booted_partition(&p.table).map(|b| format!(" and start {}", b.name())).unwrap_or_else(|| " and find nothing to start".into())) }</p>
                    <label><input type="checkbox" data-testid="editor-confirm" checked={confirmed} onchange={on_confirm} />{" Write it anyway"}</label>
                </div>
            }
            <button class="primary" data-testid="editor-apply" onclick={apply}
                disabled={p.disabled || checking || (wont_load && !confirmed)}>{ p.apply_label.clone() }</button>
            <button onclick={cancel}>{"Cancel"}</button>
        </div>
    }
}

/// The module the page loads when the editor is opened on a device (`otadata/`): the editor on
/// `root`, fed by `bridge` — `props()`, `subscribe(f)`, `check(offset)`, `apply(bytes,
/// confirmed)` (see the page's `editor_shell`).
pub fn mount(root: web_sys::Element, bridge: wasm_bindgen::JsValue) {
    use js_sys::{Array, Reflect, Uint8Array};
    use wasm_bindgen::prelude::*;
    let get = |k: &str| super::lazy::bridge_fn(&bridge, k);
    let (Some(props), Some(subscribe), Some(check), Some(apply)) =
        (get("props"), get("subscribe"), get("check"), get("apply"))
    else {
        return;
    };
    let on_check = Callback::from(move |p: Partition| {
        let _ = check.call1(&JsValue::NULL, &p.offset.into());
    });
    let on_apply = Callback::from(move |(o, force): (Otadata, bool)| {
        let _ = apply.call2(
            &JsValue::NULL,
            &Uint8Array::from(o.as_bytes()),
            &force.into(),
        );
    });
    let read = move |js: &JsValue| -> Option<EditorProps> {
        let at = |k: &str| Reflect::get(js, &k.into()).ok();
        let bytes = |k: &str| {
            at(k)
                .filter(|v| v.is_object())
                .map(|v| Uint8Array::new(&v).to_vec())
        };
        let rows: Vec<Vec<String>> = at("slots")
            .map(|v| Array::from(&v))
            .map(|a| {
                a.iter()
                    .map(|r| {
                        Array::from(&r)
                            .iter()
                            .filter_map(|w| w.as_string())
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(EditorProps {
            table: PartitionTable::parse(&bytes("table")?).ok()?,
            current: Otadata::parse(&bytes("current")?).ok()?,
            original: bytes("original").and_then(|b| Otadata::parse(&b).ok()),
            rollback: at("rollback")?.as_bool()?,
            slots: SlotLoads::from_words(&rows),
            on_check: Some(on_check.clone()),
            on_apply: on_apply.clone(),
            apply_label: "Write to the device".into(),
            disabled: at("disabled")?.as_bool()?,
        })
    };
    let Some(first) = read(&props.call0(&JsValue::NULL).unwrap_or_default()) else {
        return;
    };
    let app = std::rc::Rc::new(std::cell::RefCell::new(
        yew::Renderer::<OtadataEditor>::with_root_and_props(root, first).render(),
    ));
    let follow = Closure::<dyn Fn(JsValue)>::new(move |js: JsValue| {
        if let Some(p) = read(&js) {
            app.borrow_mut().update(p);
        }
    });
    let _ = subscribe.call1(&JsValue::NULL, follow.as_ref());
    follow.forget();
}
