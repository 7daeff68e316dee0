//! fork() after the Redis store was used: the child talks to Redis over a
//! connection of its own (sharing the parent's socket would interleave their
//! commands and replies), and the parent's connection stays in step. Its own
//! test binary: no other test threads may hold locks at the moment of fork.

#[path = "../redis/server.rs"]
#[allow(dead_code)]
mod server;

#[allow(dead_code)] // the child's wait only
#[path = "../core/support.rs"]
mod support;

use std::time::{Duration, Instant};

use wxtoken::{Config, StoreSpec};
use wxtoken_mock::{MockApp, MockConfig, MockServer};

use server::RedisServer;

fn connections_received(admin: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(admin).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO stats has total_connections_received")
}

#[test]
fn a_forked_child_uses_its_own_redis_connection() {
    let redis = RedisServer::start(&[]);
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp("wxredisfork", "fork-secret")],
        ..MockConfig::default()
    })
    .unwrap();
    let mut cfg = Config::new("wxredisfork", "fork-secret");
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::Redis(redis.url());
    cfg.wait = Duration::from_secs(5);
    let app = wxtoken::configure(cfg).unwrap();
    let token = wxtoken::get(&app).unwrap();
    let mut admin = redis.admin(&redis.url());
    let before = connections_received(&mut admin);

    // SAFETY: the child only calls wxtoken and async-signal-safe _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match wxtoken::invalidate(&app, &token) {
            Ok(fresh) if fresh != token => 0,
            Ok(_) => 1,
            Err(_) => 2,
        };
        // SAFETY: _exit ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let code = support::wait_for(pid, Duration::from_secs(20)).expect("the forked child hung");
    assert_eq!(
        code, 0,
        "1: no new token, 2: refresh failed, 100+: a signal"
    );
    assert!(
        connections_received(&mut admin) > before,
        "the child connected on its own"
    );
    assert_eq!(server.token_calls("wxredisfork"), 2);
    // The parent's connection is still in step: it reads the child's record.
    let started = Instant::now();
    loop {
        let now = wxtoken::get(&app).unwrap();
        if now != token {
            assert_eq!(now, wxtoken::invalidate(&app, &token).unwrap());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "parent never adopted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.token_calls("wxredisfork"), 2, "adopted, not fetched");
}

/// The child's part of the storm; exit codes: 0 ok, 1x a call failed.
fn storm_child(redis_app: &str, file_app: &str, url: &str, base: &str) -> i32 {
    if wxtoken::get(redis_app).is_err() {
        return 10;
    }
    if wxtoken::status(redis_app).is_err() {
        return 11;
    }
    let _ = wxtoken::invalidate(redis_app, "stale-in-the-child");
    let _ = wxtoken::get(file_app);
    let _ = wxtoken::invalidate(file_app, "stale-in-the-child");
    if wxtoken::status(file_app).is_err() {
        return 12;
    }
    // The table of open Redis stores: one opened anew, and used.
    let mut fresh = Config::new("wxredisstorm", "storm-secret");
    fresh.store = StoreSpec::Redis(url.to_string());
    fresh.key_prefix = format!("fresh{}:", std::process::id());
    match wxtoken::store::open(&fresh) {
        Ok(store) if store.load("k").is_ok() => {}
        _ => return 16,
    }
    let mut cfg = Config::new("wxredisstorm", "storm-secret");
    cfg.api_base = base.to_string();
    cfg.store = StoreSpec::Redis(url.to_string());
    cfg.key_prefix = format!("child{}:", std::process::id());
    cfg.wait = Duration::from_secs(3);
    cfg.name = "redis-storm-child".into();
    let Ok(own) = wxtoken::configure(cfg) else {
        return 13;
    };
    let Ok(before) = wxtoken::get(&own) else {
        return 14;
    };
    match wxtoken::invalidate(&own, &before) {
        Ok(after) if after != before => 0,
        _ => 15,
    }
}

/// Children forked while parent threads are inside the Redis and file
/// stores' critical sections (the table of open Redis stores, the file
/// store's record cache, directory, lock-file table and slots) must find
/// every lock free: each must finish its calls within a bound.
#[test]
fn children_forked_during_a_storm_of_store_calls_never_hang() {
    const FORKS: usize = 60;
    let redis = RedisServer::start(&[]);
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp("wxredisstorm", "storm-secret")],
        ..MockConfig::default()
    })
    .unwrap();
    let dir = std::env::temp_dir().join(format!("wxtoken-redis-storm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = |name: &str, store: StoreSpec| {
        let mut cfg = Config::new("wxredisstorm", "storm-secret");
        cfg.api_base = server.base_url();
        cfg.store = store;
        cfg.wait = Duration::from_secs(3);
        cfg.timeout = Duration::from_secs(2);
        cfg.name = name.into();
        cfg
    };
    let redis_app =
        wxtoken::configure(config("storm-redis", StoreSpec::Redis(redis.url()))).unwrap();
    let file_app =
        wxtoken::configure(config("storm-file", StoreSpec::File(Some(dir.clone())))).unwrap();
    wxtoken::get(&redis_app).unwrap();
    wxtoken::get(&file_app).unwrap();
    server.set_fault(wxtoken_mock::Fault::Slow(Duration::from_millis(20)), None);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammers: Vec<_> = (0..4)
        .map(|id| {
            let stop = stop.clone();
            let (redis_app, file_app, url) = (redis_app.clone(), file_app.clone(), redis.url());
            let base = server.base_url();
            std::thread::spawn(move || {
                let mut i = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let app = if (i + id) % 2 == 0 {
                        &redis_app
                    } else {
                        &file_app
                    };
                    let _ = wxtoken::get(app);
                    let _ = wxtoken::invalidate(app, "no-longer-current");
                    let _ = wxtoken::status(app);
                    if i % 30 == id {
                        if let Ok(t) = wxtoken::get(app) {
                            let _ = wxtoken::invalidate(app, &t);
                        }
                    }
                    // Configure: the table of open Redis stores.
                    let mut cfg = Config::new("wxredisstorm", "storm-secret");
                    cfg.api_base = base.clone();
                    cfg.store = StoreSpec::Redis(url.clone());
                    cfg.key_prefix = format!("h{id}n{}:", i % 8);
                    cfg.name = format!("storm-{id}-{}", i % 8);
                    let _ = wxtoken::configure(cfg);
                    i += 1;
                }
            })
        })
        .collect();
    // Stores opened in a tight loop, each new: the table of open stores
    // is locked most of the time.
    let openers: Vec<_> = (0..2)
        .map(|id| {
            let (stop, url) = (stop.clone(), redis.url());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut cfg = Config::new("wxredisstorm", "storm-secret");
                    cfg.store = StoreSpec::Redis(url.clone());
                    cfg.key_prefix = format!("o{id}n{n}:");
                    let _ = wxtoken::store::open(&cfg);
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));

    let (url, base) = (redis.url(), server.base_url());
    let (mut hung, mut failed) = (0, Vec::new());
    for _ in 0..FORKS {
        // SAFETY: the child calls wxtoken, then _exit; it never returns here.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = storm_child(&redis_app, &file_app, &url, &base);
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) };
        }
        match support::wait_for(pid, Duration::from_secs(10)) {
            Some(0) => {}
            Some(code) => failed.push(code),
            None => hung += 1,
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in hammers.into_iter().chain(openers) {
        h.join().unwrap();
    }
    server.set_fault(wxtoken_mock::Fault::None, None);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(hung, 0, "{hung} of {FORKS} children hung on a lock");
    assert_eq!(
        failed,
        Vec::<i32>::new(),
        "children that failed (exit codes)"
    );
}
