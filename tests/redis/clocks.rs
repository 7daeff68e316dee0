//! Hosts whose clocks are 10 minutes off (libfaketime on real processes):
//! expiry follows Redis's clock, so a fast host does not refresh early, a
//! slow one never serves an expired token, and a skewed writer does not
//! move the others' expiry.

use std::process::Command;
use std::thread;
use std::time::Duration;

use wxtoken::StoreSpec;
use wxtoken_mock::MockServer;

use crate::fleet::cli;
use crate::server::RedisServer;
use crate::support::*;

/// Debian's libfaketime (package faketime), wherever the arch puts it.
fn faketime_lib() -> String {
    let found = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .map(|arch| format!("/usr/lib/{arch}/faketime/libfaketime.so.1"))
        .find(|p| std::path::Path::new(p).exists());
    found.expect("libfaketime missing: apt-get install faketime")
}

/// The CLI with this host's clock shifted by `offset` ("+10m", "-10m").
pub fn skewed(server: &MockServer, id: &str, url: &str, offset: &str, args: &[&str]) -> Command {
    let mut cmd = cli(server, id, url, args);
    cmd.env("LD_PRELOAD", faketime_lib())
        .env("FAKETIME", offset)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    cmd
}

#[test]
fn a_fast_host_does_not_refresh_a_token_with_minutes_left() {
    let redis = RedisServer::start(&[]);
    let id = appid("rfast");
    // 8 minutes left: fresh (margin 5 min) by the real clock; "expired" by
    // a clock 10 minutes ahead.
    let server = mock_for(&id, 480, 300);
    let token = printed_token(
        cli(&server, &id, &redis.url(), &["token"])
            .output()
            .unwrap(),
    );
    let seen = printed_token(
        skewed(&server, &id, &redis.url(), "+10m", &["token"])
            .output()
            .unwrap(),
    );
    assert_eq!(seen, token);
    assert_eq!(server.token_calls(&id), 1, "the fast host fetched nothing");
}

#[test]
fn a_slow_host_never_serves_an_expired_token() {
    let redis = RedisServer::start(&[]);
    let id = appid("rslow");
    let server = mock_for(&id, 2, 0);
    let old = printed_token(
        cli(&server, &id, &redis.url(), &["token"])
            .output()
            .unwrap(),
    );
    thread::sleep(Duration::from_millis(2500)); // the platform refuses it now
    assert_ne!(check(&server, &old), 0);
    // 10 minutes behind, the token would look alive for 10 more minutes.
    let got = printed_token(
        skewed(&server, &id, &redis.url(), "-10m", &["token"])
            .output()
            .unwrap(),
    );
    assert_eq!(check(&server, &got), 0, "a token the platform accepts");
    assert_eq!(server.token_calls(&id), 2);
}

#[test]
fn a_skewed_writer_does_not_move_the_others_expiry() {
    for offset in ["-10m", "+10m"] {
        let redis = RedisServer::start(&[]);
        let id = appid("rwriter");
        let server = mock_for(&id, 7200, 300);
        printed_token(
            skewed(&server, &id, &redis.url(), offset, &["token"])
                .output()
                .unwrap(),
        );
        let app = configure(&server, &id, |c| c.store = StoreSpec::Redis(redis.url()));
        wxtoken::get(&app).unwrap();
        let status = wxtoken::status(&app).unwrap();
        let left = status["token"]["expires_in_ms"].as_u64().unwrap();
        assert!(
            (7_140_000..=7_200_000).contains(&left),
            "writer at {offset}: {left} ms left, not 7200 s"
        );
        assert_eq!(server.token_calls(&id), 1, "adopted, not fetched");
    }
}
