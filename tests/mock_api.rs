//! A mock of the ChitChatLabs API for the apply tests and the benchmark: a real HTTP/1.1
//! server (hyper) on 127.0.0.1, on its own tokio runtime in a background thread.
//!
//! It answers `POST /chat-service/apis/message/single` and `.../blast` with 200 and a small
//! JSON body, records every request (path, headers, body, arrival time) and counts
//! *deliveries*: a request counts as delivered only when the mock answers it 2xx. Scripted
//! faults (500s, 429 with `Retry-After: 1`, a permanent 400, a connection closed without an
//! answer) are answered *instead of* delivering, so a test can prove that each message was
//! delivered exactly once however many attempts it took.
//!
//! ```ignore
//! let mock = MockApi::start();
//! mock.fail_first(2, Fault::Status(500))
//!     .for_mobile("919000000002", Fault::Json(400, r#"{"error":"bad number"}"#.into()))
//!     .delay(Duration::from_millis(100));
//! // ... run campaignctl with CHITCHAT_BASE_URL = mock.url() ...
//! assert_eq!(mock.deliveries("919000000001"), 1);
//! ```
//!
//! Also compiled into `examples/mock_api.rs` (the benchmark's server), where most of this
//! API is unused.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const SINGLE_PATH: &str = "/chat-service/apis/message/single";
pub const BLAST_PATH: &str = "/chat-service/apis/message/blast";
/// `GET` here answers the counters and is not counted:
/// `{"requests":N,"delivered":M,"pending":P,"max_pending":X,"first_ms":F,"last_ms":L}`,
/// where `first_ms` and `last_ms` are the arrival times of the first and the last counted
/// request in milliseconds since the mock started (`null` before the first).
pub const STATS_PATH: &str = "/__mock/stats";

/// What the mock does instead of delivering a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a small JSON error body.
    Status(u16),
    /// Answer this status with exactly this (JSON) body.
    Json(u16, String),
    /// 429 Too Many Requests with `Retry-After: 1`.
    RateLimited,
    /// 429 Too Many Requests with `Retry-After` this many seconds.
    RetryAfter(u64),
    /// Read the request, then close the connection without answering.
    Reset,
}

/// What the mock did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: delivered.
    Delivered,
    /// A fault, or a 404/405 for a wrong path or method.
    Fault(Fault),
    /// The client went away before the mock answered (e.g. it was killed).
    Abandoned,
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names in lowercase, in arrival order (repeated headers appear repeatedly).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `to.mobile` of a single send, `blast` for a blast, `None` when the body is not JSON.
    pub recipient: Option<String>,
    /// When the request (head and body) had arrived, since the mock started.
    pub at: Duration,
    /// Filled in when the mock answers.
    pub answer: Option<Answer>,
}

impl Received {
    /// All values of header `name` (lowercase).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value of header `name`; panics when it is absent or repeated.
    pub fn header(&self, name: &str) -> &str {
        match self.header_values(name).as_slice() {
            [one] => one,
            other => panic!("expected one `{name}` header, found {other:?}"),
        }
    }

    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("request body is UTF-8")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// Which requests a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Any,
    Recipient(String),
}

#[derive(Debug, Clone)]
struct Rule {
    target: Target,
    /// `None`: every matching request.
    remaining: Option<usize>,
    fault: Fault,
}

#[derive(Debug, Default)]
struct Inner {
    requests: Vec<Received>,
    deliveries: HashMap<String, usize>,
    rules: Vec<Rule>,
    delay: Duration,
    /// Requests received and not yet answered or abandoned.
    pending: usize,
    /// The most requests ever pending at once.
    max_pending: usize,
}

/// Shared by the server tasks and the test.
struct Shared {
    /// Record every request (tests). Off in the benchmark server, which only counts.
    record: bool,
    start: Instant,
    /// The wall-clock time taken together with `start`, to place arrivals on the calendar.
    start_wall: SystemTime,
    inner: Mutex<Inner>,
    changed: Condvar,
    total: AtomicU64,
    delivered: AtomicU64,
    /// Arrival of the first counted request, µs since `start`; `u64::MAX` before it.
    first_arrival_us: AtomicU64,
    /// Arrival of the last counted request, µs since `start`.
    last_arrival_us: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request that arrived now (head and body read).
    fn count_arrival(&self) {
        self.total.fetch_add(1, Ordering::SeqCst);
        let at = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
        self.first_arrival_us.fetch_min(at, Ordering::SeqCst);
        self.last_arrival_us.fetch_max(at, Ordering::SeqCst);
    }

    /// Wakes `wait_until`. Only a recording mock has waiters; the benchmark server skips the
    /// system call this costs on every answer.
    fn notify_changed(&self) {
        if self.record {
            self.changed.notify_all();
        }
    }
}

/// Options of a mock server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Tokio worker threads; 1 runs a current-thread runtime.
    pub threads: usize,
    /// Record each request (path, headers, body). Off: only counters, for speed.
    pub record: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            threads: 1,
            record: true,
        }
    }
}

/// A running mock API; stopped when dropped.
pub struct MockApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockApi {
    /// A recording mock on a free loopback port, answering 200 until told otherwise.
    pub fn start() -> MockApi {
        MockApi::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> MockApi {
        let std_listener = std::net::TcpListener::bind(config.addr).expect("mock API: cannot bind");
        std_listener
            .set_nonblocking(true)
            .expect("mock API: nonblocking");
        let addr = std_listener.local_addr().expect("mock API: local address");
        let shared = Arc::new(Shared {
            record: config.record,
            start: Instant::now(),
            start_wall: SystemTime::now(),
            inner: Mutex::new(Inner::default()),
            changed: Condvar::new(),
            total: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            first_arrival_us: AtomicU64::new(u64::MAX),
            last_arrival_us: AtomicU64::new(0),
        });
        let (shutdown, shutdown_rx) = oneshot::channel();
        let runtime = if config.threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(config.threads)
                .enable_all()
                .build()
        }
        .expect("mock API: tokio runtime");
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("mock-api".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).expect("mock API: listener");
                    serve(listener, serving, shutdown_rx).await;
                });
                // Dropping the runtime cancels the connections still open.
            })
            .expect("mock API: thread");
        MockApi {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The base URL to give campaignctl (`CHITCHAT_BASE_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The wall-clock time at which `request` had arrived (its `at` placed on the calendar:
    /// the mock's start instant read on both clocks, plus the monotonic offset).
    pub fn arrival_time(&self, request: &Received) -> SystemTime {
        self.shared.start_wall + request.at
    }

    /// The first `n` requests from now (any recipient) get `fault`.
    pub fn fail_first(&self, n: usize, fault: Fault) -> &Self {
        self.add_rule(Target::Any, Some(n), fault)
    }

    /// Every request for `mobile` gets `fault` (until [`MockApi::clear_faults`]).
    pub fn for_mobile(&self, mobile: &str, fault: Fault) -> &Self {
        self.add_rule(Target::Recipient(mobile.to_owned()), None, fault)
    }

    /// The first `n` requests for `mobile` from now get `fault`.
    pub fn for_mobile_first(&self, mobile: &str, n: usize, fault: Fault) -> &Self {
        self.add_rule(Target::Recipient(mobile.to_owned()), Some(n), fault)
    }

    /// Every answer (delivery or fault) waits this long first.
    pub fn delay(&self, delay: Duration) -> &Self {
        self.shared.lock().delay = delay;
        self
    }

    /// Removes every fault rule; later requests are delivered.
    pub fn clear_faults(&self) -> &Self {
        self.shared.lock().rules.clear();
        self
    }

    fn add_rule(&self, target: Target, remaining: Option<usize>, fault: Fault) -> &Self {
        self.shared.lock().rules.push(Rule {
            target,
            remaining,
            fault,
        });
        self
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.lock().requests.clone()
    }

    /// Requests for `recipient` (a mobile, or `blast`), in arrival order.
    pub fn requests_for(&self, recipient: &str) -> Vec<Received> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.recipient.as_deref() == Some(recipient))
            .cloned()
            .collect()
    }

    /// How many requests for `recipient` were answered 2xx.
    pub fn deliveries(&self, recipient: &str) -> usize {
        self.shared
            .lock()
            .deliveries
            .get(recipient)
            .copied()
            .unwrap_or(0)
    }

    /// Deliveries by recipient.
    pub fn all_deliveries(&self) -> HashMap<String, usize> {
        self.shared.lock().deliveries.clone()
    }

    /// Requests received (also counted when not recording).
    pub fn request_count(&self) -> u64 {
        self.shared.total.load(Ordering::SeqCst)
    }

    /// Requests answered 2xx (also counted when not recording).
    pub fn delivery_count(&self) -> u64 {
        self.shared.delivered.load(Ordering::SeqCst)
    }

    /// Requests received and not yet answered.
    pub fn pending(&self) -> usize {
        self.shared.lock().pending
    }

    /// The most requests that were ever waiting for their answers at once.
    pub fn max_pending(&self) -> usize {
        self.shared.lock().max_pending
    }

    /// When the first and the last counted request arrived, since the mock started (`None`
    /// before the first). Kept in both modes, without recording.
    pub fn arrival_span(&self) -> Option<(Duration, Duration)> {
        let first = self.shared.first_arrival_us.load(Ordering::SeqCst);
        let last = self.shared.last_arrival_us.load(Ordering::SeqCst);
        (first != u64::MAX).then(|| (Duration::from_micros(first), Duration::from_micros(last)))
    }

    /// Waits until `condition` holds for the mock's state, or `timeout` passes; returns
    /// whether it holds. Woken by every change, no fixed sleeps.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&MockView) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        loop {
            if condition(&MockView { inner: &inner }) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until at least `n` requests were delivered; panics after `timeout`.
    pub fn wait_for_deliveries(&self, n: usize, timeout: Duration) {
        assert!(
            self.wait_until(timeout, |m| m.delivered() >= n),
            "mock API: fewer than {n} deliveries after {timeout:?}"
        );
    }

    /// Waits until no request is waiting for its answer; panics after `timeout`.
    pub fn wait_idle(&self, timeout: Duration) {
        assert!(
            self.wait_until(timeout, |m| m.pending() == 0),
            "mock API: requests still pending after {timeout:?}"
        );
    }
}

/// The mock's state, as `wait_until` conditions see it.
pub struct MockView<'a> {
    inner: &'a Inner,
}

impl MockView<'_> {
    pub fn requests(&self) -> &[Received] {
        &self.inner.requests
    }

    pub fn delivered(&self) -> usize {
        self.inner.deliveries.values().sum()
    }

    pub fn pending(&self) -> usize {
        self.inner.pending
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: oneshot::Receiver<()>) {
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: keep serving.
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(shared.clone(), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Decrements `pending` and records the request as abandoned if its handler is dropped
/// before answering (the client went away).
struct PendingGuard {
    shared: Arc<Shared>,
    index: Option<usize>,
    armed: bool,
}

impl PendingGuard {
    /// Records the answer and the delivery (for a 2xx), and ends the pending state.
    fn answer(mut self, answer: Answer) {
        self.armed = false;
        let mut inner = self.shared.lock();
        inner.pending -= 1;
        if let Some(index) = self.index {
            if answer == Answer::Delivered {
                let recipient = inner.requests[index].recipient.clone().unwrap_or_default();
                *inner.deliveries.entry(recipient).or_default() += 1;
            }
            inner.requests[index].answer = Some(answer);
        }
        drop(inner);
        self.shared.notify_changed();
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if self.armed {
            let mut inner = self.shared.lock();
            inner.pending -= 1;
            if let Some(index) = self.index {
                inner.requests[index].answer = Some(Answer::Abandoned);
            }
            drop(inner);
            self.shared.notify_changed();
        }
    }
}

type Body = Full<Bytes>;

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    if request.uri().path() == STATS_PATH {
        return Ok(json(StatusCode::OK, &stats(&shared)));
    }
    let (head, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return Err(std::io::Error::other(e)),
    };
    shared.count_arrival();
    let path = head.uri.path().to_owned();
    let known = path == SINGLE_PATH || path == BLAST_PATH;
    let post = head.method == hyper::Method::POST;

    if !shared.record {
        // The benchmark server: counters only (pending and its maximum, the delay), no
        // record of the request, no fault rules.
        if !(known && post) {
            return Ok(json(StatusCode::NOT_FOUND, NOT_FOUND_BODY));
        }
        let delay = {
            let mut inner = shared.lock();
            inner.pending += 1;
            inner.max_pending = inner.max_pending.max(inner.pending);
            inner.delay
        };
        let guard = PendingGuard {
            shared: shared.clone(),
            index: None,
            armed: true,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        shared.delivered.fetch_add(1, Ordering::SeqCst);
        guard.answer(Answer::Delivered);
        return Ok(json(StatusCode::OK, OK_BODY));
    }

    let recipient = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            if path == BLAST_PATH {
                Some("blast".to_owned())
            } else {
                v.pointer("/to/mobile")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            }
        });
    let received = Received {
        method: head.method.to_string(),
        path: path.clone(),
        headers: head
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        recipient: recipient.clone(),
        at: shared.start.elapsed(),
        answer: None,
    };
    let (index, fault, delay) = {
        let mut inner = shared.lock();
        inner.requests.push(received);
        inner.pending += 1;
        inner.max_pending = inner.max_pending.max(inner.pending);
        let index = inner.requests.len() - 1;
        let fault = if !post {
            Some(Fault::Json(
                405,
                r#"{"error":"method not allowed"}"#.to_owned(),
            ))
        } else if !known {
            Some(Fault::Json(404, NOT_FOUND_BODY.to_owned()))
        } else {
            take_fault(&mut inner.rules, recipient.as_deref())
        };
        (index, fault, inner.delay)
    };
    shared.changed.notify_all();
    let guard = PendingGuard {
        shared: shared.clone(),
        index: Some(index),
        armed: true,
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        None => {
            shared.delivered.fetch_add(1, Ordering::SeqCst);
            guard.answer(Answer::Delivered);
            Ok(json(StatusCode::OK, OK_BODY))
        }
        Some(fault) => {
            guard.answer(Answer::Fault(fault.clone()));
            match fault {
                Fault::Status(code) => Ok(json(status(code), r#"{"error":"mock fault"}"#)),
                Fault::Json(code, body) => Ok(json(status(code), &body)),
                Fault::RateLimited | Fault::RetryAfter(_) => {
                    let seconds = match fault {
                        Fault::RetryAfter(seconds) => seconds,
                        _ => 1,
                    };
                    let mut response =
                        json(StatusCode::TOO_MANY_REQUESTS, r#"{"error":"rate limited"}"#);
                    response
                        .headers_mut()
                        .insert("retry-after", hyper::header::HeaderValue::from(seconds));
                    Ok(response)
                }
                // An error from the service makes hyper close the connection unanswered.
                Fault::Reset => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "mock fault: connection closed without an answer",
                )),
            }
        }
    }
}

/// The fault for a request to `recipient`, if a rule has one left: per-recipient rules
/// first, then global ones.
fn take_fault(rules: &mut [Rule], recipient: Option<&str>) -> Option<Fault> {
    let applies = |rule: &Rule| {
        rule.remaining != Some(0)
            && match &rule.target {
                Target::Any => false,
                Target::Recipient(m) => Some(m.as_str()) == recipient,
            }
    };
    let position = rules.iter().position(applies).or_else(|| {
        rules
            .iter()
            .position(|r| r.target == Target::Any && r.remaining != Some(0))
    })?;
    let rule = &mut rules[position];
    if let Some(remaining) = rule.remaining.as_mut() {
        *remaining -= 1;
    }
    Some(rule.fault.clone())
}

/// The body of `GET /__mock/stats` (see [`STATS_PATH`]).
fn stats(shared: &Shared) -> String {
    let (pending, max_pending) = {
        let inner = shared.lock();
        (inner.pending, inner.max_pending)
    };
    let ms = |us: u64| format!("{}.{:03}", us / 1000, us % 1000);
    let first = shared.first_arrival_us.load(Ordering::SeqCst);
    let (first_ms, last_ms) = if first == u64::MAX {
        ("null".to_owned(), "null".to_owned())
    } else {
        (ms(first), ms(shared.last_arrival_us.load(Ordering::SeqCst)))
    };
    format!(
        r#"{{"requests":{},"delivered":{},"pending":{pending},"max_pending":{max_pending},"first_ms":{first_ms},"last_ms":{last_ms}}}"#,
        shared.total.load(Ordering::SeqCst),
        shared.delivered.load(Ordering::SeqCst),
    )
}

pub const OK_BODY: &str = r#"{"status":"success","message":"queued"}"#;
const NOT_FOUND_BODY: &str = r#"{"error":"not found"}"#;

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("a valid HTTP status")
}

fn json(status: StatusCode, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .expect("a valid response")
}
