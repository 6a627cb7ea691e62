//! The otadata editor: choose the boot slot and state, mark the running entry valid or
//! invalid, erase, or undo. Every change is previewed (both sectors and the slot the bootloader
//! would boot) before it is applied: written to the device, or downloaded when offline.

use super::views::OtadataView;
use crate::formats::otadata::{self, OtaState, Otadata};
use crate::formats::partition::PartitionTable;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    pub table: PartitionTable,
    pub current: Otadata,
    /// What was read at connect (or opened): "undo" returns to it.
    #[prop_or_default]
    pub original: Option<Otadata>,
    pub rollback: bool,
    /// Apply a previewed otadata image.
    pub on_apply: Callback<Otadata>,
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

    let slots: Vec<String> = p
        .table
        .entries
        .iter()
        .filter(|e| e.ota_index().is_some() || e.is_factory())
        .map(|e| e.name())
        .collect();
    let chosen = (*slot).clone().or_else(|| slots.first().cloned());

    let propose = |f: Box<dyn Fn() -> Result<Otadata, String>>| {
        let draft = draft.clone();
        Callback::from(move |_: MouseEvent| draft.set(Some(f())))
    };
    let (t, cur) = (p.table.clone(), p.current.clone());
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
            otadata::mark_running(&cur, true).map_err(|e| e.to_string())
        }))
    };
    let on_invalid = {
        let cur = cur.clone();
        propose(Box::new(move || {
            otadata::mark_running(&cur, false).map_err(|e| e.to_string())
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
    let apply = {
        let (draft, on_apply) = (draft.clone(), p.on_apply.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(Ok(o)) = &*draft {
                on_apply.emit(o.clone());
                draft.set(None);
            }
        })
    };
    let cancel = {
        let draft = draft.clone();
        Callback::from(move |_: MouseEvent| draft.set(None))
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
                <button onclick={on_valid} disabled={dis}>{"Mark running valid"}</button>
                <button onclick={on_invalid} disabled={dis}>{"Mark running invalid"}</button>
                <button data-testid="editor-erase" onclick={on_erase} disabled={dis}>{"Erase (factory / ota_0)"}</button>
                <button data-testid="editor-undo" onclick={on_undo} disabled={dis || p.original.is_none()}>{"Undo to what was read"}</button>
            </div>
            {
                match &*draft {
                    None => html! {},
                    Some(Err(e)) => html! { <p class="error" data-testid="editor-error">{ e.clone() }</p> },
                    Some(Ok(o)) => {
                        let boot = otadata::predict_boot(&p.table, o, p.rollback, &otadata::all_bootable);
                        html! {
                            <div class="preview" data-testid="editor-preview">
                                <h4>{"After the change"}</h4>
                                <OtadataView otadata={o.clone()} boot={Some(Ok(boot))} table={Some(p.table.clone())} testid_prefix="preview-" />
                                <button class="primary" data-testid="editor-apply" onclick={apply} disabled={dis}>{ p.apply_label.clone() }</button>
                                <button onclick={cancel}>{"Cancel"}</button>
                            </div>
                        }
                    }
                }
            }
        </div>
    }
}
