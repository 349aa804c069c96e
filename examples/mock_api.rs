//! The benchmark's mock ChitChatLabs API: answers every POST to the two message endpoints
//! with 200, after an optional delay, keeping counters but recording no request, on a
//! multi-threaded runtime.
//!
//! `cargo run --release --example mock_api -- PORT [THREADS] [--delay-ms N]` (port 0 picks a
//! free one; `--delay-ms`: every answer waits N ms, as a remote API's round trip would).
//! Prints `listening on http://127.0.0.1:PORT` when ready; `GET /__mock/stats` answers the
//! counters: requests, deliveries, requests pending now and at most, and the arrival times
//! of the first and the last request (see `STATS_PATH` in tests/mock_api.rs). Serves until
//! killed (it holds no state worth saving).

// A benchmark binary: the mock's items are shared with the tests, not an API.
#![allow(unreachable_pub)]

#[path = "../tests/mock_api.rs"]
mod mock_api;

use std::net::SocketAddr;
use std::time::Duration;

use mock_api::{Config, MockApi};

const USAGE: &str = "usage: mock_api PORT [THREADS] [--delay-ms N]";

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn main() {
    let mut positional = Vec::new();
    let mut delay = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--delay-ms" {
            match args.next().map(|ms| ms.parse()) {
                Some(Ok(ms)) => delay = Duration::from_millis(ms),
                _ => usage(),
            }
        } else {
            positional.push(arg);
        }
    }
    let port: u16 = match positional.first().map(|p| p.parse()) {
        Some(Ok(port)) => port,
        _ => usage(),
    };
    let threads = match positional.get(1).map(|t| t.parse::<usize>()) {
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        Some(Ok(threads)) => threads,
        Some(Err(_)) => usage(),
    };
    if positional.len() > 2 {
        usage();
    }
    let mock = MockApi::with_config(Config {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        threads: threads.max(2),
        record: false,
    });
    mock.delay(delay);
    println!("listening on {}", mock.url());
    // Every few seconds, the totals (on stderr, for the benchmark's log).
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_secs(5));
        let total = mock.request_count();
        if total != last {
            eprintln!(
                "mock_api: {total} requests, {} delivered, {} pending (at most {})",
                mock.delivery_count(),
                mock.pending(),
                mock.max_pending()
            );
            last = total;
        }
    }
}
