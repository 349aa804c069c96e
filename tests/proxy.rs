//! A forward proxy on loopback, for the tests of `HTTPS_PROXY`, `HTTP_PROXY` and
//! `NO_PROXY`: `CONNECT host:port` opens a tunnel (for https), and an absolute-form request
//! (`POST http://127.0.0.1:PORT/path HTTP/1.1`, for http) is forwarded to its origin in
//! origin form. It counts the connections it accepted, the tunnels it opened and the
//! requests it forwarded, and can require `Proxy-Authorization: Basic` (user:password),
//! answering 407 without it.
//!
//! A forwarded request goes out with `connection: close`, so the origin closes after its
//! answer and the client opens a new proxy connection for the next request: one proxy
//! connection carries one request, and each is counted.
//!
//! ```ignore
//! let proxy = Proxy::start();
//! // ... run campaignctl with HTTP_PROXY = proxy.url() ...
//! assert_eq!(proxy.forwarded().len(), 3);
//! ```
//!
//! [`Socks5`] is a SOCKS5 proxy (RFC 1928, no authentication, CONNECT only) that records the
//! destination of each connection it opens, as the client named it: an IP address for
//! `socks5://`, where the client resolves names, and a host name for `socks5h://`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::loopback::{Loopback, RawRequest, close_gracefully, read_request};

const PROXY_AUTH_REQUIRED: &[u8] = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
    proxy-authenticate: Basic realm=\"campaignctl-tests\"\r\n\
    content-length: 0\r\nconnection: close\r\n\r\n";
const BAD_GATEWAY: &[u8] =
    b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

#[derive(Default)]
struct State {
    connections: usize,
    /// `host:port` of each tunnel opened.
    tunnels: Vec<String>,
    /// The absolute URL of each request forwarded.
    forwarded: Vec<String>,
    /// Requests and tunnels refused with 407.
    refused: usize,
    /// Requests and tunnels that carried the expected credentials.
    authorized: usize,
}

/// A running proxy; stopped when dropped.
pub struct Proxy {
    server: Loopback,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    /// A proxy that serves everyone.
    pub fn start() -> Proxy {
        Proxy::serve(None)
    }

    /// A proxy that serves only requests with `Proxy-Authorization: Basic` for
    /// `user:password`, and answers 407 to the others.
    pub fn with_basic_auth(user: &str, password: &str) -> Proxy {
        Proxy::serve(Some(format!(
            "Basic {}",
            base64(format!("{user}:{password}").as_bytes())
        )))
    }

    fn serve(credentials: Option<String>) -> Proxy {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let server = Loopback::serve("proxy", move |client| {
            serve_connection(client, shared.clone(), credentials.clone())
        });
        Proxy { server, state }
    }

    /// `http://127.0.0.1:PORT`, for `HTTP_PROXY` and the like.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT`.
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.server.port())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Connections accepted, whatever came of them.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    /// `host:port` of every tunnel opened, in order.
    pub fn tunnels(&self) -> Vec<String> {
        self.lock().tunnels.clone()
    }

    /// The absolute URL of every request forwarded, in order.
    pub fn forwarded(&self) -> Vec<String> {
        self.lock().forwarded.clone()
    }

    /// Requests and tunnels answered 407.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    /// Requests and tunnels that carried the expected credentials.
    pub fn authorized(&self) -> usize {
        self.lock().authorized
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn serve_connection(
    mut client: TcpStream,
    state: Arc<Mutex<State>>,
    credentials: Option<String>,
) {
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    lock().connections += 1;
    let mut buffer = Vec::new();
    let Some(request) = read_request(&mut client, &mut buffer).await else {
        return;
    };
    if let Some(expected) = &credentials {
        if request.header("proxy-authorization") != Some(expected.as_str()) {
            lock().refused += 1;
            answer_and_close(&mut client, PROXY_AUTH_REQUIRED).await;
            return;
        }
        lock().authorized += 1;
    }
    let (method, target) = request.method_and_target();
    if method == "CONNECT" {
        lock().tunnels.push(target.to_owned());
        let Ok(mut upstream) = TcpStream::connect(target).await else {
            answer_and_close(&mut client, BAD_GATEWAY).await;
            return;
        };
        let _ = upstream.set_nodelay(true);
        let established = b"HTTP/1.1 200 Connection Established\r\n\r\n";
        if client.write_all(established).await.is_err()
            || upstream.write_all(&buffer).await.is_err()
        {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    } else if let Some(rest) = target.strip_prefix("http://") {
        lock().forwarded.push(target.to_owned());
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let Ok(mut upstream) = TcpStream::connect(authority).await else {
            answer_and_close(&mut client, BAD_GATEWAY).await;
            return;
        };
        let _ = upstream.set_nodelay(true);
        if upstream
            .write_all(&origin_form(&request, method, path))
            .await
            .is_err()
        {
            return;
        }
        // The answer, to the origin's close (asked for with `connection: close`).
        let _ = tokio::io::copy(&mut upstream, &mut client).await;
        close_gracefully(&mut client).await;
    } else {
        answer_and_close(&mut client, BAD_REQUEST).await;
    }
}

/// A running SOCKS5 proxy; stopped when dropped.
pub struct Socks5 {
    server: Loopback,
    targets: Arc<Mutex<Vec<String>>>,
}

impl Socks5 {
    pub fn start() -> Socks5 {
        let targets = Arc::new(Mutex::new(Vec::new()));
        let shared = targets.clone();
        let server = Loopback::serve("socks5", move |client| serve_socks5(client, shared.clone()));
        Socks5 { server, targets }
    }

    /// `SCHEME://127.0.0.1:PORT` (`socks5` or `socks5h`).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.server.port())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `host:port` of every connection asked for, in order, as the client named it.
    pub fn targets(&self) -> Vec<String> {
        self.targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn serve_socks5(mut client: TcpStream, targets: Arc<Mutex<Vec<String>>>) {
    // The greeting: version 5 and the methods the client offers; "no authentication" (0) is
    // the one this proxy takes.
    let mut greeting = [0u8; 2];
    if client.read_exact(&mut greeting).await.is_err() || greeting[0] != 5 {
        return;
    }
    let mut methods = vec![0u8; usize::from(greeting[1])];
    if client.read_exact(&mut methods).await.is_err() {
        return;
    }
    if !methods.contains(&0) {
        let _ = client.write_all(&[5, 0xff]).await;
        return;
    }
    if client.write_all(&[5, 0]).await.is_err() {
        return;
    }
    // The request: version, CONNECT (1), a reserved byte, the address type, the address
    // and the port.
    let mut request = [0u8; 4];
    if client.read_exact(&mut request).await.is_err() || request[..3] != [5, 1, 0] {
        return;
    }
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            if client.read_exact(&mut ip).await.is_err() {
                return;
            }
            Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut length = [0u8; 1];
            if client.read_exact(&mut length).await.is_err() {
                return;
            }
            let mut name = vec![0u8; usize::from(length[0])];
            if client.read_exact(&mut name).await.is_err() {
                return;
            }
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut ip = [0u8; 16];
            if client.read_exact(&mut ip).await.is_err() {
                return;
            }
            format!("[{}]", Ipv6Addr::from(ip))
        }
        _ => return,
    };
    let mut port = [0u8; 2];
    if client.read_exact(&mut port).await.is_err() {
        return;
    }
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    targets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(target.clone());
    // The reply: version, a status (0 succeeded, 5 connection refused), a reserved byte and
    // a bound address of 0.0.0.0:0.
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        let _ = client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
        return;
    };
    let _ = upstream.set_nodelay(true);
    if client
        .write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// `request` for the origin: the path alone on the request line, without the proxy's own
/// headers, and `connection: close`.
fn origin_form(request: &RawRequest, method: &str, path: &str) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for line in request.head.lines().skip(1) {
        let name = line.split(':').next().unwrap_or_default().trim();
        let hop_by_hop = [
            "proxy-authorization",
            "proxy-connection",
            "connection",
            "keep-alive",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h));
        if !hop_by_hop {
            head.push_str(line);
            head.push_str("\r\n");
        }
    }
    head.push_str("connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&request.body);
    bytes
}

async fn answer_and_close(client: &mut TcpStream, answer: &[u8]) {
    if client.write_all(answer).await.is_ok() {
        close_gracefully(client).await;
    }
}

/// Standard base64 with padding (RFC 4648), for `Proxy-Authorization: Basic`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The proxy's own checks, with plain sockets: forwarding, tunnels, credentials, counts.
mod checks {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::{Proxy, Socks5, base64};
    use crate::mock_api::{MockApi, SINGLE_PATH};
    use crate::raw_server::{RawServer, Script};

    const BODY: &str = r#"{"to":{"mobile":"919000000001","name":"A"}}"#;

    fn post(target: &str, extra_headers: &str) -> String {
        format!(
            "POST {target} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\n\r\n{BODY}",
            BODY.len()
        )
    }

    /// Sends `request` to the proxy and reads everything until the proxy closes.
    fn exchange(proxy: &Proxy, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(base64(b"user:pw"), "dXNlcjpwdw==");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn forwards_an_absolute_form_request_to_its_origin_and_counts_it() {
        let mock = MockApi::start();
        let proxy = Proxy::start();
        let target = format!("{}{SINGLE_PATH}", mock.url());
        let answer = exchange(&proxy, &post(&target, "proxy-connection: keep-alive\r\n"));
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert_eq!(proxy.forwarded(), vec![target]);
        assert_eq!(proxy.tunnels(), Vec::<String>::new());
        assert_eq!(mock.deliveries("919000000001"), 1);
        let received = &mock.requests()[0];
        assert_eq!(received.path, SINGLE_PATH);
        assert_eq!(received.header("connection"), "close");
        assert!(received.header_values("proxy-connection").is_empty());
        assert_eq!(received.body_text(), BODY);
    }

    #[test]
    fn tunnels_a_connect_and_counts_it() {
        let server = RawServer::start(Script::new().write("HTTP/1.1 204 No Content\r\n\r\n"));
        let proxy = Proxy::start();
        let authority = format!("127.0.0.1:{}", server.port());
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        write!(
            stream,
            "CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n\r\n"
        )
        .unwrap();
        let established = b"HTTP/1.1 200 Connection Established\r\n\r\n";
        let mut answer = vec![0; established.len()];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(answer, established);
        stream.write_all(post("/p", "").as_bytes()).unwrap();
        let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
        let mut answer = vec![0; no_content.len()];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(answer, no_content);
        assert_eq!(proxy.tunnels(), vec![authority]);
        assert_eq!(proxy.forwarded(), Vec::<String>::new());
        assert_eq!(server.requests_for("919000000001"), 1);
    }

    #[test]
    fn without_the_credentials_it_answers_407_and_forwards_nothing() {
        let mock = MockApi::start();
        let proxy = Proxy::with_basic_auth("user", "pw");
        let target = format!("{}{SINGLE_PATH}", mock.url());
        for wrong in ["", "proxy-authorization: Basic dXNlcjp3cm9uZw==\r\n"] {
            let answer = exchange(&proxy, &post(&target, wrong));
            assert!(answer.starts_with("HTTP/1.1 407 "), "{answer}");
        }
        let answer = exchange(&proxy, "CONNECT 127.0.0.1:1 HTTP/1.1\r\nhost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 407 "), "{answer}");
        assert_eq!((proxy.refused(), proxy.authorized()), (3, 0));
        assert_eq!(mock.request_count(), 0);
        assert!(proxy.forwarded().is_empty() && proxy.tunnels().is_empty());

        let answer = exchange(
            &proxy,
            &post(&target, "proxy-authorization: Basic dXNlcjpwdw==\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert_eq!((proxy.refused(), proxy.authorized()), (3, 1));
        // The credentials are for the proxy: they do not go on to the origin.
        assert!(
            mock.requests()[0]
                .header_values("proxy-authorization")
                .is_empty()
        );
        assert_eq!(proxy.connections(), 4);
    }

    #[test]
    fn a_socks5_connect_by_name_is_tunnelled_and_recorded() {
        let server = RawServer::start(Script::new().write("HTTP/1.1 204 No Content\r\n\r\n"));
        let proxy = Socks5::start();
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        stream.write_all(&[5, 1, 0]).unwrap();
        let mut chosen = [0u8; 2];
        stream.read_exact(&mut chosen).unwrap();
        assert_eq!(chosen, [5, 0]);
        let name = b"localhost";
        let mut connect = vec![5, 1, 0, 3, name.len() as u8];
        connect.extend_from_slice(name);
        connect.extend_from_slice(&server.port().to_be_bytes());
        stream.write_all(&connect).unwrap();
        let mut reply = [0u8; 10];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(reply[..2], [5, 0]);
        stream.write_all(post("/p", "").as_bytes()).unwrap();
        let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
        let mut answer = vec![0; no_content.len()];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(answer, no_content);
        assert_eq!(
            proxy.targets(),
            vec![format!("localhost:{}", server.port())]
        );
        assert_eq!(server.requests_for("919000000001"), 1);
    }
}
