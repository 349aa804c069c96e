//! The HTTP client that sends to the API: HTTP/1.1 keep-alive connections to one origin,
//! kept in one pool for the run, over rustls (ring provider, the platform's certificate
//! roots), with a connect timeout and a whole-request timeout.
//!
//! Built on hyper's connection API directly, not reqwest nor hyper-util's pooled client:
//! on the apply benchmark's machine a bare request loop reached 80,000-84,000 requests/s
//! through reqwest, 110,000-116,000 through hyper-util's client and 121,000-138,000 on hyper
//! connections (wrk: 148,000). The layers above hyper would have used up the time that the
//! ledger and the planning need (bench/apply.sh, README "Performance"). All this client
//! needs is one origin, POST, and a pool: a stack of idle connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::ledger::MAX_RESPONSE_BYTES;

/// Request header that carries the API key.
const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-tenant-api-key");

type Sender = SendRequest<Full<Bytes>>;

pub struct HttpClient {
    origin: Origin,
    tls: Option<TlsConnector>,
    /// Idle keep-alive connections; the most recently used is taken first.
    idle: Mutex<Vec<Sender>>,
    max_idle: usize,
    connect_timeout: Duration,
    request_timeout: Duration,
    user_agent: HeaderValue,
}

/// Where every request goes.
struct Origin {
    /// Host name or address (IPv6 without brackets), for connecting and for TLS.
    host: String,
    port: u16,
    /// The `Host` header.
    authority: HeaderValue,
}

/// What came back: the status, `Retry-After` if any, and the body (cut at
/// [`MAX_RESPONSE_BYTES`], lossily decoded).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub retry_after: Option<HeaderValue>,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made: the request never left.
    #[error("cannot connect to {origin}: {reason}")]
    Connect { origin: String, reason: String },
    /// No complete answer in time: the request may or may not have been delivered.
    #[error("no answer within {0:?} (the request timeout)")]
    Timeout(Duration),
    /// The connection broke after the request was (perhaps) written.
    #[error("{0}")]
    Broken(String),
}

impl TransportError {
    /// True when the request certainly did not reach the server.
    pub fn not_sent(&self) -> bool {
        matches!(self, TransportError::Connect { .. })
    }
}

/// A connection's byte stream: plain TCP (loopback only) or TLS.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

impl HttpClient {
    /// A client for the scheme, host and port of `origin` (`http` or `https`), pooling up
    /// to `connections` idle connections.
    pub fn new(
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
        Ok(HttpClient {
            origin: Origin {
                authority: HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?,
                host,
                port,
            },
            tls,
            idle: Mutex::new(Vec::new()),
            max_idle: connections.max(1),
            connect_timeout,
            request_timeout,
            user_agent: HeaderValue::from_static(concat!(
                "campaignctl/",
                env!("CARGO_PKG_VERSION")
            )),
        })
    }

    /// POSTs a JSON body with the API key to `uri`'s path on the origin and reads the whole
    /// answer, within the request timeout.
    pub async fn post_json(
        &self,
        uri: &Uri,
        key: &HeaderValue,
        body: Bytes,
    ) -> Result<Response, TransportError> {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let request = Request::post(path)
            .header(HOST, self.origin.authority.clone())
            .header(API_KEY_HEADER, key.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, self.user_agent.clone())
            .body(Full::new(body))
            .map_err(|e| TransportError::Broken(e.to_string()))?;
        match tokio::time::timeout(self.request_timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout(self.request_timeout)),
        }
    }

    async fn exchange(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response, TransportError> {
        let (response, sender) = loop {
            let (mut sender, fresh) = match self.checkout().await {
                Some(sender) => (sender, false),
                None => (self.connect().await?, true),
            };
            match sender.try_send_request(request).await {
                Ok(response) => break (response, sender),
                Err(mut e) => match e.take_message() {
                    // Not written: a pooled connection had closed. Another one takes it.
                    Some(unsent) if !fresh => request = unsent,
                    // A new connection that closes at once: the request never left.
                    Some(_) => {
                        return Err(TransportError::Connect {
                            origin: format!("{}:{}", self.origin.host, self.origin.port),
                            reason: format!(
                                "the connection closed before the request was written: {}",
                                error_chain(e.error())
                            ),
                        });
                    }
                    None => return Err(TransportError::Broken(error_chain(e.error()))),
                },
            }
        };
        let status = response.status();
        let retry_after = response.headers().get(RETRY_AFTER).cloned();
        let (body, complete) = read_body(response.into_body()).await;
        // Only a connection whose answer was read to the end can carry the next request.
        if complete && !sender.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < self.max_idle {
                idle.push(sender);
            }
        }
        Ok(Response {
            status,
            retry_after,
            body,
        })
    }

    /// An idle connection ready for a request, if any; closed ones are dropped.
    async fn checkout(&self) -> Option<Sender> {
        loop {
            let mut sender = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if sender.is_closed() {
                continue;
            }
            // Ready at once unless the connection is still finishing the last exchange.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    /// A new connection (TCP, then TLS for https), within the connect timeout.
    async fn connect(&self) -> Result<Sender, TransportError> {
        let failed = |reason: String| TransportError::Connect {
            origin: format!("{}:{}", self.origin.host, self.origin.port),
            reason,
        };
        let connecting = async {
            let tcp = TcpStream::connect((self.origin.host.as_str(), self.origin.port))
                .await
                .map_err(|e| failed(e.to_string()))?;
            tcp.set_nodelay(true).map_err(|e| failed(e.to_string()))?;
            let io: Box<dyn Io> = match &self.tls {
                Some(tls) => {
                    let name = ServerName::try_from(self.origin.host.clone())
                        .map_err(|e| failed(e.to_string()))?;
                    let stream = tls
                        .connect(name, tcp)
                        .await
                        .map_err(|e| failed(format!("TLS: {e}")))?;
                    Box::new(stream)
                }
                None => Box::new(tcp),
            };
            let (sender, connection) = http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| failed(error_chain(&e)))?;
            // Drives the connection until it closes (both ends idle, or an error).
            tokio::spawn(connection);
            Ok(sender)
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

/// The body, up to [`MAX_RESPONSE_BYTES`], and whether it was read to its end.
async fn read_body(mut body: Incoming) -> (String, bool) {
    let mut bytes = Vec::new();
    let complete = loop {
        match body.frame().await {
            None => break true,
            Some(Err(_)) => break false,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                    if bytes.len() > MAX_RESPONSE_BYTES {
                        break false;
                    }
                }
            }
        }
    };
    (String::from_utf8_lossy(&bytes).into_owned(), complete)
}

/// `outer: cause: root cause`, the way a person reads it.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
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
}
