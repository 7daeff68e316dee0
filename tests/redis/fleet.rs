//! Many processes on one Redis: one fetch at cold start, one fetch for a bad
//! token however many report it, another process's refresh adopted within
//! the refresher's poll.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use wxtoken::StoreSpec;
use wxtoken_mock::MockServer;

use crate::server::RedisServer;
use crate::support::*;

/// The CLI on the Redis store. The URL goes through the environment, as
/// a URL with a password must (a command line is visible in ps).
pub fn cli(server: &MockServer, id: &str, redis_url: &str, args: &[&str]) -> Command {
    let mut cmd = wxtoken_cli(server, id, args);
    cmd.env("WXTOKEN_STORE", redis_url);
    cmd
}

fn spawn_all(n: usize, make: impl Fn() -> Command) -> Vec<String> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            make()
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| printed_token(c.wait_with_output().unwrap()))
        .collect()
}

#[test]
fn sixteen_processes_at_cold_start_share_one_fetch() {
    let redis = RedisServer::start(&[]);
    let id = appid("rcold");
    let server = mock_for(&id, 7200, 300);
    let tokens = spawn_all(16, || cli(&server, &id, &redis.url(), &["token"]));
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "one token for the fleet"
    );
    assert_eq!(server.token_calls(&id), 1, "exactly one upstream fetch");
    assert_eq!(check(&server, &tokens[0]), 0);
}

#[test]
fn sixteen_processes_reporting_one_bad_token_cause_one_fetch() {
    let redis = RedisServer::start(&[]);
    let id = appid("rinval");
    let server = mock_for(&id, 7200, 300);
    let old = printed_token(
        cli(&server, &id, &redis.url(), &["token"])
            .output()
            .unwrap(),
    );
    let news = spawn_all(16, || {
        cli(&server, &id, &redis.url(), &["invalidate", "--token", &old])
    });
    assert!(news.iter().all(|t| *t == news[0] && *t != old), "{news:?}");
    assert_eq!(server.token_calls(&id), 2, "the cold start and one refresh");
    assert_eq!(check(&server, &news[0]), 0);
}

/// The bound is refresher::POLL_MS (500 ms), asserted with slack.
#[test]
fn another_hosts_refresh_is_used_within_the_poll_bound() {
    let redis = RedisServer::start(&[]);
    let id = appid("radopt");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| c.store = StoreSpec::Redis(redis.url()));
    let old = wxtoken::get(&app).unwrap();
    let new = printed_token(
        cli(&server, &id, &redis.url(), &["invalidate", "--token", &old])
            .output()
            .unwrap(),
    );
    assert_ne!(new, old.to_string());
    let started = Instant::now();
    while wxtoken::get(&app).unwrap() != new.as_str() {
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "not adopted after {:?}",
            started.elapsed()
        );
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.token_calls(&id), 2);
}

/// A leader SIGKILLed mid-fetch holds the Redis lock until its lease ends
/// (timeout_ms × 3 + backoff + 2 s: 5.9 s with timeout_ms 1000); then the
/// next process takes over and fetches.
#[test]
fn a_leader_killed_mid_fetch_hands_over_after_its_lease() {
    let redis = RedisServer::start(&[]);
    let id = appid("rkill");
    let server = mock_for(&id, 7200, 300);
    server.set_fault(wxtoken_mock::Fault::Slow(Duration::from_secs(20)), Some(1));
    let args = ["token", "--timeout-ms", "1000", "--wait-ms", "15000"];
    let mut leader = cli(&server, &id, &redis.url(), &args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.token_calls(&id) == 0 {
        assert!(
            Instant::now() < deadline,
            "the leader never called upstream"
        );
        thread::sleep(Duration::from_millis(20));
    }
    leader.kill().unwrap(); // SIGKILL while it holds the lock, mid-fetch
    leader.wait().unwrap();
    let started = Instant::now();
    let token = printed_token(cli(&server, &id, &redis.url(), &args).output().unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "blocked for {:?}",
        started.elapsed()
    );
    assert_eq!(check(&server, &token), 0);
    assert_eq!(
        server.token_calls(&id),
        2,
        "the dead leader's call and the new one"
    );
}
