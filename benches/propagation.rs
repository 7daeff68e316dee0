//! Cross-process propagation on the Redis store: how long after another
//! process (another host, for all Redis can tell) refreshed the token this
//! process serves the new one. Each round a `wxtoken invalidate` process
//! reports the current token and prints the new one; the clock starts when
//! it exits (its record is in Redis by then) and stops when this process's
//! `get` returns the new token. The bound is the background refresher's
//! 500 ms poll. Prints the median and the maximum over the rounds.
//!
//! `cargo bench --bench propagation` (needs Debian's redis-server;
//! `PROPAGATION_ROUNDS`, default 100).

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use wxtoken::{Config, StoreSpec};
use wxtoken_mock::{MockApp, MockConfig, MockServer};

const APPID: &str = "wxbench0000000005";
const SECRET: &str = "bench-secret";

/// Stops redis-server however the bench ends.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> (Redis, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (apt-get install redis-server)");
    let redis = Redis(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        thread::sleep(Duration::from_millis(10));
    }
    (redis, port)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing:
    // run one round there, so the harness is checked but costs no time.
    let benching = std::env::args().any(|a| a == "--bench");
    let rounds: usize = match std::env::var("PROPAGATION_ROUNDS") {
        Ok(n) => n.parse().expect("PROPAGATION_ROUNDS: a number"),
        Err(_) if benching => 100,
        Err(_) => 1,
    };
    let (_redis, port) = start_redis();
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(APPID, SECRET)],
        ..MockConfig::default()
    })
    .expect("simulator");
    let store = format!("redis://127.0.0.1:{port}/0");
    let mut cfg = Config::new(APPID, SECRET);
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::Redis(store.clone());
    let app = wxtoken::configure(cfg).expect("configure");
    let mut current = wxtoken::get(&app).expect("first fetch").to_string();

    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        // Spread the refreshes over the poll period: right after the last
        // propagation, every round would start just after a poll.
        thread::sleep(Duration::from_millis((round as u64 * 37) % 500));
        let out = Command::new(env!("CARGO_BIN_EXE_wxtoken"))
            .args(["invalidate", "--token", &current])
            .args(["--appid", APPID, "--api-base", &server.base_url()])
            .env("WXTOKEN_SECRET", SECRET)
            .env("WXTOKEN_STORE", &store)
            .output()
            .expect("wxtoken invalidate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fresh = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert_ne!(fresh, current, "the other process refreshed");
        let refreshed = Instant::now();
        while wxtoken::get(&app).expect("get").as_ref() != fresh {
            assert!(
                refreshed.elapsed() < Duration::from_secs(5),
                "never propagated"
            );
            thread::sleep(Duration::from_micros(500));
        }
        samples.push(refreshed.elapsed());
        current = fresh;
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "propagation over {} refreshes by another process (redis store): median {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(*samples.last().unwrap())
    );
    assert_eq!(
        server.token_calls(APPID),
        rounds as u64 + 1,
        "one fetch per round"
    );
    server.shutdown();
}
