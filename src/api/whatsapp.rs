//! WhatsApp's error codes, as the ChitChatLabs API relays them in its error answers: the one
//! table of the codes campaignctl acts on, what each means, and what is done about it.
//! Sorting an outcome (`send/outcome.rs`), planning a retry and `status` all read it here.
//!
//! | code | meaning | action |
//! |---|---|---|
//! | 130429 | throughput exceeded | not processed: retried, the whole run slows down |
//! | 131026 | undeliverable | failed; not resent by `--retry-failed` without `--include-undeliverable` |
//! | 131049 | per-user marketing limit | failed; not resent for 24 hours |
//! | 131050 | stopped marketing messages | failed, and the number is opted out |
//! | 131056 | pair rate limit | not processed: retried after 6 s, only this number waits |
//! | 132000 … 132016 | the template is wrong | failed; the campaign's other sends stop |

use std::time::Duration;

use serde_json::Value;

/// What campaignctl does about a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Not delivered, and the user asked not to be messaged: `failed`, and the number joins
    /// the ledger's opt-outs.
    OptOut,
    /// Not deliverable to this number as it stands: `failed`, and `--retry-failed` leaves it
    /// alone unless `--include-undeliverable` is given too.
    Undeliverable,
    /// Not processed, the business number's throughput: retried, and the whole run slows
    /// down as for an HTTP 429.
    SlowDown,
    /// Not processed, too many messages to this number lately: retried after at least
    /// [`PAIR_RATE_WAIT`], other numbers going on meanwhile.
    BackOffNumber,
    /// `failed`, and not to be sent again before this long after it was recorded.
    Hold(Duration),
    /// `failed` because of the template: every other send of the campaign would fail the
    /// same way, so they are not started.
    StopCampaign,
}

/// A WhatsApp error code campaignctl knows.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct WaCode {
    pub code: u32,
    /// What it means, for people.
    pub meaning: &'static str,
    pub action: Action,
}

/// The wait before a number that hit the pair rate limit is sent to again: WhatsApp allows
/// about one message every 6 seconds to one number.
pub(crate) const PAIR_RATE_WAIT: Duration = Duration::from_secs(6);

/// How long after a per-user marketing limit the number may be sent to again.
const MARKETING_LIMIT_HOLD: Duration = Duration::from_secs(24 * 60 * 60);

/// Every code campaignctl acts on. Any other is recorded only as part of the answer.
const CODES: &[WaCode] = &[
    WaCode {
        code: 130429,
        meaning: "throughput exceeded: the business number sent more messages per second than it may",
        action: Action::SlowDown,
    },
    WaCode {
        code: 131026,
        meaning: "undeliverable: the number is not on WhatsApp, its app is too old, or its user has not accepted the terms",
        action: Action::Undeliverable,
    },
    WaCode {
        code: 131049,
        meaning: "per-user marketing limit: WhatsApp holds back marketing messages to this number for now",
        action: Action::Hold(MARKETING_LIMIT_HOLD),
    },
    WaCode {
        code: 131050,
        meaning: "the user stopped marketing messages from this business",
        action: Action::OptOut,
    },
    WaCode {
        code: 131056,
        meaning: "pair rate limit: too many messages to this number in a short time",
        action: Action::BackOffNumber,
    },
    WaCode {
        code: 132000,
        meaning: "template parameter count mismatch: the params do not match the template's variables",
        action: Action::StopCampaign,
    },
    WaCode {
        code: 132001,
        meaning: "template does not exist in this language, or is not approved",
        action: Action::StopCampaign,
    },
    WaCode {
        code: 132005,
        meaning: "template text too long once translated and filled in",
        action: Action::StopCampaign,
    },
    WaCode {
        code: 132007,
        meaning: "template format violates a WhatsApp policy",
        action: Action::StopCampaign,
    },
    WaCode {
        code: 132012,
        meaning: "template parameter format mismatch: a param is not in the format the template expects",
        action: Action::StopCampaign,
    },
    WaCode {
        code: 132015,
        meaning: "template paused for low quality",
        action: Action::StopCampaign,
    },
    WaCode {
        code: 132016,
        meaning: "template disabled: paused too many times for low quality",
        action: Action::StopCampaign,
    },
];

/// Keys whose value may be a WhatsApp error code: `code` (also as `error.code`) and
/// `error_code`.
const CODE_KEYS: [&str; 2] = ["code", "error_code"];

impl WaCode {
    /// The code `code`, if campaignctl knows it.
    pub(crate) fn of(code: u32) -> Option<&'static WaCode> {
        CODES.iter().find(|c| c.code == code)
    }

    /// The WhatsApp error code an answer's body carries: the first known code found at a
    /// `code` or `error_code` key, at any depth, the shallowest first (an answer may carry
    /// its own HTTP-like `code` beside the relayed one). A code is a number or a string of
    /// digits. `None` when the body is not JSON or carries no known code.
    pub(crate) fn find(body: &str) -> Option<&'static WaCode> {
        let value: Value = serde_json::from_str(body).ok()?;
        let mut level = vec![&value];
        while !level.is_empty() {
            let mut next = Vec::new();
            for value in level {
                match value {
                    Value::Object(map) => {
                        let known = CODE_KEYS
                            .iter()
                            .filter_map(|key| map.get(*key).and_then(number))
                            .find_map(WaCode::of);
                        if known.is_some() {
                            return known;
                        }
                        next.extend(map.values());
                    }
                    Value::Array(items) => next.extend(items),
                    _ => {}
                }
            }
            level = next;
        }
        None
    }

    /// `WhatsApp 131050 (the user stopped ...)`, as reports say it.
    pub(crate) fn describe(&self) -> String {
        format!("WhatsApp {} ({})", self.code, self.meaning)
    }
}

/// A code as JSON gives it: a whole number, or a string of digits.
fn number(value: &Value) -> Option<u32> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(body: &str) -> Option<u32> {
        WaCode::find(body).map(|c| c.code)
    }

    #[test]
    fn a_code_is_found_at_any_depth_as_a_number_or_digits() {
        let cases = [
            (r#"{"error":{"code":131050,"message":"stopped"}}"#, 131050),
            (r#"{"code":"131026"}"#, 131026),
            (r#"{"details":{"error_code":132001}}"#, 132001),
            (r#"{"error_code":"131049"}"#, 131049),
            (r#"{"errors":[{"title":"x"},{"code":130429}]}"#, 130429),
            (r#"{"a":{"b":{"c":{"error":{"code":"131056"}}}}}"#, 131056),
        ];
        for (body, code) in cases {
            assert_eq!(found(body), Some(code), "{body}");
        }
    }

    #[test]
    fn the_shallowest_known_code_wins_and_unknown_ones_are_passed_over() {
        // The API's own `code` beside the relayed one.
        assert_eq!(
            found(r#"{"code":400,"error":{"code":131026}}"#),
            Some(131026)
        );
        assert_eq!(
            found(r#"{"error":{"code":131050},"details":{"x":{"code":132001}}}"#),
            Some(131050)
        );
        assert_eq!(found(r#"{"code":131000}"#), None, "an unknown code");
    }

    #[test]
    fn no_code_is_found_where_there_is_none() {
        for body in [
            "",
            "not json",
            "<html>502 Bad Gateway</html>",
            "131050",
            r#"{"error":"template not approved"}"#,
            r#"{"error":{"message":"code 131050"}}"#,
            r#"{"code":"131050 "}"#,
            r#"{"code":"-131050"}"#,
            r#"{"code":131050.5}"#,
            r#"{"code":true}"#,
            r#"{"codes":131050}"#,
            r#"{"code":99999999999}"#,
            "[]",
        ] {
            assert_eq!(found(body), None, "{body}");
        }
    }

    #[test]
    fn every_code_is_listed_once_with_its_meaning() {
        for (i, c) in CODES.iter().enumerate() {
            assert!(!c.meaning.is_empty());
            assert_eq!(WaCode::of(c.code), Some(c), "{} listed twice", c.code);
            assert!(CODES[..i].iter().all(|d| d.code < c.code), "sorted");
        }
        assert_eq!(
            WaCode::of(131050).unwrap().describe(),
            "WhatsApp 131050 (the user stopped marketing messages from this business)"
        );
    }

    /// The rows of the Markdown table headed `| code | meaning | ...`: each row's cells.
    fn markdown_table(text: &str) -> Vec<Vec<String>> {
        let mut lines = text
            .lines()
            .skip_while(|l| !l.starts_with("| code | meaning |"));
        assert!(lines.next().is_some(), "no `| code | meaning |` table");
        assert!(
            lines.next().is_some_and(|l| l.starts_with("|---")),
            "the table's second line is not its separator"
        );
        lines
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells = l.trim().trim_start_matches('|').trim_end_matches('|');
                cells.split('|').map(|c| c.trim().to_owned()).collect()
            })
            .collect()
    }

    #[test]
    fn the_documentations_table_lists_exactly_these_codes_and_meanings() {
        let doc = include_str!("../../docs/whatsapp-errors.md");
        let rows = markdown_table(doc);
        let documented: Vec<(u32, &str)> = rows
            .iter()
            .map(|row| {
                let code = row[0]
                    .parse()
                    .unwrap_or_else(|_| panic!("not a code: {row:?}"));
                (code, row[1].as_str())
            })
            .collect();
        let known: Vec<(u32, &str)> = CODES.iter().map(|c| (c.code, c.meaning)).collect();
        assert_eq!(documented, known, "docs/whatsapp-errors.md's table");

        // The codes the docs say stop the campaign are those that do.
        let stopping: Vec<String> = CODES
            .iter()
            .filter(|c| c.action == Action::StopCampaign)
            .map(|c| c.code.to_string())
            .collect();
        let heading = format!("**The campaign stops ({}).**", stopping.join(", "));
        assert!(doc.contains(&heading), "{heading}");
        let first = &stopping[0];
        for (row, c) in rows.iter().zip(CODES) {
            let as_first = format!("as {first}");
            let said_as_first = row[2] == as_first && row[3] == as_first;
            assert_eq!(
                said_as_first || row[2].contains("the campaign stops"),
                c.action == Action::StopCampaign,
                "{row:?}"
            );
        }
    }
}
