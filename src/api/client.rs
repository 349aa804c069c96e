//! The HTTP transport: reqwest, with rustls (the program's ring provider, the platform's
//! roots), HTTP/2 over ALPN, the usual proxy variables, and no redirects. Each exchange says
//! how far it got, which is what decides whether a send may be tried again: before the
//! request could have left, after a status line arrived, or in between.
//!
//! The request timeout runs from the moment the request is written (its body is first read)
//! to the end of the answer; before that, opening a connection is bounded by the connect
//! timeout (at most the request timeout), and its failure, timeout included, is a connection
//! that failed: nothing was written. A timeout over the whole exchange could fire during the
//! TLS handshake and record as `unknown` a request that never left.

use std::convert::Infallible;
use std::error::Error as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Bytes, Frame, SizeHint};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::sync::oneshot;
use tokio::time::Instant;

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
    /// Opening a connection: TCP, the proxy, the TLS handshake. At most the request timeout
    /// is used.
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
    /// The connect timeout, at most the request timeout.
    connect_timeout: Duration,
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
        /// Trying again cannot help, and every other send would fail the same way (the API's
        /// certificate was rejected, the proxy refused its credentials): the run stops.
        fatal: bool,
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

/// What a proxy's 407 means, and what to do about it.
const PROXY_CREDENTIALS: &str = "HTTP 407 Proxy Authentication Required, it wants credentials it was not given or refused; give them in the proxy variable's URL (http://USER:PASSWORD@HOST:PORT)";

impl Client {
    pub(crate) fn new(
        endpoints: Endpoints,
        key: ApiKey,
        settings: ClientSettings,
    ) -> Result<Client, SetupError> {
        let mut tls =
            crate::tls::verified_config(crate::tls::provider()).map_err(SetupError::Client)?;
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let connect_timeout = settings.connect_timeout.min(settings.request_timeout);
        // No timeout over the whole exchange (see the module's comment): `post` starts the
        // request timeout when the request is written.
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(concat!("campaignctl/", env!("CARGO_PKG_VERSION")))
            // A 301 turned into a GET would report as sent a message that was never posted.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
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
            connect_timeout,
            request_timeout: settings.request_timeout,
        })
    }

    /// POSTs `body` (JSON) to the endpoint of `kind`.
    pub(crate) async fn post(&self, kind: Kind, body: Bytes) -> Exchange {
        let started = Instant::now();
        let (written_tx, written_rx) = oneshot::channel();
        let request = self
            .http
            .post(self.endpoints.url(kind).clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-tenant-api-key", self.key.header().clone())
            .body(reqwest::Body::wrap(Watched::new(body, written_tx)))
            .send();
        tokio::pin!(request);
        // Not written yet: its connection is being opened (a failure, a timeout included,
        // comes back as a connect error) or waited for (a pooled one, or an HTTP/2 stream).
        let written = async {
            if written_rx.await.is_err() {
                // The body was dropped unread: the request failed, and says so.
                std::future::pending::<()>().await;
            }
        };
        let unwritten_limit = self.connect_timeout + self.request_timeout;
        let (sent, deadline) = tokio::select! {
            biased;
            sent = &mut request => (sent, Instant::now() + self.request_timeout),
            () = written => {
                let deadline = Instant::now() + self.request_timeout;
                match tokio::time::timeout_at(deadline, &mut request).await {
                    Ok(sent) => (sent, deadline),
                    Err(_) => return Exchange::NoAnswer {
                        reason: format!(
                            "no answer within {:?} (the request timeout)",
                            self.request_timeout
                        ),
                    },
                }
            }
            () = tokio::time::sleep_until(started + unwritten_limit) => {
                // A connection was open (an HTTP/2 one may carry the request's head already)
                // but the body never left.
                return Exchange::NoAnswer {
                    reason: format!("the request was not written in full within {unwritten_limit:?}"),
                };
            }
        };
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return self.failed(&e),
        };
        let latency = started.elapsed();
        let status = response.status();
        // A plain-HTTP request goes to the proxy whole; a 407 is the proxy's own answer,
        // and the API never saw the request.
        if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
            && let Some(proxy) = self.endpoints.proxy()
        {
            return Exchange::NotSent {
                reason: format!(
                    "the proxy {proxy} refused the request to {}: {}",
                    self.endpoints.origin(),
                    PROXY_CREDENTIALS
                ),
                fatal: true,
            };
        }
        let headers = std::mem::take(response.headers_mut());
        let mut kept = Vec::new();
        let mut read = 0;
        let mut body_error = None;
        while read <= MAX_READ_BODY {
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    read += chunk.len();
                    let room = KEPT_BODY.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    body_error = Some(describe(&e));
                    break;
                }
                Err(_) => {
                    body_error = Some(format!(
                        "no complete body within {:?}",
                        self.request_timeout
                    ));
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
        let proxy = self.endpoints.proxy();
        let through = proxy.map_or_else(String::new, |p| format!(" through the proxy {p}"));
        if e.is_connect() {
            if let Some(reason) = rejected_certificate(e) {
                return Exchange::NotSent {
                    reason: format!(
                        "the TLS certificate of {origin} was rejected{through}: {reason}"
                    ),
                    fatal: true,
                };
            }
            let cause = describe(e);
            let reason = match proxy {
                _ if e.is_timeout() => format!(
                    "cannot connect to {origin}{through}: timed out after {:?} (the connect timeout, at most the request timeout)",
                    self.connect_timeout
                ),
                None => format!("cannot connect to {origin}: {cause}"),
                // The TLS handshake with the API, through the tunnel, failed.
                Some(p) if rustls_error(e).is_some() => {
                    format!("cannot connect to {origin} through the proxy {p}: {cause}")
                }
                // The proxy answered the CONNECT with a 407: every tunnel would be refused.
                Some(p) if cause.contains("tunnel error: proxy authorization required") => {
                    return Exchange::NotSent {
                        reason: format!(
                            "the proxy {p} opened no tunnel to {origin}: {PROXY_CREDENTIALS}"
                        ),
                        fatal: true,
                    };
                }
                // The proxy answered the CONNECT, and not with a tunnel (a 502).
                Some(p) if cause.contains("tunnel error: ") => {
                    format!("the proxy {p} opened no tunnel to {origin}: {cause}")
                }
                Some(p) => format!("cannot connect to the proxy {p}: {cause}"),
            };
            return Exchange::NotSent {
                reason,
                fatal: false,
            };
        }
        if let Some(reason) = refused_unprocessed(e) {
            return Exchange::NotSent {
                reason: format!("{origin} {reason}"),
                fatal: false,
            };
        }
        Exchange::NoAnswer {
            reason: format!("no answer from {origin}{through}: {}", describe(e)),
        }
    }
}

/// The request body: its bytes in one frame, and a word when hyper first reads it, which is
/// when the request is being written (on a connection that is open).
struct Watched {
    bytes: Option<Bytes>,
    written: Option<oneshot::Sender<()>>,
}

impl Watched {
    fn new(bytes: Bytes, written: oneshot::Sender<()>) -> Watched {
        Watched {
            bytes: Some(bytes),
            written: Some(written),
        }
    }
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(written) = self.written.take() {
            let _ = written.send(());
        }
        Poll::Ready(self.bytes.take().map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }

    /// Exact, so the request has a `content-length`.
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// What the API said, over HTTP/2, of a request it did not process: it refused the stream
/// (REFUSED_STREAM), or closed the connection gracefully before reaching it (GOAWAY). RFC
/// 9113 8.7: such a request may be sent again. (reqwest retries these itself only for a
/// body it can copy; ours says when it is written, so they come here.)
fn refused_unprocessed(e: &reqwest::Error) -> Option<&'static str> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(error) = cause {
        if let Some(h2) = error.downcast_ref::<h2::Error>()
            && h2.is_remote()
        {
            if h2.is_reset() && h2.reason() == Some(h2::Reason::REFUSED_STREAM) {
                return Some("refused the request unprocessed (HTTP/2 REFUSED_STREAM)");
            }
            if h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR) {
                return Some("closed the connection before processing the request (HTTP/2 GOAWAY)");
            }
        }
        cause = error.source();
    }
    None
}

/// The rustls error of a rejected certificate, wherever it sits in `e`'s causes.
fn rejected_certificate(e: &reqwest::Error) -> Option<String> {
    match rustls_error(e)? {
        tls @ rustls::Error::InvalidCertificate(_) => Some(tls.to_string()),
        _ => None,
    }
}

/// The rustls error among `e`'s causes: a TLS handshake was under way.
fn rustls_error(e: &reqwest::Error) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(error) = cause {
        // `io::Error::source` skips the error it wraps, and connectors wrap I/O errors in
        // I/O errors: look inside each.
        let mut inner = error;
        loop {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
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
        // A tunnel's own wrapper around the error of connecting to the proxy says nothing
        // the message does not say already.
        let says_nothing = text.starts_with("client error (")
            || text == "tunnel error: failed to create underlying connection";
        if !says_nothing && !parts.iter().any(|p| p.contains(&text)) {
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
