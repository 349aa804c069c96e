//! An HTTP/1.1 server on 127.0.0.1 that answers with exactly the bytes a test scripts, for
//! the answers a well-behaved server never gives: bodies that stall or are cut short, odd
//! framing, huge heads, no answer at all. Plain TCP, or TLS with the private CA's
//! `localhost` certificate (tests/private_ca.rs).
//!
//! For every request (head, then a `Content-Length` body) it counts the request, in total
//! and per recipient (`to.mobile`), and only then plays the script: writes, pauses, and
//! perhaps holds the connection open writing nothing, or closes it. A script that ends
//! without holding or closing leaves the connection open for the next request, which gets
//! the same script: every request that arrives is counted, however the client retries.
//!
//! [`Silent`] accepts connections and never writes: a TLS handshake with it never ends.
//!
//! ```ignore
//! let server = RawServer::start(
//!     Script::new().write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}").close(),
//! );
//! // ... run campaignctl with CHITCHAT_BASE_URL = server.url() ...
//! assert_eq!(server.request_count(), 1);
//! ```

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::loopback::{Loopback, RawRequest, close_gracefully, drain, read_request};
use crate::private_ca;

/// One step of an answer.
#[derive(Debug, Clone)]
enum Step {
    Write(Vec<u8>),
    Pause(Duration),
    /// Write nothing more and keep the connection open until the client goes away.
    Hold,
    /// Close the connection now: a FIN, and over TLS no `close_notify` before it.
    Close,
}

/// What the server does after reading each request.
#[derive(Debug, Clone, Default)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }

    /// Writes these bytes (one write: one TCP segment on loopback, with no delay).
    pub fn write(mut self, bytes: impl AsRef<[u8]>) -> Script {
        self.steps.push(Step::Write(bytes.as_ref().to_vec()));
        self
    }

    pub fn pause(mut self, pause: Duration) -> Script {
        self.steps.push(Step::Pause(pause));
        self
    }

    /// Ends the script: nothing more is written, and the connection stays open.
    pub fn hold(mut self) -> Script {
        self.steps.push(Step::Hold);
        self
    }

    /// Ends the script: the connection is closed without a TLS `close_notify`.
    pub fn close(mut self) -> Script {
        self.steps.push(Step::Close);
        self
    }
}

#[derive(Default)]
struct State {
    requests: Vec<RawRequest>,
    connections: usize,
}

/// A running scripted server; stopped when dropped.
pub struct RawServer {
    server: Loopback,
    tls: bool,
    state: Arc<Mutex<State>>,
}

impl RawServer {
    /// Plain HTTP: `http://127.0.0.1:PORT`.
    pub fn start(script: Script) -> RawServer {
        RawServer::serve(script, None)
    }

    /// HTTPS with the private CA's certificate, offering only `http/1.1` in ALPN:
    /// `https://localhost:PORT`.
    pub fn start_tls(script: Script) -> RawServer {
        let tls = TlsAcceptor::from(private_ca::server_config(&[b"http/1.1"]));
        RawServer::serve(script, Some(tls))
    }

    fn serve(script: Script, tls: Option<TlsAcceptor>) -> RawServer {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let is_tls = tls.is_some();
        let server = Loopback::serve("raw-server", move |tcp| {
            let (state, script, tls) = (shared.clone(), script.clone(), tls.clone());
            async move {
                lock(&state).connections += 1;
                match tls {
                    None => serve_connection(tcp, &state, &script).await,
                    Some(tls) => {
                        // A failed handshake (an untrusted certificate) ends here: no request.
                        if let Ok(stream) = tls.accept(tcp).await {
                            serve_connection(stream, &state, &script).await;
                        }
                    }
                }
            }
        });
        RawServer {
            server,
            tls: is_tls,
            state,
        }
    }

    /// The base URL to give campaignctl.
    pub fn url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.server.port())
        } else {
            format!("http://127.0.0.1:{}", self.server.port())
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Every complete request so far, in arrival order.
    pub fn requests(&self) -> Vec<RawRequest> {
        lock(&self.state).requests.clone()
    }

    /// Complete requests (head and body) received.
    pub fn request_count(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// Complete requests for `mobile`.
    pub fn requests_for(&self, mobile: &str) -> usize {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.recipient().as_deref() == Some(mobile))
            .count()
    }

    /// TCP connections accepted (with or without a request, or a TLS handshake).
    pub fn connections(&self) -> usize {
        lock(&self.state).connections
    }
}

/// A server that accepts TCP connections, reads what arrives and never writes a byte: a TLS
/// client's handshake never completes, so no request can be written. It keeps what each
/// connection sent.
pub struct Silent {
    server: Loopback,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Silent {
    pub fn start() -> Silent {
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = received.clone();
        let server = Loopback::serve("silent-server", move |mut tcp| {
            let shared = shared.clone();
            async move {
                let index = {
                    let mut all = shared.lock().unwrap_or_else(|e| e.into_inner());
                    all.push(Vec::new());
                    all.len() - 1
                };
                let mut chunk = [0u8; 16 * 1024];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut tcp, &mut chunk).await {
                    if n == 0 {
                        return;
                    }
                    shared.lock().unwrap_or_else(|e| e.into_inner())[index]
                        .extend_from_slice(&chunk[..n]);
                }
            }
        });
        Silent { server, received }
    }

    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.server.port())
    }

    /// The bytes each connection sent, in the order they were accepted.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection's stream, plain or TLS, and the TCP stream under it (to close it without
/// a TLS `close_notify`).
trait Connection: AsyncRead + AsyncWrite + Unpin + Send {
    fn tcp(&mut self) -> &mut TcpStream;
}

impl Connection for TcpStream {
    fn tcp(&mut self) -> &mut TcpStream {
        self
    }
}

impl Connection for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&mut self) -> &mut TcpStream {
        self.get_mut().0
    }
}

async fn serve_connection(mut stream: impl Connection, state: &Mutex<State>, script: &Script) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        // Counted before any answer: a request the client gives up on is still counted.
        lock(state).requests.push(request);
        for step in &script.steps {
            match step {
                Step::Write(bytes) => {
                    // Flushed: over TLS each write is sent as its own records.
                    if stream.write_all(bytes).await.is_err() || stream.flush().await.is_err() {
                        return;
                    }
                }
                Step::Pause(pause) => tokio::time::sleep(*pause).await,
                Step::Hold => {
                    drain(stream.tcp()).await;
                    return;
                }
                Step::Close => {
                    // A FIN on the TCP stream itself: over TLS, no close_notify first.
                    close_gracefully(stream.tcp()).await;
                    return;
                }
            }
        }
    }
}

/// The server's own checks, with plain sockets and a rustls client: what it counts and what
/// it writes.
mod checks {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{RawServer, Script};
    use crate::private_ca;

    fn request(mobile: &str) -> Vec<u8> {
        let body = format!(r#"{{"to":{{"mobile":"{mobile}","name":"A"}}}}"#);
        format!(
            "POST /chat-service/apis/message/single HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";

    /// Reads exactly `n` bytes.
    fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut bytes = vec![0; n];
        stream.read_exact(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn counts_every_request_per_recipient_and_answers_each_on_a_kept_connection() {
        let server = RawServer::start(Script::new().write(&OK[..20]).write(&OK[20..]));
        let mut first = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        for mobile in ["919000000001", "919000000002"] {
            first.write_all(&request(mobile)).unwrap();
            assert_eq!(read_n(&mut first, OK.len()), OK.as_bytes());
        }
        let mut second = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        second.write_all(&request("919000000001")).unwrap();
        assert_eq!(read_n(&mut second, OK.len()), OK.as_bytes());
        // A request cut off before its body ends is not one.
        let mut cut = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        let whole = request("919000000003");
        cut.write_all(&whole[..whole.len() - 1]).unwrap();
        drop(cut);
        assert_eq!(server.request_count(), 3);
        assert_eq!(server.requests_for("919000000001"), 2);
        assert_eq!(server.requests_for("919000000002"), 1);
        // The cut one may not be counted yet; the two answered ones are.
        assert!(server.connections() >= 2);
        assert_eq!(
            server.requests()[0].method_and_target(),
            ("POST", "/chat-service/apis/message/single")
        );
    }

    #[test]
    fn closes_after_its_bytes_or_holds_the_connection_open_writing_nothing() {
        let closing = RawServer::start(Script::new().write("HTTP/1.1 200 OK\r\n").close());
        let mut stream = TcpStream::connect(("127.0.0.1", closing.port())).unwrap();
        stream.write_all(&request("919000000001")).unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"HTTP/1.1 200 OK\r\n");

        let holding = RawServer::start(Script::new().hold());
        let mut stream = TcpStream::connect(("127.0.0.1", holding.port())).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        stream.write_all(&request("919000000001")).unwrap();
        let e = stream.read(&mut [0; 16]).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        );
        assert_eq!(holding.request_count(), 1);
    }

    #[tokio::test]
    async fn over_tls_a_close_comes_without_close_notify() {
        let server = RawServer::start_tls(Script::new().write(OK).close());
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .unwrap();
        let connector = tokio_rustls::TlsConnector::from(private_ca::client_config(&[b"http/1.1"]));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        tls.write_all(&request("919000000001")).await.unwrap();
        let mut answer = vec![0; OK.len()];
        tls.read_exact(&mut answer).await.unwrap();
        assert_eq!(answer, OK.as_bytes());
        // rustls reports a TCP close with no close_notify before it as an unexpected EOF.
        let e = tls.read(&mut [0; 16]).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
        assert_eq!(server.request_count(), 1);
    }
}
