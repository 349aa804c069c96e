//! The request bodies, exactly as the API reference writes them (compact JSON, fields in
//! its order), and what identifies a send: its key and the hash of its body.

use std::io;

use serde::Serialize;

use crate::campaign::file::Media;
use crate::campaign::{Audience, Campaign};
use crate::schedule::Occurrence;

/// `CAMPAIGN/OCCURRENCE/RECIPIENT`, the identity of a send in the ledger.
pub(crate) fn send_key(campaign: &str, occurrence: Occurrence, recipient: &str) -> String {
    format!("{campaign}/{occurrence}/{recipient}")
}

/// SHA-256 of a request body, hex; detects params edited after a send.
pub(crate) fn body_hash(body: &str) -> String {
    crate::digest::sha256_hex(body.as_bytes())
}

#[derive(Serialize)]
struct SingleBody<'a> {
    to: To<'a>,
    fb_template: &'a str,
    language: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a Media>,
    params: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
}

/// The recipient of a single send.
#[derive(Serialize)]
pub(crate) struct To<'a> {
    pub mobile: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

#[derive(Serialize)]
struct BlastBody<'a> {
    #[serde(rename = "searchSpec")]
    search_spec: &'a serde_json::Map<String, serde_json::Value>,
    fb_template: &'a str,
    language: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a Media>,
    params: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
}

/// Writes the body of one send of `campaign`: a `single` call to `to`, or the campaign's
/// `blast`.
pub(crate) fn write(
    out: &mut impl io::Write,
    campaign: &Campaign,
    to: Option<To<'_>>,
    params: &[String],
) -> io::Result<()> {
    let written = match &campaign.audience {
        Audience::Search(spec) => serde_json::to_writer(
            &mut *out,
            &BlastBody {
                search_spec: spec,
                fb_template: &campaign.template,
                language: &campaign.language,
                file: campaign.media.as_ref(),
                params,
                tag: campaign.tag.as_deref(),
            },
        ),
        Audience::Recipients(_) => serde_json::to_writer(
            &mut *out,
            &SingleBody {
                to: to.unwrap_or(To {
                    mobile: "",
                    name: None,
                }),
                fb_template: &campaign.template,
                language: &campaign.language,
                file: campaign.media.as_ref(),
                params,
                tag: campaign.tag.as_deref(),
            },
        ),
    };
    written.map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_hash_is_sha256_hex() {
        assert_eq!(
            body_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
