//! The markdown plan, for a pull-request comment or a CI job summary: a heading with the
//! totals, a table per campaign, the warnings, then every send in a collapsible block per
//! campaign, each with where its recipient is listed. The whole comment stays under
//! GitHub's limit of 65,536 characters whatever the number of campaigns, warnings and
//! sends: everything shares one budget, and what does not fit is counted, not listed, with
//! a last line that says what was left out and where to see it all.

use chrono::{DateTime, Utc};

use super::SendState;
use super::limits::DailyBudget;
use super::text::{daily_line, timing_text, waits_text};
use super::view::{CampaignView, KindView, SendView};
use crate::schedule::rfc3339;

/// GitHub refuses a comment longer than 65,536 characters; this leaves room for what a
/// workflow adds around the plan.
pub(crate) const MAX_CHARS: usize = 60_000;

/// Kept out of the budget for the lines that count what was left out.
const NOTE_RESERVE: usize = 1_000;

/// The header of a campaign's table of sends.
const SENDS_HEADER: &str =
    "| | recipient | name | params | state | source |\n|---|---|---|---|---|---|\n";

/// The first line of every markdown plan: a workflow finds its earlier comment by it, to
/// update that one rather than add a comment per push.
pub(crate) const MARKER: &str = "<!-- campaignctl plan -->";

/// At most this many warnings are listed; the rest are counted.
const MAX_WARNINGS: usize = 50;

/// Builds the markdown plan from sends handed over one at a time (a live plan streams
/// them), keeping per campaign only as many lines as could ever be listed.
pub(crate) struct Markdown {
    /// Per campaign: the listed lines (in order) and their length in characters.
    sends: Vec<Listed>,
}

#[derive(Default)]
struct Listed {
    lines: Vec<String>,
    chars: usize,
}

impl Markdown {
    pub(crate) fn new() -> Markdown {
        Markdown { sends: Vec::new() }
    }

    /// A send of campaign `index` (campaigns in order, sends in order).
    pub(crate) fn send(&mut self, index: usize, send: &SendView, kind: KindView) {
        while self.sends.len() <= index {
            self.sends.push(Listed::default());
        }
        let listed = &mut self.sends[index];
        if listed.chars >= MAX_CHARS {
            return;
        }
        let line = send_row(send, kind);
        listed.chars += line.chars().count();
        listed.lines.push(line);
    }

    /// The document, for `campaigns` (in the order their sends came) and `warnings`
    /// (`FILE:LINE:COL: message`), in at most [`MAX_CHARS`] characters.
    ///
    /// The heading always; then the warnings, in at most a quarter of the budget; then the
    /// campaigns' tables in order, each with room for the summary of its sends, as long as
    /// the sends of the campaigns shown keep room to be listed (up to a third of what is
    /// left): the campaigns past that are counted; what remains is shared out among the
    /// sends of the campaigns shown.
    pub(crate) fn finish(
        mut self,
        now: DateTime<Utc>,
        campaigns: &[CampaignView],
        warnings: &[String],
        daily: Option<DailyBudget>,
    ) -> String {
        self.sends.resize_with(campaigns.len(), Listed::default);
        let mut head = heading(now, campaigns);
        if let Some(daily) = daily {
            head.push_str(&format!("\n{}\n", daily_line(&daily)));
        }
        let mut budget = MAX_CHARS.saturating_sub(chars(&head) + NOTE_RESERVE);
        let (warnings_block, warnings_left) = warnings_block(warnings, budget / 4);
        budget = budget.saturating_sub(chars(&warnings_block));
        let sends_room = budget / 3;
        let mut tables = String::new();
        let mut used = 0;
        let mut shown = 0;
        let mut sends_wanted = 0;
        for (c, listed) in campaigns.iter().zip(&self.sends) {
            let table = campaign_table(c);
            // The table, and its block of sends with no send listed: the least it takes.
            let n = chars(&table) + chars(&details(c, &[])) + SENDS_HEADER.len();
            let wanted = sends_wanted + listed.chars;
            if used + n + wanted.min(sends_room) > budget {
                break;
            }
            used += n;
            sends_wanted = wanted;
            tables.push_str(&table);
            shown += 1;
        }
        budget -= used;
        let hidden = &campaigns[shown..];
        if !hidden.is_empty() {
            tables.push_str(&format!(
                "\n… and {} more, not shown to keep this comment under GitHub's limit ({}, {} due).\n",
                plural(hidden.len(), "campaign"),
                plural(hidden.iter().map(|c| c.counts.total).sum(), "send"),
                hidden.iter().map(|c| c.counts.due).sum::<usize>(),
            ));
        }
        // What is left for the sends, shared out: each campaign shown gets an equal part,
        // and what a small campaign leaves over goes to the next ones.
        let mut out = head;
        out.push_str(&tables);
        out.push_str(&warnings_block);
        let mut sends_left: usize = hidden.iter().map(|c| c.counts.total).sum();
        for (i, (c, listed)) in campaigns.iter().zip(&self.sends).take(shown).enumerate() {
            let share = budget / (shown - i).max(1);
            let mut used = 0;
            let mut listed_here = 0;
            for line in &listed.lines {
                let n = line.chars().count();
                if used + n > share {
                    break;
                }
                used += n;
                listed_here += 1;
            }
            budget -= used;
            sends_left += c.counts.total - listed_here;
            out.push_str(&details(c, &listed.lines[..listed_here]));
        }
        let mut left_out = Vec::new();
        if !hidden.is_empty() {
            left_out.push(format!(
                "{} of {}",
                plural(hidden.len(), "campaign"),
                campaigns.len()
            ));
        }
        if warnings_left > 0 {
            left_out.push(format!(
                "{} of {}",
                plural(warnings_left, "warning"),
                warnings.len()
            ));
        }
        if sends_left > 0 {
            left_out.push(plural(sends_left, "send"));
        }
        if !left_out.is_empty() {
            out.push_str(&format!(
                "\n**Not listed here, to stay under GitHub's comment limit:** {}. `campaignctl plan --format text` shows every campaign (and its warnings), the saved plan every send (`campaignctl plan --out plan.json`, then `campaignctl show plan.json --format json`).\n",
                left_out.join(", ")
            ));
        }
        out
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The marker, the title and the totals.
fn heading(now: DateTime<Utc>, campaigns: &[CampaignView]) -> String {
    let mut head = String::new();
    let due: usize = campaigns.iter().map(|c| c.counts.due).sum();
    let total: usize = campaigns.iter().map(|c| c.counts.total).sum();
    let due_campaigns = campaigns.iter().filter(|c| c.counts.due > 0).count();
    let sent: usize = campaigns
        .iter()
        .map(|c| c.counts.of(SendState::AlreadySent))
        .sum();
    head.push_str(MARKER);
    head.push('\n');
    head.push_str(&format!(
        "## campaignctl plan: {} due in {due_campaigns} of {} {}\n\n",
        plural(due, "send"),
        campaigns.len(),
        if campaigns.len() == 1 {
            "campaign"
        } else {
            "campaigns"
        },
    ));
    let suppressed: usize = campaigns
        .iter()
        .map(|c| c.counts.of(SendState::Suppressed))
        .sum();
    head.push_str(&format!(
        "Planned at `{}`: {} in all, {due} due now, {} not due, {sent} already sent{}.\n",
        rfc3339(now),
        plural(total, "send"),
        total - due,
        if suppressed > 0 {
            format!(", {suppressed} suppressed (opted out, never sent)")
        } else {
            String::new()
        }
    ));
    head
}

/// The warnings, as many as fit in `budget` characters and at most [`MAX_WARNINGS`], and
/// how many were left out.
fn warnings_block(warnings: &[String], budget: usize) -> (String, usize) {
    if warnings.is_empty() {
        return (String::new(), 0);
    }
    let mut out = format!(
        "\n> [!WARNING]\n> {}\n>\n",
        plural(warnings.len(), "warning")
    );
    // Room for the line that counts the rest.
    let mut room = budget.saturating_sub(chars(&out) + 100);
    let mut listed = 0;
    for w in warnings.iter().take(MAX_WARNINGS) {
        let line = format!("> - {}\n", cell(w));
        let n = chars(&line);
        if n > room {
            break;
        }
        room -= n;
        out.push_str(&line);
        listed += 1;
    }
    let left = warnings.len() - listed;
    if left > 0 {
        out.push_str(&format!(
            "> - … and {left} more (`campaignctl validate` lists them all)\n"
        ));
    }
    (out, left)
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn campaign_table(c: &CampaignView) -> String {
    let audience = match (&c.search, c.kind) {
        (Some(spec), _) => format!(
            "contact search {} (one `blast` request)",
            code(&serde_json::Value::Object(spec.clone()).to_string())
        ),
        (None, _) => format!(
            "{} (one `single` request each)",
            plural(c.counts.total, "recipient")
        ),
    };
    let schedule = match &c.schedule {
        None => "none: sent once, by apply".to_owned(),
        Some(s) => cell(&s.describe),
    };
    let next = c
        .schedule
        .as_ref()
        .and_then(|s| s.next_runs_local.first())
        .map_or_else(|| "—".to_owned(), |n| cell(n));
    let occurrence = match &c.occurrence_local {
        Some(local) => format!("{} ({})", code(&c.occurrence), cell(local)),
        None => code(&c.occurrence),
    };
    let mut rows = vec![
        (
            "template",
            format!("{} ({})", code(&c.template), code(&c.language)),
        ),
        ("audience", audience),
        ("schedule", schedule),
        ("next run", next),
        (
            "occurrence",
            format!("{occurrence}, {}", timing_text(c.timing)),
        ),
    ];
    if let Some(media) = &c.media {
        rows.insert(
            1,
            (
                "media",
                format!("{} {}", media.kind.as_str(), cell(&media.link)),
            ),
        );
    }
    let counts = &c.counts;
    let mut sends = format!(
        "**{} due**, {} already sent, {} changed since, {} failed, {} unknown",
        counts.due,
        counts.of(SendState::AlreadySent),
        counts.of(SendState::SentChangedSince),
        counts.of(SendState::Failed),
        counts.of(SendState::Unknown) + counts.of(SendState::InFlight),
    );
    if counts.of(SendState::Suppressed) > 0 {
        sends.push_str(&format!(
            ", {} suppressed (opted out)",
            counts.of(SendState::Suppressed)
        ));
    }
    for state in [SendState::Waiting, SendState::Capped, SendState::Missed] {
        if counts.of(state) > 0 {
            sends.push_str(&format!(", {} {}", counts.of(state), state.label()));
        }
    }
    rows.push(("sends", sends));
    if let Some(window) = &c.window {
        rows.push((
            "send window",
            format!(
                "{}: {} inside now, {}",
                cell(&window.describe),
                c.waits.inside_window,
                cell(&waits_text(&c.waits.window))
            ),
        ));
    }
    if c.waits.daily_limit.count > 0 {
        rows.push(("daily limit", cell(&waits_text(&c.waits.daily_limit))));
    }
    let mut table = format!(
        "\n### {} <sub>{}</sub>\n\n| | |\n|---|---|\n",
        code(&c.name),
        cell(&c.file)
    );
    for (field, value) in rows {
        table.push_str(&format!("| {field} | {value} |\n"));
    }
    table
}

fn send_row(send: &SendView, kind: KindView) -> String {
    let who = match kind {
        KindView::Blast => "blast".to_owned(),
        KindView::Single => code(&send.recipient),
    };
    format!(
        "| {} | {who} | {} | {} | {} | {} |\n",
        send.marker(),
        cell(send.name.as_deref().unwrap_or("")),
        code(&serde_json::to_string(&send.params).unwrap_or_default()),
        cell(&send.state_text()),
        send.source.as_deref().map_or_else(String::new, code),
    )
}

fn details(c: &CampaignView, lines: &[String]) -> String {
    let mut out = format!(
        "\n<details><summary><code>{}</code>: {} ({} due)</summary>\n\n",
        html(&c.name),
        plural(c.counts.total, "send"),
        c.counts.due
    );
    if !lines.is_empty() {
        out.push_str(SENDS_HEADER);
        for line in lines {
            out.push_str(line);
        }
    }
    let rest = c.counts.total - lines.len();
    if rest > 0 {
        out.push_str(&format!(
            "\n… and {} more, not listed to keep this comment under GitHub's limit; `campaignctl plan` or `campaignctl show` lists them all.\n",
            plural(rest, "send")
        ));
    }
    out.push_str("\n</details>\n");
    out
}

/// Text in a table cell: pipes and line breaks would end the cell, `<` would start HTML.
fn cell(text: &str) -> String {
    html(text).replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Text as inline code in a cell. A backtick inside would end the code span early, so
/// such text is shown in a `<code>` element instead.
fn code(text: &str) -> String {
    if text.contains('`') {
        format!("<code>{}</code>", cell(text))
    } else {
        format!("`{}`", text.replace('|', "\\|").replace(['\n', '\r'], " "))
    }
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_what_would_break_the_table() {
        assert_eq!(cell("a|b<c>\nd"), "a\\|b&lt;c&gt; d");
        assert_eq!(code("x|y"), "`x\\|y`");
        assert_eq!(code("a`b"), "<code>a`b</code>");
    }
}
