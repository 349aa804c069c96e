//! What an HTTP attempt means for its send: recorded as it stands, retried, or put back.

use std::time::Duration;

use hyper::StatusCode;
use hyper::header::HeaderValue;

use super::pacer::Pacer;
use crate::api::http_client::{Response, TransportError};
use crate::ledger::{Finished, Status};

/// What became of a send.
pub(super) enum Outcome {
    /// Its last attempt, to record; `stops_run`: the way it failed would fail every send.
    Finished {
        finished: Finished,
        retries: usize,
        stops_run: bool,
    },
    /// The run stopped before it could be retried, and it is known not to have been
    /// delivered (429, refused connection): its claim is put back so the next run sends it.
    Released {
        key: String,
        previous: Option<Status>,
    },
}

/// The result of one HTTP attempt.
pub(super) struct Attempt {
    /// What to record if this is the last attempt.
    pub(super) status: Status,
    pub(super) http_status: Option<u16>,
    pub(super) response: Option<String>,
    pub(super) error: Option<String>,
    pub(super) retryable: bool,
    pub(super) retry_after: Option<Duration>,
    /// The API certainly did not send the message (429, or the connection was refused).
    pub(super) not_delivered: bool,
    /// Every other send would fail the same way: the run stops.
    pub(super) stops_run: bool,
}

impl Attempt {
    pub(super) fn from_response(response: Response, pacer: &Pacer) -> Attempt {
        let code = response.status;
        let retry_after = retry_after(response.retry_after.as_ref());
        if code == StatusCode::TOO_MANY_REQUESTS {
            pacer.slow_down();
        }
        Attempt {
            status: if code.is_success() {
                Status::Sent
            } else {
                Status::Failed
            },
            http_status: Some(code.as_u16()),
            response: Some(response.body),
            error: None,
            // Other 4xx are permanent: the request itself is wrong.
            retryable: code == StatusCode::TOO_MANY_REQUESTS || code.is_server_error(),
            retry_after,
            not_delivered: code == StatusCode::TOO_MANY_REQUESTS,
            // An answer is about this request: 401 and the like count towards
            // --max-failures instead.
            stops_run: false,
        }
    }

    pub(super) fn from_error(e: &TransportError) -> Attempt {
        Attempt {
            // A refused connection never reached the API; a timeout or a reset after the
            // request was written may have: the message may or may not have gone out.
            status: if e.not_sent() {
                Status::Failed
            } else {
                Status::Unknown
            },
            http_status: None,
            response: None,
            error: Some(e.to_string()),
            retryable: e.retryable(),
            retry_after: None,
            not_delivered: e.not_sent(),
            // A transport error that trying again cannot fix is not about this send.
            stops_run: !e.retryable(),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
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
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("3"))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after(Some(&HeaderValue::from_static("soon"))), None);
        let future = (chrono::Utc::now() + chrono::TimeDelta::seconds(60)).to_rfc2822();
        let d = retry_after(Some(&HeaderValue::from_str(&future).unwrap())).unwrap();
        assert!(d > Duration::from_secs(50) && d <= Duration::from_secs(60));
    }
}
