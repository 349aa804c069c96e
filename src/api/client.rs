//! The HTTP transport: reqwest, with rustls (the program's ring provider, the platform's
//! roots), HTTP/2 over ALPN, the usual proxy variables, and no redirects. Each exchange says
//! how far it got, which is what decides whether a send may be tried again: before the
//! request could have left, after a status line arrived, or in between.

use std::error::Error as _;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use super::endpoints::Endpoints;
use super::error::SetupError;
use super::key::ApiKey;
use crate::campaign::Kind;

/// How much of an answer's body is kept: the ledger stores 4 KiB of it, cut on a character
/// boundary, so a few bytes more let it find one.
const KEPT_BODY: usize = 4096 + 4;

/// A longer body is not read to its end: the connection is dropped instead of reused.
const MAX_READ_BODY: usize = 64 * 1024;

/// Idle HTTP/2 connections are pinged this often, so a dead one is noticed before it is
/// used.
const H2_KEEPALIVE: Duration = Duration::from_secs(30);

/// TCP keepalive on every connection: keeps NAT mappings alive and finds dead peers.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientSettings {
    pub connect_timeout: Duration,
    /// From the first byte of the request to the last byte of the answer.
    pub request_timeout: Duration,
    /// Pooled connections idle for longer are closed, never reused.
    pub pool_idle_timeout: Duration,
}

/// The API client: one connection pool for every send of a process.
pub(crate) struct Client {
    http: reqwest::Client,
    endpoints: Endpoints,
    key: ApiKey,
    request_timeout: Duration,
}

/// How one exchange went.
#[derive(Debug)]
pub(crate) enum Exchange {
    /// A status line arrived: the API has processed the request, whatever it said.
    Answered(Answer),
    /// The request cannot have reached the API: no connection, TLS handshake or proxy
    /// tunnel failed.
    NotSent {
        reason: String,
        /// The API's certificate was rejected: trying again cannot help.
        certificate: bool,
    },
    /// The request may have been written, and no status line came back (a timeout, a reset,
    /// a close, an unreadable head): the API may or may not have processed it.
    NoAnswer { reason: String },
}

#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body (its first [`KEPT_BODY`] bytes, decoded lossily).
    pub body: String,
    /// Why the rest of the body could not be read, when it could not.
    pub body_error: Option<String>,
    /// From sending the request to the status line.
    pub latency: Duration,
}

impl Client {
    pub(crate) fn new(
        endpoints: Endpoints,
        key: ApiKey,
        settings: ClientSettings,
    ) -> Result<Client, SetupError> {
        let mut tls =
            crate::tls::verified_config(crate::tls::provider()).map_err(SetupError::Client)?;
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(concat!("campaignctl/", env!("CARGO_PKG_VERSION")))
            // A 301 turned into a GET would report as sent a message that was never posted.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .pool_idle_timeout(settings.pool_idle_timeout)
            .tcp_keepalive(TCP_KEEPALIVE)
            .http2_keep_alive_interval(H2_KEEPALIVE)
            .http2_keep_alive_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SetupError::Client(describe(&e)))?;
        Ok(Client {
            http,
            endpoints,
            key,
            request_timeout: settings.request_timeout,
        })
    }

    /// POSTs `body` (JSON) to the endpoint of `kind`.
    pub(crate) async fn post(&self, kind: Kind, body: Bytes) -> Exchange {
        let started = Instant::now();
        let sent = self
            .http
            .post(self.endpoints.url(kind).clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-tenant-api-key", self.key.header().clone())
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return self.failed(&e),
        };
        let latency = started.elapsed();
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut kept = Vec::new();
        let mut read = 0;
        let mut body_error = None;
        while read <= MAX_READ_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    let room = KEPT_BODY.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(if e.is_timeout() {
                        format!("no complete body within {:?}", self.request_timeout)
                    } else {
                        describe(&e)
                    });
                    break;
                }
            }
        }
        Exchange::Answered(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&kept).into_owned(),
            body_error,
            latency,
        })
    }

    fn failed(&self, e: &reqwest::Error) -> Exchange {
        let origin = self.endpoints.origin();
        if e.is_connect() {
            return match rejected_certificate(e) {
                Some(reason) => Exchange::NotSent {
                    reason: format!("the TLS certificate of {origin} was rejected: {reason}"),
                    certificate: true,
                },
                None => Exchange::NotSent {
                    reason: format!("cannot connect to {origin}: {}", describe(e)),
                    certificate: false,
                },
            };
        }
        Exchange::NoAnswer {
            reason: if e.is_timeout() {
                format!(
                    "no answer within {:?} (the request timeout)",
                    self.request_timeout
                )
            } else {
                format!("no answer from {origin}: {}", describe(e))
            },
        }
    }
}

/// The rustls error of a rejected certificate, wherever it sits in `e`'s causes.
fn rejected_certificate(e: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(error) = cause {
        // `io::Error::source` skips the error it wraps, and connectors wrap I/O errors in
        // I/O errors: look inside each.
        let mut inner = error;
        loop {
            if let Some(tls @ rustls::Error::InvalidCertificate(_)) =
                inner.downcast_ref::<rustls::Error>()
            {
                return Some(tls.to_string());
            }
            match inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(wrapped) => inner = wrapped,
                None => break,
            }
        }
        cause = error.source();
    }
    None
}

/// The causes of `e` as one line, without the URL (it is the API's, known) and without the
/// wrappers that say nothing ("error sending request", "client error (Connect)").
fn describe(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(error) = cause {
        let text = error.to_string();
        let text = match text.find(" (os error") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        if !text.starts_with("client error (") && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = error.source();
    }
    if parts.is_empty() {
        parts.push(own_message(e));
    }
    parts.join(": ")
}

/// `e`'s own message, without the URL reqwest adds.
fn own_message(e: &reqwest::Error) -> String {
    let text = e.to_string();
    match text.find(" for url (") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}
