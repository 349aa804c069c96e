//! The benchmark's mock ChitChatLabs API: answers every POST to the two message endpoints
//! with 200 at once, counting requests but recording nothing, on a multi-threaded runtime.
//!
//! `cargo run --release --example mock_api -- PORT [THREADS]` (port 0 picks a free one).
//! Prints `listening on http://127.0.0.1:PORT` when ready; `GET /__mock/stats` answers the
//! counters. Serves until killed (it holds no state worth saving).

// A benchmark binary: the mock's items are shared with the tests, not an API.
#![allow(unreachable_pub)]

#[path = "../tests/mock_api.rs"]
mod mock_api;

use std::net::SocketAddr;
use std::time::Duration;

use mock_api::{Config, MockApi};

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = match args.next().map(|p| p.parse()) {
        Some(Ok(port)) => port,
        _ => {
            eprintln!("usage: mock_api PORT [THREADS]");
            std::process::exit(2);
        }
    };
    let threads = args
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let mock = MockApi::with_config(Config {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        threads: threads.max(2),
        record: false,
    });
    println!("listening on {}", mock.url());
    // Every few seconds, the totals (on stderr, for the benchmark's log).
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_secs(5));
        let total = mock.request_count();
        if total != last {
            eprintln!(
                "mock_api: {total} requests, {} delivered",
                mock.delivery_count()
            );
            last = total;
        }
    }
}
