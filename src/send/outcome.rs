//! What an exchange means for its send. The one rule: a request that may have been
//! processed is never sent again unless the user asks, so every result is sorted by what is
//! known about it:
//!
//! | what happened | verdict |
//! |---|---|
//! | no connection, TLS or proxy failure before the request left | not processed: retried |
//! | 429, or a 502/503 from a gateway | not processed: retried after `Retry-After` or a backoff |
//! | a rejected TLS certificate, or a proxy's 407 | failed, and the run stops |
//! | 2xx (even when the body then fails) | sent |
//! | 3xx (redirects are not followed) | failed, with the `Location` |
//! | other 4xx | failed |
//! | 500, 504 and other 5xx | ambiguous: unknown |
//! | written, then a timeout, reset or close before a status line | ambiguous: unknown |
//!
//! Ambiguous outcomes are retried only with `--retry-ambiguous`.
//!
//! An error answer (not 2xx) whose body relays a WhatsApp error code campaignctl knows
//! (`api/whatsapp.rs`) is sorted by the code, whatever its HTTP status: WhatsApp said what
//! became of the message.
//!
//! | code | verdict |
//! |---|---|
//! | 130429 throughput exceeded | not processed: retried, and the whole run slows down as for a 429 |
//! | 131056 pair rate limit | not processed: retried after at least 6 s; only this number waits |
//! | 131026 undeliverable | failed; `--retry-failed` resends it only with `--include-undeliverable` |
//! | 131049 per-user marketing limit | failed, not sent again for 24 hours (`retry_not_before`) |
//! | 131050 stopped marketing messages | failed, and the number is added to the ledger's opt-outs |
//! | 132000, 132001, 132005, 132007, 132012, 132015, 132016 the template | failed, and the campaign's sends not started yet are not sent |
//!
//! Any other code changes nothing: the HTTP status decides.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use crate::api::{Answer, Exchange, PAIR_RATE_WAIT, WaAction, WaCode};
use crate::ledger::Status;

/// What to do with a send after one exchange.
#[derive(Debug)]
pub(super) enum Verdict {
    /// Record it as it stands.
    Final(Record),
    /// The API certainly did not process it: try again (after `retry_after` if the API
    /// said), or record `record` once the attempts run out.
    NotProcessed {
        record: Record,
        retry_after: Option<Duration>,
        /// A 429 (or WhatsApp's 130429): the whole run slows down.
        rate_limited: bool,
        /// WhatsApp's pair rate limit (131056): this number waits; the others go on.
        number_limited: bool,
    },
    /// The API may have processed it: record `record` (`unknown`), or, with
    /// `--retry-ambiguous`, try again.
    Ambiguous(Record),
}

/// What goes into the ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub status: Status,
    pub http_status: Option<u16>,
    pub response: Option<String>,
    pub error: Option<String>,
    /// Every other send would fail the same way: the run stops.
    pub stops_run: bool,
    /// The WhatsApp error code the answer relayed, when campaignctl knows it: what else is
    /// done about the send follows from its action.
    pub wa: Option<&'static WaCode>,
    /// Not to be sent again before this instant (a WhatsApp limit).
    pub retry_not_before: Option<DateTime<Utc>>,
}

impl Record {
    fn answered(status: Status, answer: &Answer, error: Option<String>) -> Record {
        Record {
            status,
            http_status: Some(answer.status.as_u16()),
            response: Some(answer.body.clone()),
            error,
            stops_run: false,
            wa: None,
            retry_not_before: None,
        }
    }

    fn transport(status: Status, error: String) -> Record {
        Record {
            status,
            http_status: None,
            response: None,
            error: Some(error),
            stops_run: false,
            wa: None,
            retry_not_before: None,
        }
    }
}

pub(super) fn classify(exchange: Exchange) -> Verdict {
    let answer = match exchange {
        Exchange::NotSent {
            reason,
            fatal: true,
        } => {
            return Verdict::Final(Record {
                stops_run: true,
                ..Record::transport(Status::Failed, reason)
            });
        }
        Exchange::NotSent { reason, .. } => {
            return Verdict::NotProcessed {
                record: Record::transport(Status::Failed, format!("{reason} (not sent)")),
                retry_after: None,
                rate_limited: false,
                number_limited: false,
            };
        }
        Exchange::NoAnswer { reason } => {
            return Verdict::Ambiguous(Record::transport(
                Status::Unknown,
                format!("{reason}; the API may have received the request"),
            ));
        }
        Exchange::Answered(answer) => answer,
    };
    let code = answer.status;
    let unreadable = answer
        .body_error
        .as_ref()
        .map(|e| format!("the answer's body could not be read: {e}"));
    if code.is_success() {
        return Verdict::Final(Record::answered(Status::Sent, &answer, unreadable));
    }
    if let Some(wa) = WaCode::find(&answer.body) {
        return by_code(wa, &answer);
    }
    match code {
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE => Verdict::NotProcessed {
            record: Record::answered(Status::Failed, &answer, unreadable),
            retry_after: retry_after(&answer.headers),
            rate_limited: code == StatusCode::TOO_MANY_REQUESTS,
            number_limited: false,
        },
        _ if code.is_redirection() => {
            let location = answer
                .headers
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("no Location");
            let error = format!(
                "HTTP {} redirects to {location}; redirects are not followed (is CHITCHAT_BASE_URL right?)",
                code.as_u16()
            );
            Verdict::Final(Record::answered(Status::Failed, &answer, Some(error)))
        }
        _ if code.is_server_error() => Verdict::Ambiguous(Record::answered(
            Status::Unknown,
            &answer,
            Some(format!(
                "HTTP {}: the API may have processed the request",
                code.as_u16()
            )),
        )),
        _ => Verdict::Final(Record::answered(Status::Failed, &answer, unreadable)),
    }
}

/// The verdict of an error answer relaying WhatsApp's `wa`: its action decides, and the
/// record says what was done (the reasons `apply` lists).
fn by_code(wa: &'static WaCode, answer: &Answer) -> Verdict {
    let record = |error: String| Record {
        wa: Some(wa),
        ..Record::answered(Status::Failed, answer, Some(error))
    };
    let code = wa.describe();
    match wa.action {
        WaAction::SlowDown => Verdict::NotProcessed {
            record: record(format!("{code}: not delivered")),
            retry_after: retry_after(&answer.headers),
            rate_limited: true,
            number_limited: false,
        },
        WaAction::BackOffNumber => Verdict::NotProcessed {
            record: record(format!("{code}: not delivered")),
            retry_after: Some(
                retry_after(&answer.headers)
                    .unwrap_or_default()
                    .max(PAIR_RATE_WAIT),
            ),
            rate_limited: false,
            number_limited: true,
        },
        WaAction::Hold(hold) => {
            let until = Utc::now() + hold;
            Verdict::Final(Record {
                retry_not_before: Some(until),
                ..record(format!(
                    "{code}: retry not before {}",
                    until.to_rfc3339_opts(SecondsFormat::Secs, true)
                ))
            })
        }
        WaAction::OptOut => Verdict::Final(record(format!(
            "{code}: the number is added to the ledger's opt-outs"
        ))),
        WaAction::Undeliverable => Verdict::Final(record(format!(
            "{code}; --retry-failed resends it only with --include-undeliverable"
        ))),
        WaAction::StopCampaign => Verdict::Final(record(format!(
            "{code}: the campaign's sends not started yet are not sent"
        ))),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn answer(code: u16, headers: &[(header::HeaderName, &str)]) -> Exchange {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(name, HeaderValue::from_str(value).unwrap());
        }
        Exchange::Answered(Answer {
            status: StatusCode::from_u16(code).unwrap(),
            headers: map,
            body: "{}".to_owned(),
            body_error: None,
            latency: Duration::ZERO,
        })
    }

    fn status(verdict: &Verdict) -> (&'static str, Status) {
        match verdict {
            Verdict::Final(r) => ("final", r.status),
            Verdict::NotProcessed { record, .. } => ("not processed", record.status),
            Verdict::Ambiguous(r) => ("ambiguous", r.status),
        }
    }

    #[test]
    fn every_kind_of_result_is_sorted_by_what_is_known() {
        let cases = [
            (answer(200, &[]), ("final", Status::Sent)),
            (answer(202, &[]), ("final", Status::Sent)),
            (answer(400, &[]), ("final", Status::Failed)),
            (answer(401, &[]), ("final", Status::Failed)),
            (
                answer(301, &[(header::LOCATION, "https://elsewhere/")]),
                ("final", Status::Failed),
            ),
            (answer(429, &[]), ("not processed", Status::Failed)),
            (answer(502, &[]), ("not processed", Status::Failed)),
            (answer(503, &[]), ("not processed", Status::Failed)),
            (answer(500, &[]), ("ambiguous", Status::Unknown)),
            (answer(504, &[]), ("ambiguous", Status::Unknown)),
            (
                Exchange::NotSent {
                    reason: "refused".into(),
                    fatal: false,
                },
                ("not processed", Status::Failed),
            ),
            (
                Exchange::NotSent {
                    reason: "bad certificate".into(),
                    fatal: true,
                },
                ("final", Status::Failed),
            ),
            (
                Exchange::NoAnswer {
                    reason: "timeout".into(),
                },
                ("ambiguous", Status::Unknown),
            ),
        ];
        for (exchange, expected) in cases {
            let shown = format!("{exchange:?}");
            assert_eq!(status(&classify(exchange)), expected, "{shown}");
        }
    }

    #[test]
    fn a_2xx_whose_body_fails_is_sent_with_a_note() {
        let Exchange::Answered(mut a) = answer(200, &[]) else {
            unreachable!()
        };
        a.body_error = Some("connection closed".to_owned());
        let Verdict::Final(record) = classify(Exchange::Answered(a)) else {
            panic!("not final");
        };
        assert_eq!(record.status, Status::Sent);
        assert!(record.error.unwrap().contains("could not be read"));
    }

    #[test]
    fn a_redirect_names_its_location_and_a_429_its_wait() {
        let Verdict::Final(record) =
            classify(answer(307, &[(header::LOCATION, "https://elsewhere/x")]))
        else {
            panic!("not final");
        };
        assert!(record.error.unwrap().contains("https://elsewhere/x"));
        let Verdict::NotProcessed {
            retry_after,
            rate_limited,
            ..
        } = classify(answer(429, &[(header::RETRY_AFTER, "7")]))
        else {
            panic!("not retried");
        };
        assert_eq!(
            (retry_after, rate_limited),
            (Some(Duration::from_secs(7)), true)
        );
    }

    fn coded(code: u16, body: &str) -> Exchange {
        let Exchange::Answered(mut a) = answer(code, &[]) else {
            unreachable!()
        };
        a.body = body.to_owned();
        Exchange::Answered(a)
    }

    fn wa(verdict: &Verdict) -> Option<u32> {
        match verdict {
            Verdict::Final(r) | Verdict::Ambiguous(r) => r.wa.map(|c| c.code),
            Verdict::NotProcessed { record, .. } => record.wa.map(|c| c.code),
        }
    }

    #[test]
    fn a_relayed_whatsapp_code_decides_over_the_http_status() {
        let cases = [
            (
                400,
                r#"{"error":{"code":131050}}"#,
                ("final", Status::Failed),
                Some(131050),
            ),
            (
                500,
                r#"{"code":"131026"}"#,
                ("final", Status::Failed),
                Some(131026),
            ),
            (
                400,
                r#"{"error":{"code":131049}}"#,
                ("final", Status::Failed),
                Some(131049),
            ),
            (
                403,
                r#"{"details":{"error_code":132001}}"#,
                ("final", Status::Failed),
                Some(132001),
            ),
            (
                400,
                r#"{"error":{"code":130429}}"#,
                ("not processed", Status::Failed),
                Some(130429),
            ),
            (
                502,
                r#"{"error":{"code":131056}}"#,
                ("not processed", Status::Failed),
                Some(131056),
            ),
            // Unknown codes change nothing.
            (400, r#"{"code":131000}"#, ("final", Status::Failed), None),
            (
                500,
                r#"{"code":131000}"#,
                ("ambiguous", Status::Unknown),
                None,
            ),
            (
                429,
                r#"{"code":131000}"#,
                ("not processed", Status::Failed),
                None,
            ),
            // A 2xx is sent, whatever its body says.
            (
                200,
                r#"{"error":{"code":131050}}"#,
                ("final", Status::Sent),
                None,
            ),
        ];
        for (code, body, expected, wa_code) in cases {
            let verdict = classify(coded(code, body));
            assert_eq!(status(&verdict), expected, "{code} {body}");
            assert_eq!(wa(&verdict), wa_code, "{code} {body}");
        }
    }

    #[test]
    fn rate_codes_are_retried_each_its_own_way() {
        let Verdict::NotProcessed {
            rate_limited,
            number_limited,
            ..
        } = classify(coded(400, r#"{"error":{"code":130429}}"#))
        else {
            panic!("not retried");
        };
        assert_eq!((rate_limited, number_limited), (true, false));
        let Verdict::NotProcessed {
            retry_after,
            rate_limited,
            number_limited,
            ..
        } = classify(coded(400, r#"{"error":{"code":"131056"}}"#))
        else {
            panic!("not retried");
        };
        assert_eq!(
            (retry_after, rate_limited, number_limited),
            (Some(PAIR_RATE_WAIT), false, true)
        );
        // A longer Retry-After is honoured.
        let Exchange::Answered(mut a) = answer(429, &[(header::RETRY_AFTER, "9")]) else {
            unreachable!()
        };
        a.body = r#"{"code":131056}"#.to_owned();
        let Verdict::NotProcessed { retry_after, .. } = classify(Exchange::Answered(a)) else {
            panic!("not retried");
        };
        assert_eq!(retry_after, Some(Duration::from_secs(9)));
    }

    #[test]
    fn a_marketing_limit_holds_the_send_for_a_day() {
        let before = Utc::now();
        let Verdict::Final(record) = classify(coded(400, r#"{"error":{"code":131049}}"#)) else {
            panic!("not final");
        };
        let until = record.retry_not_before.unwrap();
        assert!(until >= before + chrono::TimeDelta::hours(24));
        assert!(until <= Utc::now() + chrono::TimeDelta::hours(24));
        assert!(record.error.unwrap().contains("retry not before"));
    }

    #[test]
    fn retry_after_forms() {
        let at = |v: &str| {
            let mut map = HeaderMap::new();
            map.insert(header::RETRY_AFTER, HeaderValue::from_str(v).unwrap());
            retry_after(&map)
        };
        assert_eq!(at("3"), Some(Duration::from_secs(3)));
        assert_eq!(at("soon"), None);
        let future = (chrono::Utc::now() + chrono::TimeDelta::seconds(60)).to_rfc2822();
        let d = at(&future).unwrap();
        assert!(d > Duration::from_secs(50) && d <= Duration::from_secs(60));
    }
}
