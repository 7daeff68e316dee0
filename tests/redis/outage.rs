//! Redis goes away: business calls keep their valid token and no process
//! fetches on its own (classic mode: a lone fetch would kill the fleet's
//! token); with no valid token left, a clear store error within wait_ms;
//! Redis back empty: one recovery fetch.

use std::thread;
use std::time::{Duration, Instant};

use wxtoken::{ErrorKind, StoreSpec};

use crate::fleet::cli;
use crate::server::RedisServer;
use crate::support::*;

#[test]
fn an_outage_keeps_the_valid_token_and_fetches_nothing_until_redis_is_back() {
    let mut redis = RedisServer::start(&[]);
    let id = appid("rdown");
    // A 4 s token: fresh for 2 s, then inside the refresh margin until 4 s.
    // 5 s: a Redis record's expiry reads 1 s early (ServerClock's
    // safety), so the token lives 4 s here.
    let server = mock_for(&id, 5, 0);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::Redis(redis.url());
        c.wait = Duration::from_millis(2000);
    });
    let token = wxtoken::get(&app).unwrap();
    let fetched = Instant::now();
    redis.stop();

    // Fresh, then stale-while-refresh: the same token, and the refresh
    // that the margin starts cannot take Redis's lock, so it fetches nothing.
    while fetched.elapsed() < Duration::from_millis(3300) {
        assert_eq!(wxtoken::get(&app).unwrap(), token, "served from memory");
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.token_calls(&id), 1, "no fetch during the outage");

    // A new process with no token: a store error (exit 17), no fetch.
    let out = cli(&server, &id, &redis.url(), &["token", "--wait-ms", "2000"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(17),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Expired: a clear store error, within wait_ms.
    while fetched.elapsed() < Duration::from_millis(4300) {
        thread::sleep(Duration::from_millis(50));
    }
    let asked = Instant::now();
    let err = wxtoken::get(&app).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store, "{err}");
    assert!(err.to_string().contains("redis"), "{err}");
    assert!(asked.elapsed() < Duration::from_millis(2000 + 1500));
    assert_eq!(server.token_calls(&id), 1, "still no fetch");

    // Back, empty: one recovery fetch.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    let recovered = loop {
        match wxtoken::get(&app) {
            Ok(t) => break t,
            Err(e) => {
                assert!(Instant::now() < deadline, "no recovery: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert_ne!(recovered, token);
    assert_eq!(check(&server, &recovered), 0);
    let again = printed_token(
        cli(&server, &id, &redis.url(), &["token"])
            .output()
            .unwrap(),
    );
    assert_eq!(again, recovered.to_string(), "another process shares it");
    assert_eq!(server.token_calls(&id), 2, "one recovery fetch");
}

/// Redis restarts empty while the fleet holds a valid token: the first
/// process that needs the store fetches once, and the others adopt it.
#[test]
fn redis_back_empty_costs_the_fleet_one_fetch() {
    let mut redis = RedisServer::start(&[]);
    let id = appid("rempty");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| c.store = StoreSpec::Redis(redis.url()));
    let old = wxtoken::get(&app).unwrap();
    redis.restart();
    let children: Vec<_> = (0..8)
        .map(|_| {
            cli(&server, &id, &redis.url(), &["token"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|c| printed_token(c.wait_with_output().unwrap()))
        .collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
    assert_eq!(
        server.token_calls(&id),
        2,
        "one recovery fetch for the fleet"
    );
    let started = Instant::now();
    while wxtoken::get(&app).unwrap() != tokens[0].as_str() {
        assert!(started.elapsed() < Duration::from_secs(3), "not adopted");
        thread::sleep(Duration::from_millis(10));
    }
    assert_ne!(old.to_string(), tokens[0]);
}

fn connections_received(admin: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(admin).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO stats has total_connections_received")
}

/// A failover turns the old primary into a replica: it answers READONLY.
/// The store drops that connection, so the next call connects anew (and,
/// through a name the failover moved, reaches the new primary).
#[test]
fn a_readonly_answer_makes_the_store_reconnect() {
    let redis = RedisServer::start(&[]);
    let primary = RedisServer::start(&[]);
    let s = crate::locks::store_at(&redis.url());
    assert!(s.load("k").unwrap().is_none());
    let mut admin = redis.admin(&redis.url());
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port)
        .query(&mut admin)
        .unwrap();
    let before = connections_received(&mut admin);
    let err = match s.try_lock("k", Duration::from_secs(5)) {
        Err(e) => e,
        Ok(_) => panic!("a replica took the lock"),
    };
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.to_string().contains("READONLY"), "{err}");
    assert!(s.load("k").is_ok(), "reads still work on a replica");
    assert_eq!(
        connections_received(&mut admin),
        before + 1,
        "the call after READONLY connected anew"
    );
}

/// A server that accepts connections and never answers: a hung Redis.
struct HungServer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl HungServer {
    fn on(port: u16) -> HungServer {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((sock, _)) = listener.accept() {
                    held.push(sock);
                }
                thread::sleep(Duration::from_millis(10));
            }
        });
        HungServer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HungServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Redis hangs (accepts, never answers): calls time out after 1 s, but only
/// wxtoken's own threads wait for that; a business call inside the refresh
/// margin gets its valid token at once. The bound (500 ms) is half the store
/// timeout, far above the microseconds such a get takes.
#[test]
fn a_hung_redis_never_holds_up_business_calls() {
    let mut redis = RedisServer::start(&[]);
    let id = appid("rhung");
    // 5 s: a Redis record's expiry reads 1 s early (ServerClock's
    // safety), so the token lives 4 s here.
    let server = mock_for(&id, 5, 0);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::Redis(redis.url());
        c.wait = Duration::from_millis(2000);
    });
    let token = wxtoken::get(&app).unwrap();
    let fetched = Instant::now();
    redis.stop();
    let _hung = HungServer::on(redis.port);
    while fetched.elapsed() < Duration::from_millis(2100) {
        thread::sleep(Duration::from_millis(50));
    }
    let mut slowest = Duration::ZERO;
    while fetched.elapsed() < Duration::from_millis(3600) {
        let asked = Instant::now();
        assert_eq!(wxtoken::get(&app).unwrap(), token);
        slowest = slowest.max(asked.elapsed());
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        slowest < Duration::from_millis(500),
        "a get waited {slowest:?}"
    );
    assert_eq!(server.token_calls(&id), 1, "no fetch while Redis hangs");
}

/// Inside the refresh margin a valid token is served with no Redis round
/// trip on the caller's thread: only the one refresh reads the store. (Each
/// get used to run the load script, queueing every business call of the
/// process on one connection, and on a Redis that hangs.)
#[test]
fn gets_in_the_refresh_margin_make_no_redis_round_trip() {
    let redis = RedisServer::start(&[]);
    let id = appid("rmargin");
    // A 4 s token: fresh for 2 s (the margin is capped at half its life),
    // then inside the margin.
    let server = mock_for(&id, 4, 0);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::Redis(redis.url());
    });
    let token = wxtoken::get(&app).unwrap();
    // The refresh the margin starts hangs upstream: the margin lasts.
    server.set_fault(wxtoken_mock::Fault::Slow(Duration::from_secs(3)), None);
    thread::sleep(Duration::from_millis(2100));
    let calls = |conn: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
        info.lines()
            .filter(|l| l.starts_with("cmdstat_"))
            .filter_map(|l| {
                l.split("calls=")
                    .nth(1)?
                    .split(',')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum()
    };
    let mut admin = redis.admin(&redis.url());
    let before = calls(&mut admin);
    for _ in 0..500 {
        assert_eq!(wxtoken::get(&app).unwrap(), token, "stale-while-refresh");
    }
    let after = calls(&mut admin);
    // The INFO itself, the one refresh's lock/load, the refresher's polls.
    assert!(
        after - before < 50,
        "500 gets in the margin made {} Redis commands",
        after - before
    );
}
