//! Failure state and the fetch budget shared through Redis by a fleet of
//! processes; stable mode in an outage (README, "Several hosts").

use std::process::{Output, Stdio};

use crate::fleet::cli;
use crate::server::RedisServer;
use crate::support::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn eight_processes_with_a_rejected_secret_make_one_upstream_call() {
    let redis = RedisServer::start(&[]);
    let id = appid("rrej");
    let server = mock_for(&id, 7200, 0);
    let children: Vec<_> = (0..8)
        .map(|_| {
            cli(&server, &id, &redis.url(), &["token"])
                .env("WXTOKEN_SECRET", "not-the-secret")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    }
    assert_eq!(
        server.token_calls(&id),
        1,
        "one upstream call for the fleet"
    );
    let token = printed_token(
        cli(&server, &id, &redis.url(), &["token"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        check(&server, &token),
        0,
        "the right secret is not held back"
    );
}

#[test]
fn the_fleet_shares_one_daily_budget() {
    let redis = RedisServer::start(&[]);
    let id = appid("rbudget");
    let server = mock_for(&id, 7200, 0);
    let run = |args: &[&str]| {
        let mut c = cli(&server, &id, &redis.url(), args);
        c.args(["--daily-fetch-budget", "2"]);
        c.output().unwrap()
    };
    let first = printed_token(run(&["token"]));
    let second = printed_token(run(&["invalidate", "--token", &first]));
    let refused = run(&["invalidate", "--token", &second]);
    assert_eq!(refused.status.code(), Some(12), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("daily fetch budget of 2 spent"));
    assert_eq!(server.token_calls(&id), 2);
    let status = run(&["status"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["shared"]["fetches_today"], 2, "{v}");
}

/// With Redis down and no token: stable mode fetches on its own (a normal
/// stable fetch hands back the fleet's token and kills none); classic mode
/// and a stable report do not (they would kill the token the fleet uses).
#[test]
fn in_an_outage_only_stable_mode_fetches_on_its_own() {
    let mut redis = RedisServer::start(&[]);
    let id = appid("rstable");
    let server = mock_for(&id, 7200, 0);
    redis.stop();
    let run = |args: &[&str]| {
        cli(&server, &id, &redis.url(), args)
            .args(["--wait-ms", "3000"])
            .output()
            .unwrap()
    };
    let classic = run(&["token"]);
    assert_eq!(classic.status.code(), Some(17), "{}", stderr(&classic));
    assert_eq!(
        server.token_calls(&id),
        0,
        "classic mode never fetches alone"
    );

    let token = printed_token(run(&["token", "--mode", "stable"]));
    assert_eq!(check(&server, &token), 0);
    assert_eq!(server.stats()["token_calls"][&id]["stable_token"], 1);
    let again = printed_token(run(&["token", "--mode", "stable"]));
    assert_eq!(again, token, "another process's fetch hands back the same");
    assert_eq!(check(&server, &token), 0, "and kills nothing");

    let report = run(&["invalidate", "--mode", "stable", "--token", &token]);
    assert_eq!(report.status.code(), Some(17), "{}", stderr(&report));
    assert_eq!(check(&server, &token), 0, "no force killed it");
}

/// A cool-down written by a host whose clock is 10 minutes off holds for
/// its real 60 s on every host: its end is kept on Redis's clock.
#[test]
fn a_skewed_hosts_cool_down_holds_for_the_others() {
    for offset in ["-10m", "+10m"] {
        let redis = RedisServer::start(&[]);
        let id = appid("rskewcd");
        let server = mock_for(&id, 7200, 0);
        let skewed = crate::clocks::skewed(&server, &id, &redis.url(), offset, &["token"])
            .env("WXTOKEN_SECRET", "not-the-secret")
            .output()
            .unwrap();
        assert_eq!(skewed.status.code(), Some(10), "{}", stderr(&skewed));
        let on_time = cli(&server, &id, &redis.url(), &["token"])
            .env("WXTOKEN_SECRET", "not-the-secret")
            .output()
            .unwrap();
        assert_eq!(on_time.status.code(), Some(10), "{}", stderr(&on_time));
        assert_eq!(server.token_calls(&id), 1, "{offset}: one call in all");
    }
}

/// Through an outage a stable-mode process serves its valid token and
/// fetches nothing; once it has expired, one fetch of its own.
#[test]
fn in_an_outage_stable_mode_fetches_only_once_its_token_expired() {
    let mut redis = RedisServer::start(&[]);
    let id = appid("rstexp");
    // A 5 s token: fresh for 2.5 s, then inside the refresh margin; read
    // from Redis it counts as expired 1 s early (ServerClock's safety).
    let server = mock_for(&id, 5, 0);
    let app = configure(&server, &id, |c| {
        c.store = wxtoken::StoreSpec::Redis(redis.url());
        c.mode = wxtoken::Mode::Stable;
        c.wait = std::time::Duration::from_millis(2000);
    });
    let stable_calls = || server.stats()["token_calls"][&id]["stable_token"].clone();
    let token = wxtoken::get(&app).unwrap();
    let fetched = std::time::Instant::now();
    redis.stop();
    while fetched.elapsed() < secs(3.3) {
        assert_eq!(wxtoken::get(&app).unwrap(), token, "served from memory");
        std::thread::sleep(secs(0.05));
    }
    assert_eq!(stable_calls(), 1, "no fetch while the token was valid");
    while fetched.elapsed() < secs(5.3) {
        std::thread::sleep(secs(0.05));
    }
    let deadline = std::time::Instant::now() + secs(40.0);
    let fresh = loop {
        match wxtoken::get(&app) {
            Ok(t) => break t,
            Err(e) => {
                assert_eq!(e.kind(), wxtoken::ErrorKind::Store, "{e}");
                assert!(std::time::Instant::now() < deadline, "no fetch: {e}");
                std::thread::sleep(secs(0.1));
            }
        }
    };
    assert_ne!(fresh, token, "the expired one was replaced");
    assert_eq!(check(&server, &fresh), 0);
    assert_eq!(stable_calls(), 2, "one fetch of its own");
}
