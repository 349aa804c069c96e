//! What the template catalogue asks of each send, at render time: no param longer than its
//! template takes; and after the scan, a warning for a marketing template sent to +1 numbers,
//! which Meta does not deliver marketing templates to (the United States).

use super::scan::CampaignScan;
use crate::campaign::catalogue::Category;
use crate::campaign::renderer::RenderError;
use crate::campaign::{Audience, Campaign};
use crate::diagnostic::Diagnostic;

/// The rendered params of a send of `campaign`, or an error for each that is longer than
/// its template takes. Without a catalogue every length passes.
pub(super) fn fit(
    campaign: &Campaign,
    params: Vec<String>,
) -> Result<Vec<String>, Vec<RenderError>> {
    let Some(template) = &campaign.template_info else {
        return Ok(params);
    };
    let long = template.long_params(&params);
    if long.is_empty() {
        return Ok(params);
    }
    Err(long
        .into_iter()
        .map(|(index, message)| RenderError { index, message })
        .collect())
}

/// The warning for a campaign of a marketing template with recipients whose numbers start
/// with +1, counted by the scan (suppressed ones left out: they are not sent).
pub(crate) fn marketing_warning(campaign: &Campaign, counts: &CampaignScan) -> Option<Diagnostic> {
    let template = campaign.template_info.as_ref()?;
    if template.category != Category::Marketing
        || counts.plus_one == 0
        || !matches!(campaign.audience, Audience::Recipients(_))
    {
        return None;
    }
    let n = counts.plus_one;
    let whom = if n == 1 {
        "1 recipient with a +1 (US or Canada) number".to_owned()
    } else {
        format!("{n} recipients with +1 (US or Canada) numbers")
    };
    Some(
        Diagnostic::warning(
            &*campaign.file,
            campaign.audience_pos,
            format!(
                "campaign `{}` sends the {} template `{}` to {whom}: Meta does not deliver marketing templates to US numbers",
                campaign.name,
                template.category.as_str(),
                template.name
            ),
        )
        .with_help("those sends are likely to fail: send them a utility template instead, or leave them out")
        .with_source(&campaign.source),
    )
}
