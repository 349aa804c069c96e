//! What the transport test servers share: a listener on a free 127.0.0.1 port served by its
//! own tokio runtime in a background thread (as `mock_api` does), and reading one HTTP/1.1
//! request off a byte stream.
//!
//! ```ignore
//! let server = Loopback::serve("echo", |stream| async move { /* one connection */ });
//! // ... connect to server.addr() ...
//! drop(server); // stops accepting and cancels every connection still open
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A request head longer than this is refused (the client under test sends a few hundred
/// bytes).
const MAX_HEAD_BYTES: usize = 1 << 20;

/// A server on a free loopback port: every accepted connection is handed to its own task.
/// Stopped when dropped: the runtime goes with the thread, closing every connection.
pub struct Loopback {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Loopback {
    /// Serves each connection with `handle` until dropped.
    pub fn serve<F, Fut>(name: &str, handle: F) -> Loopback
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("{name}: cannot bind: {e}"));
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local address");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (shutdown, mut stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    loop {
                        let stream = tokio::select! {
                            _ = &mut stop => return,
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => stream,
                                Err(_) => continue,
                            },
                        };
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(handle(stream));
                    }
                });
            })
            .expect("server thread");
        Loopback {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One request as read off the wire.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The request line and the header lines, without the blank line.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The request line's method and target (`POST /path`, `CONNECT host:port`).
    pub fn method_and_target(&self) -> (&str, &str) {
        let line = self.head.lines().next().unwrap_or_default();
        let mut words = line.split(' ');
        (
            words.next().unwrap_or_default(),
            words.next().unwrap_or_default(),
        )
    }

    /// The value of the first header `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// `to.mobile` of a JSON single-send body.
    pub fn recipient(&self) -> Option<String> {
        let json: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        json.pointer("/to/mobile")?.as_str().map(str::to_owned)
    }
}

/// Reads one request (head, then a `Content-Length` body) from `stream`. `buffer` carries
/// bytes read past the request to the next call. `None` when the stream ends, fails or is
/// not HTTP before a whole request has arrived.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut Vec<u8>,
) -> Option<RawRequest> {
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_HEAD_BYTES || read_more(stream, buffer).await? == 0 {
            return None;
        }
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
    let mut request = RawRequest {
        head,
        body: Vec::new(),
    };
    let length = match request.header("content-length") {
        Some(value) => value.parse::<usize>().ok()?,
        None => 0,
    };
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        if read_more(stream, buffer).await? == 0 {
            return None;
        }
    }
    request.body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    Some(request)
}

async fn read_more<S: AsyncRead + Unpin>(stream: &mut S, buffer: &mut Vec<u8>) -> Option<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await.ok()?;
    buffer.extend_from_slice(&chunk[..n]);
    Some(n)
}

/// Reads and discards until the peer closes (or the connection fails).
pub async fn drain<S: AsyncRead + Unpin>(stream: &mut S) {
    let mut chunk = [0u8; 16 * 1024];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            return;
        }
    }
}

/// Closes `stream` with a FIN, then reads until the peer closes too, for at most 5 s: a
/// socket closed with unread bytes sends a reset, which may discard what the peer has not
/// read yet.
pub async fn close_gracefully(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), drain(stream)).await;
}
