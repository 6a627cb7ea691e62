//! A job's progress bar, shown in the panel whose job runs (one bar on the page at a time).

use super::panels::StoreHandle;
use crate::formats::numbers::{approx_size, decimals};
use crate::loader::{Phase, Progress};
use crate::page::{Failure, Job, JobKind};
use yew::prelude::*;

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

#[derive(Properties, PartialEq)]
pub struct JobBarProps {
    pub state: StoreHandle,
    /// The jobs whose progress this panel shows.
    pub kinds: Vec<JobKind>,
}

/// The running job's progress, if it is one of `kinds`.
#[component]
pub fn JobBar(p: &JobBarProps) -> Html {
    let s = &p.state.0;
    let bar = use_node_ref();
    let mine = match &s.job {
        Job::Busy { kind, .. } if p.kinds.contains(kind) => Some(*kind),
        _ => None,
    };
    // When a job starts here, its progress comes into view (a narrow window scrolls to it).
    {
        let bar = bar.clone();
        use_effect_with(mine, move |mine| {
            if mine.is_some() {
                if let Some(el) = bar.cast::<web_sys::Element>() {
                    el.scroll_into_view_with_bool(false);
                }
            }
        });
    }
    let Job::Busy {
        what,
        progress: pr,
        kind,
    } = &s.job
    else {
        // The last job here failed: what happened and what to try, where it was asked for.
        return match &s.failed {
            // An update that stopped says it in its result line (with the hints).
            Some(f)
                if p.kinds.contains(&f.job)
                    && s.finished
                        .as_ref()
                        .is_none_or(|d| d.words != f.failure.message) =>
            {
                failure_view(&f.failure, "job-failed", Some(f.job.title()))
            }
            _ => html! {},
        };
    };
    if mine.is_none() {
        return html! {};
    }
    let image_len = s.image.as_ref().map(|i| i.bytes.len() as u64);
    html! {
        <div class="job" data-testid="job" ref={bar}>
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

/// A failure in words, headed by the job it ended (several jobs share a panel), its kind
/// (`data-kind`: refused, board, verify) and what to try.
pub fn failure_view(f: &Failure, testid: &'static str, job: Option<&'static str>) -> Html {
    html! {
        <div class="hint" data-testid={testid} data-kind={f.kind.word()}>
            <p class="error">
                if let Some(j) = job { <strong>{ format!("{j}: ") }</strong> }
                { f.message.clone() }
            </p>
            if !f.hints.is_empty() {
                <ul data-testid="hints">{ for f.hints.iter().map(|h| html!{ <li>{ h.text() }</li> }) }</ul>
            }
        </div>
    }
}
