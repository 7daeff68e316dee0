//! fork() after the Redis store was used: the child talks to Redis over a
//! connection of its own (sharing the parent's socket would interleave their
//! commands and replies), and the parent's connection stays in step. Its own
//! test binary: no other test threads may hold locks at the moment of fork.

#[path = "../redis/server.rs"]
#[allow(dead_code)]
mod server;

use std::time::{Duration, Instant};

use wxtoken::mock::{MockApp, MockConfig, MockServer};
use wxtoken::{Config, StoreSpec};

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
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: pid is our child; status is a valid out-pointer.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: killing our own hung child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status), "child crashed: {status}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "1: no new token, 2: refresh failed"
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
