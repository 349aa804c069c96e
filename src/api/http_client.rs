//! The HTTP client that sends to the API: HTTP/1.1 keep-alive connections to one origin,
//! kept in one pool for the run, over rustls (ring provider, the platform's certificate
//! roots), with a connect timeout and a whole-request timeout.
//!
//! The protocol is our own, on purpose: all it takes is one origin, `POST` with a JSON body,
//! and reading one answer (status, `Retry-After`, body framed by `Content-Length`, chunked or
//! by the close). httparse, the parser inside hyper, reads the response head. A request is
//! one write of bytes built in place; the task that sends it reads its answer from the same
//! connection, with no connection task, channel or header map between them.
//!
//! On the apply benchmark's machine (bench/apply.sh) one thread sending through this client
//! costs about 4.5 µs of CPU per request, against 8-9 µs on hyper's connection API (which
//! this replaced) and more through hyper-util's or reqwest's clients; wrk costs about
//! 5 µs. Those microseconds were what apply lacked for its throughput target.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{StatusCode, Uri};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A response head larger than this is refused (hyper's default limit is ~400 KiB; the API
/// answers with a few short headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers a response may have.
const MAX_HEADERS: usize = 64;
/// A body up to this size is read to its end so the connection can be kept; of a larger one
/// only the start is read and the connection is closed.
const MAX_DRAINED_BODY: usize = 64 * 1024;
/// How much of a body is kept: the ledger stores 4 KiB of it, cut on a character
/// boundary, so a few bytes more leave it a whole last character.
const KEPT_BODY: usize = 4096 + 4;

pub(crate) struct HttpClient {
    origin: Origin,
    tls: Option<TlsConnector>,
    /// Idle keep-alive connections; the most recently used is taken first.
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    connect_timeout: Duration,
    request_timeout: Duration,
}

/// Where every request goes.
struct Origin {
    /// Host name or address (IPv6 without brackets), for connecting and for TLS.
    host: String,
    port: u16,
    /// The header lines every request carries: `host`, `user-agent` and `content-type`.
    headers: String,
}

/// What came back: the status, `Retry-After` if any, and the body (cut a little after
/// [`KEPT_BODY`], lossily decoded).
#[derive(Debug)]
pub(crate) struct Response {
    pub status: StatusCode,
    pub retry_after: Option<HeaderValue>,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// No connection could be made: the request never left.
    #[error("cannot connect to {origin}: {reason}")]
    Connect { origin: String, reason: String },
    /// The server's TLS certificate was rejected (an unknown issuer, expired, for another
    /// name): the request never left, and trying again cannot help.
    #[error("the TLS certificate of {origin} was rejected: {reason}")]
    Certificate { origin: String, reason: String },
    /// No complete answer in time: the request may or may not have been delivered.
    #[error("no answer within {0:?} (the request timeout)")]
    Timeout(Duration),
    /// The connection broke, or the answer was not HTTP, after the request was (perhaps)
    /// written.
    #[error("{0}")]
    Broken(String),
}

impl TransportError {
    /// True when the request certainly did not reach the server.
    pub(crate) fn not_sent(&self) -> bool {
        matches!(
            self,
            TransportError::Connect { .. } | TransportError::Certificate { .. }
        )
    }

    /// False when trying again cannot succeed.
    pub(crate) fn retryable(&self) -> bool {
        !matches!(self, TransportError::Certificate { .. })
    }
}

impl HttpClient {
    /// A client for the scheme, host and port of `origin` (`http` or `https`), pooling up
    /// to `connections` idle connections.
    pub(crate) fn new(
        origin: &Uri,
        connect_timeout: Duration,
        request_timeout: Duration,
        connections: usize,
    ) -> Result<HttpClient, String> {
        let https = match origin.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("`{origin}` is not an http(s) URL")),
        };
        let authority = origin
            .authority()
            .ok_or_else(|| format!("`{origin}` has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let mut config = crate::tls::verified_config(crate::tls::provider())?;
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        // A parsed authority holds no CR, LF or space: it cannot break the header block.
        let headers = format!(
            "host: {authority}\r\nuser-agent: campaignctl/{}\r\ncontent-type: application/json\r\n",
            env!("CARGO_PKG_VERSION")
        );
        Ok(HttpClient {
            origin: Origin {
                host,
                port,
                headers,
            },
            tls,
            idle: Mutex::new(Vec::new()),
            max_idle: connections.max(1),
            connect_timeout,
            request_timeout,
        })
    }

    /// POSTs a JSON body with the API key to `uri`'s path on the origin and reads the whole
    /// answer, within the request timeout.
    pub(crate) async fn post_json(
        &self,
        uri: &Uri,
        key: &HeaderValue,
        body: Bytes,
    ) -> Result<Response, TransportError> {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        match tokio::time::timeout(self.request_timeout, self.exchange(path, key, &body)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout(self.request_timeout)),
        }
    }

    async fn exchange(
        &self,
        path: &str,
        key: &HeaderValue,
        body: &[u8],
    ) -> Result<Response, TransportError> {
        loop {
            let (mut connection, fresh) = match self.checkout() {
                Some(connection) => (connection, false),
                None => (self.connect().await?, true),
            };
            connection.write_request(&self.origin.headers, path, key, body);
            if let Err(e) = connection.send().await {
                // A request cut off while being written cannot be acted on: the server
                // waits for the rest of the body. A pooled connection that had closed
                // hands the request to another one; a new one failing is a connect error.
                if fresh {
                    return Err(TransportError::Connect {
                        origin: self.origin_name(),
                        reason: format!(
                            "the connection closed before the request was written: {e}"
                        ),
                    });
                }
                continue;
            }
            let answer = connection.read_response().await?;
            if answer.keep_alive {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < self.max_idle {
                    idle.push(connection);
                }
            }
            return Ok(Response {
                status: answer.status,
                retry_after: answer.retry_after,
                body: String::from_utf8_lossy(&answer.body).into_owned(),
            });
        }
    }

    /// An idle connection still open, if any; closed ones are dropped.
    fn checkout(&self) -> Option<Connection> {
        loop {
            let mut connection = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if connection.is_open() {
                return Some(connection);
            }
        }
    }

    fn origin_name(&self) -> String {
        format!("{}:{}", self.origin.host, self.origin.port)
    }

    /// A new connection (TCP, then TLS for https), within the connect timeout.
    async fn connect(&self) -> Result<Connection, TransportError> {
        let failed = |reason: String| TransportError::Connect {
            origin: self.origin_name(),
            reason,
        };
        let connecting = async {
            let tcp = TcpStream::connect((self.origin.host.as_str(), self.origin.port))
                .await
                .map_err(|e| failed(e.to_string()))?;
            tcp.set_nodelay(true).map_err(|e| failed(e.to_string()))?;
            let stream = match &self.tls {
                Some(tls) => {
                    let name = ServerName::try_from(self.origin.host.clone())
                        .map_err(|e| failed(e.to_string()))?;
                    let stream = tls.connect(name, tcp).await.map_err(|e| {
                        let rejected = e
                            .get_ref()
                            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                            .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
                        if rejected {
                            TransportError::Certificate {
                                origin: self.origin_name(),
                                reason: e.to_string(),
                            }
                        } else {
                            failed(format!("TLS: {e}"))
                        }
                    })?;
                    Stream::Tls(Box::new(stream))
                }
                None => Stream::Plain(tcp),
            };
            Ok(Connection {
                stream,
                output: Vec::with_capacity(1024),
                input: Vec::with_capacity(8 * 1024),
            })
        };
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(result) => result,
            Err(_) => Err(failed(format!(
                "no connection within {:?} (the connect timeout)",
                self.connect_timeout
            ))),
        }
    }
}

/// A connection's byte stream: plain TCP (loopback only) or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One keep-alive connection with its buffers, reused from request to request.
struct Connection {
    stream: Stream,
    /// The request being sent.
    output: Vec<u8>,
    /// Bytes read and not yet consumed.
    input: Vec<u8>,
}

/// A response read to its end (or to [`MAX_DRAINED_BODY`]).
struct Answer {
    status: StatusCode,
    retry_after: Option<HeaderValue>,
    body: Vec<u8>,
    /// Whether the connection can carry the next request.
    keep_alive: bool,
}

/// How the body of a response ends.
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    /// At the close of the connection.
    Close,
}

impl Connection {
    /// Puts the request in the output buffer. `key` is a checked header value (no CR or
    /// LF) and `path` comes from a parsed URI, so neither can add a header.
    fn write_request(&mut self, headers: &str, path: &str, key: &HeaderValue, body: &[u8]) {
        use std::io::Write as _;
        let out = &mut self.output;
        out.clear();
        out.extend_from_slice(b"POST ");
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        out.extend_from_slice(headers.as_bytes());
        out.extend_from_slice(b"x-tenant-api-key: ");
        out.extend_from_slice(key.as_bytes());
        let _ = write!(out, "\r\ncontent-length: {}\r\n\r\n", body.len());
        out.extend_from_slice(body);
    }

    async fn send(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.output).await?;
        self.stream.flush().await
    }

    /// An idle connection is open while there is nothing to read on it: the end of the
    /// stream (the server closed it after its keep-alive timeout), an error, or bytes
    /// nobody asked for all mean it cannot carry another request. Never waits; a read
    /// with nothing to take costs no system call (tokio remembers the socket had no data).
    fn is_open(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        Pin::new(&mut self.stream)
            .poll_read(&mut cx, &mut buf)
            .is_pending()
    }

    /// Reads more of the answer; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.input.capacity() - self.input.len() < 1024 {
            self.input.reserve(8 * 1024);
        }
        self.stream.read_buf(&mut self.input).await
    }

    /// [`Connection::fill`], a read error being a broken connection.
    async fn read_more(&mut self, reading: &str) -> Result<usize, TransportError> {
        self.fill().await.map_err(|e| {
            TransportError::Broken(format!("connection error while reading the {reading}: {e}"))
        })
    }

    /// Reads more of the answer, which must not end yet.
    async fn fill_or_fail(&mut self, reading: &str) -> Result<(), TransportError> {
        if self.read_more(reading).await? == 0 {
            return Err(TransportError::Broken(format!(
                "the connection closed while reading the {reading}"
            )));
        }
        Ok(())
    }

    /// Reads one response: interim (1xx) answers are skipped.
    async fn read_response(&mut self) -> Result<Answer, TransportError> {
        self.input.clear();
        let (head, framing) = loop {
            match parse_head(&self.input)? {
                Some((head, _)) if head.interim => {
                    self.input.drain(..head.length);
                }
                Some(parsed) => break parsed,
                None => self.fill_or_fail("response").await?,
            }
        };
        let mut keep_alive = head.keep_alive;
        let start = head.length;
        let body = match framing {
            Framing::Empty => Vec::new(),
            Framing::Length(length) => {
                let wanted = length.min(MAX_DRAINED_BODY);
                while self.input.len() - start < wanted {
                    self.fill_or_fail("response body").await?;
                }
                if length > MAX_DRAINED_BODY {
                    keep_alive = false;
                }
                let end = start + wanted;
                if self.input.len() > end {
                    keep_alive = false; // bytes after the answer: nothing to trust
                }
                self.input[start..end.min(start + KEPT_BODY)].to_vec()
            }
            Framing::Chunked => loop {
                match decode_chunked(&self.input[start..])
                    .map_err(|e| TransportError::Broken(format!("invalid chunked body: {e}")))?
                {
                    Chunked::Done { body, consumed } => {
                        if self.input.len() > start + consumed {
                            keep_alive = false;
                        }
                        break cut(body);
                    }
                    Chunked::Partial(body) if self.input.len() - start > MAX_DRAINED_BODY => {
                        keep_alive = false;
                        break cut(body);
                    }
                    Chunked::Partial(_) => self.fill_or_fail("response body").await?,
                }
            },
            Framing::Close => {
                keep_alive = false;
                // To the close, or past the most a body is read to.
                while self.input.len() - start <= MAX_DRAINED_BODY
                    && self.read_more("response body").await? > 0
                {}
                let end = self.input.len().min(start + KEPT_BODY);
                self.input[start..end].to_vec()
            }
        };
        self.input.clear();
        Ok(Answer {
            status: head.status,
            retry_after: head.retry_after,
            body,
            keep_alive,
        })
    }
}

fn cut(mut body: Vec<u8>) -> Vec<u8> {
    body.truncate(KEPT_BODY);
    body
}

/// A parsed response head.
struct Head {
    /// Its length in bytes, with the blank line.
    length: usize,
    status: StatusCode,
    /// A 1xx answer that another answer follows.
    interim: bool,
    retry_after: Option<HeaderValue>,
    keep_alive: bool,
}

/// The response head at the start of `input`, once complete, and how its body is framed.
fn parse_head(input: &[u8]) -> Result<Option<(Head, Framing)>, TransportError> {
    let invalid = |what: String| TransportError::Broken(format!("invalid response: {what}"));
    // Uninitialised: zeroing 64 headers cost more than parsing the few the API sends.
    let mut headers =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let length = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        input,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD_BYTES => {
            return Err(invalid(format!("head longer than {MAX_HEAD_BYTES} bytes")));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid(e.to_string())),
    };
    let code = response.code.unwrap_or_default();
    let status = StatusCode::from_u16(code).map_err(|e| invalid(e.to_string()))?;
    let mut retry_after = None;
    let mut content_length = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    // HTTP/1.0 closes after each answer unless asked otherwise; keep it simple and close.
    let mut keep_alive = response.version == Some(1);
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| invalid("bad content-length".to_owned()))?;
            if content_length.is_some_and(|l| l != value) {
                return Err(invalid("two different content-lengths".to_owned()));
            }
            content_length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // Chunked must be the last coding for the body to be framed by chunks.
            chunked = header
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            if header
                .value
                .split(|b| *b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
            {
                keep_alive = false;
            }
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = HeaderValue::from_bytes(header.value).ok();
        }
    }
    let interim = status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS;
    let framing =
        if interim || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            Framing::Empty
        } else if transfer_encoding {
            if chunked {
                Framing::Chunked
            } else {
                Framing::Close
            }
        } else {
            match content_length {
                Some(0) => Framing::Empty,
                Some(length) => Framing::Length(length),
                None => Framing::Close,
            }
        };
    if transfer_encoding && content_length.is_some() {
        // Both framings at once: used to smuggle requests; never reuse such a connection.
        keep_alive = false;
    }
    Ok(Some((
        Head {
            length,
            status,
            interim,
            retry_after,
            keep_alive,
        },
        framing,
    )))
}

/// A chunked body decoded so far.
enum Chunked {
    /// The whole body, and how many input bytes it took (chunks, last chunk, trailers).
    Done { body: Vec<u8>, consumed: usize },
    /// More input is needed; the data of the complete chunks so far.
    Partial(Vec<u8>),
}

/// Decodes a chunked body (RFC 9112 §7.1) from the start of `input`: chunk-size lines in
/// hex (extensions ignored), data, CRLF; a zero-size chunk, trailer lines, a blank line.
fn decode_chunked(input: &[u8]) -> Result<Chunked, String> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_end) = find_crlf(&input[at..]) else {
            return Ok(Chunked::Partial(body));
        };
        let line = &input[at..at + line_end];
        let digits = line
            .split(|b| *b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let size = std::str::from_utf8(digits)
            .ok()
            .filter(|d| !d.is_empty() && d.len() <= 15)
            .and_then(|d| usize::from_str_radix(d, 16).ok())
            .ok_or_else(|| format!("bad chunk size line {:?}", String::from_utf8_lossy(line)))?;
        at += line_end + 2;
        if size == 0 {
            // Trailer lines, up to a blank line.
            loop {
                let Some(end) = find_crlf(&input[at..]) else {
                    return Ok(Chunked::Partial(body));
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Chunked::Done { body, consumed: at });
                }
            }
        }
        if input.len() < at + size + 2 {
            let available = input.len().saturating_sub(at).min(size);
            body.extend_from_slice(&input[at..at + available]);
            return Ok(Chunked::Partial(body));
        }
        if &input[at + size..at + size + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".to_owned());
        }
        body.extend_from_slice(&input[at..at + size]);
        at += size + 2;
    }
}

fn find_crlf(input: &[u8]) -> Option<usize> {
    input.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}";

    fn client(url: &str) -> (HttpClient, Uri) {
        let uri: Uri = url.parse().unwrap();
        let client =
            HttpClient::new(&uri, Duration::from_secs(2), Duration::from_secs(2), 4).unwrap();
        (client, uri)
    }

    /// A listener on a free loopback port, and the port.
    async fn listen() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    /// Reads one request (headers and a content-length body) from `stream`; None at EOF.
    async fn read_request(stream: &mut TcpStream) -> Option<String> {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                if data.len() >= end + 4 + length {
                    return Some(text);
                }
            }
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&buf[..n]);
        }
    }

    #[tokio::test]
    async fn posts_to_the_path_with_host_key_and_json_headers() {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = read_request(&mut stream).await.unwrap();
            stream.write_all(OK).await.unwrap();
            request
        });
        let (client, _) = client(&format!("http://127.0.0.1:{port}"));
        let target: Uri = format!("http://127.0.0.1:{port}/a/b?c=1").parse().unwrap();
        let key = HeaderValue::from_static("k-123");
        let response = client
            .post_json(&target, &key, Bytes::from_static(b"{\"x\":1}"))
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.body, "{}");
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /a/b?c=1 HTTP/1.1\r\n"),
            "{request}"
        );
        for header in [
            format!("host: 127.0.0.1:{port}"),
            "x-tenant-api-key: k-123".to_owned(),
            "content-type: application/json".to_owned(),
            "content-length: 7".to_owned(),
        ] {
            assert!(
                request.contains(&format!("{header}\r\n")),
                "{header}: {request}"
            );
        }
        assert!(request.ends_with("\r\n\r\n{\"x\":1}"), "{request}");
    }

    #[tokio::test]
    async fn reuses_a_kept_alive_connection_and_replaces_one_the_server_closed() {
        let (listener, port) = listen().await;
        // First connection: two requests, then the server closes it (an idle timeout).
        // Second connection: one more request.
        let server = tokio::spawn(async move {
            let mut per_connection = Vec::new();
            for keep in [2, 1] {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut served = 0;
                while served < keep && read_request(&mut stream).await.is_some() {
                    stream.write_all(OK).await.unwrap();
                    served += 1;
                }
                per_connection.push(served);
            }
            per_connection
        });
        let (client, uri) = client(&format!("http://127.0.0.1:{port}/p"));
        let key = HeaderValue::from_static("k");
        for _ in 0..2 {
            let response = client.post_json(&uri, &key, Bytes::new()).await.unwrap();
            assert_eq!(response.status, StatusCode::OK);
        }
        // Let the client notice the close before the third request.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = client.post_json(&uri, &key, Bytes::new()).await.unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(server.await.unwrap(), vec![2, 1]);
    }

    #[tokio::test]
    async fn a_server_that_closes_every_connection_fails_the_request_promptly() {
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                drop(stream);
            }
        });
        let (client, uri) = client(&format!("http://127.0.0.1:{port}/p"));
        let started = std::time::Instant::now();
        let e = client
            .post_json(&uri, &HeaderValue::from_static("k"), Bytes::new())
            .await
            .unwrap_err();
        // Not the request timeout (2 s): no endless reconnecting.
        assert!(!matches!(e, TransportError::Timeout(_)), "{e}");
        assert!(started.elapsed() < Duration::from_secs(1), "{e}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error_that_was_never_sent() {
        let (listener, port) = listen().await;
        drop(listener);
        let (client, uri) = client(&format!("http://127.0.0.1:{port}/p"));
        let e = client
            .post_json(&uri, &HeaderValue::from_static("k"), Bytes::new())
            .await
            .unwrap_err();
        assert!(e.not_sent(), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
            "{e}"
        );
    }

    #[tokio::test]
    async fn no_answer_in_time_is_a_timeout_that_may_have_been_sent() {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = read_request(&mut stream).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            request.is_some()
        });
        let uri: Uri = format!("http://127.0.0.1:{port}/p").parse().unwrap();
        let client =
            HttpClient::new(&uri, Duration::from_secs(2), Duration::from_millis(200), 4).unwrap();
        let e = client
            .post_json(&uri, &HeaderValue::from_static("k"), Bytes::new())
            .await
            .unwrap_err();
        assert!(matches!(e, TransportError::Timeout(_)), "{e}");
        assert!(!e.not_sent());
        assert!(server.await.unwrap(), "the request reached the server");
    }

    /// Serves one connection: for each raw answer in `answers`, reads a request and writes
    /// the answer; returns how many requests it read.
    async fn serve(listener: TcpListener, answers: Vec<Vec<u8>>) -> usize {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut served = 0;
        for answer in answers {
            if read_request(&mut stream).await.is_none() {
                break;
            }
            served += 1;
            stream.write_all(&answer).await.unwrap();
        }
        served
    }

    async fn post(client: &HttpClient, uri: &Uri) -> Result<Response, TransportError> {
        client
            .post_json(
                uri,
                &HeaderValue::from_static("k"),
                Bytes::from_static(b"{}"),
            )
            .await
    }

    #[tokio::test]
    async fn reads_chunked_bodies_skips_interim_answers_and_keeps_the_connection() {
        let (listener, port) = listen().await;
        // All on one connection: the second and third requests reuse it.
        let server = tokio::spawn(serve(
            listener,
            vec![
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\ntrailer: x\r\n\r\n".to_vec(),
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\ncontent-length: 4\r\n\r\nslow".to_vec(),
                b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            ],
        ));
        let (client, uri) = client(&format!("http://127.0.0.1:{port}/p"));
        let first = post(&client, &uri).await.unwrap();
        assert_eq!(
            (first.status, first.body.as_str()),
            (StatusCode::OK, "{\"a\":1}")
        );
        let second = post(&client, &uri).await.unwrap();
        assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(second.retry_after, Some(HeaderValue::from_static("7")));
        assert_eq!(second.body, "slow");
        let third = post(&client, &uri).await.unwrap();
        assert_eq!(
            (third.status, third.body.as_str()),
            (StatusCode::NO_CONTENT, "")
        );
        assert_eq!(server.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_body_ended_by_the_close_is_read_and_the_connection_not_reused() {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let mut requests = Vec::new();
            // No length: the body ends with the connection. Then `connection: close`.
            for answer in [
                &b"HTTP/1.1 500 Internal Server Error\r\n\r\nupstream down"[..],
                b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}",
            ] {
                let (mut stream, _) = listener.accept().await.unwrap();
                requests.push(read_request(&mut stream).await.is_some());
                stream.write_all(answer).await.unwrap();
            }
            // The third request needs a third connection.
            let (mut stream, _) = listener.accept().await.unwrap();
            requests.push(read_request(&mut stream).await.is_some());
            stream.write_all(OK).await.unwrap();
            requests
        });
        let (client, uri) = client(&format!("http://127.0.0.1:{port}/p"));
        let first = post(&client, &uri).await.unwrap();
        assert_eq!(first.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(first.body, "upstream down");
        for _ in 0..2 {
            assert_eq!(post(&client, &uri).await.unwrap().status, StatusCode::OK);
        }
        assert_eq!(server.await.unwrap(), vec![true, true, true]);
    }

    #[tokio::test]
    async fn a_long_body_is_cut_and_its_connection_dropped() {
        let (listener, port) = listen().await;
        let long = "é".repeat(MAX_DRAINED_BODY); // twice MAX_DRAINED_BODY bytes
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_request(&mut stream).await.unwrap();
            let head = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-length: {}\r\n\r\n",
                long.len()
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            // The client may close before it is all written.
            let _ = stream.write_all(long.as_bytes()).await;
            let (mut second, _) = listener.accept().await.unwrap();
            read_request(&mut second).await.unwrap();
            second.write_all(OK).await.unwrap();
        });
        let (client, uri) = client(&format!("http://127.0.0.1:{port}/p"));
        let response = post(&client, &uri).await.unwrap();
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert_eq!(response.body.len(), KEPT_BODY);
        assert!(response.body.starts_with("éé"));
        assert_eq!(post(&client, &uri).await.unwrap().status, StatusCode::OK);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn an_answer_that_is_not_http_or_cut_short_is_a_broken_connection() {
        for answer in [
            &b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let (listener, port) = listen().await;
            tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                read_request(&mut stream).await.unwrap();
                stream.write_all(answer).await.unwrap();
            });
            let (client, uri) = client(&format!("http://127.0.0.1:{port}/p"));
            let e = post(&client, &uri).await.unwrap_err();
            assert!(matches!(e, TransportError::Broken(_)), "{e}");
            assert!(!e.not_sent(), "{e}");
        }
    }

    #[test]
    fn chunked_decoding_waits_for_the_whole_body() {
        let full = b"5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nNEXT";
        for cut in 0..full.len() - 4 {
            assert!(
                matches!(decode_chunked(&full[..cut]), Ok(Chunked::Partial(_))),
                "cut at {cut}"
            );
        }
        match decode_chunked(full) {
            Ok(Chunked::Done { body, consumed }) => {
                assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz");
                assert_eq!(consumed, full.len() - 4);
            }
            _ => panic!("not decoded"),
        }
        assert!(decode_chunked(b"5\r\nhelloXX0\r\n\r\n").is_err());
        assert!(decode_chunked(b"-1\r\n").is_err());
        assert!(decode_chunked(b"ffffffffffffffffff\r\n").is_err());
    }
}
