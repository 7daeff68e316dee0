//! Many processes on one Redis: one fetch at cold start, one fetch for a bad
//! token however many report it, another process's refresh adopted within
//! the refresher's poll.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use wxtoken::mock::MockServer;
use wxtoken::StoreSpec;

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
