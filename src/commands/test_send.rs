//! `campaignctl apply CAMPAIGN_FILE --to NUMBER [--as RECIPIENT]`: one message of a campaign,
//! rendered exactly as one of its recipients would get it (the first, or the one named),
//! sent to another number so a team sees the real message in WhatsApp before the campaign
//! goes out.
//!
//! A test send is recorded in the ledger under a key of its own
//! (`CAMPAIGN/test-TIME/NUMBER`, marked as a test): it is never the recipient's send, never
//! stops the real one, and no limit of the project file counts it. The API's rate is all
//! it shares with other sends. Like any send, it is claimed before it leaves, and not made
//! to a number that opted out.

use std::io::{self, IsTerminal, Write};

use chrono::{SecondsFormat, Utc};

use super::Outcome;
use super::apply::{ApplySettings, Out, Sending, Skipped, confirm, open_for_sending};
use crate::api::{ApiKey, Endpoints};
use crate::campaign::Kind;
use crate::campaign::mobile::Mobile;
use crate::error::{Error, TestSendError};
use crate::output::Lenient;
use crate::plan::pipeline::check;
use crate::plan::view::CampaignView;
use crate::plan::{PlanOptions, PlannedSend, SendItem};
use crate::send::{self, Outgoing};

/// `apply --to`: the apply settings, the number to send to, and whose message.
#[derive(Debug, Clone)]
pub(crate) struct TestSendSettings {
    pub apply: ApplySettings,
    /// As written on the command line.
    pub to: String,
    /// The recipient whose message is sent, as written; the first recipient when `None`.
    pub recipient: Option<String>,
}

pub(crate) fn test_send(settings: &TestSendSettings) -> Result<Outcome, Error> {
    let apply = &settings.apply;
    let files = &apply.files;
    let [path] = files.paths.as_slice() else {
        return Err(TestSendError::NotOneFile(format!("{} paths", files.paths.len())).into());
    };
    if !path.is_file() {
        return Err(TestSendError::NotOneFile(path.display().to_string()).into());
    }
    let (key, endpoints) = if apply.dry_run {
        (None, None)
    } else {
        (Some(ApiKey::from_env()?), Some(Endpoints::from_env()?))
    };
    if !apply.dry_run && !apply.yes && !io::stdin().is_terminal() {
        return Err(Error::NoTerminal);
    }
    let Some(checked) = check(
        &files.paths,
        files.config.as_deref(),
        files.now,
        0,
        None,
        PlanOptions::default(),
    )?
    else {
        return Err(Error::Invalid);
    };
    let plan = &checked.plan;
    let campaign = plan.campaigns[0].campaign.clone();
    if campaign.kind() == Kind::Blast {
        return Err(TestSendError::Blast(campaign.name.clone()).into());
    }
    let country = checked.project.default_country;
    let number = |flag: &'static str, raw: &str| {
        Mobile::read(raw, country)
            .map(|r| r.mobile)
            .map_err(|reason| TestSendError::BadNumber { flag, reason })
    };
    let to = number("--to", &settings.to)?;
    let wanted = match &settings.recipient {
        Some(raw) => Some(number("--as", raw)?),
        None => None,
    };
    let Some(rendered) = plan.sends(0).find_map(|item| match item {
        SendItem::Send(send) if wanted.is_none() || send.mobile == wanted => Some(send),
        _ => None,
    }) else {
        return Err(match wanted {
            Some(mobile) => TestSendError::NotARecipient {
                mobile: mobile.to_string(),
                campaign: campaign.name.clone(),
            },
            None => TestSendError::NoRecipient(campaign.name.clone()),
        }
        .into());
    };
    let whose = rendered.recipient.clone();
    let test = as_test(rendered, to);
    let mut out = Lenient::new(io::stdout());
    describe(&mut out, &test, &whose)?;
    if apply.dry_run {
        writeln!(out, "Dry run: nothing was sent or recorded.")?;
        return Ok(Outcome::Success);
    }
    if !apply.yes {
        confirm(1)?;
    }
    let ledger = open_for_sending(apply)?;
    let views = [CampaignView::of(&plan.campaigns[0], &Default::default())];
    let sending = Sending::new(
        apply,
        endpoints.expect("read unless a dry run"),
        key.expect("read unless a dry run"),
        &views,
    )?;
    let outgoing = Outgoing::test(test);
    sending.run(&mut out, ledger, 1, Skipped::default(), move |tx| {
        send::feed_outgoing(std::iter::once(outgoing), tx);
    })
}

/// The send of `rendered`'s recipient, addressed to `to` under a test key of its own.
fn as_test(rendered: PlannedSend, to: Mobile) -> PlannedSend {
    let occurrence = format!(
        "test-{}",
        Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    let recipient = to.to_string();
    PlannedSend {
        key: format!("{}/{occurrence}/{recipient}", rendered.campaign.name),
        recipient,
        mobile: Some(to),
        ..rendered
    }
}

/// What is about to be sent: the campaign, whose message (`whose`, the recipient's number),
/// to whom, and its params.
fn describe(out: &mut Out, test: &PlannedSend, whose: &str) -> io::Result<()> {
    let campaign = &test.campaign;
    let of = test
        .origin
        .as_ref()
        .map(|o| format!(" (listed at {o})"))
        .unwrap_or_default();
    let name = test
        .name
        .as_ref()
        .map(|n| format!("{n}, "))
        .unwrap_or_default();
    writeln!(
        out,
        "Test send of campaign `{}` (template {}, {}) to {}, as its recipient {name}{whose}{of} gets it:",
        campaign.name, campaign.template, campaign.language, test.recipient,
    )?;
    for (i, param) in test.params.iter().enumerate() {
        writeln!(out, "  param {}: {param}", i + 1)?;
    }
    if let Some(media) = &campaign.media {
        writeln!(out, "  media: {} {}", media.kind.as_str(), media.link)?;
    }
    writeln!(
        out,
        "It is recorded as a test ({}): not the recipient's send, and counted by no limit.",
        test.key
    )
}
